"""The login limits (cloud/api/login_limits.py) on a clock the test moves: the four ceilings, what
a success clears and what it does not, and the window."""

from __future__ import annotations

import asyncio

import pytest

from watertel.cloud.api.login_limits import Limits, LoginLimiter, PasswordChecks


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def limiter(clock: Clock, pair=5, client=20, account=20, total=200, window_s=300.0) -> LoginLimiter:
    return LoginLimiter(Limits(pair, client, account, total, window_s), clock=clock)


def fail(lim: LoginLimiter, user: str, client: str, times: int = 1) -> list[int]:
    """``times`` attempts that turn out wrong (the limiter counts each allowed one as a failure)."""
    return [lim.attempt(user, client) for _ in range(times)]


def test_the_pair_limit_holds_the_attackers_address_only(clock):
    lim = limiter(clock)
    assert fail(lim, "ops", "10.0.0.66", 6)[:5] == [0] * 5
    assert lim.attempt("ops", "10.0.0.66") == 300  # the oldest failure leaves the window in 300 s
    assert lim.attempt("ops", "10.0.0.7") == 0  # the user's own address
    clock.now += 150
    assert lim.attempt("ops", "10.0.0.66") == 150
    clock.now += 150
    assert lim.attempt("ops", "10.0.0.66") == 0


def test_spraying_from_one_address_hits_the_client_limit(clock):
    lim = limiter(clock, client=3)
    assert [lim.attempt(f"user{i}", "10.0.0.66") for i in range(4)] == [0, 0, 0, 300]
    assert lim.attempt("user0", "10.0.0.7") == 0


def test_an_account_under_attack_gives_each_address_one_try(clock):
    lim = limiter(clock, account=3)
    for i in range(3):
        assert lim.attempt("ops", f"10.0.1.{i}") == 0
    assert lim.attempt("ops", "10.0.1.0") > 0  # failed on it already
    assert lim.attempt("ops", "10.0.1.9") == 0  # a new address: its one try
    assert lim.attempt("ops", "10.0.1.9") > 0


def test_past_the_total_only_addresses_that_logged_in_before_try(clock):
    lim = limiter(clock, total=3)
    lim.attempt("ops", "10.0.0.7")
    lim.succeeded("ops", "10.0.0.7")
    for i in range(3):
        assert lim.attempt(f"u{i}", f"10.0.2.{i}") == 0
    assert lim.attempt("ops", "10.0.2.50") == 300
    assert lim.attempt("ops", "10.0.0.7") == 0
    clock.now += 31 * 86_400  # trusted for 30 days only
    for i in range(3):
        assert lim.attempt(f"u{i}", f"10.0.3.{i}") == 0
    assert lim.attempt("ops", "10.0.0.7") > 0, "no longer trusted"


def test_a_success_clears_the_pair_but_not_the_addresses_other_failures(clock):
    lim = limiter(clock, client=5)
    fail(lim, "ops", "10.0.0.66", 4)
    lim.attempt("viewer", "10.0.0.66")
    lim.succeeded("viewer", "10.0.0.66")  # a known password does not buy more guesses elsewhere
    assert lim.attempt("ops", "10.0.0.66") == 0
    assert lim.attempt("crew", "10.0.0.66") > 0  # 4 + 1 failures: the address is at its limit


def test_an_abandoned_attempt_is_not_a_failure(clock):
    lim = limiter(clock, pair=2)
    for _ in range(5):
        assert lim.attempt("ops", "10.0.0.7") == 0
        lim.abandoned("ops", "10.0.0.7")
    assert fail(lim, "ops", "10.0.0.7", 3) == [0, 0, 300]


def test_password_checks_are_capped_and_the_excess_refused_after_the_wait():
    async def run() -> list[bool]:
        checks = PasswordChecks(2, wait_s=0.05)
        got = [await checks.acquire(), await checks.acquire(), await checks.acquire()]
        checks.release()
        got.append(await checks.acquire())
        return got

    assert asyncio.run(run()) == [True, True, False, True]
