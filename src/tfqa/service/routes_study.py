"""Study routes: rater pages' API (keyed links) and study admin (bearer token).

A rater's link is ``/study/<study>?rater=<id>&k=<key>``; the key is an HMAC of the study's
secret, so a rater cannot answer as another.  Trials are served by screen side only
(``left``/``right``): the pair id, file names and methods never reach the rater page.
"""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from tfqa.service.errors import ServiceError
from tfqa.service.study.store import StudyStore, Trial

router = APIRouter(tags=["study"])

DIMENSION_HELP = {
    "lip_sync": "Lip sync: the mouth moves in time with the speech and articulates it clearly",
    "expression": "Expression: face and head motion look natural (not frozen, jittery or exaggerated)",
    "audio_quality": "Audio quality: the speech is clean, natural and undistorted",
    "cross_modal": "Cross-modal match: face and voice belong together (timing, energy, emotion)",
    "overall": "Overall: which video is better overall, including picture quality",
}


def _studies(request: Request) -> StudyStore:
    store = getattr(request.app.state, "studies", None)
    if store is None:
        store = request.app.state.studies = StudyStore(request.app.state.settings.db_path)
    return store


def _admin(request: Request) -> None:
    from tfqa.service.app import require_admin

    require_admin(request)


def _rater_trial(
    request: Request, study_id: str, rater: str, key: str, trial: int | None = None
) -> tuple[StudyStore, Trial | None]:
    studies = _studies(request)
    if studies.study(study_id) is None:
        raise ServiceError(404, "study_not_found", f"no study with id `{study_id[:60]}`")
    if not studies.check_key(study_id, rater, key):
        raise ServiceError(403, "bad_rater_link", "this rater link is not valid for the study")
    if trial is None:
        return studies, None
    t = studies.trial(study_id, rater, trial)
    if t is None:
        raise ServiceError(404, "trial_not_found", f"no trial {trial} for this rater")
    return studies, t


Key = Annotated[str, Query(alias="k", description="The key from the rater's link")]


@router.get("/studies/{study_id}/raters/{rater}", summary="A rater's study: trials and progress")
def rater_overview(study_id: str, rater: str, request: Request, k: Key = "") -> dict[str, Any]:
    studies, _ = _rater_trial(request, study_id, rater, k)
    info = studies.study(study_id)
    progress = studies.progress(study_id, rater)
    n_dims = len(info["dimensions"])
    pending = [p["trial"] for p in progress if p["answered"] < n_dims]
    return {
        "study": {"id": info["id"], "name": info["name"]},
        "rater": rater,
        "dimensions": [{"key": d, "label": DIMENSION_HELP.get(d, d)} for d in info["dimensions"]],
        "n_trials": len(progress),
        "n_done": len(progress) - len(pending),
        "next_trial": pending[0] if pending else None,
        "trials": progress,
    }


@router.get("/studies/{study_id}/raters/{rater}/trials/{trial}", summary="One trial (blinded)")
def rater_trial(
    study_id: str, rater: str, trial: int, request: Request, k: Key = ""
) -> dict[str, Any]:
    studies, t = _rater_trial(request, study_id, rater, k, trial)
    base = f"/api/v1/studies/{study_id}/raters/{rater}/trials/{trial}/video"
    return {
        "trial": trial,
        "videos": {side: f"{base}/{side}?k={k}" for side in ("left", "right")},
        "answers": {d: t.to_shown(c) for d, c in studies.answers_of(t).items()},
    }


@router.head(
    "/studies/{study_id}/raters/{rater}/trials/{trial}/video/{side}", include_in_schema=False
)  # the same handler; one operation in the schema
@router.get(
    "/studies/{study_id}/raters/{rater}/trials/{trial}/video/{side}",
    summary="A trial's left or right video (HTTP Range supported)",
)
def rater_video(
    study_id: str,
    rater: str,
    trial: int,
    side: Literal["left", "right"],
    request: Request,
    k: Key = "",
) -> FileResponse:
    _, t = _rater_trial(request, study_id, rater, k, trial)
    path = t.side_video(side)
    if not path.is_file():
        raise ServiceError(404, "file_missing", "this study video is no longer on the server")
    return FileResponse(path)  # media type guessed from the suffix


class TrialAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Literal["left", "right", "equal"]]
    rt_ms: Annotated[int | None, Field(ge=0)] = None


@router.put(
    "/studies/{study_id}/raters/{rater}/trials/{trial}", summary="Answer a trial (all dimensions)"
)
def answer_trial(
    study_id: str, rater: str, trial: int, body: TrialAnswer, request: Request, k: Key = ""
) -> dict[str, Any]:
    studies, t = _rater_trial(request, study_id, rater, k, trial)
    dims = studies.study(study_id)["dimensions"]
    missing = [d for d in dims if d not in body.answers]
    extra = [d for d in body.answers if d not in dims]
    if missing or extra:
        raise ServiceError(
            422,
            "validation_error",
            f"answer every dimension ({', '.join(dims)}); missing: {missing or 'none'}, "
            f"unknown: {extra or 'none'}",
        )
    studies.answer(t, {d: t.to_choice(body.answers[d]) for d in dims}, rt_ms=body.rt_ms)
    return {"ok": True, "trial": trial}


# -- admin -----------------------------------------------------------------------------


@router.get("/studies", summary="All studies with progress (admin)", dependencies=[Depends(_admin)])
def list_studies(request: Request) -> dict[str, Any]:
    return {"studies": _studies(request).list_studies()}


@router.get(
    "/studies/{study_id}",
    summary="A study: pairs, raters, their links and progress (admin)",
    dependencies=[Depends(_admin)],
)
def study_detail(study_id: str, request: Request) -> dict[str, Any]:
    studies = _studies(request)
    if studies.study(study_id) is None:
        raise ServiceError(404, "study_not_found", f"no study with id `{study_id[:60]}`")
    info = studies.summary(study_id)
    base = str(request.base_url).rstrip("/")
    for r in info["raters"]:
        key = studies.rater_key(study_id, r["rater"])
        r["link"] = f"{base}/study/{study_id}?rater={r['rater']}&k={key}"
    info["pairs"] = [
        {"pair_id": p.pair_id, "video_a": p.video_a.name, "video_b": p.video_b.name,
         "method_a": p.method_a, "method_b": p.method_b}
        for p in studies.pairs(study_id)
    ]  # fmt: skip
    return info


@router.get(
    "/studies/{study_id}/export.csv",
    summary="The answers as ab_eval_results.csv (admin)",
    dependencies=[Depends(_admin)],
)
def export_study(study_id: str, request: Request) -> StreamingResponse:
    import csv

    from tfqa.service.study.store import EXPORT_COLUMNS

    studies = _studies(request)
    if studies.study(study_id) is None:
        raise ServiceError(404, "study_not_found", f"no study with id `{study_id[:60]}`")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS)
    w.writeheader()
    w.writerows(studies.export_rows(study_id))
    return StreamingResponse(
        iter([buf.getvalue()]),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="ab_eval_results.csv"'},
    )
