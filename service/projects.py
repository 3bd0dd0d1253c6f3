"""Projects in the database: made with their parties' cards, holding uploads, queuing runs.

A project's packages are fixed once its first run is queued: a later package is refused,
so every run of a project links the same packages and old results stay meaningful.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keys import Keyring
from keys.card import Card
from service.db import Party, Project, Run, Upload, now
from service.errors import Conflict, NotFound, ServiceError
from service.folder import DataFolder
from service.tokens import issue

RUN_OPTIONS = {"threshold": 0.5, "seed": 0, "term_frequencies": True}


def create_project(
    session: Session, folder: DataFolder, pepper: bytes, name: str, cards: list[Card]
) -> dict[str, str]:
    """Record the project and its parties (roles from their cards) and put their cards in the
    project's own keyring; return one new token per party."""
    if session.scalar(select(Project.id).where(Project.name == name)) is not None:
        raise ServiceError(f"project {name!r} already exists")
    roles = [card.role for card in cards]
    if roles.count("analyst") != 1 or roles.count("custodian") < 2 or "ttp" in roles:
        raise ServiceError("a project needs at least two custodians' cards and one analyst's")
    keyring = Keyring(folder.keyring_home(name))
    project = Project(name=name, created=now())
    session.add(project)
    session.flush()
    tokens = {}
    for card in cards:
        keyring.add(card)
        session.add(
            Party(
                project_id=project.id, name=card.name, role=card.role, fingerprint=card.fingerprint
            )
        )
        tokens[card.name] = issue(session, pepper, card.role, project, card.name)
    return tokens


def project_named(session: Session, name: str) -> Project:
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        raise NotFound(f"no project called {name!r}")
    return project


def current_uploads(session: Session, project: Project, kind: str | None = None) -> list[Upload]:
    query = select(Upload).where(Upload.project_id == project.id, Upload.current)
    if kind:
        query = query.where(Upload.kind == kind)
    return list(session.scalars(query.order_by(Upload.id)))


def refuse_if_frozen(session: Session, project: Project, name: str) -> None:
    """Packages are fixed once a run is queued: refuse another, in one line."""
    run = session.scalar(select(Run.id).where(Run.project_id == project.id).limit(1))
    if run is not None:
        raise Conflict(
            f"{name}: refused: run {run} of project {project.name!r} has started, so its "
            "packages are fixed (make a new project for new packages)"
        )


def record_upload(session: Session, project: Project, upload: Upload) -> int | None:
    """Keep `upload` as its party's current file of its kind (and name, for released content);
    queue the first run when every custodian's package is held. The queued run's id, if any."""
    if upload.kind == "package":
        refuse_if_frozen(session, project, upload.name)
    same = [Upload.project_id == project.id, Upload.party == upload.party]
    same += [Upload.kind == upload.kind]
    if upload.kind == "released":
        same.append(Upload.name == upload.name)
    session.execute(update(Upload).where(*same).values(current=False))
    session.add(upload)
    if upload.kind != "package":
        return None
    session.flush()
    return queue_run(session, project, {}) if not _waiting_for(session, project) else None


def _waiting_for(session: Session, project: Project) -> list[str]:
    """The custodians whose package the project does not hold yet."""
    custodians = session.scalars(
        select(Party.name).where(Party.project_id == project.id, Party.role == "custodian")
    )
    held = {u.party for u in current_uploads(session, project, "package")}
    return sorted(set(custodians) - held)


def queue_run(session: Session, project: Project, options: dict) -> int:
    """A new run of the project's packages with `options` (others at their defaults)."""
    unknown = set(options) - set(RUN_OPTIONS)
    if unknown:
        raise ServiceError(f"unknown run options: {', '.join(sorted(unknown))}")
    waiting = _waiting_for(session, project)
    if waiting:
        raise ServiceError(
            f"project {project.name!r} is waiting for packages from {', '.join(waiting)}"
        )
    run = Run(
        project_id=project.id,
        state="queued",
        stage="waiting for the worker",
        progress=0.0,
        options={**RUN_OPTIONS, **options},
        attempts=0,
        created=now(),
    )
    session.add(run)
    session.flush()
    return run.id


def latest_completed(session: Session, project: Project) -> Run | None:
    return session.scalar(
        select(Run)
        .where(Run.project_id == project.id, Run.state == "completed")
        .order_by(Run.id.desc())
        .limit(1)
    )
