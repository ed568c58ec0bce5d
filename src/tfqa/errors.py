"""Typed errors at tfqa's public boundaries.

Every error names the file (when there is one), the problem and what to do, in
one shape: ``"<path>: <problem>. <what to do>"``.  Each class carries a stable
``code`` that batch outputs (CSV/JSON, the HTTP service) report, so callers can
count failures by kind without parsing messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def choice_hint(name: str, options: Iterable[str], *, n: int = 2) -> str:
    """``"did you mean a, b? available: a, b, c"``: the hint for an unknown name among ``options``."""
    import difflib

    options = list(options)
    close = difflib.get_close_matches(name, options, n=n)
    return (f"did you mean {', '.join(close)}? " if close else "") + (
        f"available: {', '.join(options)}"
    )


class TfqaError(Exception):
    """Base class of all tfqa errors."""

    code = "error"

    def __init__(self, problem: str, *, path: str | Path | None = None, hint: str = "") -> None:
        self.path = str(path) if path is not None else None
        self.problem = problem
        self.hint = hint
        parts = [f"{self.path}: {problem}" if self.path else problem]
        if hint:
            parts.append(hint)
        super().__init__(". ".join(p.rstrip(".") for p in parts) + ".")

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "path": self.path, "problem": self.problem, "hint": self.hint}


class ConfigError(TfqaError, ValueError):
    """A configuration (YAML, CLI option, HTTP field) is invalid."""

    code = "bad_config"


class ModelNotFoundError(TfqaError, FileNotFoundError):
    """A named model, checkpoint or weights file does not exist."""

    code = "model_not_found"


def require_model_file(path: str | Path, what: str, hint: str) -> Path:
    """``path`` as a Path if it is a file, else :class:`ModelNotFoundError` ``"<what> not found"``."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"{what} not found", path=path, hint=hint)
    return path


class InputError(TfqaError):
    """A user's input file cannot be scored."""

    code = "bad_input"


class FileMissingError(InputError, FileNotFoundError):
    code = "file_missing"


class EmptyFileError(InputError):
    code = "empty_file"


class NotAVideoError(InputError):
    code = "not_a_video"


class TruncatedFileError(InputError):
    code = "truncated_file"


class NoVideoStreamError(InputError):
    code = "no_video_stream"


class NoAudioStreamError(InputError):
    code = "no_audio_stream"


class SilentAudioError(InputError):
    code = "silent_audio"


class ClipTooShortError(InputError):
    code = "clip_too_short"


class NoFaceError(InputError):
    code = "no_face"
