"""Studies, their trials and the raters' answers, in the service's SQLite database.

Answers are stored in terms of the pair's own A and B (not the screen side), together
with the side A was shown on, so position effects can be analysed and undone.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tfqa.errors import ConfigError
from tfqa.scoring import DIMENSIONS
from tfqa.service.store import connect
from tfqa.service.study.design import Pair, assign_trials, rater_ids

CHOICES = ("A", "B", "equal")
EXPORT_COLUMNS = (
    "rater", "pair", "dimension", "choice", "time",
    # extras after the five required columns
    "study", "trial", "video_a", "video_b", "method_a", "method_b", "a_side", "shown_choice", "rt_ms",
)  # fmt: skip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at REAL NOT NULL, seed INTEGER NOT NULL,
    secret TEXT NOT NULL, dimensions_json TEXT NOT NULL, source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS study_pairs (
    study_id TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE, pair_id TEXT NOT NULL,
    video_a TEXT NOT NULL, video_b TEXT NOT NULL, method_a TEXT NOT NULL, method_b TEXT NOT NULL,
    PRIMARY KEY (study_id, pair_id)
);
CREATE TABLE IF NOT EXISTS study_trials (
    study_id TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE, rater TEXT NOT NULL,
    trial INTEGER NOT NULL, pair_id TEXT NOT NULL, a_left INTEGER NOT NULL,
    PRIMARY KEY (study_id, rater, trial)
);
CREATE TABLE IF NOT EXISTS study_answers (
    study_id TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE, rater TEXT NOT NULL,
    trial INTEGER NOT NULL, pair_id TEXT NOT NULL, dimension TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('A', 'B', 'equal')), a_left INTEGER NOT NULL,
    time TEXT NOT NULL, rt_ms INTEGER,
    PRIMARY KEY (study_id, rater, pair_id, dimension)
);
"""


@dataclass(frozen=True)
class Trial:
    """One screen of a rater: a pair, with A on the left or the right."""

    study_id: str
    rater: str
    trial: int
    pair: Pair
    a_left: bool

    def side_video(self, side: str) -> Path:
        """The video shown on ``side`` (``"left"``/``"right"``)."""
        a_side = "left" if self.a_left else "right"
        return self.pair.video_a if side == a_side else self.pair.video_b

    def to_choice(self, shown: str) -> str:
        """Screen answer (``left``/``right``/``equal``) -> the pair's ``A``/``B``/``equal``."""
        if shown == "equal":
            return "equal"
        return "A" if (shown == "left") == self.a_left else "B"

    def to_shown(self, choice: str) -> str:
        if choice == "equal":
            return "equal"
        return "left" if (choice == "A") == self.a_left else "right"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32] or "study"


class StudyStore:
    """Create studies, serve trials, record answers, export them."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        with self._conn() as c:
            c.executescript(_SCHEMA)

    @contextmanager
    def _conn(self) -> Iterator[Any]:
        conn = connect(self.db_path)
        try:
            yield conn
        finally:
            conn.close()

    # -- creation -------------------------------------------------------------------

    def create(
        self, pairs: list[Pair], *, n_raters: int, seed: int = 0, name: str = "study", source=""
    ) -> str:
        """Store a study with ``n_raters`` raters (``r01``...) and their trial orders; its id."""
        if n_raters < 1:
            raise ConfigError(f"expected at least 1 rater, got {n_raters}")
        study_id = f"{_slug(name)}-{secrets.token_hex(3)}"
        raters = rater_ids(n_raters)
        trials = assign_trials([p.pair_id for p in pairs], raters, seed)
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            c.execute(
                "INSERT INTO studies VALUES (?, ?, ?, ?, ?, ?, ?)",
                (study_id, name, time.time(), seed, secrets.token_hex(16),
                 json.dumps(list(DIMENSIONS)), str(source)),
            )  # fmt: skip
            c.executemany(
                "INSERT INTO study_pairs VALUES (?, ?, ?, ?, ?, ?)",
                [(study_id, p.pair_id, str(p.video_a), str(p.video_b), p.method_a, p.method_b)
                 for p in pairs],
            )  # fmt: skip
            c.executemany(
                "INSERT INTO study_trials VALUES (?, ?, ?, ?, ?)",
                [(study_id, r, i, pid, int(a_left))
                 for r, order in trials.items() for i, (pid, a_left) in enumerate(order)],
            )  # fmt: skip
            c.execute("COMMIT")
        return study_id

    # -- reading --------------------------------------------------------------------

    def study(self, study_id: str) -> dict[str, Any] | None:
        with self._conn() as c:
            row = c.execute("SELECT * FROM studies WHERE id = ?", (study_id,)).fetchone()
        if row is None:
            return None
        return {
            "id": row["id"],
            "name": row["name"],
            "created_at": row["created_at"],
            "seed": row["seed"],
            "dimensions": json.loads(row["dimensions_json"]),
            "source": row["source"],
        }

    def list_studies(self) -> list[dict[str, Any]]:
        with self._conn() as c:
            ids = [r[0] for r in c.execute("SELECT id FROM studies ORDER BY created_at")]
        return [self.summary(i) for i in ids]

    def raters(self, study_id: str) -> list[str]:
        with self._conn() as c:
            rows = c.execute(
                "SELECT DISTINCT rater FROM study_trials WHERE study_id = ? ORDER BY rater",
                (study_id,),
            ).fetchall()
        return [r[0] for r in rows]

    def pairs(self, study_id: str) -> list[Pair]:
        with self._conn() as c:
            rows = c.execute(
                "SELECT * FROM study_pairs WHERE study_id = ? ORDER BY pair_id", (study_id,)
            ).fetchall()
        return [_pair(r) for r in rows]

    def rater_key(self, study_id: str, rater: str) -> str:
        """The key in a rater's link (an HMAC of the study's secret; raters cannot forge others')."""
        with self._conn() as c:
            row = c.execute("SELECT secret FROM studies WHERE id = ?", (study_id,)).fetchone()
        if row is None:
            raise KeyError(study_id)
        msg = f"{study_id}:{rater}".encode()
        return hmac.new(row["secret"].encode(), msg, hashlib.sha256).hexdigest()[:24]

    def check_key(self, study_id: str, rater: str, key: str) -> bool:
        if rater not in self.raters(study_id):
            return False
        return hmac.compare_digest(self.rater_key(study_id, rater), key or "")

    def trial(self, study_id: str, rater: str, index: int) -> Trial | None:
        with self._conn() as c:
            row = c.execute(
                "SELECT t.trial, t.a_left, p.* FROM study_trials t JOIN study_pairs p"
                " ON p.study_id = t.study_id AND p.pair_id = t.pair_id"
                " WHERE t.study_id = ? AND t.rater = ? AND t.trial = ?",
                (study_id, rater, index),
            ).fetchone()
        if row is None:
            return None
        return Trial(study_id, rater, row["trial"], _pair(row), bool(row["a_left"]))

    def progress(self, study_id: str, rater: str) -> list[dict[str, Any]]:
        """Each trial of ``rater`` with the number of dimensions answered."""
        with self._conn() as c:
            rows = c.execute(
                "SELECT t.trial, COUNT(a.dimension) AS n FROM study_trials t"
                " LEFT JOIN study_answers a ON a.study_id = t.study_id AND a.rater = t.rater"
                " AND a.pair_id = t.pair_id WHERE t.study_id = ? AND t.rater = ?"
                " GROUP BY t.trial ORDER BY t.trial",
                (study_id, rater),
            ).fetchall()
        return [{"trial": r["trial"], "answered": r["n"]} for r in rows]

    def answers_of(self, trial: Trial) -> dict[str, str]:
        with self._conn() as c:
            rows = c.execute(
                "SELECT dimension, choice FROM study_answers WHERE study_id = ? AND rater = ?"
                " AND pair_id = ?",
                (trial.study_id, trial.rater, trial.pair.pair_id),
            ).fetchall()
        return {r["dimension"]: r["choice"] for r in rows}

    def summary(self, study_id: str) -> dict[str, Any]:
        info = self.study(study_id) or {"id": study_id}
        with self._conn() as c:
            rows = c.execute(
                "SELECT t.rater, COUNT(DISTINCT t.pair_id) AS n_trials,"
                " (SELECT COUNT(*) FROM study_answers a WHERE a.study_id = t.study_id"
                "  AND a.rater = t.rater) AS n_answers"
                " FROM study_trials t WHERE t.study_id = ? GROUP BY t.rater ORDER BY t.rater",
                (study_id,),
            ).fetchall()
        n_dims = len(info.get("dimensions", DIMENSIONS))
        info["raters"] = [
            {
                "rater": r["rater"],
                "trials": r["n_trials"],
                "answers": r["n_answers"],
                "complete": r["n_answers"] == r["n_trials"] * n_dims,
            }
            for r in rows
        ]
        info["n_pairs"] = len(self.pairs(study_id))
        return info

    # -- answers ----------------------------------------------------------------------

    def answer(self, trial: Trial, choices: dict[str, str], rt_ms: int | None = None) -> None:
        """Record (or replace) the rater's answers of one trial; ``choices`` are A/B/equal."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            c.executemany(
                "INSERT INTO study_answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (study_id, rater, pair_id, dimension) DO UPDATE SET"
                " choice = excluded.choice, time = excluded.time, rt_ms = excluded.rt_ms,"
                " trial = excluded.trial, a_left = excluded.a_left",
                [(trial.study_id, trial.rater, trial.trial, trial.pair.pair_id, dim, choice,
                  int(trial.a_left), now, rt_ms) for dim, choice in choices.items()],
            )  # fmt: skip
            c.execute("COMMIT")

    def export_rows(self, study_id: str) -> list[dict[str, Any]]:
        """One row per answer, columns :data:`EXPORT_COLUMNS`, ordered by rater, trial, dimension."""
        dims = (self.study(study_id) or {}).get("dimensions", list(DIMENSIONS))
        order = {d: i for i, d in enumerate(dims)}
        with self._conn() as c:
            rows = c.execute(
                "SELECT a.*, p.video_a, p.video_b, p.method_a, p.method_b FROM study_answers a"
                " JOIN study_pairs p ON p.study_id = a.study_id AND p.pair_id = a.pair_id"
                " WHERE a.study_id = ? ORDER BY a.rater, a.trial",
                (study_id,),
            ).fetchall()
        out = []
        for r in sorted(rows, key=lambda r: (r["rater"], r["trial"], order.get(r["dimension"]))):
            a_left = bool(r["a_left"])
            shown = (
                "equal"
                if r["choice"] == "equal"
                else ("left" if (r["choice"] == "A") == a_left else "right")
            )
            out.append(
                {
                    "rater": r["rater"], "pair": r["pair_id"], "dimension": r["dimension"],
                    "choice": r["choice"], "time": r["time"], "study": study_id,
                    "trial": r["trial"], "video_a": r["video_a"], "video_b": r["video_b"],
                    "method_a": r["method_a"], "method_b": r["method_b"],
                    "a_side": "left" if a_left else "right", "shown_choice": shown,
                    "rt_ms": r["rt_ms"] if r["rt_ms"] is not None else "",
                }
            )  # fmt: skip
        return out

    def export_csv(self, study_id: str, out: str | Path) -> int:
        """Write ``ab_eval_results.csv``-style rows; returns the number of answers written."""
        rows = self.export_rows(study_id)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=EXPORT_COLUMNS)
            w.writeheader()
            w.writerows(rows)
        return len(rows)


def _pair(row: Any) -> Pair:
    return Pair(
        row["pair_id"], Path(row["video_a"]), Path(row["video_b"]), row["method_a"], row["method_b"]
    )
