"""The unit tier: no sockets, no subprocesses, no servers; the whole tier runs in well under a
minute (``make check``).

The rule is enforced, not hoped: while a unit test runs (its fixtures included), an audit hook
(PEP 578) refuses to create or connect an internet socket (AF_INET/AF_INET6; socketpair and
AF_UNIX stay allowed: asyncio's event loop needs them) and to start a process (subprocess, fork,
exec, spawn, os.system), and the test fails even if the code under test caught the error. Asking
for a server fixture (Mosquitto, PostgreSQL) fails the test before the server starts. A test that
needs any of these belongs in tests/integration or tests/system.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from watertel.crypto.sm2 import backend as sm2_backend

from tests.support.checks import mark_tier
from tests.support.servers import SERVER_FIXTURES

HERE = Path(__file__).parent
INET = (socket.AF_INET, socket.AF_INET6)
PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.spawn", "os.fork",
                            "os.forkpty"})


class UnitTierViolation(RuntimeError):
    """A unit test opened an internet socket or started a process."""


class _Guard:
    active = False
    seen: list[str] = []

    @classmethod
    def hook(cls, event: str, args: tuple) -> None:
        if not cls.active:
            return
        if event == "socket.__new__" and args[1] in INET:
            what = f"opened an internet socket ({socket.AddressFamily(args[1]).name})"
        elif event in ("socket.bind", "socket.connect", "socket.sendto") and getattr(args[0], "family", None) in INET:
            what = f"used an internet socket ({event} {args[1]!r})"
        elif event in PROCESS_EVENTS:
            what = f"started a process ({event} {args[0]!r})"
        else:
            return
        cls.seen.append(what)
        raise UnitTierViolation(f"a unit test {what}: it belongs in tests/integration or tests/system")


sys.addaudithook(_Guard.hook)  # audit hooks cannot be removed: it checks _Guard.active first
# The SM2 backend chosen now, not in whichever test signs first: finding libcrypto runs ldconfig
# (ctypes.util.find_library), a process of the loader's, not of the code under test.
sm2_backend()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, HERE, "unit")


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef, request) -> None:
    if fixturedef.argname in SERVER_FIXTURES and HERE in request.node.path.parents:
        raise UnitTierViolation(f"a unit test asked for the {fixturedef.argname!r} server fixture: "
                                "it belongs in tests/integration or tests/system")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    if call.excinfo is not None and call.excinfo.errisinstance(UnitTierViolation):
        _Guard.seen = []  # the test failed with it already: no second report at teardown
    return (yield)


@pytest.fixture(autouse=True)
def no_sockets_or_processes():
    """Fail the test if it (or its fixtures) opened an internet socket or started a process, even
    when the code under test caught the error."""
    _Guard.seen = []
    _Guard.active = True
    try:
        yield
    finally:
        _Guard.active = False
    if _Guard.seen:
        pytest.fail(f"a unit test {'; '.join(dict.fromkeys(_Guard.seen))}: it belongs in tests/integration or "
                    "tests/system", pytrace=False)
