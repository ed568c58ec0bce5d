"""The CLI: a batch with a bad file scores the rest, reports the failure and exits non-zero."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from tfqa.cli import app

runner = CliRunner()


def test_score_batch_with_one_bad_file(tmp_path, synth_clip, monkeypatch):
    monkeypatch.setenv("TFQA_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.mp4").write_bytes(synth_clip("clean").read_bytes())
    (folder / "broken.mp4").write_bytes(b"")
    out = tmp_path / "r.csv"
    res = runner.invoke(app, ["score", str(folder), "--out", str(out)])
    assert res.exit_code == 1, res.output
    rows = {r["path"].split("/")[-1]: r for r in csv.DictReader(out.open())}
    assert rows["good.mp4"]["status"] == "ok" and rows["broken.mp4"]["status"] == "error"
    assert "empty" in rows["broken.mp4"]["error"]
    header = next(csv.reader(out.open()))
    assert header[:8] == ["path", "lip_sync", "expression", "audio_quality", "cross_modal", "overall",
                          "av_offset_ms", "sync_confidence"]  # fmt: skip
    for d in ("lip_sync", "expression", "audio_quality", "cross_modal", "overall"):
        assert 1.0 <= float(rows["good.mp4"][d]) <= 5.0
    full = json.loads(out.with_suffix(".json").read_text())
    good = next(r for r in full if r["path"].endswith("good.mp4"))
    assert "sync.offset_ms" in good["curves"] and "audio.dnsmos_ovrl" in good["curves"]
    assert good["evidence"]["face_coverage"] > 0.9 and good["scorer"] == "learned"  # the default
    # the zero-shot scorer (same cached features) also says which evidence drove each score
    res = runner.invoke(app, ["score", str(folder / "good.mp4"), "--scorer", "zero-shot",
                              "--out", str(tmp_path / "z.json")])  # fmt: skip
    assert res.exit_code == 0, res.output
    (zs,) = json.loads((tmp_path / "z.json").read_text())
    assert zs["scorer"] == "zero-shot" and set(zs["subscores"]["lip_sync"]) == {
        "offset", "confidence", "articulation"}  # fmt: skip
    # an HTML report (scores, members, figures) with the full JSON beside it
    res = runner.invoke(app, ["score", str(folder), "--out", str(tmp_path / "report.html")])
    assert res.exit_code == 1, res.output  # the broken file still counts
    page = (tmp_path / "report.html").read_text()
    assert "good.mp4" in page and "broken.mp4" in page and "data:image/png;base64," in page
    assert len(json.loads((tmp_path / "report.json").read_text())) == 2
    # the Transformer alone (--trees none): its score is the default's "transformer" member
    res = runner.invoke(app, ["score", str(folder / "good.mp4"), "--trees", "none",
                              "--out", str(tmp_path / "t.json")])  # fmt: skip
    assert res.exit_code == 0, res.output
    (alone,) = json.loads((tmp_path / "t.json").read_text())
    for d, members in good["subscores"].items():
        assert abs(alone["scores"][d] - members["transformer"]) < 1e-3
    res = runner.invoke(
        app, ["score", str(folder / "good.mp4"), "--trees", str(tmp_path / "no.npz")]
    )
    assert res.exit_code != 0 and "tree model not found" in res.output


def test_score_nothing_found(tmp_path):
    res = runner.invoke(app, ["score", str(tmp_path)])
    assert res.exit_code == 2 and "no video files" in res.output


def test_info_names_the_problem(tmp_path):
    p = tmp_path / "x.mp4"
    p.write_text("hello")
    res = runner.invoke(app, ["info", str(p)])
    assert res.exit_code == 1 and "not a readable video" in res.output


def test_synth_rejects_unknown_field(tmp_path):
    res = runner.invoke(app, ["synth", str(tmp_path / "a.mp4"), "--set", "av_ofset_ms=10"])
    assert res.exit_code == 2 and "av_offset_ms" in res.output


def test_mounting_the_sub_apps_leaves_them_intact():
    from tfqa.cli_learning import app as learning_app

    names = [c.name or c.callback.__name__ for c in learning_app.registered_commands]
    assert names.count("train") == 1 and "bench-train" in names  # `tfqa train` stays the trainer
    res = runner.invoke(app, ["bench", "train", "--help"])
    assert res.exit_code == 0 and "tfqa bench train" in res.output


def test_bench_speed_refuses_bad_worker_counts():
    for bad in ("two", "0,1"):
        res = runner.invoke(app, ["bench", "speed", "--workers", bad])
        assert res.exit_code == 2 and "--workers" in res.output, res.output


def test_tfqa_workers_env_is_checked(monkeypatch):
    import pytest

    from tfqa.errors import ConfigError
    from tfqa.features.pipeline import default_workers

    monkeypatch.setenv("TFQA_WORKERS", "1")
    assert default_workers() == 1
    monkeypatch.setenv("TFQA_WORKERS", "lots")
    with pytest.raises(ConfigError, match="TFQA_WORKERS"):
        default_workers()


def test_relabel_names_a_folder_without_a_manifest(tmp_path):
    res = runner.invoke(app, ["relabel", str(tmp_path)])
    assert res.exit_code == 2
    assert "no manifest to relabel" in res.output and str(tmp_path) in res.output
