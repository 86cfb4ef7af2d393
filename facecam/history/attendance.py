"""Attendance: per person and local day, when they were first and last seen, how long they were
present, in how many sightings, on which sources.

Presence is the union of the person's sightings that day, where two sightings less than `gap`
seconds apart count as one stretch (a face turned away, someone passing in front): a gap shorter
than that counts as present, a longer one does not. A sighting that crosses midnight counts
towards both days, each its own part.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from .times import iso, local_midnight

DEFAULT_GAP = 300.0  # seconds: 5 minutes


def _days(start: float, end: float):
    """(day, part start, part end) for the local days [start, end] touches."""
    day = datetime.fromtimestamp(start).date()
    while True:
        next_midnight = local_midnight(day + timedelta(days=1))
        yield day, start, min(end, next_midnight)
        if end <= next_midnight:
            return
        day, start = day + timedelta(days=1), next_midnight


def attendance(intervals, *, since: float | None = None, until: float | None = None,
               gap: float = DEFAULT_GAP) -> list[dict]:
    """intervals: (name, started_at, ended_at, source) of named sightings. Parts outside
    [since, until) are cut off. Rows sorted by day, then name."""
    parts: dict[tuple[str, date], list] = defaultdict(list)
    for name, start, end, source in intervals:
        start, end = max(start, since if since is not None else start), min(end, until if until is not None else end)
        if end < start:
            continue
        for day, a, b in _days(start, end):
            parts[(name, day)].append((a, b, source))
    rows = []
    for (name, day), spans in parts.items():
        spans.sort()
        present, (run_start, run_end) = 0.0, spans[0][:2]
        for a, b, _ in spans[1:]:
            if a - run_end < gap:
                run_end = max(run_end, b)
            else:
                present += run_end - run_start
                run_start, run_end = a, b
        present += run_end - run_start
        rows.append({"name": name, "day": day.isoformat(), "first_seen": iso(spans[0][0]),
                     "last_seen": iso(max(b for _, b, _ in spans)), "present_s": round(present, 3),
                     "sightings": len(spans), "sources": sorted({s for _, _, s in spans})})
    rows.sort(key=lambda r: (r["day"], r["name"]))
    return rows
