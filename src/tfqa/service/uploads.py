"""Safe intake of videos: streamed uploads with a size cap and a content check, server-side paths
restricted to the configured roots.

Uploads are parsed from the request stream (python-multipart's streaming parser) straight
into a file named after the job id, so an oversized body is refused after at most
``max_bytes`` have been read, and a body that does not start like a video container is
refused after its first bytes.  The client's file name is kept only as metadata.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header

from tfqa.service.errors import ServiceError

# Container signatures: (offset, bytes) -> stored extension.  Checked on the first bytes
# only; tfqa.io.probe then opens the file for real.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", ".mp4"),  # MP4 / MOV / 3GP / M4V
    (4, b"moov", ".mov"),
    (4, b"mdat", ".mov"),
    (4, b"wide", ".mov"),
    (4, b"free", ".mov"),
    (0, b"\x1a\x45\xdf\xa3", ".mkv"),  # Matroska / WebM (EBML)
    (0, b"OggS", ".ogv"),
    (0, b"FLV", ".flv"),
    (0, b"\x00\x00\x01\xba", ".mpg"),  # MPEG program stream
)
MAGIC_BYTES_NEEDED = 189  # the MPEG-TS check looks at two packets


def sniff_container(head: bytes) -> str | None:
    """The stored extension for a file starting with ``head``, or ``None`` if not a video."""
    for offset, sig, ext in _MAGIC:
        if head[offset : offset + len(sig)] == sig:
            return ext
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    if len(head) > 188 and head[0] == head[188] == 0x47:  # MPEG-TS: a sync byte every 188
        return ".ts"
    return None


def clean_name(name: str | None, limit: int = 200) -> str:
    """A client file name made safe to store and show: base name only, no control characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip()
    return name[:limit] or "upload"


@dataclass
class Upload:
    """A stored upload: its path (``<job_id><ext>`` in the upload folder) and metadata."""

    path: Path
    original_name: str
    size_bytes: int


class _FilePart:
    """Collects one multipart part: its headers, and (for the ``file`` field) its bytes."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self._field = bytearray()
        self._value = bytearray()
        self.name: str | None = None
        self.filename: str | None = None


async def receive_upload(
    stream: AsyncIterator[bytes],
    content_type: str,
    dest_dir: Path,
    stem: str,
    max_bytes: int,
    field: str = "file",
) -> Upload:
    """Stream a ``multipart/form-data`` body into ``dest_dir/<stem><ext>``.

    Raises:
        ServiceError: ``bad_request`` (not multipart, no ``file`` field),
            ``payload_too_large`` (more than ``max_bytes`` of file data),
            ``not_a_video`` (the first bytes match no video container).
    """
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise ServiceError(
            400,
            "bad_request",
            "expected a multipart/form-data body with the video in a `file` field",
        )
    state = {"part": None, "fh": None, "size": 0, "head": b"", "ext": None, "found": False}
    tmp = dest_dir / f".{stem}.part"
    parts: list[_FilePart] = []

    def on_part_begin() -> None:
        state["part"] = _FilePart()
        parts.append(state["part"])

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["part"]._field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["part"]._value += data[start:end]

    def on_header_end() -> None:
        part = state["part"]
        part.headers[part._field.decode("latin-1").lower()] = part._value.decode("utf-8", "replace")
        part._field, part._value = bytearray(), bytearray()

    def on_headers_finished() -> None:
        part = state["part"]
        _, disp = parse_options_header(part.headers.get("content-disposition", ""))
        part.name = disp.get(b"name", b"").decode("utf-8", "replace")
        fname = disp.get(b"filename")
        part.filename = fname.decode("utf-8", "replace") if fname is not None else None
        if part.name == field and not state["found"]:
            state["found"] = True
            state["fh"] = tmp.open("wb")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = state["part"]
        if state["fh"] is None or part.name != field:
            return
        chunk = data[start:end]
        state["size"] += len(chunk)
        if state["size"] > max_bytes:
            raise ServiceError(
                413,
                "payload_too_large",
                f"the upload is larger than the limit of {max_bytes / 2**20:.0f} MB",
            )
        if state["ext"] is None:
            state["head"] += chunk[: MAGIC_BYTES_NEEDED - len(state["head"])]
            if len(state["head"]) >= MAGIC_BYTES_NEEDED:
                state["ext"] = _require_video(state["head"], part.filename)
        state["fh"].write(chunk)

    def on_part_end() -> None:
        if state["fh"] is not None and state["part"].name == field:
            state["fh"].close()
            state["fh"] = None

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
        if not state["found"]:
            raise ServiceError(
                400, "bad_request", f"no `{field}` field in the form: send the video as `{field}`"
            )
        if state["ext"] is None:  # shorter than the magic window
            state["ext"] = _require_video(state["head"], parts[0].filename if parts else None)
        final = dest_dir / f"{stem}{state['ext']}"
        os.replace(tmp, final)
    except BaseException:
        if state["fh"] is not None:
            state["fh"].close()
        tmp.unlink(missing_ok=True)
        raise
    name = next((p.filename for p in parts if p.name == field), None)
    return Upload(path=final, original_name=clean_name(name), size_bytes=state["size"])


def _require_video(head: bytes, filename: str | None) -> str:
    ext = sniff_container(head)
    if ext is None:
        raise ServiceError(
            415,
            "not_a_video",
            "the upload is not a video file (its first bytes match no video container such as "
            "MP4, MOV, MKV, WebM or AVI)",
        )
    return ext


def resolve_allowed(raw: str, roots: tuple[Path, ...]) -> Path:
    """The real path of ``raw`` if it is a file under one of ``roots`` (symlinks resolved).

    Raises:
        ServiceError: ``path_not_allowed`` (403) when path submission is off or the
            file lies outside the roots, ``bad_request`` for relative paths or NUL
            bytes, ``file_missing`` (404) when nothing is there.
    """
    if not roots:
        raise ServiceError(
            403,
            "path_not_allowed",
            "submitting server-side paths is disabled: start the server with --allowed-root DIR",
        )
    if "\x00" in raw or not raw.strip():
        raise ServiceError(400, "bad_request", "the path is empty or contains a NUL byte")
    p = Path(raw)
    if not p.is_absolute():
        raise ServiceError(400, "bad_request", f"the path must be absolute, got `{raw}`")
    # Resolve first (follows symlinks and '..'), then compare with the resolved roots: a
    # symlink inside a root that points outside it is refused like a '../' path.
    real = p.resolve()
    if not any(real.is_relative_to(root) for root in roots):
        raise ServiceError(
            403, "path_not_allowed", "the path is outside the folders this server may read"
        )
    if not real.is_file():
        raise ServiceError(404, "file_missing", f"no file at `{raw}`")
    return real
