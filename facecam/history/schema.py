"""The history's tables and the migrations that build them, in SQLAlchemy Core: one code path for
SQLite and PostgreSQL.

Why a version table and not Alembic: the history is opened by every `recognize`, `serve` and
`history` run on the user's machine, with no migration step for the user to run and no scripts
folder to ship; the schema is a few tables. Each migration is a function that takes the schema
from version N-1 to N inside one transaction, under a lock, so two processes opening an old
database at once migrate it once. A database from a newer facecam is refused, never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import (BigInteger, Boolean, Column, Double, ForeignKey, Index, Integer, LargeBinary, MetaData, String,
                        Table, inspect, text)

from .. import migrations
from ..errors import HistoryError
from .times import iso

metadata = MetaData()
ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite's rowid alias must be INTEGER

version_table = Table("facecam_schema", metadata, Column("version", Integer, nullable=False))

@dataclass(frozen=True)
class Field:
    """One field of a sighting: its column (and history.Record attribute), and how the public
    JSON (`facecam history --json`, the HTTP API, events, exports) names and shows it."""

    name: str
    column: object  # its SQLAlchemy type
    nullable: bool
    public: str
    kind: type  # of the public value
    shown: Callable = lambda value: value
    about: str = ""
    required: bool = True  # a history.Record must be given it (else it defaults to null)


def _seconds(value: float) -> float:
    return round(value, 3)


# One track's continuous appearance on one source: every field, declared once (the table, the
# Record, the public JSON and the API's model derive from it). Times: UTC seconds since the epoch
# (a number is what both databases compare and index fastest), shown as ISO 8601.
SIGHTING = (
    Field("source", String(1000), False, "source", str, about="the camera, file or stream, by its name"),
    Field("track_id", Integer, False, "track_id", int, about="the track's number on its source"),
    Field("name", String(100), True, "name", str, about="the enrolled person, or null for unknown"),
    Field("started_at", Double, False, "start", str, iso, "ISO 8601 UTC"),
    Field("ended_at", Double, False, "end", str, iso, "ISO 8601 UTC"),
    Field("start_s", Double, True, "start_s", float, _seconds, "seconds into a video file; null for a live source"),
    Field("end_s", Double, True, "end_s", float, _seconds, "seconds into a video file; null for a live source"),
    Field("frames", Integer, False, "frames", int, about="frames the track was seen in"),
    Field("best_score", Double, False, "best_score", float, about="its best score for the name it carries"),
    # a long sighting is written before it ends, so a killed process leaves it with the end it had reached
    Field("closed", Boolean, False, "closed", bool, bool, "false while the track is still being seen"),
    Field("live", Boolean, True, "live", bool, bool, "true: judged live by liveness checks (a face not judged live "
          "is never stored); null: not checked", required=False),
)

sightings = Table(
    "sightings", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    *(Column(f.name, f.column, nullable=f.nullable) for f in SIGHTING),
    Index("sightings_name_started", "name", "started_at"),
    Index("sightings_started", "started_at"),
    Index("sightings_ended", "ended_at"),  # a recent period is found from its end: few rows end after it
)

# The track's best face, apart from the rows that queries scan: the canonical 224x224 crop (JPEG,
# the registry's crop geometry, so it can be enrolled or re-embedded with any model), its 5
# landmarks in the crop (float32 x,y), and its embedding (float32) by `model`.
faces = Table(
    "faces", metadata,
    Column("sighting_id", ID, ForeignKey("sightings.id", ondelete="CASCADE"), primary_key=True),
    Column("crop", LargeBinary, nullable=False),
    Column("landmarks", LargeBinary, nullable=False),
    Column("embedding", LargeBinary, nullable=False),
    Column("model", String(200), nullable=False),
    Column("sharpness", Double),  # how clearly the face shows (quality.face_measures); NULL in rows from version 1
)


def _create_v1(conn) -> None:  # the tables as they are now (the later versions add nothing to them then)
    for table in (sightings, faces):
        table.create(conn)


def _face_sharpness_v2(conn) -> None:
    if "sharpness" not in {c["name"] for c in inspect(conn).get_columns("faces")}:  # made at version 1
        conn.execute(text("ALTER TABLE faces ADD COLUMN sharpness DOUBLE PRECISION"))


def _sighting_live_v3(conn) -> None:
    if "live" not in {c["name"] for c in inspect(conn).get_columns("sightings")}:  # made at version 1 or 2
        conn.execute(text("ALTER TABLE sightings ADD COLUMN live BOOLEAN"))


MIGRATIONS = [_create_v1, _face_sharpness_v2, _sighting_live_v3]  # MIGRATIONS[n - 1] takes the schema from version n - 1 to n
VERSION = len(MIGRATIONS)


def migrate(conn, where: str) -> int:
    """Bring the schema up to VERSION inside the caller's transaction; returns the version found."""
    return migrations.migrate(conn, table=version_table.name, ours=(sightings.name,), migrations=MIGRATIONS, lock=7265843,
                              error=HistoryError, where=where, what="history")
