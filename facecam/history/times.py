"""Times as people type them: ISO dates and times, `2h`-style ages, today / yesterday / now.
Days are local days (the machine's time zone, or TZ); everything returned is UTC epoch seconds."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")


class BadTime(ValueError):
    pass


def local_midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day).astimezone().timestamp()


def parse_day(text: str, now: float | None = None) -> date:
    """`2026-12-01`, `today` or `yesterday` as a local date."""
    today = datetime.fromtimestamp(time.time() if now is None else now).date()
    word = text.strip().lower()
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise BadTime(f"{text!r} is not a day (YYYY-MM-DD, today or yesterday)") from None


def parse_time(text: str, now: float | None = None) -> float:
    """`2h` (2 hours ago; also s, m, d, w), `now`, `today`, `yesterday` (their local midnight),
    an ISO date (its local midnight) or date and time (local unless it names its offset)."""
    now = time.time() if now is None else now
    word = text.strip().lower()
    if word == "now":
        return now
    if (age := _AGE.match(word)) is not None:
        return now - float(age.group(1)) * UNITS[age.group(2)]
    if word in ("today", "yesterday") or re.fullmatch(r"\d{4}-\d{2}-\d{2}", word):
        return local_midnight(parse_day(word, now))
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadTime(f"{text!r} is not a time: use 2026-12-01, 2026-12-01T14:30, 2h, 3d, today or yesterday") from None
    return moment.astimezone().timestamp()  # a naive time is local


def iso(seconds: float | None) -> str | None:
    """UTC ISO 8601 with milliseconds and a Z."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_time(seconds: float | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A UTC epoch time as local wall-clock text ("-" for none)."""
    return "-" if seconds is None else datetime.fromtimestamp(seconds).strftime(fmt)


def from_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def duration(seconds: float) -> str:
    """1 h 05 min, 12 min 30 s, 5 min, 45 s."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min" + (f" {seconds % 60:02d} s" if seconds % 60 else "")
    return f"{seconds} s"
