"""The history of sightings: who was seen, where, when, with their best face (SQLite or PostgreSQL)."""

from .attendance import DEFAULT_GAP, attendance
from .recorder import Recorder, Replays, Writer
from .store import FILE_NAME, Face, History, Place, Record, public
from .times import BadTime, duration, from_iso, iso, local_midnight, local_time, parse_day, parse_time

__all__ = ["BadTime", "DEFAULT_GAP", "FILE_NAME", "Face", "History", "Record", "Recorder", "Replays", "Writer", "attendance",
           "duration", "from_iso", "iso", "local_midnight", "local_time", "Place", "parse_day", "parse_time", "public"]
