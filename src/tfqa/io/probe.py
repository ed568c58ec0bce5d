"""Open a media file and describe it, turning every failure into a typed error."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av

from tfqa.errors import (
    EmptyFileError,
    FileMissingError,
    NotAVideoError,
    NoVideoStreamError,
    TruncatedFileError,
)


@dataclass(frozen=True)
class MediaInfo:
    """What a container holds, as read from its headers (no decoding)."""

    path: str
    size_bytes: int
    container: str
    duration_s: float
    fps: float
    width: int
    height: int
    video_codec: str
    n_frames: int  # declared by the container; 0 when unknown
    video_start_s: float
    has_audio: bool
    audio_codec: str | None
    audio_sample_rate: int | None
    audio_channels: int | None
    audio_start_s: float | None
    # width of a stored pixel over its height as shown (sample aspect ratio; 1 = square pixels,
    # e.g. 64/45 for anamorphic 16:9 PAL); width and height are the stored frames'
    pixel_aspect: float = 1.0
    # counter-clockwise degrees the frames are turned to show them upright (display matrix).
    # Needs a decoded frame, so probe() leaves it 0; the feature pipeline and `tfqa info` set it.
    rotation_deg: int = 0
    # the frames are interlaced (fields of two instants woven together), as the first one is
    # flagged; they are deinterlaced for scoring.  Also needs a decoded frame (like rotation_deg).
    interlaced: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


_TRUNCATION_HINTS = ("moov atom not found", "invalid data found", "end of file")


def open_container(path: str | Path) -> av.container.InputContainer:
    """Open ``path`` with PyAV, mapping each failure to a typed error."""
    p = Path(path)
    if not p.exists():
        raise FileMissingError("file not found", path=p, hint="Check the path")
    if p.is_dir():
        raise NotAVideoError(
            "is a folder, not a video file", path=p, hint="Pass the videos inside it"
        )
    if p.stat().st_size == 0:
        raise EmptyFileError(
            "the file is empty (0 bytes)", path=p, hint="Re-export or re-download the video"
        )
    try:
        return av.open(str(p))
    except av.error.InvalidDataError as exc:
        head = p.read_bytes()[:12]
        if b"ftyp" in head and not _has_moov(p):
            raise TruncatedFileError(
                "the MP4 is truncated: its index (moov atom) is missing",
                path=p,
                hint="The file was cut off while being written or copied; re-export or re-copy it",
            ) from exc
        raise NotAVideoError(
            f"not a readable video container ({exc.strerror or exc})",
            path=p,
            hint="tfqa reads video files such as MP4, MOV, MKV, AVI or WebM",
        ) from exc
    except av.error.FFmpegError as exc:
        raise NotAVideoError(
            f"cannot be opened as media ({exc})", path=p, hint="Check that it is a video file"
        ) from exc


def _has_moov(p: Path) -> bool:
    # Scan top-level MP4 boxes; a file cut before its moov box cannot be decoded.
    size = p.stat().st_size
    with p.open("rb") as fh:
        pos = 0
        while pos + 8 <= size:
            fh.seek(pos)
            hdr = fh.read(16)
            box_len = int.from_bytes(hdr[:4], "big")
            kind = hdr[4:8]
            if kind == b"moov":
                return pos + max(box_len, 8) <= size
            if box_len == 1:
                box_len = int.from_bytes(hdr[8:16], "big")
            if box_len < 8:
                return False
            pos += box_len
    return False


def pixel_aspect(stream: av.video.stream.VideoStream) -> Fraction:
    """Sample aspect ratio of a video stream: the container's, else the codec's (as FFmpeg
    guesses it); 1 when undeclared or implausible (outside 1/4 ... 4)."""
    for sar in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if sar is not None and sar.numerator > 0 and sar.denominator > 0:
            sar = Fraction(sar)
            return sar if Fraction(1, 4) <= sar <= 4 else Fraction(1)
    return Fraction(1)


def probe(path: str | Path) -> MediaInfo:
    """Describe ``path``; raises a :class:`~tfqa.errors.InputError` subclass when unusable."""
    container = open_container(path)
    try:
        if not container.streams.video:
            raise NoVideoStreamError(
                "the file has no video stream",
                path=path,
                hint="tfqa scores talking-face videos; pass a file with picture and sound",
            )
        vs = container.streams.video[0]
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate or Fraction(25)
        v_start = float(vs.start_time * vs.time_base) if vs.start_time is not None else 0.0
        if vs.duration is not None and vs.time_base is not None:
            duration = float(vs.duration * vs.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        a = container.streams.audio[0] if container.streams.audio else None
        a_start = None
        if a is not None:
            a_start = float(a.start_time * a.time_base) if a.start_time is not None else 0.0
        return MediaInfo(
            path=str(path),
            size_bytes=os.path.getsize(path),
            container=container.format.name,
            duration_s=duration,
            fps=float(rate),
            width=vs.codec_context.width,
            height=vs.codec_context.height,
            video_codec=vs.codec_context.name,
            n_frames=int(vs.frames or 0),
            video_start_s=v_start,
            has_audio=a is not None,
            audio_codec=a.codec_context.name if a is not None else None,
            audio_sample_rate=a.codec_context.sample_rate if a is not None else None,
            audio_channels=a.codec_context.channels if a is not None else None,
            audio_start_s=a_start,
            pixel_aspect=float(pixel_aspect(vs)),
        )
    finally:
        container.close()
