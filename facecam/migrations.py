"""Versioned schemas in SQL databases (the history's, the shared registry's): a table holding the
version, and migrations that each take the schema from version N-1 to N inside the caller's
transaction, under a lock on PostgreSQL, so two processes opening an old database at once migrate
it once. A database from a newer facecam is refused, never touched."""

from __future__ import annotations

from typing import Callable

from sqlalchemy import text


def migrate(conn, *, table: str, ours: tuple[str, ...], migrations: list[Callable], lock: int, error: type,
            where: str, what: str) -> int:
    """Bring the schema up to len(migrations); returns the version found. table: the version's;
    ours: tables facecam makes (one of them there without the version table: another program's);
    error: the FacecamError to raise; where, what: for its message ("history", "registry")."""
    if conn.dialect.has_table(conn, table):  # up to date (the usual case): no lock, nothing waits on it
        current = conn.execute(text(f"SELECT version FROM {table}")).scalar()
        if current == len(migrations):
            return current
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SELECT pg_advisory_xact_lock({lock})"))
    if not conn.dialect.has_table(conn, table):
        clash = [t for t in ours if conn.dialect.has_table(conn, t)]
        if clash:
            raise error(f"{where}: holds a '{clash[0]}' table that facecam did not make; use another database")
        conn.execute(text(f"CREATE TABLE {table} (version INTEGER NOT NULL)"))
        conn.execute(text(f"INSERT INTO {table} (version) VALUES (0)"))
    found = conn.execute(text(f"SELECT version FROM {table}")).scalar()
    if found is None:
        raise error(f"{where}: the schema version is missing; the {what} is damaged")
    if found > len(migrations):
        raise error(f"{where}: written by a newer facecam ({what} schema {found}; this one knows up to "
                    f"{len(migrations)}); upgrade facecam")
    for version in range(found + 1, len(migrations) + 1):
        migrations[version - 1](conn)
        conn.execute(text(f"UPDATE {table} SET version = :v"), {"v": version})
    return found
