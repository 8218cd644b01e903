"""What every console page must be to its users, checked in a real Chromium: no console error, no
failed or refused request, no horizontal overflow at a phone's width, no text drawn over other
text in a chart, and its picture taken at both sizes (with the CJK font installed, as users see it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.support.api import PASSWORD
from tests.support.browser import artifacts

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = {"desktop": DESKTOP, "phone": PHONE}


@dataclass
class Watch:
    """Console errors, uncaught exceptions, failed requests and error answers of one page."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self, page) -> Watch:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: self.requests.append(f"{r.method} {r.url}: {r.failure}")
                if "ERR_ABORTED" not in (r.failure or "") else None)  # cut short by leaving the page: not a failure
        page.on("response", lambda r: self.requests.append(f"{r.request.method} {r.url}: {r.status}")
                if r.status >= 400 else None)
        return self

    def clean(self) -> None:
        assert not self.errors, f"console errors: {self.errors}"
        assert not self.requests, f"failed requests: {self.requests}"


def open_page(browser, base: str, user: str, size: dict, *, lang: str | None = None):
    """A fresh context of ``size`` logged in as ``user``; (context, page, watch)."""
    context = browser.new_context(viewport=size, accept_downloads=True)
    if lang:
        context.add_init_script(f"localStorage.setItem('watertel_lang', '{lang}')")
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = Watch().attach(page)
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return context, page, watch


def overflow(page) -> int:
    """How many CSS pixels the page is wider than its window (0: none)."""
    return page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth")


def text_overlaps(page, selector: str) -> list[str]:
    """Pairs of visible text labels inside the SVG charts under ``selector`` that overlap, and
    labels cut by their chart's edge (the last time label, a unit over the top tick)."""
    return page.eval_on_selector_all(selector, """boxes => {
      const out = [];
      for (const box of boxes) {
        const svg = box.querySelector('svg');
        if (!svg) continue;
        const edge = svg.getBoundingClientRect();
        const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim()
          && getComputedStyle(t).display !== 'none' && Number(t.getAttribute('fill-opacity') ?? 1) > 0
          && t.getAttribute('fill') !== 'transparent');
        const rects = texts.map(t => [t.textContent, t.getBoundingClientRect()]);
        for (const [text, r] of rects) {
          if (r.width === 0) continue;
          if (r.left < edge.left - 0.5 || r.right > edge.right + 0.5 || r.top < edge.top - 0.5 || r.bottom > edge.bottom + 0.5)
            out.push(`${box.dataset.point || box.id}: "${text}" cut by the edge`);
        }
        for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) {
          const [a, ra] = rects[i], [b, rb] = rects[j];
          const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
          const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
          if (w > 1 && h > 1 && ra.width && rb.width) out.push(`${box.dataset.point || box.id}: "${a}" over "${b}"`);
        }
      }
      return out;
    }""")


def shoot(page, name: str, size: str) -> Path:
    """The whole page as build/test-artifacts/screenshots/maps-charts-<name>-<size>.png."""
    path = artifacts() / f"maps-charts-{name}-{size}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def judged(page, watch: Watch, name: str, size: str, charts: str | None = None) -> Path:
    """The checks every page gets at every size, then its picture."""
    assert overflow(page) <= 0, f"{name} at {size}: {overflow(page)} px wider than the window"
    if charts:
        assert text_overlaps(page, charts) == []
    watch.clean()
    return shoot(page, name, size)
