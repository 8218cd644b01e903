"""The fleet page's word for a gateway: a planned stop (signed ``stopped``) is neither offline
(no alarm, nothing wrong) nor online, however long ago it was."""

from __future__ import annotations

import pytest

from watertel.cloud.api.gateway_status import status_word

NOW = 10_000_000


@pytest.mark.parametrize("state, last, word", [
    ("online", NOW - 1_000, "online"), ("online", NOW - 3_600_000, "stale"), ("offline", NOW - 1_000, "offline"),
    ("stopped", NOW - 1_000, "stopped"), ("stopped", NOW - 3_600_000, "stopped"), (None, None, "never"),
])
def test_status_words(state, last, word):
    assert status_word({"state": state, "last_contact_ms": last}, NOW, 600) == word
