import numpy as np
import pytest

from tfqa.errors import ConfigError
from tfqa.synth import SynthSpec, plan_clip
from tfqa.synth import espeak as espeak_mod
from tfqa.synth.articulation import CONTROL_RATE


def test_missing_espeak_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(espeak_mod.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="apt-get install espeak-ng"):
        plan_clip(SynthSpec(duration_s=1.0, voice="espeak"))


def test_auto_voice_falls_back_to_formant(monkeypatch):
    monkeypatch.setattr(espeak_mod.shutil, "which", lambda name: None)
    assert (
        plan_clip(SynthSpec(duration_s=1.0, voice="auto")).truth["speech"]["backend"] == "formant"
    )


@pytest.mark.skipif(espeak_mod.espeak_path() is None, reason="espeak-ng is not installed")
def test_espeak_speech_and_its_articulation():
    speech = espeak_mod.synthesize_espeak_speech(4.0, 16_000, "female", np.random.default_rng(0))
    assert speech.audio.shape == (64_000,) and speech.backend == "espeak"
    assert np.max(np.abs(speech.audio)) == pytest.approx(0.5, rel=1e-4)
    assert len(speech.articulation) == 4 * CONTROL_RATE
    assert speech.articulation.max() > 0.5 and speech.articulation[:10].max() < 0.05
