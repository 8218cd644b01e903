"""The console's one catalogue (cloud/api/static/i18n.js) against what uses it, read from the source:
every key a page names (data-i18n attributes, t("…") calls, key literals) exists in both
languages with the same placeholders; every alarm message code the rules give
(cloud/alarms/messages.py) and every error code the API raises (cloud/api/*.py) has its text in
both, using only the parameters it is given. A key missing in one language would show the key
itself, or the other language, in the middle of a page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from watertel.cloud.alarms.messages import CODES, OPTIONAL

from tests.support.paths import ROOT

STATIC = ROOT / "cloud" / "api" / "static"
PAIR = re.compile(r'"((?:[^"\\]|\\.)+)":\s*"((?:[^"\\]|\\.)*)"')
PLACEHOLDER = re.compile(r"\{(\w+)\}")
KEY_LITERAL = re.compile(r"""["']([a-z_]+(?:\.[A-Za-z0-9_*\-]+)+)["']""")


def catalogue() -> dict[str, dict[str, str]]:
    """{"zh": {key: text}, "en": {key: text}} from STRINGS in i18n.js; a key given twice fails."""
    text = (STATIC / "i18n.js").read_text(encoding="utf-8")
    body = text[text.index("export const STRINGS = {"):text.index("\n};\n")]
    zh, en = body[body.index("  zh: {"):body.index("\n  en: {")], body[body.index("\n  en: {"):]
    tables = {}
    for lang, block in (("zh", zh), ("en", en)):
        pairs = [(k, v) for line in block.splitlines() if not line.strip().startswith("//") for k, v in PAIR.findall(line)]
        keys = [k for k, _ in pairs]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        assert not twice, f"i18n.js {lang}: keys given twice (the last one wins silently): {twice}"
        tables[lang] = dict(pairs)
    return tables


STRINGS = catalogue()
PREFIXES = {key.split(".")[0] for key in STRINGS["zh"]}


def is_prefix(literal: str) -> bool:
    """A family's name ("permits.method", completed in code), not a key."""
    return literal not in STRINGS["zh"] and any(k.startswith(literal + ".") for k in STRINGS["zh"])


def used_keys() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Keys named by the pages (file → keys) and key prefixes of template literals (file → prefixes)."""
    keys: dict[str, set[str]] = {}
    prefixes: dict[str, set[str]] = {}
    for path in sorted(STATIC.glob("*.html")) + sorted(STATIC.glob("*.js")):
        text = path.read_text(encoding="utf-8")
        if path.name == "i18n.js":  # its own table is what is checked against: only the code after it
            text = text[text.index("\n};\n"):]
        found = set(re.findall(r'data-i18n(?:-placeholder|-title)?="([^"]+)"', text))
        found |= set(re.findall(r'"data-i18n(?:-placeholder|-title)?":\s*"([^"]+)"', text))
        found |= set(re.findall(r"""\bt\(\s*["']([^"']+)["']""", text))
        found |= {k for k in KEY_LITERAL.findall(text) if k.split(".")[0] in PREFIXES and not is_prefix(k)}
        keys[path.name] = found
        prefixes[path.name] = set(re.findall(r"\bt\(\s*`([a-z_]+\.)\$\{", text))
    return keys, prefixes


KEYS, TEMPLATES = used_keys()


def test_both_languages_have_the_same_keys_and_placeholders():
    zh, en = STRINGS["zh"], STRINGS["en"]
    assert sorted(set(zh) - set(en)) == [], "in Chinese only"
    assert sorted(set(en) - set(zh)) == [], "in English only"
    differ = {k: (zh[k], en[k]) for k in zh if set(PLACEHOLDER.findall(zh[k])) != set(PLACEHOLDER.findall(en[k]))}
    assert differ == {}, "the two languages fill in different values"


@pytest.mark.parametrize("page", sorted(KEYS))
def test_every_key_a_page_names_is_in_both_languages(page):
    missing = {lang: sorted(k for k in KEYS[page] if k not in STRINGS[lang]) for lang in STRINGS}
    assert missing == {"zh": [], "en": []}
    for prefix in TEMPLATES[page]:  # t(`kind.${s.kind}`): the family exists
        assert any(k.startswith(prefix) for k in STRINGS["zh"]), f"{page}: no key starts with {prefix}"


def test_the_pages_are_read_at_all():
    """The scan finds what it should (so an empty scan cannot pass the test above)."""
    assert {"nav.overview", "admin.users", "col.station"} <= KEYS["common.js"] | KEYS["admin.html"] | KEYS["console.html"]
    assert "kind." in TEMPLATES["stations.js"] or "kind." in TEMPLATES["admin.js"]


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_alarm_message_code_is_in_both_languages_with_only_its_parameters(code):
    allowed = set(CODES[code]) | set(OPTIONAL)
    for lang, table in STRINGS.items():
        assert f"msg.{code}" in table, f"{lang}: msg.{code}"
        assert set(PLACEHOLDER.findall(table[f"msg.{code}"])) <= allowed, (lang, code)


def api_codes() -> dict[str, set[str]]:
    """Error codes the API raises (``Problem(status, "code", …)``) with the parameters given there."""
    codes: dict[str, set[str]] = {}
    for path in sorted((ROOT / "cloud" / "api").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r'Problem\(\s*\w+,\s*f?"([a-z_.{}]+)",(.*?)\)(?: from None)?\n(?=\s*(?:\S|$))', text, re.S):
            code, rest = m.groups()
            for what in (["alarm", "work_order"] if "{what}" in code else [None]):
                name = code.replace("{what}", what) if what else code
                codes.setdefault(name, set()).update(re.findall(r"\b(\w+)=", rest))
    return codes


API_CODES = api_codes()


def test_the_api_s_error_codes_are_found():
    assert {"auth.required", "user.unknown", "alarm.state", "work_order.unknown", "station.outside"} <= set(API_CODES)


@pytest.mark.parametrize("code", sorted(API_CODES))
def test_every_api_error_code_is_in_both_languages(code):
    given = API_CODES[code] - {"headers"}
    if code == "alarm.state" or code == "work_order.state":
        given |= {"state", "order_state"}  # passed as **state (cloud/api/alarms.py handling_error)
    for lang, table in STRINGS.items():
        assert f"err.{code}" in table, f"{lang}: err.{code}"
        assert set(PLACEHOLDER.findall(table[f"err.{code}"])) <= given, (lang, code, given)


def test_codes_of_every_error_answer_are_in_both_languages():
    """Codes no ``Problem`` names: FastAPI's (http.<status>, request.invalid) and the disabled features."""
    for key in ("err.request.invalid", "err.http.404", "err.http.409", "err.network", "feature.read_only", "feature.off",
                "feature.users", "feature.registry", "feature.gateways", "feature.notifications"):
        assert all(key in table for table in STRINGS.values()), key
