"""On-disk feature cache keyed by stream content + extractor identity.

A cache entry is self-describing: its header records the extractor name,
version, config and the digests of the inputs it was computed from, so a
changed config or a changed file can never reuse a stale entry, and an entry
can be audited by reading it.

Digests are taken per *stream* (the compressed packets and their timestamps),
not per file: re-muxing the same audio with a different video keeps the audio
features, and shifting the audio's timestamps (an A/V offset) changes the audio
digest — so the sync features are recomputed, as they must be.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tfqa.features.base import Extractor, FeatureBlock
from tfqa.io.probe import open_container
from tfqa.version import __version__

DIGEST_CHARS = 20


def default_cache_dir() -> Path:
    """``$TFQA_CACHE_DIR`` or ``~/.cache/tfqa/features``."""
    env = os.environ.get("TFQA_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tfqa" / "features"


def stream_digests(path: str | Path) -> dict[str, str]:
    """Content digests of the first video and first audio stream of ``path``.

    Each digest covers the codec parameters, the packet payloads and their
    timestamps, so it changes whenever the decoded signal or its timing would.
    Demuxing without decoding reads the file once (hundreds of MB/s).
    """
    container = open_container(path)
    try:
        hashers: dict[int, Any] = {}
        names: dict[int, str] = {}
        for kind, streams in (
            ("video", container.streams.video),
            ("audio", container.streams.audio),
        ):
            if streams:
                s = streams[0]
                h = hashlib.sha256()
                cc = s.codec_context
                h.update(f"{kind}|{cc.name}|{s.time_base}|{s.start_time}|".encode())
                h.update(bytes(cc.extradata or b""))
                hashers[s.index] = h
                names[s.index] = kind
        wanted = [container.streams[i] for i in hashers]
        for packet in container.demux(wanted):
            if packet.size == 0:
                continue
            h = hashers[packet.stream.index]
            h.update(f"{packet.pts}|{packet.dts}|".encode())
            h.update(bytes(packet))
        return {names[i]: h.hexdigest()[:DIGEST_CHARS] for i, h in hashers.items()}
    finally:
        container.close()


class FeatureCache:
    """Stores :class:`FeatureBlock` objects as ``<root>/<key[:2]>/<key>.npz``.

    Pass ``root=None`` for the default location; ``enabled=False`` turns the
    cache into a no-op (every lookup misses, nothing is written).
    """

    def __init__(self, root: str | Path | None = None, *, enabled: bool = True) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.enabled = enabled

    @staticmethod
    def key(extractor: Extractor, input_digests: dict[str, str]) -> str:
        payload = json.dumps(
            {"x": extractor.name, "cfg": extractor.config_hash(), "in": input_digests},
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def load(self, key: str) -> FeatureBlock | None:
        if not self.enabled:
            return None
        path = self._path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(bytes(data["__header__"]).decode())
                arrays = {k: data[k] for k in data.files if k != "__header__"}
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            return None  # a damaged entry is a miss; it will be rewritten
        return FeatureBlock.from_parts(header["block"], arrays)

    def save(self, key: str, block: FeatureBlock, provenance: dict[str, Any]) -> None:
        if not self.enabled:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"block": block.header(), "provenance": {**provenance, "tfqa": __version__}}
        arrays = block.to_arrays()
        arrays["__header__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        # write-then-rename so a crash or a concurrent reader never sees half a file
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def provenance(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            return json.loads(bytes(data["__header__"]).decode())["provenance"]
