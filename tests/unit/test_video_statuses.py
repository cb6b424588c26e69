"""The statuses and image formats are said once (contracts): the migrations' CHECK constraints and the web app's
literals must name exactly the same values."""

from __future__ import annotations

import re
from pathlib import Path

from contracts import TERMINAL_STATUSES, ImageFormat, VideoStatus
from servicekit.options import form_schema

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted((ROOT / "video_svc" / "migrations").glob("*.sql"))


def _latest_check(column: str) -> set[str]:
    """The values of the last `CHECK (<column> IN (...))` the migrations declare, in the order they run."""
    found: list[str] = []
    for path in MIGRATIONS:
        found += re.findall(rf"CHECK \({column} IN \(([^)]*)\)\)", path.read_text())
    assert found, f"no CHECK on {column}"
    return set(re.findall(r"'([^']*)'", found[-1]))


def test_the_migrations_check_on_video_statuses_lists_exactly_the_enum() -> None:
    assert _latest_check("status") == {status.value for status in VideoStatus}


def test_the_migrations_check_on_image_formats_lists_exactly_the_enum() -> None:
    assert _latest_check("image_format") == {image_format.value for image_format in ImageFormat}


def test_the_terminal_statuses_are_statuses_and_leave_some_in_flight() -> None:
    assert set(VideoStatus) > TERMINAL_STATUSES
    assert VideoStatus.UPLOADED not in TERMINAL_STATUSES


def test_the_web_app_waits_for_the_terminal_statuses_of_the_enum() -> None:
    script = (ROOT / "webapp" / "static" / "assets" / "videos.js").read_text()
    literal = re.search(r"const TERMINAL = new Set\(\[([^\]]*)\]\)", script)
    assert literal is not None
    assert set(re.findall(r'"([^"]*)"', literal.group(1))) == {status.value for status in TERMINAL_STATUSES}


def test_the_web_app_offers_exactly_the_image_formats_of_the_enum() -> None:
    page = (ROOT / "webapp" / "static" / "index.html").read_text()
    select = re.search(r'<select id="image-format"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None
    assert re.findall(r'<option value="([^"]*)"', select.group(1)) == [
        image_format.value for image_format in ImageFormat
    ]


def test_the_bounds_the_upload_form_starts_with_are_the_contracts() -> None:
    """The page's own min/max (before GET /video/limits replaces them) are the contract's."""
    page = (ROOT / "webapp" / "static" / "index.html").read_text()
    fields = form_schema()["properties"]
    literals = [
        (re.search(r'data-option="(\w+)"', tag).group(1), attribute, float(value))  # type: ignore[union-attr]
        for tag in re.findall(r"<input [^>]*data-option=[^>]*>", page)
        for attribute, value in re.findall(r' (min|max)="([^"]*)"', tag)
    ]
    assert literals
    for name, attribute, value in literals:
        assert value == fields[name]["minimum" if attribute == "min" else "maximum"], (name, attribute)
