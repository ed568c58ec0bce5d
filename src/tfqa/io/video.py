"""Stream video frames onto the analysis grid without holding the clip in memory."""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import av
import cv2
import numpy as np

from tfqa.io.constants import ANALYSIS_RATE
from tfqa.io.probe import open_container, pixel_aspect

_EPS = 1e-6
T = TypeVar("T")


@dataclass
class GridFrame:
    """One decoded frame and the analysis-grid slots it fills (sample-and-hold).

    ``grid`` is the half-open range of grid indices ``[start, stop)``: a 50 fps
    clip skips every other frame (``stop == start`` frames are never decoded to
    RGB), a 15 fps clip repeats each frame over ~1.7 slots.
    """

    rgb: np.ndarray  # (H, W, 3) uint8
    time_s: float  # presentation time relative to the first video frame
    grid: range


class FrameStream:
    """Iterate :class:`GridFrame` objects of ``path`` at ``rate`` Hz.

    After iteration, ``n_grid`` holds the number of grid slots covered,
    ``n_decoded`` the frames decoded, ``truncated`` whether decoding stopped
    on corrupt data before the end of the stream and ``interlaced`` whether frames
    flagged interlaced (broadcast, camcorder video) were deinterlaced.
    """

    def __init__(self, path: str | Path, *, rate: int = ANALYSIS_RATE, max_side: int = 1920):
        self.path = str(path)
        self.rate = rate
        self.max_side = max_side
        self.n_grid = 0
        self.n_decoded = 0
        self.truncated = False
        self.first_pts_s: float | None = None
        self.native_fps: float = float(rate)
        self.pixel_aspect = Fraction(1)  # read from the stream when decoding starts
        self.turns = 0  # quarter turns of the display matrix, read from the first frame
        self.interlaced = False

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """The frame as RGB, turned upright as players show it (the display matrix)."""
        rgb = self._decoded_rgb(frame)
        return np.ascontiguousarray(np.rot90(rgb, self.turns)) if self.turns else rgb

    def _decoded_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """RGB at the display shape (non-square pixels widened or narrowed), at most max_side."""
        w, h = frame.width * float(self.pixel_aspect), frame.height
        scale = min(1.0, self.max_side / max(w, h))
        if scale < 1.0 or self.pixel_aspect != 1:
            w2, h2 = int(round(w * scale / 2) * 2), int(round(h * scale / 2) * 2)
            return frame.to_ndarray(format="rgb24", width=w2, height=h2)
        if frame.format.name == "yuv420p" and w % 2 == 0 and h % 2 == 0:
            # OpenCV's I420 -> RGB is ~1.5x faster than swscale's rgb24 path (stack-probe §3)
            return cv2.cvtColor(frame.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2RGB_I420)
        return frame.to_ndarray(format="rgb24")

    def _decode(self) -> Iterator[tuple[av.VideoFrame, float]]:
        container = open_container(self.path)
        try:
            stream = container.streams.video[0]
            self.pixel_aspect = pixel_aspect(stream)
            rate = stream.average_rate or stream.guessed_rate
            if rate:
                self.native_fps = float(rate)
            graph = None  # the deinterlacer, started at the first interlaced frame
            try:
                for k, frame in enumerate(container.decode(stream)):
                    if k == 0:
                        self.turns = quarter_turns(frame)
                    if graph is None and frame.interlaced_frame:
                        graph, self.interlaced = deinterlacer(frame), True
                    yield from _timed(filtered(graph, frame) if graph else (frame,))
            except av.error.InvalidDataError:
                self.truncated = True
            if graph is not None:
                yield from _timed(filtered(graph, None))
        finally:
            container.close()

    def __iter__(self) -> Iterator[GridFrame]:
        prev: tuple[av.VideoFrame, float] | None = None
        next_slot = 0
        for frame, t_abs in self._decode():
            self.n_decoded += 1
            if self.first_pts_s is None:
                self.first_pts_s = t_abs
            t = t_abs - self.first_pts_s
            if prev is not None:
                # the previous frame holds every slot whose time is before this frame's time
                stop = max(next_slot, math.ceil(t * self.rate - _EPS))
                if stop > next_slot:
                    yield GridFrame(self._to_rgb(prev[0]), prev[1], range(next_slot, stop))
                    next_slot = stop
            prev = (frame, t)
        if prev is not None:
            frame_dur = 1.0 / self.native_fps if self.native_fps > 0 else 1.0 / self.rate
            stop = max(next_slot + 1, math.ceil((prev[1] + frame_dur) * self.rate - _EPS))
            yield GridFrame(self._to_rgb(prev[0]), prev[1], range(next_slot, stop))
            next_slot = stop
        self.n_grid = next_slot


def _timed(frames: Iterable[av.VideoFrame]) -> Iterator[tuple[av.VideoFrame, float]]:
    for frame in frames:
        if frame.pts is not None:
            yield frame, float(frame.pts * frame.time_base)


# FFmpeg's bwdif (as `ffmpeg -vf bwdif`): one frame out per frame in, only the frames flagged
# interlaced are deinterlaced, field order from each frame
DEINTERLACE = ("bwdif", "mode=send_frame:parity=auto:deint=interlaced")


def deinterlacer(template: av.VideoFrame) -> av.filter.Graph:
    """A filter graph that deinterlaces frames shaped like ``template`` (see :func:`filtered`)."""
    graph = av.filter.Graph()
    src = graph.add_buffer(
        width=template.width,
        height=template.height,
        format=template.format.name,
        time_base=template.time_base,
    )
    deint = graph.add(*DEINTERLACE)
    sink = graph.add("buffersink")
    src.link_to(deint)
    deint.link_to(sink)
    graph.configure()
    return graph


def filtered(graph: av.filter.Graph, frame: av.VideoFrame | None) -> list[av.VideoFrame]:
    """Push ``frame`` (``None``: the end of the stream) and pull every frame that is ready.

    The deinterlacer looks one frame ahead, so its output lags one frame until the end is
    pushed.  Output frames carry their own ``time_base``."""
    graph.push(frame)
    out = []
    while True:
        try:
            out.append(graph.pull())
        except (av.error.BlockingIOError, av.error.EOFError):
            return out


def quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns (0-3) that show ``frame`` upright.

    Phones store portrait video as landscape frames plus a display matrix; players (and
    ``ffmpeg``'s autorotate) turn the picture by its rotation, and so does tfqa.  Only multiples
    of 90 degrees are honoured (the others round to the nearest one).
    """
    rotation = getattr(frame, "rotation", 0) or 0
    return int(round(float(rotation) / 90.0)) % 4


@dataclass(frozen=True)
class DisplayFacts:
    """How the first frame of a clip is to be shown: the counter-clockwise rotation in degrees
    (0, 90, 180 or 270) that shows it upright, and whether it is interlaced."""

    rotation_deg: int = 0
    interlaced: bool = False


def display_facts(path: str | Path) -> DisplayFacts:
    """:class:`DisplayFacts` read from the clip's first decoded frame; the defaults when there
    is none or it cannot be decoded (decoding errors are reported by the frame pass)."""
    container = open_container(path)
    try:
        for frame in container.decode(video=0):
            return DisplayFacts(90 * quarter_turns(frame), bool(frame.interlaced_frame))
        return DisplayFacts()
    except av.error.FFmpegError:
        return DisplayFacts()
    finally:
        container.close()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def iter_in_thread(
    iterable: Iterable[T], maxsize: int = 8, *, name: str = "tfqa-decode"
) -> Iterator[T]:
    """Iterate ``iterable`` in a background thread, ``maxsize`` items ahead of the caller.

    Used to decode frames (PyAV and OpenCV release the GIL) while the caller
    analyses earlier ones, and to render synthetic frames while they are encoded.  An exception in the producer is re-raised in the
    caller at the point the stream reached; closing the iterator early stops
    the producer.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
    stop = threading.Event()
    end = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in iterable:
                if not put(item):
                    return
            put(end)
        except BaseException as exc:  # handed to the consumer
            put(_Failed(exc))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is end:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()
