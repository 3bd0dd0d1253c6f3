"""The service's working parts in one place: the data folder, the database, the TTP's key,
and what a token holder may upload, read and fetch."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from keys import Identity
from service import chainlog
from service.db import Party, Project, Run, Upload, now
from service.errors import Forbidden, NotFound, ServiceError
from service.folder import DataFolder
from service.intake import check_upload
from service.projects import (
    current_uploads,
    latest_completed,
    project_named,
    record_upload,
    refuse_if_frozen,
)
from service.tokens import Holder, holder

_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
TTP_OUTPUTS = ("person_quality", "uncertain_links")  # the analyst's, from each run


@dataclass(frozen=True)
class Received:
    """An upload written whole to the incoming folder, not yet checked."""

    path: Path
    size: int
    sha256: str


@dataclass
class Service:
    folder: DataFolder
    engine: Engine
    identity: Identity
    max_upload: int
    pepper: bytes = b""
    # uploads are recorded one at a time, so the last custodian's queues exactly one run
    recording: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.pepper = self.folder.pepper()

    def holder(self, token: str | None) -> Holder:
        with Session(self.engine) as session:
            return holder(session, self.pepper, token)

    def log(self, event: str, who: Holder | None, **fields: str) -> None:
        party = (who.party or who.role) if who else ""
        project = fields.pop("project", who.project if who else "") or ""
        chainlog.append(self.folder.log, event, project=project, party=party, **fields)

    def before_upload(self, who: Holder, name: str) -> None:
        """Refusals that need no bytes: a bad name, an analyst's token, fixed packages."""
        if not _FILE_NAME.fullmatch(name):
            raise ServiceError(f"{name!r}: not a file name the service keeps")
        if who.role != "custodian":
            raise Forbidden(f"{name}: only a custodian's token may upload")
        if not name.endswith(".released"):
            with Session(self.engine) as session:
                refuse_if_frozen(session, project_named(session, who.project), name)

    def accept(self, who: Holder, name: str, received: Received) -> tuple[str, int | None]:
        """Check the upload, move it into the project's folder and record it: its kind and the
        run it queued, if it was the last package. Refused uploads are removed."""
        try:
            with Session(self.engine) as session:
                project = project_named(session, who.project)
                others = {
                    u.party: u.facts
                    for u in current_uploads(session, project, "package")
                    if u.party != who.party
                }
            kind, facts = check_upload(
                received.path,
                name,
                who,
                identity=self.identity,
                home=self.folder.keyring_home(who.project),
                others=others,
            )
            if kind == "released" and not name.startswith(f"{who.party}."):
                raise ServiceError(
                    f"{name}: released content must be named {who.party}.KIND.released"
                )
            return kind, self._keep(who, name, received, kind, facts)
        finally:
            received.path.unlink(missing_ok=True)

    def _keep(
        self, who: Holder, name: str, received: Received, kind: str, facts: dict
    ) -> int | None:
        folder = self.folder.uploads(who.project)
        folder.mkdir(parents=True, exist_ok=True)
        kept = folder / f"{received.sha256[:16]}.{name}"
        os.replace(received.path, kept)
        with self.recording, Session(self.engine) as session, session.begin():
            project = project_named(session, who.project)
            upload = Upload(
                project_id=project.id,
                party=who.party,
                kind=kind,
                name=name,
                path=str(kept.relative_to(self.folder.root)),
                size=received.size,
                sha256=received.sha256,
                facts=facts,
                current=True,
                created=now(),
            )
            try:
                return record_upload(session, project, upload)
            except ServiceError:
                kept.unlink(missing_ok=True)
                raise

    def fetchable(self, who: Holder) -> dict[str, Path]:
        """What is sealed to this party and ready: by the name it is fetched under."""
        if who.is_admin:
            return {}
        with Session(self.engine) as session:
            project = project_named(session, who.project)
            run = latest_completed(session, project)
            results = self.folder.run(project.name, run.id) if run else None
            if who.role == "custodian":
                names = [f"{who.party}.links"]
                files = {n: results / n for n in names if results}
            else:
                files = {n: results / n for n in TTP_OUTPUTS if results}
                for upload in current_uploads(session, project, "released"):
                    files[upload.name] = self.folder.root / upload.path
        return files

    def fetch(self, who: Holder, name: str) -> Path:
        path = self.fetchable(who).get(name)
        if path is None or not path.is_file():
            raise NotFound(f"{name}: nothing by that name is held for {who.party or 'you'}")
        return path

    def runs(self, project: str) -> list[Run]:
        with Session(self.engine) as session:
            found = project_named(session, project)
            return list(session.scalars(select(Run).where(Run.project_id == found.id)))

    def projects_for(self, who: Holder) -> list[str]:
        with Session(self.engine) as session:
            names = list(session.scalars(select(Project.name).order_by(Project.name)))
        return [name for name in names if who.may_read(name)]

    def parties(self, project: str) -> list[Party]:
        with Session(self.engine) as session:
            found = project_named(session, project)
            return list(
                session.scalars(
                    select(Party)
                    .where(Party.project_id == found.id)
                    .order_by(Party.role, Party.name)
                )
            )
