"""Capability tokens: shown once, stored as an HMAC under the server's pepper, compared in
constant time, each scoped to one project and one party (or the TTP's admin token)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import Project, Token, now
from service.errors import Unauthorised


@dataclass(frozen=True)
class Holder:
    """Who a token speaks for: the admin (no project), or one party of one project."""

    role: str  # admin | custodian | analyst
    project: str | None = None
    party: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_read(self, project: str) -> bool:
        return self.is_admin or self.project == project


def digest(pepper: bytes, token: str) -> str:
    return hmac.new(pepper, token.encode("utf-8"), hashlib.sha256).hexdigest()


def issue(
    session: Session, pepper: bytes, role: str, project: Project | None = None, party: str = ""
) -> str:
    """A new token for `party` of `project` (or the admin): returned once, never stored."""
    token = secrets.token_urlsafe(32)
    session.add(
        Token(
            digest=digest(pepper, token),
            project_id=project.id if project else None,
            party=party or None,
            role=role,
            created=now(),
        )
    )
    return token


def has_admin(session: Session) -> bool:
    return session.scalar(select(Token.id).where(Token.role == "admin").limit(1)) is not None


def holder(session: Session, pepper: bytes, token: str | None) -> Holder:
    """The holder of `token`, or a refusal that says no more than that it is not valid."""
    if not token:
        raise Unauthorised("no token: give the one you were issued for this project")
    wanted = digest(pepper, token)
    row = session.scalar(select(Token).where(Token.digest == wanted))
    if row is None or not hmac.compare_digest(row.digest, wanted):
        raise Unauthorised("this token is not valid here")
    if row.role == "admin":
        return Holder("admin")
    project = session.get(Project, row.project_id)
    return Holder(row.role, project.name, row.party)
