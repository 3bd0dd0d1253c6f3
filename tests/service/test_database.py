"""The database side on SQLite and PostgreSQL: the migrations make exactly the models'
schema, tokens are kept only as their HMAC, and a queued run is claimed once however many
claim it at once."""

from __future__ import annotations

import hashlib
import hmac
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.db import Base, Project, Run, Token, connect, migrate, now
from service.errors import Unauthorised
from service.runs import claim, requeue_interrupted
from service.tokens import holder, issue

from .conftest import fresh_database

PEPPER = b"p" * 32


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'service.db'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres"), "units")
    made = connect(url)
    migrate(made)
    yield made
    made.dispose()


def test_the_migrations_make_the_models_schema(engine):
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    migrate(engine)  # a second start finds nothing to do


def test_a_token_is_kept_only_as_its_hmac(engine):
    with Session(engine) as session, session.begin():
        project = Project(name="tokens", created=now())
        session.add(project)
        session.flush()
        token = issue(session, PEPPER, "custodian", project, "trust_north")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM tokens")).all()
    assert not any(token in str(value) for row in rows for value in row)
    expected = hmac.new(PEPPER, token.encode(), hashlib.sha256).hexdigest()
    with Session(engine) as session:
        assert expected in session.scalars(select(Token.digest)).all()
        who = holder(session, PEPPER, token)
        assert (who.role, who.project, who.party) == ("custodian", "tokens", "trust_north")
        for wrong in (token[:-1], token + "x", "", None):
            with pytest.raises(Unauthorised):
                holder(session, PEPPER, wrong)
        with pytest.raises(Unauthorised):  # the same token under another server's pepper
            holder(session, b"q" * 32, token)


def test_each_queued_run_is_claimed_once_by_claimants_at_once(engine):
    with Session(engine) as session, session.begin():
        project = Project(name="claims", created=now())
        session.add(project)
        session.flush()
        for _ in range(3):
            session.add(
                Run(project_id=project.id, state="queued", options={}, created=now(), attempts=0)
            )
    claimed, start = [], threading.Barrier(8)

    def claimant(number: int) -> None:
        start.wait()
        while (run := claim(engine, f"claimant-{number}")) is not None:
            claimed.append(run)

    threads = [threading.Thread(target=claimant, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 3 and len(set(claimed)) == 3
    assert sorted(requeue_interrupted(engine)) == sorted(claimed)
    with Session(engine) as session:
        states = session.scalars(select(Run.state).where(Run.id.in_(claimed))).all()
    assert states == ["queued"] * 3
