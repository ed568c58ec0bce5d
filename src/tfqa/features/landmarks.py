"""Face mesh landmarks (MediaPipe, 478 points) and the speaking face's pose-normalised track.

Two extractors:

* ``face_mesh`` (frames) — runs MediaPipe face mesh on every frame the
  analysis grid needs and keeps up to ``max_faces`` face tracks in pixel
  coordinates.  A face *detector* checks every ``detect_every`` frames how
  many faces are in view; the (slower) multi-face mesh is switched on only
  when more than one face appears, so the usual single-face clip costs one
  mesh call per frame.  Per frame it publishes the faces' boxes and
  landmarks in the shared ``state`` for the visual-quality extractor.
  With ``workers`` > 1 the mesh runs in that many *lanes* (one MediaPipe
  graph and one thread each) on alternating chunks of frames, each chunk
  preceded by the previous chunk's last frames so that its tracker is warm:
  the landmarks then differ from a single-lane run only by the tracker's
  own sub-pixel wobble (mean 0.04 px on a 512x512 clip).
* ``face`` (derived: ``face_mesh`` + ``waveform``) — picks the speaking face
  (the track whose mouth moves with the speech), aligns it to a canonical
  frontal face (similarity Procrustes on rigid upper-face points) and emits
  the keypoint sequence of the feature contract plus head pose, mouth
  articulation signals and face-track evidence (coverage, head motion,
  jitter, frozen frames).
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from tfqa._mediapipe import quiet_native_stderr, settled
from tfqa.errors import NoFaceError
from tfqa.features.base import DerivedExtractor, FeatureBlock, FrameExtractor, register
from tfqa.io.constants import ANALYSIS_RATE, HOP_SAMPLES

_CHATTY_FRAMES = 25  # frames after a graph starts during which its C++ start-up chatter appears
WARMUP_FRAMES = 2  # frames a lane re-tracks before each chunk (see the module docstring)
LOOKAHEAD_BYTES = 48 * 2**20  # frames held for the lanes (above the minimum chunk)
CHUNK_FRAMES = (4, 50)  # a lane's chunk length: min, max
N_MESH = 478  # 468 face points + 10 iris points (refine_landmarks=True)
N_FACE = 468  # the keypoint contract uses the 468 face points (1404 values)
EYE_R, EYE_L = 33, 263  # outer eye corners (subject's right, left): the scale reference

LIPS = [0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191,
        267, 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415]  # fmt: skip
EYES = [7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246,
        249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466]  # fmt: skip
BROWS = [46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300, 334, 336]

# Mouth articulation signals: (name, upper/left landmark, lower/right landmark)
MOUTH_PAIRS = (
    ("inner_open_mid", 13, 14),
    ("inner_open_left", 82, 87),
    ("inner_open_right", 312, 317),
    ("outer_open", 0, 17),
    ("outer_open_left", 37, 84),
    ("outer_open_right", 267, 314),
    ("inner_width", 78, 308),
    ("outer_width", 61, 291),
    ("jaw_drop", 1, 152),
)


@lru_cache(maxsize=1)
def canonical_face() -> np.ndarray:
    """(468, 3) frontal symmetric reference face, inter-ocular distance 1 (see scripts/)."""
    with resources.files("tfqa.assets").joinpath("canonical_face.npy").open("rb") as fh:
        return np.load(fh)


@lru_cache(maxsize=1)
def rigid_indices() -> np.ndarray:
    """Face points that barely move with speech or expression: the alignment anchors."""
    ref = canonical_face()
    nose_tip_y = ref[1, 1]
    movable = set(LIPS) | set(EYES) | set(BROWS)
    idx = [i for i in range(N_FACE) if ref[i, 1] <= nose_tip_y and i not in movable]
    return np.array(idx)


# ------------------------------------------------------------------------------------
# face_mesh: frames -> raw tracks


@dataclass(frozen=True)
class FaceMeshConfig:
    max_faces: int = 2  # tracks kept when several faces are in view
    detect_every: int = 25  # frames between face-count checks (1 s at 25 fps)
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    refine_landmarks: bool = True


def _silence_glog() -> None:
    # mediapipe's C++ logging honours these only if set before the first graph starts
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def landmarks_array(face: Any, w: int, h: int) -> np.ndarray:
    """(N, 3) float32 pixel landmarks of one MediaPipe ``NormalizedLandmarkList``.

    Reads the serialised message directly when every landmark is exactly
    ``{x, y, z}`` (17 bytes: tag, length, three tagged float32s), 6x faster
    than reading 1,434 attributes; anything else takes the attribute path.
    """
    n = len(face.landmark)
    raw = np.frombuffer(face.SerializeToString(), np.uint8)
    rec = raw.reshape(n, 17) if raw.size == 17 * n else None
    if rec is not None and (
        (rec[:, 0] == 0x0A).all()
        and (rec[:, 1] == 15).all()
        and (rec[:, 2] == 0x0D).all()
        and (rec[:, 7] == 0x15).all()
        and (rec[:, 12] == 0x1D).all()
    ):
        xyz = np.ascontiguousarray(rec[:, _XYZ_BYTES]).view("<f4").reshape(n, 3)
    else:
        xyz = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float32)
    return xyz * np.array([w, h, w], dtype=np.float32)


_XYZ_BYTES = [3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16]


class _Lane:
    """One MediaPipe graph (single-face; multi-face once needed) and the thread that runs it."""

    def __init__(self, make_mesh) -> None:
        self._make = make_mesh
        with quiet_native_stderr():
            self.graphs = {1: settled(make_mesh(1))}
        self.calls: dict[int, int] = {}
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tfqa-face-mesh")

    def add_multi(self, n: int) -> None:
        if n not in self.graphs:
            with quiet_native_stderr():
                self.graphs[n] = settled(self._make(n))

    def submit(self, frames: list[np.ndarray], n_faces: int) -> Future:
        """Run the graph on ``frames`` in order; the future holds the last frame's faces."""
        return self.pool.submit(self._run, frames, n_faces)

    def _run(self, frames: list[np.ndarray], n_faces: int) -> list[np.ndarray]:
        mesh = self.graphs[n_faces]
        for rgb in frames:
            n_calls = self.calls.get(n_faces, 0)
            self.calls[n_faces] = n_calls + 1
            with quiet_native_stderr() if n_calls < _CHATTY_FRAMES else nullcontext():
                res = mesh.process(rgb)
        h, w = frames[-1].shape[:2]
        faces = []
        for face in res.multi_face_landmarks or []:
            pts = landmarks_array(face, w, h)
            if pts.shape[0] < N_MESH:  # refine_landmarks=False: pad the iris points
                pts = np.vstack([pts, np.full((N_MESH - pts.shape[0], 3), np.nan, np.float32)])
            faces.append(pts)
        return faces

    def restart(self) -> None:
        """A new clip: restart each graph's run (fresh tracker), in the lane's own thread."""

        def run() -> None:
            with quiet_native_stderr():
                for g in self.graphs.values():
                    g.reset()
                    settled(g)
            self.calls = {}

        self.pool.submit(run).result()

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for g in self.graphs.values():
            g.close()


@register
class FaceMesh(FrameExtractor):
    """MediaPipe face mesh over the clip; up to ``max_faces`` tracks in pixel coordinates."""

    name = "face_mesh"
    version = "2"
    inputs = ("video",)
    Config = FaceMeshConfig
    description = "MediaPipe face mesh: 478 landmarks per face per frame (pixels), face tracks"

    def begin(self, info: Any) -> None:
        _silence_glog()
        import mediapipe as mp

        self._mp = mp
        n_lanes = max(1, int(self.workers))
        # Lanes (graphs + threads) live as long as the extractor: restarting a graph's run
        # gives it a fresh tracker at a fraction of the memory churn of building new ones.
        if len(getattr(self, "_lanes", ())) == n_lanes:
            for lane in self._lanes:
                lane.restart()
            with quiet_native_stderr():
                self._detector.reset()
                settled(self._detector)
        else:
            self.shutdown()
            self._lanes = [_Lane(self._mesh) for _ in range(n_lanes)]
            with quiet_native_stderr():
                self._detector = settled(
                    mp.solutions.face_detection.FaceDetection(
                        model_selection=1,
                        min_detection_confidence=self.config.min_detection_confidence,
                    )
                )
        frame_bytes = max(1, int(getattr(info, "width", 0)) * int(getattr(info, "height", 0)) * 3)
        lo, hi = CHUNK_FRAMES
        self._chunk = int(np.clip(LOOKAHEAD_BYTES // (n_lanes * frame_bytes), lo, hi))
        self._n_faces = 1  # the mesh in use: 1 until the detector sees several faces
        self._pending: deque[Future] = deque()
        self._recent: deque[np.ndarray] = deque(maxlen=WARMUP_FRAMES)
        self._frames: list[tuple[range, list[np.ndarray]]] = []
        self._n_seen = 0
        self._max_detected = 0
        self._tracks_centres: list[np.ndarray] = []
        self._size = (0, 0)

    def lookahead(self) -> int:
        """Frames the pipeline should hand to :meth:`prefetch` ahead of :meth:`update`."""
        n_lanes = len(self._lanes)
        return 0 if n_lanes == 1 else n_lanes * self._chunk

    def _mesh(self, n: int):
        return self._mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False,
            max_num_faces=n,
            refine_landmarks=self.config.refine_landmarks,
            min_detection_confidence=self.config.min_detection_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
        )

    def prefetch(self, rgb: np.ndarray) -> None:
        """Queue one frame (in frame order) on its lane; :meth:`update` collects the result."""
        i = self._n_seen
        self._n_seen += 1
        if self._n_faces == 1 and self.config.max_faces > 1 and i % self.config.detect_every == 0:
            with quiet_native_stderr() if i < _CHATTY_FRAMES else nullcontext():
                det = self._detector.process(rgb)
            n_det = len(det.detections) if det.detections else 0
            self._max_detected = max(self._max_detected, n_det)
            if n_det > 1:
                self._n_faces = self.config.max_faces
                for lane in self._lanes:
                    lane.add_multi(self._n_faces)
        k = i // self._chunk
        lane = self._lanes[k % len(self._lanes)]
        if len(self._lanes) > 1 and i % self._chunk == 0 and self._recent:
            lane.submit(list(self._recent), self._n_faces)  # warm the lane's tracker
        self._pending.append(lane.submit([rgb], self._n_faces))
        if len(self._lanes) > 1:
            self._recent.append(rgb)

    def update(self, rgb: np.ndarray, grid: range, state: dict[str, Any]) -> None:
        if not self._pending:
            self.prefetch(rgb)
        faces = self._pending.popleft().result()
        h, w = rgb.shape[:2]
        self._size = (w, h)
        tracked = self._assign_tracks(faces)
        self._frames.append((grid, tracked))
        state["faces"] = [
            {"track": k, "landmarks": pts, "box": _box(pts, w, h)}
            for k, pts in enumerate(tracked)
            if pts is not None
        ]

    def _assign_tracks(self, faces: list[np.ndarray]) -> list[np.ndarray | None]:
        """Greedy nearest-centre association of this frame's faces to persistent tracks."""
        out: list[np.ndarray | None] = [None] * len(self._tracks_centres)
        for pts in sorted(faces, key=lambda p: -_iod(p)):
            centre = np.nanmean(pts[:N_FACE, :2], axis=0)
            scale = max(_iod(pts), 1.0)
            free = [k for k in range(len(out)) if out[k] is None]
            dists = [np.linalg.norm(self._tracks_centres[k] - centre) / scale for k in free]
            if free and min(dists) < 1.5:
                k = free[int(np.argmin(dists))]
            elif len(self._tracks_centres) < self.config.max_faces:
                self._tracks_centres.append(centre)
                out.append(None)
                k = len(out) - 1
            else:
                continue
            out[k] = pts
            self._tracks_centres[k] = centre
        return out

    def close(self) -> None:
        """End of a pass (or its failure): wait for queued frames, drop the clip's state."""
        for fut in getattr(self, "_pending", ()):
            if not fut.cancel():
                fut.exception()  # wait for it: the lane must be idle before the next clip
        self._pending, self._recent = deque(), deque(maxlen=WARMUP_FRAMES)

    def shutdown(self) -> None:
        """Release the lanes' graphs and threads and the detector (a later pass rebuilds them)."""
        self.close()
        for lane in getattr(self, "_lanes", ()):
            lane.close()
        if getattr(self, "_detector", None) is not None:
            self._detector.close()
        self._lanes, self._detector = [], None

    def finish(self, n_grid: int) -> FeatureBlock:
        n_tracks = max(1, len(self._tracks_centres))
        lm = np.full((n_grid, n_tracks, N_MESH, 3), np.nan, dtype=np.float32)
        # 1 on the first grid slot of each decoded frame: slots repeated by a frame rate
        # under 25 Hz are not "frozen" frames and must not count as such
        new_frame = np.zeros((n_grid, 1), dtype=np.float32)
        for grid, tracked in self._frames:
            if grid.start < n_grid:
                new_frame[grid.start] = 1.0
            for k, pts in enumerate(tracked):
                if pts is not None:
                    lm[grid.start : min(grid.stop, n_grid), k] = pts
        self.close()
        self._frames = []
        return FeatureBlock(
            name=self.name,
            sequences={
                **{f"track{k}": lm[:, k].reshape(n_grid, -1) for k in range(n_tracks)},
                "new_frame": new_frame,
            },
            stats={"n_tracks": float(n_tracks), "max_faces_detected": float(self._max_detected)},
            meta={
                "frame_width": self._size[0],
                "frame_height": self._size[1],
                "n_tracks": n_tracks,
            },
        )


def _iod(pts: np.ndarray) -> float:
    return float(np.linalg.norm(pts[EYE_L, :2] - pts[EYE_R, :2]))


def _box(pts: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    x0, y0 = np.nanmin(pts[:N_FACE, :2], axis=0)
    x1, y1 = np.nanmax(pts[:N_FACE, :2], axis=0)
    return (max(0, int(x0)), max(0, int(y0)), min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1))))


# ------------------------------------------------------------------------------------
# alignment helpers (pure functions, unit-tested)


def similarity_align(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity ``dst ≈ s * src @ R.T + t`` (Umeyama 1991).

    Args:
        src, dst: (N, 3) corresponding points.

    Returns:
        ``(s, R, t)`` with R a proper rotation (det +1).
    """
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    r = u @ np.diag(sign) @ vt
    var_s = (a**2).sum() / len(src)
    s = float((d * sign).sum() / var_s)
    t = mu_d - s * mu_s @ r.T
    return s, r, t


def rotation_to_euler(r: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll in degrees of a head rotation (x right, y down, z away from camera)."""
    yaw = np.degrees(np.arcsin(np.clip(-r[2, 0], -1, 1)))
    pitch = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    return float(yaw), float(pitch), float(roll)


def align_track(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pose-normalise a track.

    Args:
        lm: (T, 478, 3) landmarks in pixels (NaN rows where the face is missing).

    Returns:
        keypoints (T, 468, 3) in canonical units (inter-ocular distance 1, frontal)
        and pose (T, 6): yaw, pitch, roll (deg), centre x, centre y (pixels), scale
        (pixels per canonical unit).
    """
    ref = canonical_face()
    rig = rigid_indices()
    t_len = lm.shape[0]
    kp = np.full((t_len, N_FACE, 3), np.nan, dtype=np.float32)
    pose = np.full((t_len, 6), np.nan, dtype=np.float32)
    for i in range(t_len):
        pts = lm[i, :N_FACE].astype(np.float64)
        if not np.isfinite(pts[rig]).all():
            continue
        # fit reference -> image, then invert to bring the image points into the reference frame
        s, r, t = similarity_align(ref[rig], pts[rig])
        kp[i] = ((pts - t) @ r) / s
        yaw, pitch, roll = rotation_to_euler(r)
        pose[i] = (yaw, pitch, roll, t[0], t[1], s)
    return kp, pose


def mouth_signals(kp: np.ndarray) -> np.ndarray:
    """(T, len(MOUTH_PAIRS)) mouth distances in canonical units (x-y plane) from aligned keypoints."""
    cols = [np.linalg.norm(kp[:, a, :2] - kp[:, b, :2], axis=1) for _, a, b in MOUTH_PAIRS]
    return np.stack(cols, axis=1).astype(np.float32)


def speech_band_envelope(samples: np.ndarray, n: int) -> np.ndarray:
    """(n,) RMS of the 300-3400 Hz band per 40 ms analysis frame (frame i = samples [640i, 640i+640))."""
    from scipy.signal import butter, sosfilt

    sos = butter(4, [300, 3400], btype="band", fs=HOP_SAMPLES * ANALYSIS_RATE, output="sos")
    x = sosfilt(sos, samples.astype(np.float64))
    x = np.pad(x, (0, max(0, n * HOP_SAMPLES - len(x))))[: n * HOP_SAMPLES]
    return np.sqrt((x.reshape(n, HOP_SAMPLES) ** 2).mean(1) + 1e-12)


def _corr_best_lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    best = 0.0
    for lag in range(-max_lag, max_lag + 1):
        x = a[max(0, -lag) : len(a) - max(0, lag)]
        y = b[max(0, lag) : len(b) - max(0, -lag)]
        m = ok[max(0, -lag) : len(a) - max(0, lag)] & ok[max(0, lag) : len(b) - max(0, -lag)]
        if m.sum() < 10 or x[m].std() == 0 or y[m].std() == 0:
            continue
        best = max(best, float(np.corrcoef(x[m], y[m])[0, 1]))
    return best


# ------------------------------------------------------------------------------------
# face: pick the speaker, normalise, summarise


def one_at_a_time(present: list[np.ndarray], min_coverage: float) -> list[int]:
    """The tracks seen in at least ``min_coverage`` of the frames when there are several and
    no two of them are ever in view together (together in at most 2 frames or 1 % of the
    frames, whichever is more: a tracker's hand-over): one face at a time, which the tracker put
    on another track when it came back elsewhere (a shot cut, or a face that moved far while
    lost).  ``[]`` otherwise."""
    seen = [k for k, p in enumerate(present) if p.mean() >= min_coverage]
    if len(seen) < 2:
        return []
    n = len(present[0])
    for i, j in itertools.combinations(seen, 2):
        if (present[i] & present[j]).sum() > max(2, 0.01 * n):
            return []
    return seen


@dataclass(frozen=True)
class FaceConfig:
    min_coverage: float = 0.05  # below this share of frames with a face, the clip has "no face"
    min_track_coverage: float = 0.2  # tracks seen less than this are not speaker candidates
    # mean landmark step (inter-ocular units) between decoded frames under which a frame is
    # frozen; MediaPipe jitters >= 1.5e-3 even on a still real face
    freeze_eps: float = 5e-4


@register
class Face(DerivedExtractor):
    """The speaking face: pose-normalised keypoints, head pose, mouth signals and track evidence."""

    name = "face"
    version = "3"  # 3: one face at a time on several tracks is scored as one face
    inputs = ("face_mesh", "waveform")
    Config = FaceConfig
    description = "speaker selection + pose-normalised 468x3 keypoints, head pose, mouth signals"

    def compute(self, inputs: dict[str, Any]) -> FeatureBlock:
        mesh: FeatureBlock = inputs["face_mesh"]
        audio = inputs["waveform"]
        path = inputs.get("path")
        tracks = [
            mesh.sequences[k].reshape(-1, N_MESH, 3)
            for k in sorted(mesh.sequences)
            if k.startswith("track")
        ]
        new_frame = mesh.sequences["new_frame"][:, 0] > 0.5
        n = tracks[0].shape[0]
        present = [np.isfinite(t[:, EYE_R, 0]) for t in tracks]
        coverage_any = float(np.mean(np.any(present, axis=0))) if n else 0.0
        if coverage_any < self.config.min_coverage:
            raise NoFaceError(
                f"no face found (a face was visible in {coverage_any:.0%} of the frames)",
                path=path,
                hint="tfqa needs a visible, roughly frontal face; check the video shows one",
            )
        env = speech_band_envelope(audio.samples, n)
        owner = np.full(n, -1)
        relay = one_at_a_time(present, self.config.min_track_coverage)
        if relay:  # one face at a time on several tracks: scored as one face
            for k in relay:
                owner[present[k]] = k
            lm = np.full_like(tracks[0], np.nan)
            for k in relay:
                lm[owner == k] = tracks[k][owner == k]
            pick = max(relay, key=lambda k: present[k].sum())
            reason = (
                f"one face at a time on {len(relay)} tracks (a cut, or the face moved far): "
                "scored as one face"
            )
            scores: list[float] = []
        else:
            pick, reason, scores = self._pick_speaker(tracks, present, env)
            lm = tracks[pick]
            owner[present[pick]] = pick
        kp, pose = align_track(lm)
        mouth = mouth_signals(kp)
        ok = owner >= 0
        stats = self._evidence(lm, kp, pose, mouth, ok, env, new_frame)
        n_faces = sum(p.mean() >= self.config.min_track_coverage for p in present)
        stats.update(
            {
                "n_faces": 1.0 if relay else float(n_faces),
                "max_faces_detected": float(mesh.stats.get("max_faces_detected", np.nan)),
                "speaker_track": float(pick),
            }
        )
        return FeatureBlock(
            name=self.name,
            sequences={
                "keypoints": kp.reshape(n, -1),
                "pose": pose,
                "mouth": mouth,
                "present": ok.astype(np.float32)[:, None],
                "track": np.where(ok, owner, np.nan).astype(np.float32)[:, None],
            },
            columns={
                "keypoints": [f"kp{i}_{a}" for i in range(N_FACE) for a in "xyz"],
                "pose": [
                    "yaw_deg",
                    "pitch_deg",
                    "roll_deg",
                    "centre_x_px",
                    "centre_y_px",
                    "scale_px",
                ],
                "mouth": [name for name, _, _ in MOUTH_PAIRS],
                "present": ["face_present"],
                "track": ["face_mesh_track"],
            },
            stats=stats,
            curves={"face_present": _per_second(ok.astype(np.float32))},
            meta={"speaker_track": pick, "speaker_reason": reason, "track_scores": scores},
        )

    def _pick_speaker(self, tracks, present, env) -> tuple[int, str, list[float]]:
        candidates = [
            k for k, p in enumerate(present) if p.mean() >= self.config.min_track_coverage
        ]
        if len(candidates) <= 1:
            k = candidates[0] if candidates else int(np.argmax([p.mean() for p in present]))
            return k, "only one face in view", []
        scores = []
        for k in range(len(tracks)):
            if k not in candidates:
                scores.append(float("nan"))
                continue
            kp, _ = align_track(tracks[k])
            opening = mouth_signals(kp)[:, 0]
            scores.append(_corr_best_lag(opening, env, max_lag=5))
        best = int(np.nanargmax(scores))
        return (
            best,
            "several faces in view: picked the one whose mouth moves with the speech",
            scores,
        )

    def _evidence(self, lm, kp, pose, mouth, ok, env, new_frame) -> dict[str, float]:
        n = len(ok)
        iod = np.linalg.norm(lm[:, EYE_L, :2] - lm[:, EYE_R, :2], axis=1)
        # landmark step between successive *decoded* frames, inter-ocular units: a frozen
        # face (identical frames) steps 0; MediaPipe alone jitters >1e-3 on a still face
        idx = np.flatnonzero(new_frame & ok)
        steps = np.linalg.norm(np.diff(lm[idx, :N_FACE, :2], axis=0), axis=2).mean(axis=1)
        steps = steps / np.maximum(iod[idx[1:]], 1e-6)
        both = ok[1:] & ok[:-1]
        # jitter: second difference of aligned non-rigid-free points (acceleration noise)
        with warnings.catch_warnings():  # frames without a face are all-NaN rows; masked below
            warnings.simplefilter("ignore", RuntimeWarning)
            acc = np.nanmean(np.linalg.norm(np.diff(kp[:, :, :2], n=2, axis=0), axis=2), axis=1)
        acc_ok = ok[2:] & ok[1:-1] & ok[:-2]
        yaw_pitch = pose[:, :3]
        head_speed = np.linalg.norm(np.diff(yaw_pitch, axis=0), axis=1) * ANALYSIS_RATE
        speaking = env > np.percentile(env, 60) if n else np.zeros(0, bool)
        mouth_open = mouth[:, 0]
        return {
            "face_coverage": float(ok.mean()) if n else 0.0,
            "face_size_px": float(np.nanmedian(iod[ok])) if ok.any() else float("nan"),
            "frozen_ratio": float((steps < self.config.freeze_eps).mean())
            if len(steps)
            else float("nan"),
            "landmark_jitter": float(np.nanmedian(acc[acc_ok])) if acc_ok.any() else float("nan"),
            "head_motion_deg_s": float(np.nanmedian(head_speed[both]))
            if both.any()
            else float("nan"),
            "head_yaw_std_deg": float(np.nanstd(pose[ok, 0])) if ok.any() else float("nan"),
            "mouth_open_mean": float(np.nanmean(mouth_open[ok])) if ok.any() else float("nan"),
            "mouth_open_std": float(np.nanstd(mouth_open[ok])) if ok.any() else float("nan"),
            "mouth_open_speech": float(np.nanmean(mouth_open[ok & speaking]))
            if (ok & speaking).any()
            else float("nan"),
            "mouth_open_silence": float(np.nanmean(mouth_open[ok & ~speaking]))
            if (ok & ~speaking).any()
            else float("nan"),
        }


def _per_second(x: np.ndarray) -> np.ndarray:
    n = int(np.ceil(len(x) / ANALYSIS_RATE))
    pad = np.pad(x.astype(np.float64), (0, n * ANALYSIS_RATE - len(x)), constant_values=np.nan)
    with np.errstate(invalid="ignore"):
        return np.nanmean(pad.reshape(n, ANALYSIS_RATE), axis=1).astype(np.float32)
