"""A real browser for the end-to-end tests: the machine's Chromium (Debian's `chromium` package, installed by
.ci/run) driven by Playwright, one fresh context (no cookies, no storage) per person. Anything the page logs as
an error, or a policy it breaks, fails the test; FRAMEPIPE_SCREENSHOTS=<dir> keeps screenshots of the views."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root in CI
    "--disable-gpu",
    "--disable-background-networking",  # no calls home: this machine's network is closed
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# The page asks who is signed in before anyone is: that answer is a 401, and the browser logs it.
EXPECTED_ERRORS = ("status of 401",)


def chromium_path() -> str:
    path = os.environ.get("FRAMEPIPE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Chromium is required for the browser tests: apt-get install chromium chromium-driver (.ci/run does)"
    return path


async def launch() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Person:
    """One person at their own browser: a context of its own, and what the page complained about."""

    context: BrowserContext
    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=lambda: list(EXPECTED_ERRORS))

    async def open(self, path: str = "/app/") -> None:
        await self.page.goto(self.base_url + path)

    def expect_errors(self, *fragments: str) -> None:
        """Errors the test provokes on purpose (a 404 for another person's video) are not problems."""
        self.expected.extend(fragments)

    def assert_no_problems(self) -> None:
        unexpected = [p for p in self.problems if not any(fragment in p for fragment in self.expected)]
        assert unexpected == [], unexpected


async def person(browser: Browser, base_url: str, *, locale: str = "en-US", width: int = 1100) -> Person:
    context = await browser.new_context(
        locale=locale, viewport={"width": width, "height": 900}, accept_downloads=True, base_url=base_url
    )
    context.set_default_timeout(20_000)
    page = await context.new_page()
    someone = Person(context, page, base_url)

    def console(message: object) -> None:
        text = getattr(message, "text", "")
        if getattr(message, "type", "") == "error":
            someone.problems.append(f"console: {text}")

    page.on("console", console)
    page.on("pageerror", lambda error: someone.problems.append(f"page error: {error}"))
    return someone


async def screenshot(page: Page, name: str) -> None:
    directory = os.environ.get("FRAMEPIPE_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)
