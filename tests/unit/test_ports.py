"""``HOST:PORT`` from the command line: one reader for --tcp, --listen and --connect."""

from __future__ import annotations

import pytest

from watertel.errors import OperatorError
from watertel.ports import host_port


@pytest.mark.parametrize("text, expected", [("127.0.0.1:5020", ("127.0.0.1", 5020)), (":502", ("127.0.0.1", 502)),
                                            ("[::1]:1883", ("::1", 1883)), ("plc-3.local:65535", ("plc-3.local", 65535))])
def test_host_and_port(text, expected):
    assert host_port(text, "--tcp") == expected


@pytest.mark.parametrize("text", ["127.0.0.1", ":x", "127.0.0.1:0", "127.0.0.1:70000", "", None, "host:-1", "host: 5"])
def test_not_host_and_port(text):
    with pytest.raises(OperatorError, match=r"^--tcp wants HOST:PORT with a port from 1 to 65535, e\.g\. "
                                            r"127\.0\.0\.1:5020 \(got "):
        host_port(text, "--tcp")
