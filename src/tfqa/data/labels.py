"""Label rules: the size of each applied degradation -> the five 1-5 labels.

No human ratings exist for our clips, so — as quality-assessment research does
when MOS is scarce — each degradation's *applied size* is mapped to a score by
a documented rule.  A label depends only on what was applied (the parameters
in the manifest's ``degradations`` column) and on known properties of the
source (its kind, its length, and its own A/V offset where two independent
estimators agree that the source itself is out of sync — see
:mod:`tfqa.data.own_offset`); never on the features of the variant, so a model
trained on these labels cannot learn tfqa's zero-shot evidence back.

Scale: the 5-grade impairment scale of ITU-R BT.500 / ITU-T P.800 ACR —
5 imperceptible/excellent, 4 perceptible but not annoying/good, 3 slightly
annoying/fair, 2 annoying/poor, 1 very annoying/bad.

Three steps:

1. **Per degradation** a monotone :class:`Curve` maps the parameter to a
   score on each dimension it touches (``RULES``); a secondary effect is a
   share of the primary impairment (e.g. an A/V offset costs ``cross_modal``
   half of what it costs ``lip_sync``: timing is one of its three aspects).
2. **Per dimension** impairments ``I = 5 - score`` (the source's own
   impairment included, see ``SOURCE_BASE``) combine by Minkowski summation
   ``I = (sum I_k^p)^(1/p)`` with ``p = 2``: two defects are worse than either,
   and less bad than their sum (de Ridder 1992, "Minkowski-metrics as a
   combination rule for digital-image-coding impairments", Proc. SPIE 1666,
   found exponents near 2).
3. **overall** is a weighted power mean with a negative exponent of the four
   perceptual dimensions and the visual rendering quality (``visual``), so the
   worst dimension dominates (multiplicative audio-visual quality models —
   Hands 2004, IEEE Trans. Multimedia 6(6) — behave the same way: a bad
   modality cannot be averaged away).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfqa.errors import ConfigError

MIN_LABEL, MAX_LABEL = 1.0, 5.0
DIMENSIONS = ("lip_sync", "expression", "audio_quality", "cross_modal", "overall")
IMPAIRED = ("lip_sync", "expression", "audio_quality", "cross_modal", "visual")
FRAME_MS = 40.0  # one frame at the benchmark's 25 fps

MINKOWSKI_P = 2.0  # per-dimension impairment summation (de Ridder 1992)
OVERALL_P = -3.0  # overall: power mean exponent; [1, 5, 5, 5, 5] -> 1.6, [3, 5, 5, 5, 5] -> 4.1
OVERALL_WEIGHTS: Mapping[str, float] = {
    "lip_sync": 1.0,
    "expression": 1.0,
    "audio_quality": 1.0,
    # largely the same timing evidence as lip_sync: half a vote, so offsets are not counted twice
    "cross_modal": 0.5,
    "visual": 1.0,
}

# The source's own quality before any degradation (labels are *relative to it*).
#   real: genuine recordings are the reference (5), as reference clips are in
#     full-reference quality databases (LIVE, KADID).
#   synth: tfqa.synth talking photos - lips driven phone-exactly by their own speech
#     (lip_sync 5), but a warped still photo with blinks and small head motion (expression
#     3.5) and a formant/espeak voice that is intelligible but robotic (audio 3.5).
#   generated: an output of a published talking-head generator: plausible but imperfect;
#     one uniform prior (4) rather than a guess per method, so that no ranking of the
#     generators is baked into the labels.
SOURCE_BASE: Mapping[str, Mapping[str, float]] = {
    "real": dict.fromkeys(IMPAIRED, 5.0),
    "synth": {
        "lip_sync": 5.0,
        "expression": 3.5,
        "audio_quality": 3.5,
        "cross_modal": 4.5,
        "visual": 4.5,
    },
    "generated": dict.fromkeys(IMPAIRED, 4.0),
}


@dataclass(frozen=True)
class Curve:
    """A monotone piecewise-linear map from a parameter to a 1-5 score (held beyond the ends)."""

    name: str
    unit: str
    anchors: tuple[tuple[float, float], ...]
    reference: str

    def __post_init__(self) -> None:
        xs = [a for a, _ in self.anchors]
        ys = np.array([b for _, b in self.anchors])
        if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
            raise ConfigError(
                f"Expected increasing anchor positions for `{self.name}`, but got {xs}"
            )
        d = np.diff(ys)
        if not (np.all(d >= 0) or np.all(d <= 0)) or ys.min() < MIN_LABEL or ys.max() > MAX_LABEL:
            raise ConfigError(
                f"Expected monotone scores in [1, 5] for `{self.name}`, but got {list(ys)}"
            )

    def __call__(self, value: float) -> float:
        xs, ys = zip(*self.anchors, strict=True)
        if value <= xs[0]:
            return float(ys[0])
        if value >= xs[-1]:
            return float(ys[-1])
        k = bisect.bisect_right(xs, value)  # xs[k-1] <= value < xs[k]
        t = (value - xs[k - 1]) / (xs[k] - xs[k - 1])
        return float(ys[k - 1] + t * (ys[k] - ys[k - 1]))


# -- lip sync / timing -----------------------------------------------------------------------
# ITU-R BT.1359-1 (1998): desync is *detectable* at 45 ms audio lead / 125 ms audio lag and
# *unacceptable* beyond 90 ms lead / 185 ms lag. tfqa's sign: offset > 0 = audio lags the
# video. Detectability -> 4 (perceptible, not annoying), acceptability -> 3 (slightly
# annoying); beyond, BT.1359 gives no grades: we continue at about half the slope between
# the two thresholds, reaching 1 at 450 ms lag / 300 ms lead.
OFFSET_LAG = Curve("audio lag", "ms", ((0, 5), (125, 4), (185, 3), (300, 2), (450, 1)),
                   "ITU-R BT.1359-1 detectability +125 ms, acceptability +185 ms")  # fmt: skip
OFFSET_LEAD = Curve("audio lead", "ms", ((0, 5), (45, 4), (90, 3), (185, 2), (300, 1)),
                    "ITU-R BT.1359-1 detectability -45 ms, acceptability -90 ms")  # fmt: skip
# Share of the clip during which the mouth is still while speech goes on (frozen mouth or
# frozen face). Anchors ours: a quarter of the clip without articulation is clearly
# annoying (3.2); a mouth that never moves under speech is bad (1).
STILL_MOUTH = Curve("still-mouth share", "fraction",
                    ((0, 5), (0.1, 4.2), (0.25, 3.2), (0.5, 2.2), (0.75, 1.5), (1.0, 1.0)),
                    "ours; cf. frame-freeze studies (Pastrana-Vidal et al. 2004, HVEI)")  # fmt: skip
# Share of the clip whose speech is muted while the face keeps talking.
SILENT_TALK = Curve("muted-speech share", "fraction",
                    ((0, 5), (0.1, 3.8), (0.25, 2.8), (0.5, 1.8), (0.75, 1.2), (1.0, 1.0)),
                    "ours: SPEC's 'speech energy vs facial activity' aspect of cross_modal")  # fmt: skip
# Another speaker's voice: a mismatch whatever the voice; a large pitch gap (typically
# another gender, male ~85-155 Hz vs female ~165-255 Hz, i.e. ~7-10 semitones) is worse.
VOICE_GAP = Curve("speaker pitch gap", "semitones", ((0, 1.8), (4, 1.4), (8, 1.0)),
                  "ours; speaking F0 ranges after Titze 1994 (Principles of Voice Production)")  # fmt: skip

# -- expression ------------------------------------------------------------------------------
FROZEN_FACE = Curve("frozen share", "fraction",
                    ((0, 5), (0.1, 4.0), (0.25, 3.0), (0.5, 2.0), (0.75, 1.4), (1.0, 1.0)),
                    "ours; cf. Pastrana-Vidal et al. 2004 (freezes of >~400 ms are clearly seen)")  # fmt: skip
JITTER = Curve("face jitter", "% of face width (std per axis)",
               ((0, 5), (0.5, 4.5), (1, 3.8), (2, 3.0), (3.5, 2.1), (5, 1.5), (8, 1.0)),
               "ours: natural frame-to-frame head motion of a speaker is well under 0.5 %")  # fmt: skip
STUTTER = Curve("repeated frames", "fraction",
                ((0, 5), (0.05, 4.3), (0.1, 3.7), (0.2, 2.9), (0.35, 2.1), (0.5, 1.6)),
                "ours; cf. jerkiness vs frame rate, Huynh-Thu & Ghanbari 2008 (IEEE Trans. Broadcast.)")  # fmt: skip
SPEED = Curve("motion speed change", "|log2 factor|",
              ((0, 5), (0.1, 4.2), (0.2, 3.4), (0.32, 2.6), (0.5, 1.8), (0.75, 1.2)),
              "ours: 7 % faster/slower motion is noticeable, 40 % is clearly unnatural")  # fmt: skip

# -- audio quality ---------------------------------------------------------------------------
# Speech-to-noise ratio over the clip. Shape after the P.835 OVRL ratings of unprocessed noisy
# speech (NOIZEUS; Hu & Loizou 2007, Speech Commun. 49: about 2 at 5 dB and 2.5 at 10 dB SNR);
# 40 dB noise is inaudible under speech at normal listening levels.
SNR = Curve("SNR", "dB", ((0, 1.3), (5, 1.9), (10, 2.5), (15, 3.1), (20, 3.7), (30, 4.5), (40, 5)),
            "Hu & Loizou 2007 (NOIZEUS P.835 OVRL of unprocessed noisy speech), ITU-T P.835")  # fmt: skip
CLIPPING = Curve("clipped samples", "fraction",
                 ((0, 5), (0.001, 4.7), (0.005, 4.0), (0.01, 3.5), (0.02, 2.9), (0.05, 2.1), (0.1, 1.5), (0.2, 1.1)),
                 "ours; hard clipping is among the most objectionable distortions (Tan, Moore & Zacharov 2003, JAES 51)")  # fmt: skip
# Low-pass cutoff: wideband speech (50-7000 Hz, ITU-T G.722) is 5; narrowband telephone speech
# (300-3400 Hz) keeps 93.2 of the 129 R-points of the wideband E-model (ITU-T G.107.1):
# 1 + 4 * 93.2/129 = 3.9; at 1.9 kHz half the articulation index is gone (French & Steinberg 1947).
BANDWIDTH = Curve("low-pass cutoff", "Hz",
                  ((1000, 1.2), (1900, 2.0), (2500, 2.6), (3400, 3.9), (5000, 4.4), (7000, 5)),
                  "ITU-T G.107.1 (WB vs NB R), French & Steinberg 1947 (articulation index)")  # fmt: skip
# MP3 (LAME) of 16 kHz mono speech: LAME low-passes to ~1.6 / 3.6 / 3.9 / 6.3 kHz at 8 / 16 /
# 24 / 32 kbps (measured) and adds coding noise on top, so each step scores a little under the
# BANDWIDTH rule for its pass band. Anchors ours.
MP3_BITRATE = Curve("MP3 bitrate", "kbit/s", ((8, 1.6), (16, 2.8), (24, 3.5), (32, 4.2), (64, 5)),
                    "ours, consistent with BANDWIDTH for LAME's pass bands")  # fmt: skip
# Reverberation time. ANSI/ASA S12.60 asks <= 0.6 s in classrooms for intelligible speech.
REVERB = Curve("RT60", "s", ((0, 5), (0.3, 4.6), (0.6, 3.9), (1.0, 3.1), (1.5, 2.4), (2.5, 1.6), (4.0, 1.1)),
               "ANSI/ASA S12.60-2002 (0.6 s classroom limit); anchors ours")  # fmt: skip

# -- visual rendering quality (enters overall) -----------------------------------------------
BLUR = Curve("Gaussian blur", "sigma, px at a 512-px frame",
             ((0, 5), (0.5, 4.7), (1, 4.1), (2, 3.1), (3, 2.4), (5, 1.6), (8, 1.1)),
             "ours; cf. the blur levels of KADID-10k / TID2013")  # fmt: skip
# PSNR -> MOS: EvalVid's table (Klaue, Rathke & Wolisz 2003): >37 dB excellent, 31-37 good,
# 25-31 fair, 20-25 poor, <20 bad; anchors at the band edges (x.5 grades).
PSNR = Curve("PSNR", "dB", ((17, 1.0), (20, 1.5), (25, 2.5), (31, 3.5), (37, 4.5), (40, 5.0)),
             "Klaue, Rathke & Wolisz 2003 (EvalVid PSNR->MOS table)")  # fmt: skip
CRF = Curve("x264 CRF", "", ((18, 5), (23, 4.8), (28, 4.3), (33, 3.6), (38, 2.8), (43, 2.0), (48, 1.4), (51, 1.1)),
            "CRF 18 ~ visually lossless (x264/FFmpeg H.264 guide); the rest ours")  # fmt: skip
RESCALE = Curve("resolution factor", "fraction of each side",
                ((0.1, 1.1), (0.15, 1.5), (0.25, 2.3), (0.35, 3.0), (0.5, 3.8), (0.75, 4.6), (1.0, 5)),
                "ours")  # fmt: skip
# ΔE*ab of a uniform chroma shift: 2.3 is one just-noticeable difference (Sharma 2003,
# Digital Color Imaging Handbook; Mahy et al. 1994).
DELTA_E = Curve("colour shift", "ΔE*ab", ((0, 5), (2.3, 4.7), (5, 4.2), (10, 3.4), (20, 2.4), (30, 1.8), (45, 1.2)),
                "Sharma 2003 / Mahy et al. 1994 (JND 2.3); anchors ours")  # fmt: skip


def offset_score(offset_ms: float) -> float:
    """Lip-sync score of a constant A/V offset (``> 0`` = audio lags), ITU-R BT.1359-1."""
    return OFFSET_LAG(offset_ms) if offset_ms >= 0 else OFFSET_LEAD(-offset_ms)


def packet_loss_score(loss_share: float) -> float:
    """Score of muted gaps without concealment, from the ITU-T G.107 E-model.

    ``Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl + Bpl)`` with ``Ie = 0`` and ``Bpl = 4.3``
    (G.711 without packet-loss concealment, ITU-T G.113 Appendix I; random loss,
    BurstR = 1); ``R = 93.2 - Ie,eff``; ``MOS = 1 + 0.035 R + 7e-6 R (R - 60)(100 - R)``;
    the MOS is stretched so that no loss (R = 93.2) scores 5.
    """
    ppl = 100.0 * loss_share
    r = 93.2 - 95.0 * ppl / (ppl + 4.3)
    return 1.0 + 4.0 * (_r_to_mos(r) - 1.0) / (_r_to_mos(93.2) - 1.0)


def _r_to_mos(r: float) -> float:
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1.0 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)


def psnr_of_noise(std: float) -> float:
    """PSNR (dB) of additive noise with ``std`` 8-bit levels."""
    return float("inf") if std <= 0 else 20 * math.log10(255.0 / std)


# -- rules per family --------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipFacts:
    """What the label rules may know about the clip besides the degradations."""

    kind: str = "real"  # real | synth | generated
    n_frames: int = 200  # 25 fps frames of the prepared clip
    # the source's own A/V offset (ms, > 0 = audio lags) where two independent estimators
    # agree that it is out of sync (tfqa.data.own_offset); 0 = taken as in sync
    own_offset_ms: float = 0.0


Scores = dict[str, float]
RuleFn = Callable[[float, Mapping[str, Any], ClipFacts], Scores]


def _impaired(score: float, share: float) -> float:
    """A secondary effect: ``share`` of the primary impairment ``5 - score``."""
    return MAX_LABEL - share * (MAX_LABEL - score)


def _offset(v: float, extra, facts) -> Scores:
    # an applied shift adds to the source's own offset: the viewer sees the sum
    s = offset_score(v + facts.own_offset_ms)
    return {"lip_sync": s, "cross_modal": _impaired(s, 0.5)}


def _mouth_shift(v: float, extra, facts) -> Scores:
    # the mouth shows frame i - k at time i: it lags the sound by k frames = an audio lead
    return _offset(-FRAME_MS * v, extra, facts)


def _still_mouth(v: float, extra, facts) -> Scores:
    s = STILL_MOUTH(v)
    return {"lip_sync": s, "cross_modal": _impaired(s, 0.5)}


def _frozen_face(v: float, extra, facts) -> Scores:
    return {"expression": FROZEN_FACE(v), **_still_mouth(v, extra, facts)}


def _speed(v: float, extra, facts) -> Scores:
    length = min(facts.n_frames, int(np.floor(facts.n_frames / v)))
    # picture and sound drift apart linearly: mean offset over the clip, video ahead when v > 1
    drift_ms = FRAME_MS * (v - 1.0) * (length - 1) / 2.0
    s = offset_score(drift_ms + facts.own_offset_ms)
    return {"expression": SPEED(abs(math.log2(v))), "lip_sync": s, "cross_modal": _impaired(s, 0.5)}


def _silenced(v: float, extra, facts) -> Scores:
    s = SILENT_TALK(v)
    return {"cross_modal": s, "lip_sync": _impaired(s, 0.75), "audio_quality": _impaired(s, 0.5)}


def _one(dim: str, curve: Callable[[float], float]) -> RuleFn:
    return lambda v, extra, facts: {dim: curve(v)}


# families whose rule already counts the source's own offset (see ``label``); a variant with two
# of them (e.g. av_offset + speed) counts it in each rule: a slight over-penalty, accepted
TIMING_FAMILIES = frozenset({"av_offset", "mouth_shift", "speed"})

RULES: Mapping[str, RuleFn] = {
    "av_offset": _offset,
    "mouth_shift": _mouth_shift,
    "mouth_freeze": _still_mouth,
    "same_person_audio": lambda v, e, f: {"lip_sync": 1.0, "cross_modal": 2.5},
    "other_voice": lambda v, e, f: {"lip_sync": 1.0, "cross_modal": VOICE_GAP(v)},
    "silence_speech": _silenced,
    "frozen_face": _frozen_face,
    "jitter": _one("expression", JITTER),
    "stutter": _one("expression", STUTTER),
    "speed": _speed,
    "noise_white": _one("audio_quality", SNR),
    "noise_babble": _one("audio_quality", SNR),
    "noise_hum": _one("audio_quality", SNR),
    "clipping": _one("audio_quality", CLIPPING),
    "codec": _one("audio_quality", MP3_BITRATE),
    "bandlimit": _one("audio_quality", BANDWIDTH),
    "dropouts": _one("audio_quality", packet_loss_score),
    "reverb": _one("audio_quality", REVERB),
    "blur": _one("visual", BLUR),
    "video_noise": _one("visual", lambda v: PSNR(psnr_of_noise(v))),
    "compression": _one("visual", CRF),
    "rescale": _one("visual", RESCALE),
    "colour": _one("visual", DELTA_E),
}


def degradation_scores(family: str, value: float, extra: Mapping[str, Any] | None = None,
                       facts: ClipFacts | None = None) -> Scores:  # fmt: skip
    """Scores (on the impaired dimensions it touches) of one applied degradation."""
    if family not in RULES:
        raise ConfigError(f"Expected a degradation family with a label rule, but got `{family}`",
                          hint=f"Known: {', '.join(sorted(RULES))}")  # fmt: skip
    return RULES[family](float(value), extra or {}, facts or ClipFacts())


def combine(scores: Iterable[float], p: float = MINKOWSKI_P) -> float:
    """Minkowski summation of impairments ``5 - s`` (de Ridder 1992); 5 if there are none."""
    # plain floats: called ~10^5 times while planning, where numpy's per-call cost dominates
    total = sum(max(0.0, MAX_LABEL - s) ** p for s in scores) ** (1.0 / p)
    return min(MAX_LABEL, max(MIN_LABEL, MAX_LABEL - total))


def overall(dims: Mapping[str, float], p: float = OVERALL_P) -> float:
    """Weighted power mean (exponent ``p < 0``) of the impaired dimensions: the worst dominates."""
    w_sum = sum(OVERALL_WEIGHTS[k] for k in IMPAIRED)
    acc = sum(OVERALL_WEIGHTS[k] * min(MAX_LABEL, max(MIN_LABEL, dims[k])) ** p for k in IMPAIRED)
    return min(MAX_LABEL, max(MIN_LABEL, (acc / w_sum) ** (1.0 / p)))


def label(degradations: Iterable[Mapping[str, Any]], facts: ClipFacts | None = None) -> Scores:
    """The five labels (plus ``visual``) of a clip with ``degradations`` applied.

    Args:
        degradations: records with ``family``, ``value`` and optional ``extra``
            (as :meth:`tfqa.data.degrade.Degradation.to_dict` writes them).
        facts: the source's kind, length and own A/V offset.

    Returns:
        ``{dim: score}`` for the five :data:`DIMENSIONS` and ``visual``, each in [1, 5].
    """
    facts = facts or ClipFacts()
    if facts.kind not in SOURCE_BASE:
        raise ConfigError(
            f"Expected a source kind in {sorted(SOURCE_BASE)}, but got `{facts.kind}`"
        )
    per_dim: dict[str, list[float]] = {k: [SOURCE_BASE[facts.kind][k]] for k in IMPAIRED}
    timed = False
    for d in degradations:
        timed |= d["family"] in TIMING_FAMILIES
        for dim, s in degradation_scores(d["family"], d["value"], d.get("extra"), facts).items():
            per_dim[dim].append(s)
    if facts.own_offset_ms and not timed:  # the source's own offset is the only timing error
        for dim, s in _offset(0.0, {}, facts).items():
            per_dim[dim].append(s)
    dims = {k: combine(v) for k, v in per_dim.items()}
    out = {k: round(dims[k], 4) for k in DIMENSIONS if k != "overall"}
    out["overall"] = round(overall(dims), 4)
    out["visual"] = round(dims["visual"], 4)
    return out


def all_curves() -> dict[str, Curve]:
    """Every anchored curve of this module by name (README table, tests)."""
    return {k: v for k, v in globals().items() if isinstance(v, Curve)}
