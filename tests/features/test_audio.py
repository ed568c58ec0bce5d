"""Tests of the ``audio`` extractor on generated signals with known answers."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
from scipy import signal

import tfqa.features.audio as A
from tfqa.errors import ConfigError
from tfqa.features import create_extractor
from tfqa.io import load_audio
from tfqa.io.audio import Audio

SR = 16_000
VOWEL_FORMANTS_HZ = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480))
CLIPS = Path(__file__).resolve().parents[3] / "shared" / "data" / "clips"


def speech_like(seconds: float = 6.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A speech-like signal and its (N,) bool mask of active (non-pause) samples.

    Harmonic source with a gliding pitch (95-155 Hz, -6 dB/octave up to 7.8 kHz),
    one vowel (three formant resonators) per 250 ms syllable, fricative noise bursts
    above 3 kHz, a 4 Hz syllabic envelope and a 0.6 s pause every 2 s; a noise floor
    60 dB under the speech keeps the pauses from being digital silence.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f0 = 125 + 25 * np.sin(2 * np.pi * 0.7 * t) + 5 * np.sin(2 * np.pi * 3.1 * t + 1)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    src = sum(np.where(k * f0 < 7800, np.sin(k * phase) / k, 0.0) for k in range(1, 64))
    voiced = np.zeros(n)
    syllable = SR // 4
    for s0 in range(0, n, syllable):
        y = src[s0 : s0 + syllable]
        for f in VOWEL_FORMANTS_HZ[rng.integers(len(VOWEL_FORMANTS_HZ))]:
            y = signal.lfilter(*signal.iirpeak(f, 10, SR), y)
        voiced[s0 : s0 + syllable] = y
    hiss = signal.sosfilt(signal.butter(4, 3000, "hp", fs=SR, output="sos"), rng.standard_normal(n))
    bursts = np.zeros(n)
    for s0 in range(0, n, syllable):
        bursts[s0 : s0 + SR * 6 // 100] = rng.random() < 0.4
    x = voiced / voiced.std() + 0.5 * hiss * bursts
    envelope = 0.2 + 0.8 * 0.5 * (1 - np.cos(2 * np.pi * 4 * t))
    active = np.ones(n, bool)
    for p0 in np.arange(1.4, seconds, 2.0):
        active[int(p0 * SR) : int((p0 + 0.6) * SR)] = False
    smooth = np.convolve(active, np.hanning(321) / np.hanning(321).sum(), "same")
    x = 0.3 * x * envelope * smooth / np.abs(x * envelope).max()
    level = np.sqrt(np.mean(x[active] ** 2))
    x = x + level * 10 ** (-60 / 20) * rng.standard_normal(n)
    return x.astype(np.float32), active


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, np.ndarray]:
    return speech_like()


def white_noise_at(x: np.ndarray, active: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    """``x`` plus white noise at ``snr_db`` below its active speech level."""
    level = np.mean(x[active].astype(np.float64) ** 2)
    noise = np.random.default_rng(seed).standard_normal(len(x)) * math.sqrt(
        level / 10 ** (snr_db / 10)
    )
    return (x + noise).astype(np.float32)


def compute(x: np.ndarray, sample_rate: int = SR, **cfg):
    cfg = {"dnsmos": False, "vad": "energy", **cfg}
    return create_extractor("audio", **cfg).compute({"waveform": Audio(x, sample_rate, 0.0)})


# --- contract and configuration -----------------------------------------------------


def test_block_follows_the_feature_contract(speech):
    x = speech[0][: int(6.3 * SR) - 123]  # not a whole number of frames
    block = compute(x, n_mels=32)
    t = math.ceil(len(x) / 640)
    assert block.sequences["audio"].shape == (t, 32 + len(A.SPECTRAL_COLUMNS))
    assert block.sequences["audio"].dtype == np.float32
    assert block.columns["audio"] == A.column_names(32)
    assert len(set(block.columns["audio"])) == len(block.columns["audio"])
    assert block.sequences["speech_envelope"].shape == (t, 1)
    assert np.isfinite(block.sequences["audio"]).all()
    assert set(block.curves) == {"dnsmos_ovrl", "speech_energy_db", "speech_prob"}
    assert all(len(c) == math.ceil(t / 25) for c in block.curves.values())
    assert {
        "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808", "speech_ratio",
        "clipping_ratio", "loudness_dbfs", "noise_floor_dbfs", "snr_db", "bandwidth_hz",
        "dropout_ratio", "hum_ratio", "duration_s",
    } <= set(block.stats)  # fmt: skip
    assert all(type(v) is float for v in block.stats.values())  # plain, JSON-able scalars
    assert math.isnan(block.stats["dnsmos_ovrl"])  # dnsmos=False
    assert block.stats["duration_s"] == pytest.approx(len(x) / SR)
    assert block.meta["vad"] == "energy"


def test_registry_builds_it_and_refuses_bad_options():
    x = create_extractor("audio", dnsmos=False)
    assert isinstance(x, A.AudioFeatures)
    assert x.config.dnsmos is False and x.config.vad == "silero"
    with pytest.raises(ConfigError, match="dnsmos"):
        create_extractor("audio", dnsmoss=False)
    with pytest.raises(ConfigError, match="vad"):
        create_extractor("audio", vad="webrtc")
    with pytest.raises(ConfigError, match="n_mels"):
        create_extractor("audio", n_mels=2)
    with pytest.raises(ConfigError, match="Audio"):
        x.compute({"waveform": np.zeros(SR, np.float32)})


def test_other_sample_rates_are_resampled(speech):
    x = speech[0][: 2 * SR]
    at_8k = signal.resample_poly(x, 1, 2).astype(np.float32)
    block = compute(at_8k, sample_rate=8000)
    assert block.sequences["audio"].shape[0] == math.ceil(2 * SR / 640)
    assert block.stats["bandwidth_hz"] < 4100  # an 8 kHz source holds nothing above 4 kHz


def test_short_audio_has_no_dnsmos_but_a_block():
    block = compute(np.zeros(SR // 2, np.float32), dnsmos=True)
    assert block.sequences["audio"].shape[0] == 13
    assert math.isnan(block.stats["dnsmos_ovrl"]) and block.meta["dnsmos_segments"] == 0
    assert math.isnan(block.stats["snr_db"])


# --- per-frame signals --------------------------------------------------------------


def test_speech_envelope_matches_an_independent_band_pass(speech):
    x = speech[0]
    env = compute(x).sequences["speech_envelope"][:, 0]
    sos = signal.butter(6, A.SPEECH_BAND_HZ, "bandpass", fs=SR, output="sos")
    y = signal.sosfiltfilt(sos, x.astype(np.float64))  # zero phase: no lag to compare
    ref = np.sqrt(np.mean(y[: len(y) // 640 * 640].reshape(-1, 640) ** 2, axis=1))
    n = len(ref)
    assert np.corrcoef(env[:n], ref)[0, 1] > 0.97
    assert np.median(20 * np.log10(env[:n] / ref)) == pytest.approx(0.0, abs=1.0)


def test_level_and_pitch_columns(speech):
    x = speech[0]
    block = compute(x)
    col = dict(zip(block.columns["audio"], block.sequences["audio"].T, strict=True))
    frame = x[640 * 10 : 640 * 11].astype(np.float64)
    assert col["energy_dbfs"][10] == pytest.approx(10 * np.log10(np.mean(frame**2)), abs=0.01)
    voiced = col["periodicity"] > 0.8
    assert voiced.mean() > 0.3
    # The source's pitch glides within 95-155 Hz; octave errors would land near 60-78 or 190-310.
    assert np.median(col["f0_hz"][voiced]) == pytest.approx(125, abs=20)


def test_silero_frame_probabilities_are_overlap_weighted(monkeypatch):
    class StepModel:  # chunk probabilities 0, 0, 1, 1, ... (32 ms chunks)
        def audio_forward(self, x, sr):
            return (np.arange(math.ceil(len(x) / 512)) >= 2).astype(np.float32)

    monkeypatch.setattr(A, "silero_model", StepModel)
    prob = A.silero_speech_prob(np.zeros(640 * 4, np.float32))
    # Speech starts at sample 1024: frame 0 = [0, 640) none, frame 1 = [640, 1280) 256/640.
    np.testing.assert_allclose(prob, [0.0, 256 / 640, 1.0, 1.0], atol=1e-6)


def test_silero_model_matches_the_reference_onnx_path(speech):
    import torch
    from silero_vad import load_silero_vad

    x = speech[0][: 3 * SR]
    ours = A.silero_model().audio_forward(x, SR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # silero's importlib.resources.path
        reference = load_silero_vad(onnx=True)
    ref = reference.audio_forward(torch.from_numpy(x), SR).numpy().ravel()
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert A.silero_model() is A.silero_model()  # loaded once per process


# --- per-clip evidence: known answers -----------------------------------------------


def test_snr_tracks_the_true_snr(speech):
    x, active = speech
    est = {snr: compute(white_noise_at(x, active, snr)).stats["snr_db"] for snr in (20, 10, 0)}
    for truth, value in est.items():
        assert value == pytest.approx(truth, abs=3.0)
    assert est[20] > est[10] > est[0]
    assert compute(x).stats["snr_db"] > 50  # only the -60 dB floor


def test_dnsmos_falls_with_noise(speech):
    x, active = speech
    ovrl = [
        compute(white_noise_at(x, active, snr), dnsmos=True).stats["dnsmos_ovrl"]
        for snr in (30, 10, 0)
    ]
    assert all(1.0 <= v <= 5.0 for v in ovrl)
    assert ovrl[0] > ovrl[1] > ovrl[2]


def test_dnsmos_windows_equal_speechmos_run(speech):
    from speechmos import dnsmos

    x, _ = speech
    clip = np.concatenate([x, x])[: A.DNSMOS_WINDOW]  # exactly one window: run() scores it once
    ref = dnsmos.run(clip, SR)
    ours = A.run_dnsmos(clip, A.dnsmos_plan(len(clip)), personalized=False)
    for key in ("sig", "bak", "ovrl", "p808"):
        assert ours[key][0] == pytest.approx(float(ref[f"{key}_mos"]), abs=1e-5)


@pytest.mark.parametrize(
    ("seconds", "windows", "owned_by_last"),
    [
        (0.5, 0, None),
        (5.0, 1, 5.0),
        (9.5, 1, 9.5),
        (20.0, 2, 20.0 - 9.01),  # a 1.98 s remainder is owned by the last full window
        (23.0, 3, 23.0 - 2 * 9.01),  # a 4.98 s remainder gets its own window
    ],
)
def test_dnsmos_plan_covers_the_clip(seconds, windows, owned_by_last):
    n = int(seconds * SR)
    plan = A.dnsmos_plan(n)
    assert len(plan) == windows
    if windows:
        owned = [(a, b) for _, _, a, b in plan]
        assert owned[0][0] == 0 and owned[-1][1] == n
        assert all(
            b == a2 for (_, b), (a2, _) in zip(owned, owned[1:], strict=False)
        )  # a partition
        assert (plan[-1][3] - plan[-1][2]) / SR == pytest.approx(owned_by_last, abs=1e-3)
        assert all(stop - start <= A.DNSMOS_WINDOW for start, stop, _, _ in plan)
    assert len(A.dnsmos_plan(int(300 * SR), max_segments=4)) == 4


def test_clipping_ratio_of_a_clipped_sine():
    t = np.arange(3 * SR) / SR
    amplitude = 1 / math.cos(math.pi * 0.05 / 2)  # 5 % of a sine's samples exceed 1/amplitude
    sine = amplitude * np.sin(2 * np.pi * 97.3 * t)
    truth = np.mean(np.abs(sine) >= 1.0)
    block = compute(np.clip(sine, -1, 1).astype(np.float32))
    assert block.stats["clipping_ratio"] == pytest.approx(truth, abs=0.003)
    assert truth == pytest.approx(0.05, abs=0.003)
    assert block.meta["clipping_method"] == "plateau"
    assert (
        compute((0.99 * np.sin(2 * np.pi * 97.3 * t)).astype(np.float32)).stats["clipping_ratio"]
        < 0.005
    )


def _aac_file(x: np.ndarray, path: Path, rate: int = 44_100) -> Path:
    """Write ``x`` (16 kHz) as AAC in an M4A file resampled to ``rate``, as videos carry it."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate, layout="mono")
        stream.bit_rate = 128_000
        frame = av.AudioFrame.from_ndarray(x[None].astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = SR
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        for f in resampler.resample(frame) + resampler.resample(None):
            out.mux(stream.encode(f))
        out.mux(stream.encode(None))
    return path


def test_clipping_is_seen_through_aac(speech, tmp_path):
    x = speech[0][: 4 * SR] / np.abs(speech[0][: 4 * SR]).max()
    ratios = {}
    for gain in (0.7, 1.5, 3.0, 6.0):  # true clipped shares: 0, 0.2 %, 1.4 %, 4.6 %
        clipped = np.clip(gain * x, -1, 1)
        audio = load_audio(_aac_file(clipped, tmp_path / f"g{gain}.m4a"))
        block = create_extractor("audio", dnsmos=False, vad="energy").compute({"waveform": audio})
        ratios[gain] = block.stats["clipping_ratio"]
        assert block.meta["clipping_method"] == "near_full_scale"  # the codec removed the plateaus
    assert ratios[0.7] < 1e-4
    assert ratios[6.0] > ratios[3.0] > ratios[1.5] > 10 * max(ratios[0.7], 1e-5)
    assert ratios[1.5] == pytest.approx(0.002, rel=0.5)  # light clipping: close to the truth
    assert ratios[6.0] > 0.004  # heavy clipping: a lower bound after the codec


def test_bandwidth_of_low_passed_speech(speech):
    x = speech[0]
    low_passed = signal.fftconvolve(x, signal.firwin(511, 3400, fs=SR), "same").astype(np.float32)
    assert compute(low_passed).stats["bandwidth_hz"] == pytest.approx(3400, abs=300)
    assert compute(x).stats["bandwidth_hz"] > 7000


@pytest.mark.parametrize(("mains_hz", "amplitude"), [(50, 0.05), (60, 0.02)])
def test_hum_ratio_measures_mains_hum(speech, mains_hz, amplitude):
    x = speech[0]
    t = np.arange(len(x)) / SR
    hum = amplitude * (
        np.sin(2 * np.pi * mains_hz * t) + 0.5 * np.sin(2 * np.pi * 3 * mains_hz * t)
    )
    truth = np.mean(hum**2) / np.mean((x + hum) ** 2)
    block = compute((x + hum).astype(np.float32))
    assert block.stats["hum_ratio"] == pytest.approx(truth, abs=0.05)
    assert block.stats["hum_ratio"] > 0.2
    assert block.meta["hum_base_hz"] == mains_hz
    assert compute(x).stats["hum_ratio"] < 0.01


def test_dropout_ratio_counts_gaps_inside_speech(speech):
    x, active = speech
    gapped = x.copy()
    for start_s in (0.5, 1.0, 2.3, 3.1, 4.4):  # 5 x 100 ms of digital silence inside speech
        gapped[int(start_s * SR) : int((start_s + 0.1) * SR)] = 0.0
    truth = 0.5 / (active.sum() / SR)
    assert compute(gapped).stats["dropout_ratio"] == pytest.approx(truth, abs=0.03)
    assert compute(x).stats["dropout_ratio"] == 0.0


def test_speech_activity_finds_the_pauses(speech):
    x, active = speech
    block = compute(x)
    truth = active[: len(active) // 640 * 640].reshape(-1, 640).mean(1) > 0.5
    frames = block.sequences["audio"][: len(truth), -1] >= 0.5
    assert np.mean(frames[~truth]) < 0.1  # pauses are not speech
    assert block.stats["speech_ratio"] == pytest.approx(truth.mean(), abs=0.15)


@pytest.mark.slow
@pytest.mark.media
def test_real_clip_with_silero_and_dnsmos():
    clip = CLIPS / "real" / "real_obama_edtalk.mp4"
    if not clip.exists():
        pytest.skip(f"{clip} is not available")
    block = create_extractor("audio").compute({"waveform": load_audio(clip)})
    s = block.stats
    assert block.meta["vad"] == "silero" and block.meta["dnsmos_segments"] == 2
    assert 0.5 < s["speech_ratio"] < 1.0
    assert 2.5 < s["dnsmos_ovrl"] < 4.0 and s["snr_db"] > 20 and s["bandwidth_hz"] > 6000
    assert s["clipping_ratio"] < 1e-3 and s["dropout_ratio"] < 0.01
    assert np.isfinite(block.curves["dnsmos_ovrl"]).all()
