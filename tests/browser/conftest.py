"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against pytest-django's live server.

Playwright never downloads a browser here. Each test page records console errors and page errors
(a Content Security Policy violation shows up as a console error); screenshots go to
test-artifacts/screenshots/. `Page.audit` checks a screen at a phone's and a desk's width: no
horizontal overflow and no axe-core violation of the WCAG 2.1 A and AA rules (axe-core is vendored
in tests/browser/vendor/, so no npm step is needed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_CSP_NOISE = "Applying inline style violates the following Content Security Policy directive"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]

# Playwright's sync API runs an event loop in this thread; the ORM calls our tests make between
# browser steps are plain synchronous code, so Django's async-safety guard must not trip on them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Page:
    """A browser tab bound to the live server that remembers every console and page error."""

    def __init__(self, page: object, base_url: str) -> None:
        self.page, self.base_url, self.errors = page, base_url, []
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))  # type: ignore[attr-defined]

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)  # type: ignore[attr-defined]

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot and check the page rendered with its stylesheet and no overflow."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        layout = self.page.evaluate(  # type: ignore[attr-defined]
            """() => ({
                sheets: document.styleSheets.length,
                overflow: document.documentElement.scrollWidth > window.innerWidth + 1,
            })"""
        )
        assert layout["sheets"] >= 1, f"{name}: no stylesheet loaded"
        assert not layout["overflow"], f"{name}: content wider than the viewport"
        return path

    def axe_violations(self) -> list[str]:
        """Run axe-core's WCAG 2.1 A/AA rules on the page; return one line per violation and element."""
        page, before = self.page, len(self.errors)
        if not page.evaluate("() => typeof window.axe === 'object'"):  # type: ignore[attr-defined]
            # evaluate() runs through the DevTools protocol: the page's CSP does not apply to it.
            page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")  # type: ignore[attr-defined]
        result = page.evaluate(  # type: ignore[attr-defined]
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
            AXE_TAGS)
        # axe itself applies inline styles while it measures some form pages; the page's CSP reports
        # them. They are axe's, not the application's: keep every other error.
        self.errors[before:] = [error for error in self.errors[before:] if not error.startswith(AXE_CSP_NOISE)]
        return [f"{item['id']} ({item['impact']}): {node['target']} {node['failureSummary']}"
                for item in result["violations"] for node in item["nodes"]]

    def inner_scrollers(self) -> list[str]:
        """Return the elements (but form fields) whose content is wider than they are: clipped or scrolled."""
        return self.page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
            .filter(el => !['TEXTAREA', 'SELECT', 'INPUT', 'svg', 'CODE', 'PRE'].includes(el.tagName)
                && ['auto', 'scroll', 'hidden'].includes(getComputedStyle(el).overflowX)
                && el.clientWidth > 1 && el.scrollWidth > el.clientWidth + 1)
            .map(el => el.tagName + (el.id ? '#' + el.id : '') + '.' + el.className + ' ' + el.scrollWidth + '>'
                 + el.clientWidth)""")  # type: ignore[attr-defined]

    def audit(self, name: str, viewports: tuple[dict[str, int], ...] = (PHONE, DESK)) -> None:
        """Check the screen at each width: no overflow (document width equals the viewport's), no axe
        violation; save a screenshot per width (name-390.png, name-1280.png). Restores the first size."""
        original = self.page.viewport_size  # type: ignore[attr-defined]
        for viewport in viewports:
            self.page.set_viewport_size(viewport)  # type: ignore[attr-defined]
            width = self.page.evaluate("() => document.documentElement.scrollWidth")  # type: ignore[attr-defined]
            assert width == viewport["width"], f"{name}: page is {width} px wide at {viewport['width']} px"
            if viewport["width"] >= DESK["width"]:  # at a desk nothing scrolls sideways inside the page either
                scrollers = self.inner_scrollers()
                assert scrollers == [], f"{name}: scrolls sideways inside: {scrollers}"
            self.screenshot(f"{name}-{viewport['width']}")
            violations = self.axe_violations()
            assert violations == [], f"{name} at {viewport['width']} px: " + "\n".join(violations)
        self.page.set_viewport_size(original)  # type: ignore[attr-defined]


def _tab(chromium, live_server, viewport: dict[str, int]) -> Iterator[Page]:
    context = chromium.new_context(viewport=viewport, accept_downloads=True)
    tab = Page(context.new_page(), live_server.url)
    yield tab
    context.close()
    assert tab.errors == [], f"browser console errors: {tab.errors}"


@pytest.fixture
def browser_page(chromium, live_server) -> Iterator[Page]:
    """A phone-sized tab: customers use the web ATM on their phones."""
    yield from _tab(chromium, live_server, PHONE)


@pytest.fixture
def staff_page(chromium, live_server) -> Iterator[Page]:
    """A desktop-sized tab: staff use the back office at their desks."""
    yield from _tab(chromium, live_server, DESK)
