"""A built-in formant speech synthesiser with a phone-exact articulation track.

Klatt-style: a Rosenberg glottal pulse train (pitch contour with phrase
declination and stress accents) plus aspiration noise goes through a cascade of
time-varying formant resonators F1-F3 (and fixed F4/F5); fricatives and stop
bursts are band-passed noise added in parallel.  The utterance is random
nonsense speech (CV(C) syllables, words, phrases, pauses) drawn from a seeded
generator, so the same seed gives the same samples bit for bit.

Because every phone's time span is known, the mouth-opening targets are exact
(wide for /a/, small for /i/ /u/, closed for /p b m/, zero in pauses).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import butter, lfilter, sosfilt

from tfqa.synth.articulation import CONTROL_RATE, smooth_articulation


@dataclass(frozen=True)
class Phone:
    """Acoustic and articulatory targets of one phone (formants for a male voice)."""

    kind: str  # vowel | stop | nasal | fricative | approximant | aspirate | pause
    formants_hz: tuple[float, float, float]
    opening: float  # mouth-opening target: 0 closed/rest ... 1 wide /a/
    voice_gain: float = 1.0  # voicing amplitude relative to a vowel
    noise_band_hz: tuple[float, float] | None = None  # frication / burst band
    noise_gain: float = 0.0  # frication RMS relative to the vowel RMS
    bandwidths_hz: tuple[float, float, float] = (60.0, 90.0, 130.0)


_NASAL_BW = (80.0, 250.0, 350.0)  # nasal murmur: damped upper formants
PHONES: dict[str, Phone] = {
    # vowels (Peterson & Barney male averages)
    "a": Phone("vowel", (730, 1090, 2440), 1.0),
    "e": Phone("vowel", (530, 1840, 2480), 0.6),
    "i": Phone("vowel", (270, 2290, 3010), 0.25),
    "o": Phone("vowel", (570, 840, 2410), 0.7),
    "u": Phone("vowel", (300, 870, 2240), 0.2),
    # stops: closure, then a burst in the last BURST_S of the segment
    "p": Phone("stop", (400, 900, 2300), 0.0, 0.0, (400, 2500), 0.35),
    "b": Phone("stop", (300, 900, 2300), 0.0, 0.08, (400, 2500), 0.2),
    "t": Phone("stop", (400, 1800, 2700), 0.25, 0.0, (3000, 6500), 0.4),
    "d": Phone("stop", (300, 1800, 2700), 0.25, 0.08, (3000, 6500), 0.25),
    "k": Phone("stop", (400, 2000, 2600), 0.35, 0.0, (1500, 3500), 0.4),
    "g": Phone("stop", (300, 2000, 2600), 0.35, 0.08, (1500, 3500), 0.25),
    "m": Phone("nasal", (250, 1100, 2300), 0.0, 0.35, bandwidths_hz=_NASAL_BW),
    "n": Phone("nasal", (250, 1700, 2600), 0.25, 0.35, bandwidths_hz=_NASAL_BW),
    "s": Phone("fricative", (400, 1700, 2600), 0.15, 0.0, (4000, 7500), 0.35),
    "z": Phone("fricative", (300, 1700, 2600), 0.15, 0.3, (4000, 7500), 0.25),
    "f": Phone("fricative", (400, 1100, 2300), 0.05, 0.0, (1500, 7500), 0.12),
    "v": Phone("fricative", (300, 1100, 2300), 0.05, 0.3, (1500, 7500), 0.1),
    "S": Phone("fricative", (400, 1800, 2500), 0.2, 0.0, (2000, 5000), 0.35),  # "sh"
    "l": Phone("approximant", (360, 1300, 2700), 0.35, 0.6),
    "r": Phone("approximant", (420, 1300, 1600), 0.3, 0.6),
    "w": Phone("approximant", (300, 610, 2200), 0.1, 0.55),
    "h": Phone("aspirate", (500, 1500, 2500), 0.0, 0.0),  # takes the next vowel's shape
    "_": Phone("pause", (500, 1500, 2500), 0.0, 0.0),
}
VOWELS = ("a", "e", "i", "o", "u")
_VOWEL_P = (0.28, 0.22, 0.2, 0.17, 0.13)
ONSETS = ("p", "b", "t", "d", "k", "g", "m", "n", "s", "z", "f", "v", "S", "l", "r", "w", "h")
_ONSET_W = (6, 5, 8, 6, 6, 3, 7, 7, 7, 2, 4, 3, 2, 6, 5, 4, 3)
CODAS = ("n", "m", "s", "t", "l", "k", "r")

BURST_S = 0.012  # s: stop release burst
ASPIRATION_S = 0.025  # s: breathy onset of a vowel after a voiceless stop
_DURATION_S = {  # (min, max) seconds per phone kind; stressed vowels get their own range
    "vowel": (0.07, 0.11),
    "stressed": (0.13, 0.19),
    "stop": (0.06, 0.09),
    "nasal": (0.055, 0.08),
    "fricative": (0.08, 0.12),
    "approximant": (0.045, 0.07),
    "aspirate": (0.05, 0.07),
}
LEAD_SILENCE_S = (0.2, 0.45)
TAIL_SILENCE_S = (0.25, 0.4)
PHRASE_PAUSE_S = (0.25, 0.6)
WORD_GAP_S = (0.03, 0.08)
WORD_GAP_P = 0.25  # chance of a short gap between two words
WORDS_PER_PHRASE = (3, 8)  # [low, high)
PEAK = 0.5  # output peak amplitude: leaves headroom for added noise


@dataclass(frozen=True)
class Speaker:
    """A voice: mean pitch and vocal-tract length (formant scale)."""

    f0_hz: float
    formant_scale: float


SPEAKERS = {"male": Speaker(120.0, 1.0), "female": Speaker(210.0, 1.17)}


@dataclass(frozen=True)
class Segment:
    """One phone (or pause) of a planned utterance; times in seconds."""

    symbol: str
    start_s: float
    end_s: float
    stressed: bool = False
    phrase: int = -1  # phrase index; -1 for pauses

    @property
    def phone(self) -> Phone:
        return PHONES[self.symbol]


@dataclass(frozen=True)
class Speech:
    """Speech audio and the mouth opening that produces it.

    Attributes:
        audio: ``(S,)`` float32 in [-1, 1].
        sample_rate: Hz.
        articulation: ``(N,)`` smoothed mouth opening in [0, 1] at ``CONTROL_RATE``.
        segments: the phones, or an empty tuple when unknown (espeak-ng).
        backend: ``"formant"`` or ``"espeak"``.
        speaker: the speaker name.
    """

    audio: np.ndarray
    sample_rate: int
    articulation: np.ndarray
    segments: tuple[Segment, ...]
    backend: str
    speaker: str


def synthesize_formant_speech(
    duration_s: float, sample_rate: int, speaker: str, rng: np.random.Generator
) -> Speech:
    """Random nonsense speech filling ``duration_s`` seconds, with its articulation.

    Args:
        duration_s: length in seconds (the audio has ``round(duration_s * sample_rate)``
            samples).
        sample_rate: Hz, a multiple of ``CONTROL_RATE``.
        speaker: a key of :data:`SPEAKERS`.
        rng: the only source of randomness.
    """
    segments = plan_utterance(duration_s, rng)
    n_samples = int(round(duration_s * sample_rate))
    audio = render_segments(segments, n_samples, sample_rate, SPEAKERS[speaker], rng)
    n_ctl = -(-n_samples // (sample_rate // CONTROL_RATE))
    targets = opening_targets(segments, n_ctl)
    return Speech(audio, sample_rate, smooth_articulation(targets), segments, "formant", speaker)


# -- planning ------------------------------------------------------------------------------
def plan_utterance(duration_s: float, rng: np.random.Generator) -> tuple[Segment, ...]:
    """Phrases of random words separated by pauses, filling ``[0, duration_s)``."""
    segments: list[Segment] = []
    t = rng.uniform(*LEAD_SILENCE_S)
    end = duration_s - rng.uniform(*TAIL_SILENCE_S)
    phrase = 0
    while True:
        words = [_word(rng) for _ in range(rng.integers(*WORDS_PER_PHRASE))]
        placed, t_after = _place_phrase(words, t, end, phrase, rng)
        if not placed:
            break
        segments.extend(placed)
        t = t_after + rng.uniform(*PHRASE_PAUSE_S)
        phrase += 1
    return tuple(_fill_pauses(segments, duration_s))


def _word(rng: np.random.Generator) -> list[tuple[str, float, bool]]:
    """A word as ``(symbol, duration_s, stressed)`` tuples; its first syllable is stressed."""
    phones: list[tuple[str, float, bool]] = []
    for k in range(rng.choice((1, 2, 3), p=(0.45, 0.4, 0.15))):
        if rng.random() < 0.85:
            phones.append(_timed(rng.choice(ONSETS, p=np.divide(_ONSET_W, sum(_ONSET_W))), rng))
        vowel = str(rng.choice(VOWELS, p=_VOWEL_P))
        lo, hi = _DURATION_S["stressed" if k == 0 else "vowel"]
        phones.append((vowel, rng.uniform(lo, hi), k == 0))
        if rng.random() < 0.3:
            phones.append(_timed(rng.choice(CODAS), rng))
    return phones


def _timed(symbol: str, rng: np.random.Generator) -> tuple[str, float, bool]:
    return str(symbol), rng.uniform(*_DURATION_S[PHONES[str(symbol)].kind]), False


def _place_phrase(words, t: float, end: float, phrase: int, rng) -> tuple[list[Segment], float]:
    """Lay the words out from ``t``; words that would end after ``end`` are dropped."""
    placed: list[Segment] = []
    for word in words:
        gap = rng.uniform(*WORD_GAP_S) if placed and rng.random() < WORD_GAP_P else 0.0
        if t + gap + sum(d for _, d, _ in word) > end:
            break
        t += gap
        for symbol, dur, stressed in word:
            placed.append(Segment(symbol, t, t + dur, stressed, phrase))
            t += dur
    return placed, t


def _fill_pauses(segments: list[Segment], duration_s: float) -> list[Segment]:
    """Insert explicit pause segments so the segments tile ``[0, duration_s)``."""
    out: list[Segment] = []
    t = 0.0
    for seg in segments:
        if seg.start_s > t + 1e-9:
            out.append(Segment("_", t, seg.start_s))
        out.append(seg)
        t = seg.end_s
    if duration_s > t:
        out.append(Segment("_", t, duration_s))
    return out


# -- control tracks --------------------------------------------------------------------------
def _ctl_span(seg: Segment, n_ctl: int) -> slice:
    return slice(
        min(n_ctl, round(seg.start_s * CONTROL_RATE)), min(n_ctl, round(seg.end_s * CONTROL_RATE))
    )


def _next_vowel(segments: tuple[Segment, ...], i: int) -> Phone:
    for seg in segments[i + 1 :]:
        if seg.phone.kind == "vowel":
            return seg.phone
        if seg.phone.kind == "pause":
            break
    return PHONES["e"]


def opening_targets(segments: tuple[Segment, ...], n_ctl: int) -> np.ndarray:
    """``(n_ctl,)`` step-wise mouth-opening targets; /h/ anticipates its vowel."""
    targets = np.zeros(n_ctl, np.float32)
    for i, seg in enumerate(segments):
        opening = seg.phone.opening
        if seg.phone.kind == "aspirate":
            opening = 0.8 * _next_vowel(segments, i).opening
        targets[_ctl_span(seg, n_ctl)] = opening
    return targets


def _control_tracks(segments: tuple[Segment, ...], n_ctl: int, speaker: Speaker) -> dict:
    """Formants, bandwidths, voicing/aspiration amplitudes and pitch at ``CONTROL_RATE``."""
    formants = np.tile(np.float64(PHONES["_"].formants_hz), (n_ctl, 1))
    bandwidths = np.tile(np.float64(PHONES["_"].bandwidths_hz), (n_ctl, 1))
    voicing, aspiration, accent = (np.zeros(n_ctl) for _ in range(3))
    after_voiceless_stop = False
    for i, seg in enumerate(segments):
        span, phone = _ctl_span(seg, n_ctl), seg.phone
        shape = _next_vowel(segments, i) if phone.kind == "aspirate" else phone
        formants[span], bandwidths[span] = shape.formants_hz, phone.bandwidths_hz
        voicing[span] = phone.voice_gain
        if phone.kind == "aspirate":
            aspiration[span] = 0.3
        if phone.kind == "vowel" and after_voiceless_stop:
            n_asp = int(ASPIRATION_S * CONTROL_RATE)
            aspiration[span.start : span.start + n_asp] = 0.3
        accent[span] = 1.0 if seg.stressed else 0.0
        after_voiceless_stop = phone.kind == "stop" and phone.voice_gain == 0.0
    # Formants glide between phones (~12 ms); amplitudes ramp in ~4 ms (no clicks).
    ms = CONTROL_RATE / 1000.0
    return {
        "formants": gaussian_filter1d(formants * speaker.formant_scale, 12 * ms, axis=0),
        "bandwidths": gaussian_filter1d(bandwidths * speaker.formant_scale, 12 * ms, axis=0),
        "voicing": gaussian_filter1d(voicing, 4 * ms),
        "aspiration": gaussian_filter1d(aspiration, 4 * ms),
        "f0": _pitch(segments, n_ctl, speaker, gaussian_filter1d(accent, 40 * ms)),
    }


def _pitch(segments, n_ctl: int, speaker: Speaker, accent: np.ndarray) -> np.ndarray:
    """Pitch in Hz: phrase declination (+12 % -> -13 %) plus 10 % stress accents."""
    decl = np.zeros(n_ctl)
    phrases: dict[int, list[Segment]] = {}
    for seg in segments:
        if seg.phrase >= 0:
            phrases.setdefault(seg.phrase, []).append(seg)
    for segs in phrases.values():
        lo = round(segs[0].start_s * CONTROL_RATE)
        hi = min(n_ctl, round(segs[-1].end_s * CONTROL_RATE))
        decl[lo:hi] = np.linspace(0.12, -0.13, max(hi - lo, 0))
    return speaker.f0_hz * (1.0 + gaussian_filter1d(decl, 0.03 * CONTROL_RATE) + 0.1 * accent)


# -- rendering -------------------------------------------------------------------------------
def render_segments(
    segments: tuple[Segment, ...],
    n_samples: int,
    sample_rate: int,
    speaker: Speaker,
    rng: np.random.Generator,
) -> np.ndarray:
    """Synthesise planned segments to ``(n_samples,)`` float32 audio with peak ``PEAK``."""
    hop = sample_rate // CONTROL_RATE
    n_ctl = -(-n_samples // hop)
    tracks = _control_tracks(segments, n_ctl, speaker)
    ctl_t = (np.arange(n_ctl) + 0.5) * hop
    at = np.arange(n_samples)
    f0 = np.interp(at, ctl_t, tracks["f0"])
    source = np.interp(at, ctl_t, tracks["voicing"]) * _glottal_source(f0, sample_rate)
    source += np.interp(at, ctl_t, tracks["aspiration"]) * rng.standard_normal(n_samples)
    voiced = _fixed_formants(
        _cascade(source, tracks["formants"], tracks["bandwidths"], sample_rate, hop),
        sample_rate,
        speaker,
    )
    vowel_rms = _rms_in(voiced, segments, sample_rate, "vowel")
    out = voiced + vowel_rms * _frication(segments, n_samples, sample_rate, rng)
    peak = np.max(np.abs(out)) if n_samples else 0.0
    return (out * (PEAK / peak if peak > 0 else 1.0)).astype(np.float32)


def _glottal_source(f0: np.ndarray, sample_rate: int) -> np.ndarray:
    """Differentiated Rosenberg pulses (lip radiation included), unit RMS while voiced."""
    phase = np.cumsum(f0 / sample_rate) % 1.0
    open_q, close_q = 0.4, 0.16  # opening and closing phases as fractions of a period
    pulse = np.where(phase < open_q, 0.5 * (1 - np.cos(np.pi * phase / open_q)), 0.0)
    closing = (phase >= open_q) & (phase < open_q + close_q)
    pulse[closing] = np.cos(0.5 * np.pi * (phase[closing] - open_q) / close_q)
    d = np.diff(pulse, prepend=0.0)
    return d / (np.sqrt(np.mean(d**2)) + 1e-12)


def _resonator_coeffs(freq: np.ndarray, bw: np.ndarray, sample_rate: int):
    """Klatt digital resonator ``y = A x + B y[-1] + C y[-2]`` (unity gain at DC)."""
    c = -np.exp(-2 * np.pi * bw / sample_rate)
    b = 2 * np.exp(-np.pi * bw / sample_rate) * np.cos(2 * np.pi * freq / sample_rate)
    return 1.0 - b - c, b, c


def _cascade(source, formants, bandwidths, sample_rate: int, hop: int) -> np.ndarray:
    """Run ``source`` through F1-F3 resonators whose coefficients change every ``hop`` samples.

    The three resonators are merged into one 6th-order all-pole filter per block; the
    filter state is carried as past *outputs* (``lfiltic``), which stay valid when the
    coefficients change, so formant glides do not click.
    """
    gain, b, c = _resonator_coeffs(formants, bandwidths, sample_rate)  # each (n_ctl, 3)
    denom = np.ones((len(formants), 1))
    for k in range(3):
        denom = _polymul_rows(denom, np.stack([np.ones(len(b)), -b[:, k], -c[:, k]], axis=1))
    gains = gain.prod(axis=1)
    # lfilter's state for an all-pole filter from past outputs y[-1..-6] (what lfiltic
    # computes, vectorised over blocks): zi[m] = -sum_i a[m + 1 + i] * y[-1 - i].
    order = denom.shape[1] - 1
    to_state = np.zeros((len(denom), order, order))
    for m in range(order):
        to_state[:, m, : order - m] = -denom[:, m + 1 :]
    out = np.empty_like(source)
    past = np.zeros(order)  # most recent output first
    for k in range(len(formants)):
        block = source[k * hop : (k + 1) * hop]
        if not len(block):
            break
        y, _ = lfilter(gains[k : k + 1], denom[k], block, zi=to_state[k] @ past)
        out[k * hop : k * hop + len(y)] = y
        past = np.concatenate([y[::-1], past])[:order]
    return out


def _polymul_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise polynomial product of ``(n, a)`` and ``(n, b)`` coefficient arrays."""
    out = np.zeros((p.shape[0], p.shape[1] + q.shape[1] - 1))
    for j in range(q.shape[1]):
        out[:, j : j + p.shape[1]] += p * q[:, j : j + 1]
    return out


def _fixed_formants(x: np.ndarray, sample_rate: int, speaker: Speaker) -> np.ndarray:
    """Add the speaker's fixed F4/F5 (voice quality above F3), skipping ones near Nyquist."""
    for freq, bw in ((3500.0, 250.0), (4500.0, 300.0)):
        freq *= speaker.formant_scale
        if freq < 0.45 * sample_rate:
            gain, b, c = _resonator_coeffs(np.float64(freq), np.float64(bw), sample_rate)
            x = lfilter([gain], [1.0, -b, -c], x)
    return x


def _rms_in(x: np.ndarray, segments, sample_rate: int, kind: str) -> float:
    parts = [
        x[int(s.start_s * sample_rate) : int(s.end_s * sample_rate)]
        for s in segments
        if s.phone.kind == kind
    ]
    joined = np.concatenate(parts) if parts else x
    return float(np.sqrt(np.mean(joined**2))) if len(joined) else 0.0


def _frication(segments, n_samples: int, sample_rate: int, rng) -> np.ndarray:
    """Band-passed noise for fricatives (whole phone) and stop bursts (last ``BURST_S``)."""
    out = np.zeros(n_samples)
    for seg in segments:
        phone = seg.phone
        if phone.noise_band_hz is None:
            continue
        start = seg.end_s - BURST_S if phone.kind == "stop" else seg.start_s
        lo_i, hi_i = int(start * sample_rate), min(n_samples, int(seg.end_s * sample_rate))
        if hi_i - lo_i < 8:
            continue
        noise = sosfilt(
            _bandpass(*phone.noise_band_hz, sample_rate), rng.standard_normal(hi_i - lo_i)
        )
        noise *= phone.noise_gain / (np.sqrt(np.mean(noise**2)) + 1e-12)
        out[lo_i:hi_i] += noise * _ramp(hi_i - lo_i, sample_rate, phone.kind == "stop")
    return out


@functools.lru_cache(maxsize=32)
def _bandpass(lo_hz: float, hi_hz: float, sample_rate: int) -> np.ndarray:
    """4th-order Butterworth band-pass (second-order sections); designs are cached."""
    nyquist = sample_rate / 2
    return butter(
        4, [lo_hz / nyquist, min(hi_hz, 0.95 * nyquist) / nyquist], "bandpass", output="sos"
    )


def _ramp(n: int, sample_rate: int, burst: bool) -> np.ndarray:
    """Amplitude envelope: a burst decays after a 2 ms attack; frication fades 10 ms each end."""
    t = np.arange(n) / sample_rate
    if burst:
        return np.minimum(t / 0.002, 1.0) * np.exp(-t / (BURST_S / 2))
    edge = 0.01
    return np.clip(np.minimum(t, t[-1] - t) / edge, 0.0, 1.0)
