"""Decoding and input validation: the first stage of the pipeline."""

from tfqa.io.audio import Audio, load_audio
from tfqa.io.constants import ANALYSIS_RATE, FRAME_MS, HOP_SAMPLES, SAMPLE_RATE
from tfqa.io.probe import MediaInfo, probe
from tfqa.io.validate import expand_inputs, validate_audio, validate_media
from tfqa.io.video import FrameStream, GridFrame

__all__ = [
    "ANALYSIS_RATE",
    "FRAME_MS",
    "HOP_SAMPLES",
    "SAMPLE_RATE",
    "Audio",
    "FrameStream",
    "GridFrame",
    "MediaInfo",
    "expand_inputs",
    "load_audio",
    "probe",
    "validate_audio",
    "validate_media",
]
