"""What every command shares: settings, the engine and sessions, built once and only when needed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from inventory.db import make_engine, make_sessionmaker, require_schema, transaction
from inventory.settings import Settings


@dataclass
class AppContext:
    """Lazily opened database of one instance."""

    settings: Settings
    _engine: Engine | None = field(default=None, init=False)

    @property
    def engine(self) -> Engine:
        """The instance's engine, opened on first use."""
        if self._engine is None:
            self._engine = make_engine(self.settings)
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        """A session factory on an initialised database."""
        require_schema(self.engine)
        return make_sessionmaker(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits when the block succeeds."""
        with transaction(self.sessions) as session:
            yield session

    def close(self) -> None:
        """Release the database connections."""
        if self._engine is not None:
            self._engine.dispose()
