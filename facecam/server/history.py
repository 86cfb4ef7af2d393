"""The history over HTTP: GET /sightings (filtered, paginated), /sightings/{id}/face, /attendance,
and /events, a Server-Sent Events stream of sightings starting and ending on the live source.
With a token set, these need it even to read: sightings and faces are biometric data."""

from __future__ import annotations

import json
import queue
import threading
from typing import Optional

from fastapi import FastAPI, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ..history import DEFAULT_GAP, BadTime, attendance, local_midnight, parse_day, parse_time
from .guard import HTTPProblem

PRIVATE = ("/sightings", "/attendance", "/events")  # paths that need the token when there is one


class Sighting(BaseModel):
    id: int
    source: str
    track_id: int
    name: Optional[str] = Field(description="the enrolled person, or null for unknown")
    start: str = Field(description="ISO 8601 UTC")
    end: str
    start_s: Optional[float] = Field(description="seconds into a video file; null for a live source")
    end_s: Optional[float]
    frames: int
    best_score: float
    closed: bool = Field(description="false while the track is still being seen")


class SightingPage(BaseModel):
    sightings: list[Sighting]
    next_offset: Optional[int] = Field(description="the offset of the next page, null on the last")


class Attendance(BaseModel):
    name: str
    day: str = Field(description="local date")
    first_seen: str
    last_seen: str
    present_s: float
    sightings: int
    sources: list[str]


class Events:
    """Fans sighting and presence events out to every /events client (each its own bounded queue; a client
    too slow to keep up loses events rather than holding the recorder up)."""

    KEEPALIVE = 15.0

    def __init__(self):
        self._clients: list[queue.Queue] = []
        self._lock = threading.Lock()
        self._count = 0

    def publish(self, kind: str, payload: dict) -> None:
        with self._lock:
            self._count += 1
            for client in self._clients:
                try:
                    client.put_nowait((self._count, kind, payload))
                except queue.Full:
                    pass

    def started(self, kind: str, payload: dict) -> None:
        """A Recorder's on_event."""
        self.publish(f"sighting_{kind}", payload)

    def ended(self, rows: list[dict]) -> None:
        """A Writer's on_stored."""
        for row in rows:
            self.publish("sighting_ended", row)

    # a notify.Sink: arrived, left, unknown
    def send(self, body: dict, snapshot: bytes | None) -> None:
        self.publish(body["event"], body)

    def people(self, names: set[str]) -> None:
        pass

    def close(self, deadline: float) -> None:
        pass

    def stream(self, stop: threading.Event):
        client: queue.Queue = queue.Queue(maxsize=1000)
        with self._lock:
            self._clients.append(client)
        try:
            yield b"retry: 3000\n\n"
            while not stop.is_set():
                try:
                    number, kind, payload = client.get(timeout=self.KEEPALIVE)
                except queue.Empty:
                    yield b": keep-alive\n\n"
                    continue
                yield f"id: {number}\nevent: {kind}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()
        finally:
            with self._lock:
                self._clients.remove(client)


def _time(value: str | None, what: str) -> float | None:
    try:
        return None if value is None else parse_time(value)
    except BadTime as err:
        raise HTTPProblem(400, f"{what}: {err}") from None


def routes(app: FastAPI, service, stream, problems: dict) -> None:
    from datetime import timedelta

    from ..history import public

    def history():
        if service.history is None:
            raise HTTPProblem(404, "no history: facecam serve was started with --no-history")
        return service.history

    @app.get("/sightings", response_model=SightingPage, responses=problems)
    def sightings(since: Optional[str] = Query(None, description="2026-12-01, 2026-12-01T08:00, 2h, today, ..."),
                  until: Optional[str] = Query(None), name: Optional[str] = Query(None),
                  unknown: bool = Query(False, description="only faces nobody enrolled"),
                  source: Optional[str] = Query(None), limit: int = Query(100, ge=1, le=1000),
                  offset: int = Query(0, ge=0, le=10**9)) -> SightingPage:
        rows = history().sightings(since=_time(since, "since"), until=_time(until, "until"), name=name,
                                   unknown=unknown, source=source, limit=limit + 1, offset=offset)
        more = len(rows) > limit
        return SightingPage(sightings=[Sighting(**public(r)) for r in rows[:limit]],
                            next_offset=offset + limit if more else None)

    @app.get("/sightings/{sighting_id}/face", responses={200: {"content": {"image/jpeg": {}}}, **problems})
    def face(sighting_id: int):
        found = history().face(sighting_id) if 0 < sighting_id < 2**63 else None
        if found is None:
            raise HTTPProblem(404, f"no face kept for sighting {sighting_id}")
        return Response(found.crop, media_type="image/jpeg")

    @app.get("/attendance", response_model=list[Attendance], responses=problems)
    def attendance_rows(day: Optional[str] = Query(None, description="a local day: 2026-12-01, today, yesterday"),
                        since: Optional[str] = Query(None), until: Optional[str] = Query(None),
                        gap: float = Query(DEFAULT_GAP, ge=0, le=86400)) -> list[Attendance]:
        if day is not None or since is None:
            try:
                first = parse_day(day or "today")
            except BadTime as err:
                raise HTTPProblem(400, f"day: {err}") from None
            start, end = local_midnight(first), local_midnight(first + timedelta(days=1))
        else:
            start, end = _time(since, "since"), _time(until, "until")
        return [Attendance(**row) for row in attendance(history().named_intervals(start, end), since=start, until=end,
                                                         gap=gap)]

    @app.get("/events", responses={200: {"content": {"text/event-stream": {}}}, **problems})
    def events():
        if stream is None:
            raise HTTPProblem(404, "no live events: start facecam serve with --camera or --source")
        history()
        return StreamingResponse(service.events.stream(stream.stopping), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
