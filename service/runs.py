"""Runs in the database: claimed by the worker, staged, finished; restarted after a crash.

A claim is one conditional UPDATE (`... WHERE id = ? AND state = 'queued'`): on SQLite the
write lock and on PostgreSQL the row lock let exactly one claimant see its row change.
"""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from service.db import Run, now


def claim(engine: Engine, claimant: str) -> int | None:
    """The oldest queued run, now running under `claimant`; None if there is none."""
    with engine.begin() as connection:
        queued = connection.scalar(
            select(Run.id).where(Run.state == "queued").order_by(Run.id).limit(1)
        )
        if queued is None:
            return None
        changed = connection.execute(
            update(Run)
            .where(Run.id == queued, Run.state == "queued")
            .values(
                state="running",
                stage="starting",
                progress=0.0,
                claim=claimant,
                started=now(),
                attempts=Run.attempts + 1,
            )
        )
    return queued if changed.rowcount == 1 else None


def requeue_interrupted(engine: Engine) -> list[int]:
    """Runs left `running` by a service that stopped: queued again, to start over."""
    with engine.begin() as connection:
        interrupted = list(connection.scalars(select(Run.id).where(Run.state == "running")))
        if interrupted:
            connection.execute(
                update(Run)
                .where(Run.id.in_(interrupted))
                .values(state="queued", stage="restarted: the service stopped during the run")
            )
    return interrupted


def set_stage(engine: Engine, run_id: int, stage: str, progress: float) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(Run).where(Run.id == run_id).values(stage=stage, progress=progress)
        )


def finish(engine: Engine, run_id: int, error: str | None = None) -> None:
    """Completed (its outputs are all in place) or failed with the one-line reason."""
    with engine.begin() as connection:
        connection.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                state="failed" if error else "completed",
                stage="failed" if error else "completed",
                progress=0.0 if error else 1.0,
                error=error,
                finished=now(),
            )
        )
