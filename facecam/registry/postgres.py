"""The registry in PostgreSQL: one registry shared by every facecam process and machine that names
the same database (`--registry postgresql://user:password@host:port/database`).

Tables (beside the history's, if it lives in the same database):

    facecam_registry_schema  the schema version (migrations as the history's: registry/postgres.MIGRATIONS)
    facecam_registry         one row: the generation counter and the model the vectors are by
    facecam_people           id, name (unique), created, updated
    facecam_samples          id (facecam's sample id), person (cascades), vector (float32 bytes),
                             meta (the sample's JSON: time, source, pose, negative, landmarks...),
                             crop (the canonical face crop, PNG; null when not kept)

Every change is one transaction that first takes the registry's lock (writers on every machine take
turns; nothing is lost), changes only the rows it must, bumps the generation and sends NOTIFY
facecam_registry: a process killed half-way leaves nothing, since nothing commits. Matching stays
in memory, as for the folder: each process holds the vectors as NumPy arrays and reloads when told
by LISTEN (or, as a fallback, when the generation it polls every RELOAD_SECONDS moved). A process
that loses the database keeps the registry it has (`offline` says why) and catches up when it is
back.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import threading
import time

import numpy as np

from .. import migrations
from ..errors import Remedy
from ..validate import shorten
from .document import RegistryError, check_model, crop_path

CHANNEL = "facecam_registry"
CONNECT_SECONDS = 5
RELOAD_SECONDS = 1.0  # how often the generation is polled when no notification came
VERSION_TABLE = "facecam_registry_schema"
TABLES = ("facecam_registry", "facecam_people", "facecam_samples")

_CREATE_V1 = (
    "CREATE TABLE facecam_registry (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), generation BIGINT NOT NULL, "
    "model_name TEXT NOT NULL, model_dim INTEGER NOT NULL, model_sha256 TEXT)",
    "CREATE TABLE facecam_people (id BIGSERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL UNIQUE, created TEXT NOT NULL, "
    "updated TEXT NOT NULL)",
    "CREATE TABLE facecam_samples (id VARCHAR(32) PRIMARY KEY, added BIGSERIAL, "
    "person BIGINT NOT NULL REFERENCES facecam_people (id) ON DELETE CASCADE, vector BYTEA NOT NULL, meta TEXT NOT NULL, "
    "crop BYTEA)",
    "CREATE INDEX facecam_samples_person ON facecam_samples (person, added)",
)


def _create_v1(conn) -> None:
    from sqlalchemy import text

    for statement in _CREATE_V1:
        conn.execute(text(statement))


MIGRATIONS = [_create_v1]  # MIGRATIONS[n - 1] takes the schema from version n - 1 to n
VERSION = len(MIGRATIONS)


def is_url(target) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class Database:
    """A PostgreSQL registry's connections: a SQLAlchemy engine for transactions and a listening
    connection for notifications. `where`: the URL without its password, for messages."""

    def __init__(self, url: str):
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(url)
        except ArgumentError:
            raise RegistryError("not a database URL (postgresql://user:password@host:port/database)",
                                param="registry") from None
        self.where = parsed.render_as_string(hide_password=True)
        self.dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            from sqlalchemy import create_engine

            self.engine = create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True,
                                        connect_args={"connect_timeout": CONNECT_SECONDS})
        except ImportError as err:
            raise RegistryError(f"a PostgreSQL registry needs the postgresql extra ({err.name} is missing): "
                                "pip install 'facecam[postgresql]'") from None

    def __str__(self) -> str:
        return self.where

    def error(self, err: BaseException) -> RegistryError:
        orig = getattr(err, "orig", None) or err
        lines = [line.strip() for line in str(orig).strip().splitlines() if line.strip()]
        return RegistryError(f"registry {self.where}: {lines[0] if lines else type(orig).__name__}")

    def begin(self):
        """A transaction (SQLAlchemy connection), its errors as one-line RegistryErrors."""
        return _Translated(self, self.engine.begin())

    def close(self) -> None:
        self.engine.dispose()


class _Translated:
    def __init__(self, db: Database, context):
        self.db, self.context = db, context

    def __enter__(self):
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        try:
            return self.context.__enter__()
        except (DBAPIError, SQLAlchemyError) as err:
            raise self.db.error(err) from None

    def __exit__(self, kind, value, tb):
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        try:
            self.context.__exit__(kind, value, tb)  # commits, or rolls back what failed
        except (DBAPIError, SQLAlchemyError) as err:
            raise self.db.error(err) from None
        if isinstance(value, (DBAPIError, SQLAlchemyError)):
            raise self.db.error(value) from None
        return False


_joined: contextvars.ContextVar = contextvars.ContextVar("facecam_joined", default=None)  # (url, connection)


@contextlib.contextmanager
def together(url: str):
    """One transaction for what is done inside on this database, the registry's changes and the
    history's alike (when both live in it): they commit together or not at all."""
    if _joined.get() is not None:
        yield
        return
    db = database(url)
    with db.begin() as conn:
        token = _joined.set((url, conn))
        try:
            yield
        finally:
            _joined.reset(token)


def joined(url: str):
    """The connection of the together() transaction open on this database, if any."""
    current = _joined.get()
    return current[1] if current is not None and current[0] == url else None


_databases: dict[str, Database] = {}
_databases_lock = threading.Lock()


def database(url: str) -> Database:
    """One Database per URL per process (its engine pools the connections)."""
    with _databases_lock:
        if url not in _databases:
            _databases[url] = Database(url)
        return _databases[url]


def migrate(conn, db: Database) -> None:
    """Bring the schema up to VERSION (facecam.migrations: refuses tables facecam did not make,
    and a newer schema)."""
    migrations.migrate(conn, table=VERSION_TABLE, ours=TABLES, migrations=MIGRATIONS, lock=7265844, error=RegistryError,
                       where=f"registry {db.where}", what="registry")


def _state(conn):
    from sqlalchemy import text

    return conn.execute(text("SELECT generation, model_name, model_dim, model_sha256 FROM facecam_registry")).one_or_none()


def load(conn, db: Database, into: type, *, model: dict | None, create: bool, lock: bool):
    """The registry as stored (made as `into`, store.PostgresRegistry), or an empty one for
    `model` when `create`."""
    from sqlalchemy import text

    migrate(conn, db)
    if lock:  # writers take turns, also while the registry row does not exist yet
        conn.execute(text("SELECT pg_advisory_xact_lock(7265845)"))
    state = _state(conn)
    if state is None:
        if not (create and model is not None):
            raise RegistryError(f"registry {db.where}: nobody enrolled yet; enrol someone first")
        return into(path=db, model=dict(model), generation=0)
    stored = {"name": state.model_name, "dim": state.model_dim}
    if state.model_sha256:
        stored["sha256"] = state.model_sha256
    stored = check_model(stored)
    people = conn.execute(text("SELECT id, name, created, updated FROM facecam_people ORDER BY id")).all()
    index = {row.id: i for i, row in enumerate(people)}
    identities = [{"name": row.name, "created": row.created, "updated": row.updated, "_id": row.id} for row in people]
    rows = conn.execute(text("SELECT id, person, vector, meta, crop IS NOT NULL AS kept FROM facecam_samples "
                             "ORDER BY person, added")).all()
    samples = []
    for row in rows:
        sample = json.loads(row.meta)
        sample.update(identity=index[row.person], id=row.id)
        if row.kept:
            sample["crop"] = crop_path(row.id)
        samples.append(sample)
    dim = int(stored["dim"])
    vectors = (np.frombuffer(b"".join(bytes(row.vector) for row in rows), "<f4").reshape(-1, dim).astype(np.float32)
               if rows else np.zeros((0, dim), np.float32))
    reg = into(path=db, model=stored, identities=identities, samples=samples, vectors=vectors,
                           generation=int(state.generation))
    reg.loaded = (set(s["id"] for s in samples), {p["_id"]: (p["name"], p["updated"]) for p in identities})
    if model is not None:
        reg.check_model(model)
    return reg


def save(conn, reg) -> None:
    """Write what changed since `reg` was loaded (in the transaction that loaded and locked it)."""
    from sqlalchemy import text

    loaded_samples, loaded_people = reg.loaded
    if _state(conn) is None:
        conn.execute(text("INSERT INTO facecam_registry (generation, model_name, model_dim, model_sha256) "
                          "VALUES (0, :n, :d, :s)"),
                     {"n": reg.model["name"], "d": int(reg.model["dim"]), "s": reg.model.get("sha256")})
    current = {p["_id"] for p in reg.identities if "_id" in p}
    for gone in set(loaded_people) - current:  # their samples go with them (ON DELETE CASCADE)
        conn.execute(text("DELETE FROM facecam_people WHERE id = :i"), {"i": gone})
    for person in reg.identities:  # renamed first to a name no person can have, so two may swap theirs
        if "_id" in person and loaded_people[person["_id"]] != (person["name"], person["updated"]):
            conn.execute(text("UPDATE facecam_people SET name = :n, updated = :u WHERE id = :i"),
                         {"n": f" renaming {person['_id']}", "u": person["updated"], "i": person["_id"]})
    for person in reg.identities:
        if "_id" in person and loaded_people[person["_id"]] != (person["name"], person["updated"]):
            conn.execute(text("UPDATE facecam_people SET name = :n WHERE id = :i"), {"n": person["name"], "i": person["_id"]})
        elif "_id" not in person:
            person["_id"] = conn.execute(text("INSERT INTO facecam_people (name, created, updated) VALUES (:n, :c, :u) "
                                              "RETURNING id"),
                                         {"n": person["name"], "c": person["created"], "u": person["updated"]}).scalar()
    ids = {s["id"] for s in reg.samples}
    for gone in loaded_samples - ids:
        conn.execute(text("DELETE FROM facecam_samples WHERE id = :i"), {"i": gone})
    new = [(k, s) for k, s in enumerate(reg.samples) if s["id"] not in loaded_samples]
    if new:
        conn.execute(text("INSERT INTO facecam_samples (id, person, vector, meta, crop) VALUES (:i, :p, :v, :m, :c)"),
                     [{"i": s["id"], "p": reg.identities[s["identity"]]["_id"],
                       "v": np.asarray(reg.vectors[k], "<f4").tobytes(), "m": json.dumps(_meta(s)),
                       "c": reg.pending_crops.get(s["id"])} for k, s in new])
    if reg.reembedded:  # every vector is by another model now
        conn.execute(text("UPDATE facecam_samples SET vector = :v WHERE id = :i"),
                     [{"v": np.asarray(v, "<f4").tobytes(), "i": s["id"]} for s, v in zip(reg.samples, reg.vectors)])
        conn.execute(text("UPDATE facecam_registry SET model_name = :n, model_dim = :d, model_sha256 = :s"),
                     {"n": reg.model["name"], "d": int(reg.model["dim"]), "s": reg.model.get("sha256")})
    generation = conn.execute(text("UPDATE facecam_registry SET generation = generation + 1 RETURNING generation")).scalar()
    conn.execute(text(f"SELECT pg_notify('{CHANNEL}', :g)"), {"g": str(generation)})
    reg.generation, reg.changed, reg.removed, reg.reembedded = int(generation), False, False, False
    reg.loaded = (ids, {p["_id"]: (p["name"], p["updated"]) for p in reg.identities})
    reg.pending_crops.clear()


def _meta(sample: dict) -> dict:
    return {k: v for k, v in sample.items() if k not in ("identity", "id", "crop")}


def generation(db: Database) -> int | None:
    """The stored generation (None: nobody enrolled yet)."""
    from sqlalchemy import text

    with db.begin() as conn:
        if not conn.execute(text("SELECT to_regclass('facecam_registry') IS NOT NULL")).scalar():
            return None
        return conn.execute(text("SELECT generation FROM facecam_registry")).scalar()


def stored_model(db: Database) -> dict | None:
    """The model the registry's vectors are by (None: nobody enrolled yet), without its vectors."""
    with db.begin() as conn:
        migrate(conn, db)
        state = _state(conn)
    if state is None:
        return None
    return check_model({"name": state.model_name, "dim": state.model_dim,
                        **({"sha256": state.model_sha256} if state.model_sha256 else {})})


def crop(db: Database, sample_id: str) -> bytes | None:
    from sqlalchemy import text

    with db.begin() as conn:
        data = conn.execute(text("SELECT crop FROM facecam_samples WHERE id = :i"), {"i": sample_id}).scalar()
    return None if data is None else bytes(data)


def names(db: Database) -> set[str]:
    from sqlalchemy import text

    with db.begin() as conn:
        migrate(conn, db)
        return {row.name for row in conn.execute(text("SELECT name FROM facecam_people"))}


class Watch:
    """When to reload, told by a thread of its own so that the frame loop never waits for the
    database: it LISTENs for changes and, every RELOAD_SECONDS, also polls the generation (should a
    notification be lost). Started at the first question. A lost database: `offline` says why
    until the thread has reconnected (with a growing pause), and then a reload catches up."""

    def __init__(self, db: Database, generation: int):
        self.db, self.generation = db, generation
        self.offline: str | None = None
        self.news = 0  # counts the changes told (or seen polling); a registry loaded after news N looks again after N+1
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="facecam-registry-watch", daemon=True)
            self._thread.start()

    def _told(self) -> None:
        self.news += 1

    def _run(self) -> None:
        import psycopg

        pause = 1.0
        while True:
            try:
                with psycopg.connect(self.db.dsn, autocommit=True, connect_timeout=CONNECT_SECONDS, keepalives=1,
                                     keepalives_idle=5, keepalives_interval=2, keepalives_count=2) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.offline, pause = None, 1.0
                    self._told()  # what changed while nobody listened
                    while True:
                        for _ in conn.notifies(timeout=RELOAD_SECONDS, stop_after=1):
                            self._told()
                        row = conn.execute("SELECT generation FROM facecam_registry").fetchone()
                        if row is not None and row[0] != self.generation:
                            self._told()
            except psycopg.Error as err:  # no reload until it is back: the frame loop must not wait for it
                self.offline = self.db.error(err).message
            time.sleep(pause)
            pause = min(2 * pause, 30.0)


def not_here(db: Database, what: str) -> RegistryError:
    return RegistryError(f"registry {db.where}: {what} is for a registry folder; PostgreSQL keeps its own backups "
                         "(pg_dump)", Remedy("copies it to a folder", command="registry copy"))


def person_missing(db: Database, name: str) -> str:
    return f"no one named {shorten(name)} is enrolled in {db.where}"
