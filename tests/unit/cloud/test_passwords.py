"""The password policy (cloud/passwords.py)."""

from __future__ import annotations

import pytest

from watertel.cloud.passwords import Weakness, common, weakness


@pytest.mark.parametrize("password, username, expected", [
    ("aaaaaaaa", "wang", Weakness.SHORT),
    ("nine char", "wang", Weakness.SHORT),
    ("aaaaaaaaaaaaaaaa", "wang", Weakness.SIMPLE),
    ("12121212121212", "wang", Weakness.SIMPLE),
    ("zhangwei88", "zhangwei", Weakness.USER_NAME),
    ("My-ZhangWei-pass", "zhangwei", Weakness.USER_NAME),
    ("Password2024!", "wang", Weakness.COMMON),
    ("qwertyuiop", "wang", Weakness.COMMON),
    ("1qaz2wsx3edc", "wang", Weakness.COMMON),
    ("woaini1314520", "wang", Weakness.COMMON),
    ("correct horse battery", "wang", None),
    ("li bai drinks alone", "li", None),  # a 2-letter name may be part of a phrase
    ("li", "li", Weakness.SHORT),
    ("西湖边的水表读数很准", "wang", None),  # ten characters of Chinese
])
def test_weakness(password, username, expected):
    assert weakness(password, username) is expected


def test_the_shipped_list_is_read_lower_case_without_comments():
    words = common()
    assert "123456" in words and "password" in words and "woaini1314" in words
    assert all(w == w.lower() and not w.startswith("#") for w in words)
