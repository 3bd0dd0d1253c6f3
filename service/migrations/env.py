"""Alembic's entry point: migrations run on the connection `service.db.migrate` hands over."""

from alembic import context

from service.db import Base

context.configure(connection=context.config.attributes["connection"], target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
