"""Alembic environment: runs on the connection `inventory.db.upgrade` hands it."""

from __future__ import annotations

from alembic import context

from inventory.db import compare_type, in_models
from inventory.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `invsync init`, which provides the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=compare_type,
    include_name=in_models,
)
with context.begin_transaction():
    context.run_migrations()
