"""The web page and the rater page in a real headless Chromium (Debian's, driven by Playwright).

Install the browser with ``scripts/install-browser.sh``; without it these tests skip.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DIMS = ["lip_sync", "expression", "audio_quality", "cross_modal", "overall"]

pytestmark = pytest.mark.browser


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: run scripts/install-browser.sh (Debian's chromium package)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


if _skip_reason():
    pytest.skip(_skip_reason(), allow_module_level=True)


@pytest.fixture(scope="module")
def media_root(tmp_path_factory, tiny_clip, tiny_clip_b):
    root = tmp_path_factory.mktemp("media")
    for clip in (tiny_clip, tiny_clip_b):
        shutil.copy(clip, root / clip.name)
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory, media_root):
    from tests.service.conftest import LiveServer

    srv = LiveServer(
        tmp_path_factory.mktemp("web") / "data", "--workers", "1", "--allowed-root", str(media_root)
    )
    srv.wait_ready(workers_alive=1)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        yield ctx
        ctx.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    pg.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


# Count the pixels a chart drew in colour (grid and text are grey): proof the curves were drawn.
COLOURED_PIXELS_JS = """(c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const [r, g, b, a] = [d[i], d[i + 1], d[i + 2], d[i + 3]];
    if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
  }
  return n;
}"""


def test_upload_watch_finish_see_scores_and_curves(server, page, tiny_clip):
    page.goto(server.base + "/")
    page.set_input_files("#file-input", str(tiny_clip))
    page.wait_for_function("location.hash.startsWith('#/job/')", timeout=30_000)
    assert page.locator("#upload-progress").get_attribute("value") == "100"
    job_id = page.evaluate("location.hash.split('/')[2]")
    page.wait_for_selector("#view-job[data-rendered='1']", timeout=150_000)

    result = server.http.get(f"/jobs/{job_id}/result").json()
    rows = page.locator("#scores .row")
    assert rows.count() == 5
    for i, dim in enumerate(DIMS):
        row = rows.nth(i)
        assert row.get_attribute("data-dim") == dim
        assert row.locator(".value").inner_text() == f"{result['scores'][dim]:.2f}"
        # the sub-scores behind it (the default scorer: its two members) on hover
        members = result["subscores"].get(dim, {})
        assert result["scorer"] != "learned" or set(members) == {"transformer", "trees"}
        want = " · ".join(f"{k} {v:.2f}" for k, v in members.items())
        assert row.get_attribute("title") == want
    assert page.locator("#job-title").inner_text() == tiny_clip.name

    for chart, min_points in (("sync", 2), ("mouth", 100), ("dnsmos", 1), ("face", 2)):
        canvas = page.locator(f"#chart-{chart}")
        assert int(canvas.get_attribute("data-points")) >= min_points, chart
        assert canvas.evaluate(COLOURED_PIXELS_JS) > 50, f"chart {chart} drew nothing"
    assert (
        page.locator("#chart-mouth")
        .get_attribute("data-series")
        .startswith("mouth opening,speech energy")
    )
    cov = result["evidence"]["face_coverage"]
    assert f"{cov * 100:.0f} %" in page.locator("#face-coverage").inner_text()
    offset_row = page.locator("#evidence tr[data-key='av_offset_ms'] td").nth(1)
    # shown to 3 significant digits (0 decimals from 100 up)
    assert float(offset_row.inner_text()) == pytest.approx(
        result["evidence"]["av_offset_ms"], abs=0.51
    )

    # The cursor follows the video: seek the real player and read the charts back.
    page.wait_for_function("document.querySelector('#player').readyState >= 1", timeout=20_000)
    page.evaluate("document.querySelector('#player').currentTime = 1.2")
    page.wait_for_function(
        "document.querySelector('#chart-sync').dataset.cursor === '1.20'", timeout=10_000
    )
    assert page.locator("#chart-dnsmos").get_attribute("data-cursor") == "1.20"

    page.goto(server.base + "/#/")
    row = page.locator(f"#queue-table tr[data-job-id='{job_id}']")
    row.wait_for(timeout=10_000)
    assert row.get_attribute("data-status") == "done"


def test_compare_two_results(server, page, media_root):
    ids = []
    for name in ("svc_tiny.mp4", "svc_tiny_b.mp4"):
        r = server.http.post("/jobs/from-path", json={"path": str(media_root / name)})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    for job_id in ids:
        assert server.wait_job(job_id, timeout=150)["status"] == "done"
    page.goto(server.base + "/")
    for job_id in ids:
        box = page.locator(f"#queue-table tr[data-job-id='{job_id}'] input[type=checkbox]")
        box.wait_for(timeout=10_000)
        box.check()
    page.click("#compare-selected")
    page.wait_for_selector(".compare-card", timeout=10_000)
    cards = page.locator(".compare-card")
    page.wait_for_function(
        "document.querySelectorAll('.compare-card canvas[data-points]').length === 6"
    )
    assert cards.count() == 2
    for i, job_id in enumerate(ids):
        card = cards.nth(i)
        assert card.get_attribute("data-job-id") == job_id
        result = server.http.get(f"/jobs/{job_id}/result").json()
        assert card.locator(".scores .row[data-dim='lip_sync'] .value").inner_text() == (
            f"{result['scores']['lip_sync']:.2f}"
        )
        assert card.locator("tr[data-key='av_offset_ms']").count() == 1
        canvas = card.locator("canvas[data-chart='sync']")
        assert canvas.evaluate(COLOURED_PIXELS_JS) > 50


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Each rater's clicks per trial, by screen side: the export must turn them into A/B.
CLICKS = {
    "r01": {"lip_sync": "left", "expression": "right", "audio_quality": "equal",
            "cross_modal": "left", "overall": "right"},
    "r02": dict.fromkeys(DIMS, "left"),
}  # fmt: skip


def test_short_ab_study_export_and_analysis_match_the_clicks(server, page, media_root, tmp_path):
    from tfqa.cli import app
    from tfqa.service.study.store import StudyStore

    a, b = media_root / "svc_tiny.mp4", media_root / "svc_tiny_b.mp4"
    pairs_csv = tmp_path / "pairs.csv"
    pairs_csv.write_text(
        f"pair_id,video_a,video_b,method_a,method_b\np1,{a},{b},m1,m2\np2,{b},{a},m2,m1\n"
    )
    runner = CliRunner()
    data_dir = server.data_dir
    r = runner.invoke(app, ["study", "create", str(pairs_csv), "--data-dir", str(data_dir),
                            "--raters", "2", "--base-url", server.base])  # fmt: skip
    assert r.exit_code == 0, r.output
    links = dict(line.split("\t") for line in r.stdout.strip().splitlines())
    store = StudyStore(data_dir / "tfqa.db")
    by_sha = {_sha(p.read_bytes()): p.resolve() for p in (a, b)}
    pair_of = {("p1", a.resolve()): "A", ("p1", b.resolve()): "B",
               ("p2", b.resolve()): "A", ("p2", a.resolve()): "B"}  # fmt: skip
    expected = {}  # (rater, trial) -> {dim: A/B/equal}
    for rater, clicks in CLICKS.items():
        page.goto(links[rater])
        for trial in range(2):
            page.wait_for_selector(
                f"#study-trial[data-trial='{trial}']:not([hidden])", timeout=15_000
            )
            src = page.locator("#video-left").get_attribute("src")
            left = by_sha[_sha(server.http.get(src.removeprefix("/api/v1")).content)]
            pair_id = store.trial(store.list_studies()[0]["id"], rater, trial).pair.pair_id
            assert page.locator("#submit-trial").is_disabled()
            for dim, side in clicks.items():
                page.check(f".question[data-dim='{dim}'] input[value='{side}']")
                if side == "equal":
                    expected[(rater, pair_id, dim)] = "equal"
                else:
                    video = left if side == "left" else ({a.resolve(), b.resolve()} - {left}).pop()
                    expected[(rater, pair_id, dim)] = pair_of[(pair_id, video)]
            page.click("#submit-trial")
            if trial == 0:
                page.wait_for_selector("#study-trial[data-trial='1']", timeout=15_000)
        page.wait_for_selector("body[data-done='1']", timeout=15_000)
        assert page.locator("#study-done").is_visible()

    out = tmp_path / "ab_eval_results.csv"
    r = runner.invoke(app, ["study", "export", "--data-dir", str(data_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 * 2 * 5
    assert {(x["rater"], x["pair"], x["dimension"]): x["choice"] for x in rows} == expected
    assert all(x["time"] for x in rows)

    # Scores of the two clips (a scorer preferring clip b on every dimension).
    scores = [{"path": str(p), "scorer": "fixed", "status": "ok",
               "scores": dict.fromkeys(DIMS, 4.0 if p == b else 2.0)} for p in (a, b)]  # fmt: skip
    sfile = tmp_path / "scores.json"
    sfile.write_text(json.dumps(scores))
    outdir = tmp_path / "analysis"
    r = runner.invoke(app, ["study", "analyze", str(out), "--scores", str(sfile),
                            "--out-dir", str(outdir), "--n-resamples", "50"])  # fmt: skip
    assert r.exit_code == 0, r.output
    report = json.loads((outdir / "analysis.json").read_text())
    # Majority per (pair, dimension) recomputed from the clicks.
    for m in report["majority"]:
        votes = [expected[(rt, m["pair"], m["dimension"])] for rt in CLICKS]
        want = votes[0] if votes[0] == votes[1] else "none"
        assert m["majority"] == want, m
    # Pairwise agreement per dimension = share of pairs where the two raters agreed.
    for ir in report["inter_rater"]:
        same = [expected[("r01", p, ir["dimension"])] == expected[("r02", p, ir["dimension"])]
                for p in ("p1", "p2")]  # fmt: skip
        assert ir["pairwise_agreement"] == pytest.approx(sum(same) / 2)
    for ag in report["agreement"]:
        dim = ag["dimension"]
        decided = [(p, expected[("r01", p, dim)]) for p in ("p1", "p2")
                   if expected[("r01", p, dim)] == expected[("r02", p, dim)]]  # fmt: skip
        scorer = {"p1": "B", "p2": "A"}  # b is better; b is B in p1 and A in p2
        want = sum(scorer[p] == c for p, c in decided) / len(decided) if decided else None
        assert ag["agreement"] == (pytest.approx(want) if want is not None else None)
    assert (outdir / "bradley_terry.png").stat().st_size > 5000
    assert "Bradley–Terry" in (outdir / "report.md").read_text()
