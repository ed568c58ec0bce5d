"""Content sniffing, client-name cleaning and the allowed-roots check."""

from __future__ import annotations

import os

import pytest

from tfqa.service.errors import ServiceError
from tfqa.service.uploads import clean_name, resolve_allowed, sniff_container


@pytest.mark.parametrize(
    ("head", "ext"),
    [
        (b"\x00\x00\x00\x20ftypisom" + bytes(200), ".mp4"),
        (b"\x1a\x45\xdf\xa3" + bytes(200), ".mkv"),
        (b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(200), ".avi"),
        (b"\x47" + bytes(187) + b"\x47" + bytes(10), ".ts"),
        (b"GIF89a" + bytes(200), None),
        (b"hello world" * 30, None),
        (b"<html><script>" + bytes(200), None),
    ],
)
def test_sniff_container(head, ext):
    assert sniff_container(head) == ext


def test_real_clip_is_sniffed_as_mp4(tiny_clip):
    assert sniff_container(tiny_clip.read_bytes()[:189]) == ".mp4"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\x.mp4", "x.mp4"),
        ("a\x00b\nc.mp4", "abc.mp4"),
        (
            "<img src=x onerror=alert(1)>.mp4",
            "<img src=x onerror=alert(1)>.mp4",
        ),  # text, escaped on display
        ("", "upload"),
        ("/", "upload"),
    ],
)
def test_clean_name(raw, clean):
    assert clean_name(raw) == clean


def test_resolve_allowed(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    inside = root / "sub" / "v.mp4"
    inside.write_bytes(b"x")
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"x")
    os.symlink(outside, root / "link.mp4")
    roots = (root.resolve(),)

    assert resolve_allowed(str(inside), roots) == inside.resolve()
    assert resolve_allowed(str(root / "sub" / ".." / "sub" / "v.mp4"), roots) == inside.resolve()
    cases = {
        str(root / ".." / "secret.mp4"): "path_not_allowed",  # '..' out of the root
        str(root / "link.mp4"): "path_not_allowed",  # symlink pointing out
        str(outside): "path_not_allowed",
        "sub/v.mp4": "bad_request",  # relative
        str(inside) + "\x00.txt": "bad_request",
        str(root / "missing.mp4"): "file_missing",
    }
    for raw, code in cases.items():
        with pytest.raises(ServiceError) as exc:
            resolve_allowed(raw, roots)
        assert exc.value.code == code, raw
    with pytest.raises(ServiceError) as exc:
        resolve_allowed(str(inside), ())
    assert exc.value.code == "path_not_allowed" and "--allowed-root" in exc.value.message
