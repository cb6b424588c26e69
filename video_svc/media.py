"""What an uploaded file is, judged by its first bytes (never by its name or declared type), and the byte
stream that enforces the size limit while a file is read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

# Enough bytes to see every signature below: MPEG-TS needs the sync byte of its second 188-byte packet.
SNIFF_BYTES = 189
_TS_PACKET = 188
_ASF_GUID = bytes.fromhex("3026B2758E66CF11A6D900AA0062CE6C")
_EBML = bytes.fromhex("1A45DFA3")

ReadChunk = Callable[[], Awaitable[bytes]]

# What sniff_container recognises, with the file name extensions it is usually saved under: clients can refuse
# an obviously wrong file before sending it (the server still judges by the bytes).
CONTAINERS: dict[str, tuple[str, ...]] = {
    "video/mp4": (".mp4", ".m4v", ".3gp"),
    "video/quicktime": (".mov",),
    "video/webm": (".webm",),
    "video/x-matroska": (".mkv",),
    "video/x-msvideo": (".avi",),
    "video/x-flv": (".flv",),
    "video/mp2t": (".ts", ".mts", ".m2ts"),
    "video/x-ms-asf": (".wmv", ".asf"),
}


class UploadTooLarge(Exception):
    """A file grew past the per-file limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a file is larger than {limit} bytes")
        self.limit = limit


def sniff_container(head: bytes) -> str | None:
    """The content type of a supported video container, or None. `head` is the first SNIFF_BYTES of the file
    (fewer only when the file is shorter)."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(_EBML):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head.startswith(b"FLV"):
        return "video/x-flv"
    if len(head) > _TS_PACKET and head[0] == 0x47 and head[_TS_PACKET] == 0x47:
        return "video/mp2t"
    if head.startswith(_ASF_GUID):
        return "video/x-ms-asf"
    return None


async def read_head(read_chunk: ReadChunk, size: int = SNIFF_BYTES) -> bytes:
    """Read until at least `size` bytes (or the end of the file): the bytes the container is judged by.
    May return more than `size`; the caller streams all of it."""
    head = b""
    while len(head) < size:
        chunk = await read_chunk()
        if not chunk:
            break
        head += chunk
    return head


async def limited_stream(head: bytes, read_chunk: ReadChunk, max_bytes: int) -> AsyncIterator[bytes]:
    """`head` then the rest of the file, raising UploadTooLarge as soon as more than `max_bytes` were read,
    so an oversized file is refused after reading at most one chunk past the limit."""
    size = len(head)
    if size > max_bytes:
        raise UploadTooLarge(max_bytes)
    yield head
    while chunk := await read_chunk():
        size += len(chunk)
        if size > max_bytes:
            raise UploadTooLarge(max_bytes)
        yield chunk
