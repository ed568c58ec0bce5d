"""The HTML report of `tfqa score --out report.html`: self-contained, escaped, one figure per clip."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tfqa.report import score_colour, write_html_report
from tfqa.scoring import ScoreResult, write_results


def _result(name: str, level: float) -> ScoreResult:
    seconds, frames = 6, 150
    t = np.arange(frames) / 25.0
    return ScoreResult(
        path=f"/data/{name}",
        scores={d: level for d in ("lip_sync", "expression", "audio_quality", "cross_modal", "overall")},
        evidence={"av_offset_ms": 80.0, "sync_confidence": 0.41, "face_coverage": 0.5, "dnsmos_ovrl": 3.2},
        subscores={"lip_sync": {"transformer": level - 0.25, "trees": level + 0.25}},
        curves={"sync.offset_ms": [80.0] * (seconds - 1) + [None], "sync.confidence": [0.4] * seconds,
                "audio.dnsmos_ovrl": [3.2] * seconds, "face.face_present": [1.0] * seconds},
        traces={"sync.mouth_observed": list(np.sin(t)), "sync.mouth_predicted_at_offset": list(np.cos(t))},
        warnings=["face lost in 50% of the frames: scored the frames with a face"],
        media={"width": 512, "height": 512, "fps": 25.0, "duration_s": 6.0,
               "video_codec": "h264", "audio_codec": "aac"},
        scorer="learned",
    )  # fmt: skip


def test_score_colours_run_from_red_to_green():
    assert score_colour(1.0) == "hsl(0,70%,80%)"
    assert score_colour(3.0) == "hsl(60,70%,80%)"
    assert score_colour(5.0) == "hsl(120,70%,80%)"
    assert score_colour(9.0) == score_colour(5.0) and score_colour(float("nan")) == "#eee"


def test_report_holds_every_clip_escaped_with_its_figure(tmp_path):
    results = [
        _result("good.mp4", 4.25),
        _result("poor.mp4", 1.5),
        ScoreResult.failed("/data/<broken>.mp4", ValueError("the file is empty"), "learned"),
    ]
    out = write_results(results, tmp_path / "report.html")  # the suffix picks the report
    page = out.read_text()
    assert page.count("data:image/png;base64,") == 2  # one figure per scored clip
    assert "&lt;broken&gt;.mp4" in page and "<broken>" not in page
    assert "the file is empty" in page and "3 clip(s), 1 could not be scored" in page
    assert ">4.25<" in page and ">4.00<" in page and ">4.50<" in page  # score and its two members
    assert "+80" in page and "50%" in page and "face lost in 50%" in page
    assert score_colour(1.5) in page and score_colour(4.25) in page
    # self-contained: nothing is fetched from anywhere
    assert not re.search(r"""(src|href)=['"]?(https?:|//)""", page) and "<script" not in page


@pytest.mark.parametrize("limit", [0, 1])
def test_figures_stop_at_the_limit_and_say_so(tmp_path, limit):
    results = [_result("a.mp4", 3.0), _result("b.mp4", 3.0)]
    page = write_html_report(results, tmp_path / "r.html", max_figures=limit).read_text()
    assert page.count("data:image/png;base64,") == limit
    assert f"Figures for the first {limit} clips only" in page
