"""The web app in a real browser against the whole running system, through the one-origin gateway: a person signs
up, uploads videos, watches them finish without reloading, downloads and checks the ZIP, deletes, signs out; a
failure is explained in plain words; another person sees nothing of it; live changes reach the page whichever
video_svc replica made them; the e-mail's link opens the page's view of the video."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, FileChooser, Page, Request, Route

from ops.dev.localinfra import MailSink
from ops.dev.stack import DevStack
from servicekit.sessions import COOKIE
from tests.e2e.browser import Person, launch, person, screenshot
from tests.e2e.media import decoded_size
from tests.support.polling import eventually
from tests.support.videos import make_video

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough password"
STATUS_RECORDER = """() => {
  window.seenStatuses = [];
  window.sameDocument = true;
  new MutationObserver((changes) => {
    for (const change of changes) {
      const { id, status } = change.target.dataset;
      if (change.type === "attributes") window.seenStatuses.push([id, status]);
    }
  }).observe(document.getElementById("videos"), { subtree: true, attributes: true, attributeFilter: ["data-status"] });
}"""


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async for launched in launch():
        yield launched


@pytest.fixture
def gateway(stack: DevStack) -> str:
    return stack.url("gateway")


People = Callable[..., Awaitable[Person]]


@pytest.fixture
async def people(browser: Browser, gateway: str) -> AsyncIterator[People]:
    """Makes a person at a browser of their own; afterwards, fails the test on anything their page logged as an
    error that the test did not provoke, and closes their browser."""
    made: list[Person] = []

    async def make(**options: Any) -> Person:
        made.append(await person(browser, gateway, **options))
        return made[-1]

    yield make
    for someone in made:
        await someone.context.close()
    for someone in made:
        someone.assert_no_problems()


async def sign_up(someone: Person, label: str = "ana") -> str:
    email = f"{label}-{uuid.uuid4().hex[:8]}@example.com"
    page = someone.page
    await someone.open()
    await page.click("#tab-register")
    await page.fill("#register-name", label.title())
    await page.fill("#register-email", email)
    await page.fill("#register-password", PASSWORD)
    await page.fill("#register-repeat", PASSWORD)
    await page.click("#register-form button[type=submit]")
    await page.wait_for_selector("#home-view:not([hidden])")
    await page.wait_for_selector("#live-state[data-state=live]")
    return email


async def sign_in(page: Page, email: str) -> None:
    await page.fill("#sign-in-email", email)
    await page.fill("#sign-in-password", PASSWORD)
    await page.click("#sign-in-form button[type=submit]")


async def status_of(page: Page, path: str) -> int:
    status: int = await page.evaluate("(path) => fetch(path).then((r) => r.status)", path)
    return status


def item(video_id: str) -> str:
    return f'.video[data-id="{video_id}"]'


async def video_ids(page: Page) -> list[str]:
    ids: list[str] = await page.eval_on_selector_all(".video", "(items) => items.map((i) => i.dataset.id)")
    return ids


async def test_sign_up_upload_two_videos_watch_them_finish_download_delete_and_sign_out(
    people: People, tmp_path: Path
) -> None:
    ana = await people()
    page = ana.page
    await sign_up(ana)
    await screenshot(page, "home-empty")
    await page.evaluate(STATUS_RECORDER)
    videos = [make_video(tmp_path / "first.mp4", 3), make_video(tmp_path / "second.webm", 2)]
    await page.set_input_files("#file-input", [str(v) for v in videos])

    # (No wait_for_function: it evaluates strings, which the page's Content-Security-Policy rightly forbids.)
    await page.locator(".video[data-status=done]").nth(1).wait_for(timeout=60_000)
    await screenshot(page, "home-done")
    assert await page.evaluate("window.sameDocument") is True  # no reload, no navigation
    seen: list[list[str]] = await page.evaluate("window.seenStatuses")
    ids = await video_ids(page)
    for video_id in ids:
        statuses = [status for seen_id, status in seen if seen_id == video_id]
        assert statuses[0] == "uploaded", seen  # as accepted, then moved by the live feed
        assert statuses[-1] == "done", seen
    listed = await page.evaluate("() => fetch('/video').then((r) => r.json())")
    assert ids == [v["id"] for v in listed["items"]]  # newest first, as the API lists them
    by_name = {v["filename"]: v["id"] for v in listed["items"]}
    assert set(by_name) == {"first.mp4", "second.webm"}
    first, second = by_name["first.mp4"], by_name["second.webm"]
    assert "3 frames" in await page.inner_text(f"{item(first)} .video-meta")

    async with page.expect_download() as downloading:
        await page.click(f"{item(first)} .video-download")
    download = await downloading.value
    assert download.suggested_filename == "first.zip"
    with zipfile.ZipFile(io.BytesIO(Path(await download.path()).read_bytes())) as archive:
        frames = [n for n in archive.namelist() if n.endswith(".png")]
        assert len(frames) == 3
        assert decoded_size(archive.read(frames[0]), tmp_path) == "160x120"

    await page.click(f"{item(second)} .video-delete")
    await page.wait_for_selector("#confirm-delete[open]")
    await screenshot(page, "delete-confirmation")
    await page.click("#confirm-delete button[value=delete]")
    await page.wait_for_selector(item(second), state="detached")
    ana.expect_errors("404")  # asked for below, on purpose
    assert await status_of(page, f"/video/{second}") == 404
    assert await video_ids(page) == [first]

    await page.click("#sign-out")
    await page.wait_for_selector("#auth-view:not([hidden])")
    assert await status_of(page, "/session") == 401
    assert await status_of(page, "/video") == 401


async def test_the_view_of_a_video_shows_its_facts_and_previews(people: People, gateway: str, tmp_path: Path) -> None:
    ana = await people()
    page = ana.page
    await sign_up(ana)
    await page.fill("#interval", "0.5")
    await page.select_option("#image-format", "jpg")
    await page.set_input_files("#file-input", str(make_video(tmp_path / "clip.mp4", 3, size="640x360")))
    await page.wait_for_selector(".video[data-status=done]", timeout=60_000)
    await page.click(".video-name")
    await page.wait_for_selector("#video-view:not([hidden])")
    assert page.url.startswith(f"{gateway}/app/videos/")
    assert await page.inner_text("#video-title") == "clip.mp4"
    facts = await page.inner_text("#video-detail .facts")
    assert "6" in facts  # frames: one every half second of three seconds
    assert "JPG" in facts
    images = page.locator("#video-detail .previews img")
    assert await images.count() == 4
    loaded = "() => [...document.querySelectorAll('.previews img')].every((i) => i.complete && i.naturalWidth === 320)"
    await eventually(lambda: page.evaluate(loaded))
    assert await images.first.get_attribute("alt") == "Frame 1"
    captions = await page.eval_on_selector_all(".previews figcaption", "(all) => all.map((c) => c.textContent)")
    assert captions == ["at 0 sec", "at 0.5 sec", "at 1 sec", "at 1.5 sec"]
    await screenshot(page, "video-done")


async def test_chosen_options_are_sent_and_shown_in_plain_words_and_inconsistent_ones_are_refused_in_the_page(
    people: People, gateway: str, tmp_path: Path
) -> None:
    ana = await people()
    page = ana.page
    await sign_up(ana)
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    clip = str(make_video(tmp_path / "options.mp4", 2, size="640x360"))

    # Only what applies to the chosen mode and format is offered.
    assert await page.locator("#quality").is_hidden()  # png
    assert await page.locator("#scene-threshold").is_hidden()
    assert await page.locator("#max-frames").is_hidden()
    await page.select_option("#mode", "scenes")
    assert await page.locator("#scene-threshold").is_visible()
    assert await page.locator("#max-frames").is_visible()
    assert await page.locator("#interval").is_hidden()
    await page.select_option("#mode", "interval")
    assert await page.locator("#interval").is_visible()

    await page.fill("#start", "5")
    await page.fill("#end", "2")
    await page.set_input_files("#file-input", clip)
    assert await page.inner_text("#notice-text") == "The end of the range must be after its start."
    assert await page.get_attribute("#end", "aria-invalid") == "true"
    await page.fill("#end", "")
    await page.fill("#start", "")
    await page.fill("#width", "8")  # under the contract's bound, which the page has from the server
    await page.set_input_files("#file-input", clip)
    assert await page.inner_text("#notice-text") == (
        "Maximum width (pixels, optional): choose a whole number from 16 to 7,680."
    )
    assert posts == []  # refused in the page: nothing was sent

    await page.fill("#width", "320")
    await page.check("#spacing-count")
    assert await page.locator("#interval").is_hidden()
    await page.fill("#count", "3")
    await page.select_option("#image-format", "jpg")
    await page.fill("#quality", "80")
    await page.check("#storyboard")
    await page.set_input_files("#file-input", clip)
    await page.wait_for_selector(".video .video-name")
    assert posts == [f"{gateway}/video"]
    await page.click(".video-name")
    await page.wait_for_selector("#video-view:not([hidden])")
    facts = await page.inner_text("#video-detail .facts")
    for words in ("3 frames, evenly spread", "the whole video", "at most 320 pixels wide", "JPG, quality 80"):
        assert words in facts
    assert "storyboard in the ZIP" in facts
    assert "black start skipped" not in facts
    await page.select_option("#language", "pt")
    await page.locator("#video-detail .facts", has_text="JPG, qualidade 80").wait_for()
    facts = await page.inner_text("#video-detail .facts")
    assert "3 quadros, distribuídos por igual" in facts
    assert "no máximo 320 pixels de largura" in facts


async def test_an_option_the_server_refuses_is_explained_in_plain_words(people: People, tmp_path: Path) -> None:
    ana = await people()
    ana.expect_errors("422")  # provoked below
    page = ana.page
    await sign_up(ana)

    # A page with looser limits than the server's (an old copy, say): the server's 422 is still put in plain words.
    async def looser_limits(route: Route) -> None:
        response = await route.fetch()
        limits = await response.json()
        limits["options"]["properties"]["width"]["minimum"] = 1
        await route.fulfill(response=response, json=limits)

    await page.route("**/video/limits", looser_limits)
    await page.reload()
    await page.wait_for_selector("#live-state[data-state=live]")
    await page.fill("#width", "8")
    await page.set_input_files("#file-input", str(make_video(tmp_path / "narrow.mp4", 1)))
    failed = page.locator(".upload[data-state=failed] .upload-error")
    assert await failed.inner_text() == "Please check: the maximum width."
    assert await page.locator(".video").count() == 0


async def test_a_failed_video_says_why_in_plain_words(people: People, tmp_path: Path) -> None:
    ana = await people()
    page = ana.page
    await sign_up(ana)
    whole = make_video(tmp_path / "whole.mp4", 3).read_bytes()
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(whole[:64] + bytes(range(256)) * 64)  # a container signature, then noise
    await page.set_input_files("#file-input", str(corrupt))
    failed = page.locator(".video[data-status=failed]")
    await failed.wait_for(timeout=60_000)
    reason = await failed.locator(".video-error").inner_text()
    assert reason == "The file could not be read as a video: it may be damaged or incomplete."
    assert await failed.locator(".video-download").is_hidden()
    await failed.locator(".video-name").click()
    assert await page.inner_text("#video-detail .reason") == reason
    await screenshot(page, "video-failed")


async def test_another_person_sees_none_of_it(people: People, tmp_path: Path) -> None:
    ana, bia = await people(), await people()
    await sign_up(ana, "ana")
    await ana.page.set_input_files("#file-input", str(make_video(tmp_path / "private.mp4", 1)))
    await ana.page.wait_for_selector(".video[data-status=done]", timeout=60_000)
    (video_id,) = await video_ids(ana.page)

    await sign_up(bia, "bia")
    bia.expect_errors("404")  # ana's video is not there for bia, and the browser logs each 404
    await bia.page.wait_for_selector("#videos-empty:not([hidden])")
    assert await video_ids(bia.page) == []
    await bia.open(f"/app/videos/{video_id}")
    await bia.page.wait_for_selector("#missing-view:not([hidden])")
    assert await status_of(bia.page, f"/video/{video_id}/previews/1") == 404
    assert await status_of(bia.page, f"/video/{video_id}/download") == 404


async def test_a_change_made_by_another_replica_reaches_the_page(
    people: People, stack: DevStack, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    # Streams of pages closed by earlier tests end at their next keep-alive: wait until none is left, so the one
    # stream open is this page's.
    await eventually(lambda: _open_streams(stack, http, 0), timeout=30)
    ana = await people()
    await sign_up(ana)
    token = next(c["value"] for c in await ana.context.cookies() if c["name"] == COOKIE)
    (holding,) = await eventually(lambda: _open_streams(stack, http, 1), timeout=10)
    other = next(name for name in stack.video_replicas if name != holding)
    form = aiohttp.FormData()
    form.add_field("file", make_video(tmp_path / "elsewhere.mp4", 1).read_bytes(), filename="elsewhere.mp4")
    async with http.post(
        f"{stack.url(other)}/video", data=form, headers={"Authorization": f"Bearer {token}"}
    ) as response:  # straight to the replica that does not hold the page's stream
        assert response.status == 202
        video_id = (await response.json())["items"][0]["id"]
    await ana.page.wait_for_selector(f"{item(video_id)}[data-status=done]", timeout=60_000)


async def test_after_its_replica_stops_the_page_reconnects_and_catches_up_what_finished_meanwhile(
    people: People, stack: DevStack, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    await eventually(lambda: _open_streams(stack, http, 0), timeout=30)
    ana = await people()
    page = ana.page
    await sign_up(ana)
    (holding,) = await eventually(lambda: _open_streams(stack, http, 1), timeout=10)
    resumed_from: list[str] = []

    async def note_resumes(request: Request) -> None:
        if "/video/events" in request.url:
            resumed_from.append((await request.all_headers()).get("last-event-id", ""))

    page.on("request", note_resumes)
    await page.route("**/video/events*", lambda route: route.abort())  # while away, reconnects fail
    await stack.stop_service(holding)  # a rolling restart: its streams end
    try:
        await page.set_input_files("#file-input", str(make_video(tmp_path / "meanwhile.mp4", 2)))
        await page.wait_for_selector(".video[data-status=uploaded]")  # the upload's own answer
        (video_id,) = await video_ids(page)
        token = next(c["value"] for c in await ana.context.cookies() if c["name"] == COOKIE)
        other = next(name for name in stack.video_replicas if name != holding)

        async def done() -> bool:
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(f"{stack.url(other)}/video/{video_id}", headers=headers) as response:
                return bool((await response.json())["status"] == "done")

        await eventually(done, timeout=60)  # finished while the page could not hear it
        assert await page.get_attribute(item(video_id), "data-status") == "uploaded"
        await page.unroute("**/video/events*")
        await page.wait_for_selector(f"{item(video_id)}[data-status=done]", timeout=30_000)
        assert [resume for resume in resumed_from if resume], resumed_from  # it resumed from its last event id
    finally:
        await stack.start_service(holding)


async def _open_streams(stack: DevStack, http: aiohttp.ClientSession, total: int) -> list[str] | None:
    """The replicas holding event streams, once `total` streams are open across them."""
    counts = {}
    for name in stack.video_replicas:
        async with http.get(f"{stack.url(name)}/metrics") as response:
            text = await response.text()
        line = next(line for line in text.splitlines() if line.startswith("video_event_streams_open "))
        counts[name] = int(float(line.split()[1]))
    if sum(counts.values()) != total:
        return None
    return [name for name, count in counts.items() if count] or ["none"]


async def test_the_e_mail_link_opens_the_pages_view_of_the_video_after_sign_in(
    people: People, gateway: str, sink: MailSink, tmp_path: Path
) -> None:
    ana = await people()
    email = await sign_up(ana)
    await ana.page.set_input_files("#file-input", str(make_video(tmp_path / "mailed.mp4", 1)))
    await ana.page.wait_for_selector(".video[data-status=done]", timeout=60_000)
    (video_id,) = await video_ids(ana.page)
    message = await eventually(lambda: sink.to(email), timeout=30)
    text = message[0].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    link = f"{gateway}/app/videos/{video_id}"
    assert link in text

    later = await people()  # the link opened in a browser that is not signed in
    await later.page.goto(link)
    await later.page.wait_for_selector("#auth-view:not([hidden])")
    await sign_in(later.page, email)
    await later.page.wait_for_selector("#video-view:not([hidden])")
    assert await later.page.inner_text("#video-title") == "mailed.mp4"


async def test_wrong_files_are_refused_before_sending_and_server_refusals_are_explained(
    people: People, gateway: str, tmp_path: Path
) -> None:
    ana = await people()
    ana.expect_errors("415")  # the server's answer to the file only it can judge
    page = ana.page
    await sign_up(ana)
    uploads: list[str] = []
    page.on("request", lambda request: uploads.append(request.url) if request.method == "POST" else None)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video")
    await page.set_input_files("#file-input", str(notes))
    refused = page.locator(".upload[data-state=refused] .upload-error")
    assert await refused.inner_text() == "This is not a video we can read. Try MP4, MOV, MKV, WebM or AVI."
    assert uploads == []  # refused in the page: nothing was sent

    # The page refuses by the server's own limits (GET /video/limits): with a smaller one, a small video is too big.
    async def smaller_limit(route: Route) -> None:
        response = await route.fetch()
        await route.fulfill(response=response, json={**await response.json(), "max_upload_bytes": 1000})

    await page.route("**/video/limits", smaller_limit)
    await page.reload()
    await page.wait_for_selector("#live-state[data-state=live]")
    await page.set_input_files("#file-input", str(make_video(tmp_path / "too-big.mp4", 1)))
    too_big = page.locator(".upload[data-state=refused] .upload-error", has_text="too large")
    assert await too_big.inner_text() == "The file is too large: at most 1 kB per video."
    assert uploads == []
    await page.unroute("**/video/limits")
    await page.reload()
    await page.wait_for_selector("#live-state[data-state=live]")

    await page.fill("#interval", "0")
    await page.set_input_files("#file-input", str(make_video(tmp_path / "ok.mp4", 1)))
    assert await page.inner_text("#notice-text") == "Choose an interval from 0.1 to 3,600 seconds."
    assert uploads == []
    await page.fill("#interval", "1")

    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00" * 4096)  # the right name, the wrong bytes: only the server can tell
    await page.set_input_files("#file-input", str(fake))
    failed = page.locator(".upload[data-state=failed] .upload-error")
    assert await failed.inner_text() == "This is not a video we can read. Try MP4, MOV, MKV, WebM or AVI."
    assert [url for url in uploads if url.endswith("/video")] == [f"{gateway}/video"]


async def test_an_upload_shows_speed_and_time_left_and_can_be_cancelled(people: People, tmp_path: Path) -> None:
    ana = await people()
    page = ana.page
    # Slow uploads from before signing up: the browser applies the conditions to its network service a moment
    # after answering, and an upload started in that moment would go through at full speed.
    network = await ana.context.new_cdp_session(page)
    await network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 64 * 1024},
    )
    await sign_up(ana)
    big = make_video(tmp_path / "big.mp4", 20, size="640x360", rate=25)
    await page.set_input_files("#file-input", str(big))
    upload = page.locator(".upload[data-state=uploading]")
    await page.locator(".upload .upload-numbers", has_text="left").wait_for()
    numbers = await upload.locator(".upload-numbers").inner_text()
    assert "/s" in numbers
    assert " of " in numbers
    await screenshot(page, "uploading")
    await upload.locator(".upload-cancel").click()
    await page.wait_for_selector(".upload[data-state=cancelled]")
    await network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    await asyncio.sleep(1)
    assert await video_ids(page) == []
    assert (await page.evaluate("fetch('/video').then((r) => r.json())"))["items"] == []


async def test_portuguese_from_the_browser_and_english_by_choice(people: People) -> None:
    bia = await people(locale="pt-BR")
    page = bia.page
    await bia.open()
    await page.wait_for_selector("#auth-view:not([hidden])")
    assert await page.get_attribute("html", "lang") == "pt"
    assert await page.inner_text("#tab-sign-in") == "Entrar"
    await screenshot(page, "sign-in-pt")
    await page.select_option("#language", "en")
    await page.locator("#tab-sign-in", has_text="Sign in").wait_for()
    await page.reload()
    await page.wait_for_selector("#auth-view:not([hidden])")
    assert await page.inner_text("#tab-sign-in") == "Sign in"  # the choice is kept
    bia.expect_errors("401")
    await sign_in(page, "nobody@example.com")
    await page.locator("#sign-in-error", has_text="The e-mail or the password is wrong.").wait_for()


async def test_labels_names_keyboard_contrast_and_a_phone_width(people: People, tmp_path: Path) -> None:
    ana = await people(width=360)
    page = ana.page
    # Playwright asks the browser to hand it file choosers only once a listener exists, and does not wait for the
    # answer: a listener added just before the key press can lose the race, and the chooser then opened by the
    # browser blocks every later one. Listening from the start leaves the browser many round trips to agree.
    choosers: asyncio.Queue[FileChooser] = asyncio.Queue()
    page.on("filechooser", choosers.put_nowait)
    await ana.open()
    await page.wait_for_selector("#auth-view:not([hidden])")
    assert await page.evaluate(ACCESSIBILITY_GAPS) == []
    await sign_up(ana)
    assert await page.evaluate(ACCESSIBILITY_GAPS) == []
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    await screenshot(page, "home-phone")

    await page.focus("body")
    for _ in range(12):  # from the top of the page to the upload button by keyboard alone
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "choose-files":
            break
    assert await page.evaluate("document.activeElement.id") == "choose-files"
    await page.keyboard.press("Enter")
    chooser = await asyncio.wait_for(choosers.get(), timeout=20)
    await chooser.set_files(str(make_video(tmp_path / "keyboard.mp4", 1)))
    await page.wait_for_selector(".video[data-status=done]", timeout=60_000)
    await page.focus(".video-delete")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#confirm-delete[open]")
    assert await page.evaluate("document.activeElement.value") == "cancel"  # the safe choice has the focus
    await page.keyboard.press("Escape")
    await page.wait_for_selector("#confirm-delete:not([open])", state="attached")
    assert len(await video_ids(page)) == 1
    assert await page.evaluate(ACCESSIBILITY_GAPS) == []


# Every visible control has a label or an accessible name, every image an alt text, and visible text has a
# contrast of at least 4.5:1 (3:1 when large) against the background behind it (WCAG 2.1 AA).
ACCESSIBILITY_GAPS = """() => {
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const gaps = [];
  for (const el of document.querySelectorAll("input:not([type=file]), select, textarea")) {
    if (visible(el) && el.labels.length === 0 && !el.getAttribute("aria-label")) gaps.push(`no label: #${el.id}`);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (visible(el) && !el.textContent.trim() && !el.getAttribute("aria-label")) gaps.push(`no name: ${el.outerHTML}`);
  }
  for (const img of document.querySelectorAll("img")) if (!img.hasAttribute("alt")) gaps.push(`no alt: ${img.src}`);
  const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const [r, g, b, a = 1] = rgb(getComputedStyle(node).backgroundColor);
      if (a > 0) return [r, g, b];
    }
    return [255, 255, 255];
  };
  for (const el of document.querySelectorAll("body *")) {
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!text || !visible(el) || el.closest(".visually-hidden, [hidden], dialog:not([open])")) continue;
    const style = getComputedStyle(el);
    const [l1, l2] = [luminance(rgb(style.color)), luminance(background(el))].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) gaps.push(`contrast ${ratio.toFixed(2)}: ${el.textContent.trim().slice(0, 40)}`);
  }
  return gaps;
}"""


async def test_the_password_is_changed_and_the_account_deleted_from_the_settings(people: People) -> None:
    eva = await people()
    page = eva.page
    email = await sign_up(eva, "eva")
    new_password = "another long enough password"
    await page.click("#settings-link")
    await page.wait_for_selector("#settings-view:not([hidden])")
    assert page.url.endswith("/app/settings")

    eva.expect_errors("403")  # a wrong current password, on purpose
    await page.fill("#current-password", "not my password")
    await page.fill("#new-password", new_password)
    await page.fill("#new-password-repeat", new_password)
    await page.click("#password-form button[type=submit]")
    await page.locator("#password-error", has_text="The password is wrong.").wait_for()
    assert await page.get_attribute("#current-password", "aria-invalid") == "true"
    await page.fill("#current-password", PASSWORD)
    await page.click("#password-form button[type=submit]")
    await page.locator("#notice-text", has_text="Your password was changed.").wait_for()
    assert await status_of(page, "/session") == 200  # the answer's fresh session cookie
    await screenshot(page, "settings")

    await page.click("#delete-account")
    await page.wait_for_selector("#confirm-account[open]")
    assert await page.evaluate("document.activeElement.id") == "delete-account-password"
    await page.fill("#delete-account-password", new_password)
    await screenshot(page, "delete-account-confirmation")
    await page.click("#delete-account-form button[type=submit]")
    await page.wait_for_selector("#auth-view:not([hidden])")
    await page.locator("#notice-text", has_text="Your account was deleted.").wait_for()

    eva.expect_errors("401")  # asked for below, on purpose
    assert await status_of(page, "/session") == 401
    await page.click("#tab-sign-in")
    await page.fill("#sign-in-email", email)
    await page.fill("#sign-in-password", new_password)
    await page.click("#sign-in-form button[type=submit]")
    await page.locator("#sign-in-error", has_text="The e-mail or the password is wrong.").wait_for()
