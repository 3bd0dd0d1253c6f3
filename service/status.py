"""What the status JSON and the status page show: per project, the parties, what each has
uploaded (sizes, times, SHA-256, never content), and every run with its stage and, once
linked, the headline figures of its quality report."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session

from service.db import Run
from service.projects import current_uploads, project_named
from service.state import Service
from service.tokens import Holder


def status(service: Service, who: Holder) -> dict:
    return {
        "you": {"role": who.role, "project": who.project, "party": who.party},
        "projects": [_project(service, name) for name in service.projects_for(who)],
    }


def _project(service: Service, name: str) -> dict:
    with Session(service.engine) as session:
        uploads = current_uploads(session, project_named(session, name))
    return {
        "name": name,
        "parties": [
            {
                "name": party.name,
                "role": party.role,
                "fingerprint": party.fingerprint,
                "uploads": [
                    {
                        "name": u.name,
                        "kind": u.kind,
                        "size": u.size,
                        "sha256": u.sha256,
                        "uploaded": u.created.isoformat(timespec="seconds"),
                    }
                    for u in uploads
                    if u.party == party.name
                ],
            }
            for party in service.parties(name)
        ],
        "runs": [_run(service, name, run) for run in service.runs(name)],
    }


def _run(service: Service, project: str, run: Run) -> dict:
    shown = {
        "id": run.id,
        "state": run.state,
        "stage": run.stage,
        "progress": round(run.progress, 3),
        "error": run.error,
        "options": run.options,
        "attempts": run.attempts,
        "created": _when(run.created),
        "started": _when(run.started),
        "finished": _when(run.finished),
    }
    if run.state == "completed":
        shown["quality"] = _quality(service.folder.run(project, run.id) / "quality.json")
    return shown


def _quality(path: Path) -> dict:
    figures = json.loads(path.read_text())
    return {
        "persons": figures["persons"]["total"],
        "accepted_links": figures["links"]["accepted"],
        "candidate_pairs": figures["links"]["candidate_pairs"],
        "expected_false_matches": figures["links"]["expected_false_matches"],
        "estimated_missed_matches": figures["links"]["estimated_missed_matches"],
        "sources": [
            {"party": s["party"], "records": s["records"], "linked": s["linked"]}
            for s in figures["sources"]
        ],
    }


def _when(moment) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None
