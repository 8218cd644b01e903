"""Debian's headless Chromium through Playwright (its own browser download does not work here),
logging in through the console's form, table rows as text, and where screenshots go."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
import os
import struct

from tests.support.api import PASSWORD
from tests.support.checks import need
from tests.support.paths import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AUDIO = ["--autoplay-policy=no-user-gesture-required"]  # as if the operator had clicked the page once


def bypass_csp(browser) -> None:
    """Pages of ``browser`` ignore the console's Content-Security-Policy: Playwright's
    ``wait_for_function`` evaluates its predicate with ``eval``, which the policy forbids (no
    'unsafe-eval'). tests/security/test_csp_pages.py opens every page under the policy itself."""
    for name in ("new_context", "new_page"):
        original = getattr(browser, name)
        setattr(browser, name, lambda *args, _original=original, **options: _original(*args, **{"bypass_csp": True,
                                                                                                  **options}))


@contextmanager
def chromium(*extra_args: str, csp: bool = False):
    """Debian's headless Chromium through Playwright (its own download does not work here);
    ``csp``: pages keep the console's Content-Security-Policy (else ``bypass_csp``)."""
    need(Path(CHROMIUM).exists(), "Chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        if not csp:
            bypass_csp(browser)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, **options):
    page = browser.new_page(**options)
    page.set_default_timeout(10_000)
    return page


def log_in(page, base_url: str, user: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def browser_login(page, base: str, user: str, then: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}{then}")


def rows(page, table: str) -> list[str]:
    """Text of each body row of a table, its cells joined by " | "."""
    return page.eval_on_selector_all(
        f"#{table} tbody tr", "trs => trs.map(tr => [...tr.cells].map(td => td.textContent).join(' | '))")


def artifacts() -> Path:
    folder = Path(os.environ.get("WATERTEL_ARTIFACTS", ROOT / "build" / "test-artifacts")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (and proof that it is a PNG)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    return struct.unpack(">II", head[16:24])
