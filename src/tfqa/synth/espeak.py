"""Speech from espeak-ng (when installed), with articulation estimated from the audio.

espeak-ng gives real English words; since its phone timing is not read back,
the mouth track comes from :func:`tfqa.synth.articulation.articulation_from_audio`.
The sentences are from the Harvard sentence lists (IEEE 1969, public domain).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from math import gcd

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from tfqa.errors import ConfigError
from tfqa.synth.articulation import articulation_from_audio, smooth_articulation
from tfqa.synth.speech import LEAD_SILENCE_S, PEAK, PHRASE_PAUSE_S, Speech

ESPEAK_VOICES = {"male": "en-us", "female": "en-us+f3"}
ESPEAK_PITCH = {"male": (35, 50), "female": (45, 60)}  # espeak-ng -p range (0-99)
ESPEAK_WPM = (150, 175)  # speaking rate range, words per minute
_TIMEOUT_S = 60
SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
)


def espeak_path() -> str | None:
    """The espeak-ng executable, or None when it is not installed."""
    return shutil.which("espeak-ng")


def synthesize_espeak_speech(
    duration_s: float,
    sample_rate: int,
    speaker: str,
    rng: np.random.Generator,
    text: str | None = None,
) -> Speech:
    """Sentences spoken by espeak-ng, laid out with pauses to fill ``duration_s``.

    Args:
        duration_s: length in seconds; speech that does not fit is cut with a fade.
        sample_rate: output rate in Hz.
        speaker: ``"male"`` or ``"female"``.
        rng: picks sentences, pauses, pitch and rate.
        text: what to say (repeated if short); ``None`` = random Harvard sentences.

    Raises:
        ConfigError: espeak-ng is not installed.
    """
    exe = espeak_path()
    if exe is None:
        raise ConfigError(
            "voice='espeak' needs the espeak-ng program, which is not installed",
            hint="Install it (Debian: sudo apt-get install espeak-ng) or use voice='formant'",
        )
    n_samples = int(round(duration_s * sample_rate))
    audio = np.zeros(n_samples, np.float32)
    pitch, wpm = int(rng.integers(*ESPEAK_PITCH[speaker])), int(rng.integers(*ESPEAK_WPM))
    t = int(rng.uniform(*LEAD_SILENCE_S) * sample_rate)
    while t < n_samples:
        sentence = text if text is not None else SENTENCES[int(rng.integers(len(SENTENCES)))]
        wave = _speak(exe, sentence, ESPEAK_VOICES[speaker], pitch, wpm, sample_rate)
        wave = wave[: n_samples - t]
        audio[t : t + len(wave)] = wave
        t += len(wave) + int(rng.uniform(*PHRASE_PAUSE_S) * sample_rate)
    audio = _fade_out(audio, sample_rate)
    peak = float(np.max(np.abs(audio))) or 1.0
    audio = (audio * (PEAK / peak)).astype(np.float32)
    articulation = smooth_articulation(articulation_from_audio(audio, sample_rate))
    return Speech(audio, sample_rate, articulation, (), "espeak", speaker)


def _speak(
    exe: str, sentence: str, voice: str, pitch: int, wpm: int, sample_rate: int
) -> np.ndarray:
    """One sentence as float32 audio at ``sample_rate``, leading/trailing silence trimmed."""
    cmd = [exe, "-v", voice, "-p", str(pitch), "-s", str(wpm), "--stdout", sentence]
    done = subprocess.run(cmd, capture_output=True, timeout=_TIMEOUT_S, check=False)
    if done.returncode != 0 or not done.stdout:
        raise ConfigError(
            f"espeak-ng failed (exit {done.returncode}): {done.stderr.decode(errors='replace')[:200]}",
            hint="Check the espeak-ng installation or use voice='formant'",
        )
    wave, rate = sf.read(io.BytesIO(done.stdout), dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    if rate != sample_rate:
        g = gcd(rate, sample_rate)
        wave = resample_poly(wave, sample_rate // g, rate // g).astype(np.float32)
    loud = np.nonzero(np.abs(wave) > 1e-3)[0]
    return wave[loud[0] : loud[-1] + 1] if len(loud) else wave


def _fade_out(audio: np.ndarray, sample_rate: int, fade_s: float = 0.05) -> np.ndarray:
    """Fade the last ``fade_s`` to zero so a cut sentence does not end in a click."""
    n = min(len(audio), int(fade_s * sample_rate))
    if n:
        audio[-n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    return audio
