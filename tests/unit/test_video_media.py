"""Pure pieces of video_svc: container sniffing, the size-limited stream, cursors and display names."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicekit.cursors import InvalidCursor
from servicekit.cursors import decode_time_cursor as decode_cursor
from servicekit.cursors import encode_time_cursor as encode_cursor
from video_svc.media import SNIFF_BYTES, ReadChunk, UploadTooLarge, limited_stream, read_head, sniff_container
from video_svc.service import clean_filename

TS_PACKET = b"\x47" + bytes(187)


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        (b"\x00\x00\x00\x20ftypisom" + bytes(200), "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  " + bytes(200), "video/quicktime"),
        (bytes.fromhex("1A45DFA3") + b"\x42\x82\x84webm" + bytes(200), "video/webm"),
        (bytes.fromhex("1A45DFA3") + b"\x42\x82\x88matroska" + bytes(200), "video/x-matroska"),
        (b"RIFF\x10\x00\x00\x00AVI LIST" + bytes(200), "video/x-msvideo"),
        (b"FLV\x01\x05" + bytes(200), "video/x-flv"),
        (TS_PACKET * 2, "video/mp2t"),
        (bytes.fromhex("3026B2758E66CF11A6D900AA0062CE6C") + bytes(200), "video/x-ms-asf"),
    ],
)
def test_each_supported_container_is_recognised_by_its_first_bytes(head: bytes, content_type: str) -> None:
    assert sniff_container(head[:SNIFF_BYTES]) == content_type


@pytest.mark.parametrize(
    "head",
    [
        b"just text that claims to be a video.mp4",
        b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(200),  # RIFF, but audio
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        b"#EXTM3U\n#EXT-X-VERSION:3\nhttp://example.com/x.ts\n",  # a playlist pointing elsewhere
        TS_PACKET + b"\x00" + bytes(187),  # one sync byte is not a transport stream
        b"\x00\x00\x00\x20ftyp",  # cut before the brand
        b"",
    ],
)
def test_anything_else_is_not_a_supported_container(head: bytes) -> None:
    assert sniff_container(head) is None


def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    async def read() -> AsyncIterator[bytes]:
        for start in range(0, len(data), size):
            yield data[start : start + size]

    return read()


def reader(data: bytes, size: int) -> ReadChunk:
    it = chunks_of(data, size)

    async def read_chunk() -> bytes:
        return await anext(it, b"")

    return read_chunk


async def collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


@settings(max_examples=30, deadline=None, database=None)
@given(size=st.integers(0, 600), limit=st.integers(1, 600), chunk=st.integers(1, 97))
async def test_the_stream_passes_every_byte_up_to_the_limit_and_refuses_one_more(
    size: int, limit: int, chunk: int
) -> None:
    data = bytes(range(256)) * 3
    data = data[:size]
    read_chunk = reader(data, chunk)
    head = await read_head(read_chunk)
    assert head == data[: len(head)]
    assert len(head) >= min(size, SNIFF_BYTES)
    if size <= limit:
        assert await collect(limited_stream(head, read_chunk, limit)) == data
    else:
        with pytest.raises(UploadTooLarge):
            await collect(limited_stream(head, read_chunk, limit))


def test_a_cursor_round_trips_and_a_forged_one_is_refused() -> None:
    at, video_id = datetime(2026, 3, 14, 9, 30, 0, 123456, tzinfo=UTC), uuid.uuid4()
    assert decode_cursor(encode_cursor(at, video_id)) == (at, video_id)
    for forged in ("", "!!!", "bm90IGEgY3Vyc29y", encode_cursor(at, video_id)[:-4], "MjAyNi0wMy0xNFQwOTozMDowMHx4"):
        with pytest.raises(InvalidCursor):
            decode_cursor(forged)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("holiday.mp4", "holiday.mp4"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\clip.mov", "clip.mov"),
        ("bad\x00name\x1b.mp4", "badname.mp4"),
        ("", "video"),
        (None, "video"),
        ("x" * 400, "x" * 255),
    ],
)
def test_the_display_name_keeps_no_path_or_control_characters(raw: str | None, shown: str) -> None:
    assert clean_filename(raw) == shown
