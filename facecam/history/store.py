"""The history database: sightings and their best faces, in SQLite (a file, the default) or
PostgreSQL (a URL), through SQLAlchemy Core.

SQLite runs in WAL mode (readers never wait for the writer) with a 30 s busy timeout (two
processes writing at once take turns instead of failing), foreign keys on (a face goes with its
sighting), and secure_delete (erased rows are overwritten, not left in free pages).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, make_dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, delete, event, func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from ..errors import HistoryError, Remedy
from . import schema
from .schema import SIGHTING, faces, sightings

FILE_NAME = "history.sqlite"  # the default history, inside the registry folder
BUSY_SECONDS = 30  # how long a SQLite writer waits for another process's write to finish
WAL_LIMIT = 64 << 20  # bytes the write-ahead log is cut back to after a checkpoint (a long run would keep its peak)
CONNECT_SECONDS = 5  # how long to wait for a PostgreSQL server before calling it unreachable


@dataclass
class Face:
    """A sighting's best face: canonical crop (JPEG bytes), its landmarks (5, 2), its embedding."""

    crop: bytes
    landmarks: np.ndarray
    embedding: np.ndarray
    model: str
    sharpness: float | None = None  # quality.face_measures' sharpness of the crop; None: not measured


def _row(self) -> dict:
    """The record's fields as the table's columns."""
    return {f.name: getattr(self, f.name) for f in SIGHTING}


# One sighting as the recorder hands it to the database: its key (the recorder's own id for it;
# the database's id is known once the first write commits), every field of schema.SIGHTING, and
# its best face (None when it did not change since the last write).
Record = make_dataclass("Record", [("key", str), *((f.name, object) if f.required else (f.name, object, None) for f in SIGHTING),
                                   ("face", "Face | None", None)],
                        namespace={"row": _row, "__module__": __name__})


def public(row: dict) -> dict:
    """A sighting as `history --json`, the server and the event stream show it."""
    return {"id": row["id"], **{f.public: None if row[f.name] is None else f.shown(row[f.name]) for f in SIGHTING}}


def reason(err: BaseException) -> str:
    """The first line of what the driver said, without SQLAlchemy's decorations."""
    orig = getattr(err, "orig", None) or err
    lines = [line.strip() for line in str(orig).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


class History:
    """Open with History.open(target); every method runs in its own transaction, or in the one a
    registry in the same database opened (registry.postgres.together). url: the postgresql://
    URL it was opened with (None for SQLite)."""

    def __init__(self, engine, where: str, url: str | None = None):
        self.engine, self.where, self.url = engine, where, url
        self.dialect = engine.dialect.name

    # --- opening

    @classmethod
    def open(cls, target: str | os.PathLike, *, create: bool = False) -> "History":
        """A SQLite file (made when `create`) or a postgresql:// URL; the schema migrated to the
        current version. Every failure is a one-line HistoryError naming the database."""
        target = str(target)
        if "://" in target:
            engine, where = _url_engine(target, create)
        else:
            engine, where = _sqlite_engine(Path(target), create)
        history = cls(engine, where, target if "://" in target else None)
        try:
            with history._writing() as conn:
                schema.migrate(conn, where)
        except HistoryError:
            engine.dispose()
            raise
        except (DBAPIError, SQLAlchemyError) as err:
            engine.dispose()
            raise history.error(err) from None
        return history

    def error(self, err: BaseException) -> HistoryError:
        text = reason(err)
        if self.dialect == "sqlite" and "not a database" in text:
            return HistoryError(f"history {self.where}: not a SQLite database (damaged, or another kind of file): "
                                "move it away", Remedy("uses another", "history", "PATH"))
        return HistoryError(f"history {self.where}: {text}")

    def close(self) -> None:
        self.engine.dispose()

    def _writing(self):
        """A transaction that takes the write lock at once (SQLite: BEGIN IMMEDIATE), so a
        read-then-write never fails half-way on another writer's change."""
        return self.engine.execution_options(facecam_write=True).begin()

    def _run(self, work, *, write: bool = False):
        from ..registry.postgres import joined

        shared = joined(self.url) if self.url else None
        if shared is not None:  # inside registry.postgres.together(): one transaction with the registry's change
            return work(shared)
        try:
            with (self._writing() if write else self.engine.connect()) as conn:
                return work(conn)
        except (DBAPIError, SQLAlchemyError) as err:
            raise self.error(err) from None

    # --- writing

    def write(self, records: list[Record], ids: dict[str, int]) -> None:
        """Insert or update `records` in one transaction. ids maps a record's key to its row id:
        filled in for new rows once the transaction committed (a failed write leaves it as it was)."""
        def work(conn):
            new = {}
            for record in records:
                row_id = ids.get(record.key) or new.get(record.key)
                if row_id is None:
                    row_id = new[record.key] = conn.execute(sightings.insert().values(**record.row())).inserted_primary_key[0]
                else:
                    conn.execute(update(sightings).where(sightings.c.id == row_id).values(**record.row()))
                if record.face is not None:
                    conn.execute(delete(faces).where(faces.c.sighting_id == row_id))
                    f = record.face
                    conn.execute(faces.insert().values(
                        sighting_id=row_id, crop=f.crop, model=f.model, sharpness=f.sharpness,
                        landmarks=np.asarray(f.landmarks, "<f4").tobytes(),
                        embedding=np.asarray(f.embedding, "<f4").tobytes()))
            return new

        ids.update(self._run(work, write=True))

    def erase(self, name: str) -> int:
        """Delete every sighting of `name` and its face; returns how many."""
        return self._delete(sightings.c.name == name)

    def prune(self, before: float, *, unknown_only: bool = False) -> int:
        """Delete the sightings that ended before `before` (only the unknown ones with
        unknown_only) and their faces; returns how many."""
        condition = sightings.c.ended_at < before
        if unknown_only:
            condition = condition & sightings.c.name.is_(None)
        return self._delete(condition)

    def _delete(self, condition) -> int:
        def work(conn):
            chosen = select(sightings.c.id).where(condition)
            conn.execute(delete(faces).where(faces.c.sighting_id.in_(chosen)))
            return conn.execute(delete(sightings).where(condition)).rowcount

        count = self._run(work, write=True)
        if count and self.dialect == "sqlite":
            self.checkpoint()  # the erased pages leave the write-ahead log too
        return count

    def checkpoint(self) -> None:
        """SQLite: fold the write-ahead log into the database file and empty it."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except DBAPIError:
            pass  # a reader holds the log open; the next checkpoint folds it in

    def erase_sightings(self, ids: list[int]) -> int:
        """Delete these sightings and their faces; returns how many."""
        return self._delete(sightings.c.id.in_([int(i) for i in ids])) if ids else 0

    def set_name(self, ids: list[int], name: str | None) -> int:
        """Give these sightings a name (None: unknown); returns how many were changed."""
        if not ids:
            return 0
        return self._run(lambda conn: conn.execute(
            update(sightings).where(sightings.c.id.in_([int(i) for i in ids])).values(name=name)).rowcount, write=True)

    def rename(self, old: str, new: str) -> int:
        return self._run(lambda conn: conn.execute(
            update(sightings).where(sightings.c.name == old).values(name=new)).rowcount, write=True)

    # --- reading

    def sightings(self, *, since: float | None = None, until: float | None = None, name: str | None = None,
                  unknown: bool = False, source: str | None = None, limit: int | None = None,
                  offset: int = 0) -> list[dict]:
        """Sightings that overlap [since, until), newest first, as dicts of the table's columns."""
        query = select(sightings).where(*_filters(since, until, name, unknown, source))
        query = query.order_by(sightings.c.started_at.desc(), sightings.c.id.desc()).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return self._run(lambda conn: [dict(r._mapping) for r in conn.execute(query)])

    def count(self, *, name: str | None = None, unknown: bool = False) -> int:
        query = select(func.count()).select_from(sightings).where(*_filters(None, None, name, unknown, None))
        return self._run(lambda conn: conn.execute(query).scalar())

    def seen(self) -> dict[str, tuple[int, float]]:
        """Per name: (sightings, when the last ended), for everyone the history names."""
        c = sightings.c
        query = select(c.name, func.count(), func.max(c.ended_at)).where(c.name.is_not(None)).group_by(c.name)
        return self._run(lambda conn: {name: (count, last) for name, count, last in conn.execute(query)})

    def named_intervals(self, since: float | None, until: float | None) -> list[tuple]:
        """(name, started_at, ended_at, source) of the named sightings overlapping [since, until)."""
        c = sightings.c
        query = (select(c.name, c.started_at, c.ended_at, c.source)
                 .where(c.name.is_not(None), *_filters(since, until, None, False, None)))
        return self._run(lambda conn: [tuple(r) for r in conn.execute(query)])

    def best_faces(self, names: list[str], since: float | None, until: float | None) -> dict[str, bytes]:
        """Per name: the JPEG crop of its best-scored sighting in [since, until) that kept a face."""
        out: dict[str, bytes] = {}

        def work(conn):
            for name in names:
                query = (select(faces.c.crop).join(sightings, sightings.c.id == faces.c.sighting_id)
                         .where(*_filters(since, until, name, False, None))
                         .order_by(sightings.c.best_score.desc()).limit(1))
                crop = conn.execute(query).scalar()
                if crop is not None:
                    out[name] = bytes(crop)

        self._run(work)
        return out

    def sighting(self, sighting_id: int) -> dict | None:
        if not 0 < sighting_id < 2**63:
            return None
        row = self._run(lambda conn: conn.execute(select(sightings).where(sightings.c.id == sighting_id)).first())
        return None if row is None else dict(row._mapping)

    def with_faces(self, *, unknown: bool = False) -> list[dict]:
        """The sightings that kept a face (only the unknown ones with unknown), oldest first, each
        with its face's "embedding" (float32 (D,)), "model" and "sharpness"; crops stay in the database."""
        query = (select(sightings, faces.c.embedding, faces.c.model, faces.c.sharpness)
                 .join(faces, faces.c.sighting_id == sightings.c.id)
                 .where(*_filters(None, None, None, unknown, None))
                 .order_by(sightings.c.started_at, sightings.c.id))

        def work(conn):
            out = []
            for r in conn.execute(query):
                row = dict(r._mapping)
                row["embedding"] = np.frombuffer(row["embedding"], "<f4")
                out.append(row)
            return out

        return self._run(work)

    def face(self, sighting_id: int) -> Face | None:
        def work(conn):
            return conn.execute(select(faces).where(faces.c.sighting_id == sighting_id)).first()

        row = self._run(work)
        if row is None:
            return None
        return Face(crop=bytes(row.crop), landmarks=np.frombuffer(row.landmarks, "<f4").reshape(5, 2),
                    embedding=np.frombuffer(row.embedding, "<f4"), model=row.model, sharpness=row.sharpness)

    def size(self) -> int | None:
        """Bytes on disk (SQLite: the file and its log; PostgreSQL: the database)."""
        if self.dialect == "sqlite":
            path = Path(self.engine.url.database)
            return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        return self._run(lambda conn: conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())


@dataclass(frozen=True)
class Place:
    """Where a history is, before it is opened: a SQLite file or a postgresql:// URL. chosen:
    named by the user; else it is the default place, where none may ever have been kept."""

    target: str
    chosen: bool
    default: bool = False  # the file in the registry folder (whose folder a writer may make)

    @classmethod
    def of(cls, history: str | os.PathLike | None, registry: str | os.PathLike) -> "Place":
        """`history` when given, else $FACECAM_HISTORY, else history.sqlite in the registry folder
        (the registry's own database when it is a postgresql:// URL)."""
        if history is not None:
            return cls(str(history), chosen=True)
        if os.environ.get("FACECAM_HISTORY"):
            return cls(os.environ["FACECAM_HISTORY"], chosen=False)
        if str(registry).startswith(("postgresql://", "postgres://")):
            return cls(str(registry), chosen=False, default=True)
        return cls(str(Path(registry) / FILE_NAME), chosen=False, default=True)

    def open(self) -> History:
        """The history, which must exist."""
        return History.open(self.target)

    def existing(self) -> History | None:
        """The history; None when this is a default place where no history was ever kept: there
        is nothing in it to read or erase."""
        if not self.chosen and "://" not in self.target and not Path(self.target).exists():
            return None
        return History.open(self.target)

    def for_writing(self) -> History:
        """The history a recognising process writes, made if needed (with the registry folder,
        when it lives there by default)."""
        if self.default and "://" not in self.target:
            Path(self.target).parent.mkdir(parents=True, exist_ok=True)
        return History.open(self.target, create=True)


def _filters(since, until, name, unknown, source) -> list:
    c = sightings.c
    out = []
    if since is not None:
        out.append(c.ended_at >= since)
    if until is not None:
        out.append(c.started_at < until)
    if name is not None:
        out.append(c.name == name)
    if unknown:
        out.append(c.name.is_(None))
    if source is not None:
        out.append(c.source == source)
    return out


def _sqlite_engine(path: Path, create: bool):
    where = str(path)
    if path.is_dir():
        raise HistoryError(f"history {where}: is a folder; pass a file name (e.g. {path / FILE_NAME})")
    if not path.exists():
        if not create:
            raise HistoryError(f"history {where}: no such file (facecam recognize and serve record one)")
        if not path.parent.is_dir():
            raise HistoryError(f"history {where}: the folder {path.parent} does not exist")
    elif not path.is_file():
        raise HistoryError(f"history {where}: not a regular file")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": BUSY_SECONDS})

    @event.listens_for(engine, "connect")
    def _setup(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's begin() below decides, not the driver
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "secure_delete=ON",
                       f"busy_timeout={BUSY_SECONDS * 1000}", f"journal_size_limit={WAL_LIMIT}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("facecam_write") else "BEGIN")

    return engine, where


def _url_engine(target: str, create: bool):
    try:
        url = make_url(target)
    except ArgumentError:
        raise HistoryError("not a database URL (postgresql://user:password@host:port/database) or a file name",
                           param="history") from None
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(Path(url.database or ""), create)
    if url.get_backend_name() != "postgresql":
        raise HistoryError(f"history {where}: facecam keeps its history in SQLite (a file) or PostgreSQL "
                           f"(postgresql://...), not {url.get_backend_name()}")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3, not SQLAlchemy's default psycopg2
    try:
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_SECONDS})
    except ImportError as err:
        raise HistoryError(f"a PostgreSQL history needs the postgresql extra ({err.name} is missing): "
                           "pip install 'facecam[postgresql]'") from None
    return engine, where
