"""Engine and session factory for an instance, and schema creation (`invsync init`)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    Text,
    create_engine,
    event,
    inspect,
    text,
    update,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from inventory.errors import DatabaseError
from inventory.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration in inventory/migrations/versions/; a test checks it against Alembic's
# view, so a command can check the schema without loading Alembic.
HEAD_REVISION = "0011"

# What migration 0005 adds beside the models: FTS5 tables (and their shadow tables) on SQLite,
# trigram and "C"-collation indexes on PostgreSQL. Schema comparisons leave them out.
SEARCH_TABLES = ("people_search", "saas_users_search")
# The task engine's own tables on PostgreSQL (Procrastinate), made by migration 0008.
TASK_TABLES = ("procrastinate_",)
SEARCH_INDEX_SUFFIXES = ("_trgm", "_email_key_c")


def make_engine(settings: Settings) -> Engine:
    """An engine for the instance's database; SQLite gets WAL, foreign keys and a busy timeout."""
    url = settings.db_url
    if url.startswith("sqlite:///"):
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Turn on what SQLite leaves off by default."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


MIGRATIONS = Path(__file__).parent / "migrations"


def _alembic(connection: Connection) -> Config:
    """Alembic settings that run the packaged migrations on the given connection."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this version of invsync knows."""
    return HEAD_REVISION


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at, or None when it has none."""
    with _opened(engine) as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def in_models(name: str | None, type_: str, parent_names: Any) -> bool:
    """Whether a schema object is one the models describe (Alembic's `include_name` hook)."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(SEARCH_TABLES + TASK_TABLES)
    if type_ == "index":
        return not name.endswith(SEARCH_INDEX_SUFFIXES)
    return True


def compare_type(
    context: Any, inspected: Any, metadata: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    """Alembic's type comparison, except that on SQLite every string type is the same one:
    SQLite enforces no declared length (VARCHAR(500) and TEXT share the text affinity)."""
    if context.dialect.name == "sqlite":
        strings = (String, Text)
        if isinstance(inspected_type, strings) and isinstance(metadata_type, strings):
            return False
    return None


def init_db(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to the given revision (the newest by default)."""
    from alembic import command

    with _opened(engine) as conn, _foreign_keys_off(conn), conn.begin():
        command.upgrade(_alembic(conn), revision)


def downgrade_db(engine: Engine, revision: str) -> None:
    """Take the schema back down to an older revision, undoing the newer migrations."""
    from alembic import command

    with _opened(engine) as conn, _foreign_keys_off(conn), conn.begin():
        command.downgrade(_alembic(conn), revision)


@contextmanager
def _foreign_keys_off(conn: Connection) -> Iterator[None]:
    """SQLite's recipe for rebuilding a table others refer to: foreign keys off outside the
    transaction, back as they were after it (a migration that rebuilds checks them itself)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    was = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.commit()
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if was else 'OFF'}")
        conn.commit()


def require_schema(engine: Engine) -> None:
    """Fail with a clear line when `invsync init` has not been run since the last upgrade."""
    current = current_revision(engine)
    if current is None:
        raise DatabaseError("the database has no schema yet: run `invsync init` first")
    if current != head_revision():
        raise DatabaseError(
            f"the database schema is at revision {current}, this invsync needs "
            f"{head_revision()}: run `invsync init` to upgrade it"
        )


@contextmanager
def _opened(engine: Engine) -> Iterator[Connection]:
    """A connection, with an unreachable database turned into one clear line."""
    try:
        conn = engine.connect()
    except OperationalError as exc:
        raise DatabaseError(f"cannot open the database: {_first_line(exc.orig)}") from None
    with conn:
        yield conn


def _first_line(exc: object) -> str:
    """The first line of a driver's error, which is the one that says what went wrong."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


def update_if(
    session: Session, model: type[Any], row_id: int, statuses: tuple[str, ...], **values: Any
) -> bool:
    """Change one row only while its status is one of `statuses`, in the caller's transaction;
    whether it was. Two processes racing to take or close the same run: one wins, neither fails."""
    stmt = (
        update(model)
        .where(model.id == row_id, model.status.in_(statuses))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def lock_writes(session: Session, what: str) -> None:
    """Hold the database's lock on writing `what` until the session's transaction ends, so that
    writers that read before they insert (the sync's upserts) go one after another and each sees
    what the other committed.

    On PostgreSQL this is an advisory transaction lock. SQLite has one writer at a time, but a
    transaction that read before another writer committed cannot write afterwards ("database is
    locked" at once, whatever the busy timeout): so the transaction starts as a writer
    (BEGIN IMMEDIATE, waiting up to the busy timeout) unless it holds the write lock already."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        key = zlib.crc32(f"invsync:{what}".encode()) - 2**31  # a signed 32-bit lock key
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif dialect == "sqlite":
        connection = session.connection()
        if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def read_only(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work always rolls back: for reports such as a dry run, which may stage
    rows to compare but must leave nothing behind."""
    with factory() as session:
        try:
            yield session
        finally:
            session.rollback()
