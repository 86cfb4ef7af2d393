"""The history over HTTP: GET /sightings (filtered, paginated), /sightings/{id}/face, /attendance,
and /events, a Server-Sent Events stream of sightings starting and ending on the live source."""

from __future__ import annotations

import io
import json
import queue
import threading
import time
from typing import Optional

from fastapi import Depends, FastAPI, File, Query, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, create_model

from ..history import DEFAULT_GAP, BadTime, attendance, iso, local_midnight, parse_day, parse_time
from ..history.schema import SIGHTING
from .guard import HTTPProblem

Sighting = create_model("Sighting", id=(int, ...), **{
    f.public: (Optional[f.kind] if f.nullable else f.kind, Field(description=f.about)) for f in SIGHTING})


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


class UnknownGroup(BaseModel):
    cluster: int = Field(description="the group's id: the id of its oldest sighting")
    sightings: int
    first_seen: str
    last_seen: str
    sources: list[str]
    sighting_ids: list[int]


class GroupEnrolment(BaseModel):
    name: str = Field(min_length=1, max_length=400, description="who the group is")
    add: bool = Field(False, description="add to someone enrolled already")
    force: bool = Field(False, description="enrol even if the faces match someone else enrolled")


class GroupEnrolled(BaseModel):
    name: str
    added: int = Field(description="samples taken from the group")
    total: int = Field(description="samples of the person in all")
    sightings: int = Field(description="sightings that now carry the name")


class Forgotten(BaseModel):
    cluster: int
    sightings: int = Field(description="sightings erased with their faces")


class Correction(BaseModel):
    name: Optional[str] = Field(None, max_length=400, description="who it was; null: not the person it names")


class Corrected(BaseModel):
    sighting: int
    was: Optional[str]
    now: Optional[str]


class Found(Sighting):
    score: float = Field(description="how alike the faces are, on the calibrated scale")


class Events:
    """Fans sighting and presence events out to every /events client (each its own bounded queue; a client
    too slow to keep up loses events rather than holding the recorder up)."""

    KEEPALIVE = 15.0

    def __init__(self):
        self._clients: list[queue.Queue] = []
        self._lock = threading.Lock()
        self._count = 0
        self._present: dict[tuple[str, str], dict] = {}  # (source, name) -> {name, source, since, score}

    def publish(self, kind: str, payload: dict) -> None:
        with self._lock:
            self._count += 1
            for client in self._clients:
                try:
                    client.put_nowait((self._count, kind, payload))
                except queue.Full:
                    pass

    def starts(self, source: str, *, live: bool) -> "SightingStarts":
        """The observer that announces a source's sightings as they start."""
        return SightingStarts(self, source, live)

    def ended(self, rows: list[dict]) -> None:
        """A Writer's on_stored."""
        for row in rows:
            self.publish("sighting_ended", row)

    # a notify.Sink: arrived, left, unknown
    def send(self, body: dict, snapshot: bytes | None) -> None:
        with self._lock:
            if body["event"] == "arrived":
                self._present[body["source"], body["name"]] = {key: body.get(key) for key in ("name", "source", "score", "live")} | {
                    "since": body["time"]}
            elif body["event"] == "left":
                self._present.pop((body["source"], body["name"]), None)
        self.publish(body["event"], body)

    def presence(self) -> list[dict]:
        """Who is present now on each source, by name."""
        with self._lock:
            return sorted(self._present.values(), key=lambda p: (p["name"], p["source"]))

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


class SightingStarts:
    """An observe.Observer: `sighting_started` on /events when a track first shows on the source."""

    def __init__(self, events: Events, source: str, live: bool):
        self.events, self.source, self.live = events, source, live
        self._known: set[int] = set()

    def update(self, seen) -> None:
        for track in seen.tracks:
            if track.id not in self._known:
                start_s = None if self.live else round(seen.frame.time, 3)
                self.events.publish("sighting_started", {"source": self.source, "track_id": track.id, "name": track.name,
                                                         "start": iso(time.time()), "start_s": start_s})
        self._known = {t.id for t in seen.alive}

    def close(self) -> None:
        self._known.clear()


def _time(value: str | None, what: str) -> float | None:
    try:
        return None if value is None else parse_time(value)
    except BadTime as err:
        raise HTTPProblem(400, f"{what}: {err}") from None


def routes(app: FastAPI, service, stream, problems: dict, writer) -> None:
    """writer: the dependency that marks a route as needing the token (Guard checks it)."""
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

    def attendance_of(day, since, until, gap) -> tuple[str, list[Attendance]]:
        """(what the period is called, its attendance rows): a local day, or since-until."""
        if day is not None or since is None:
            try:
                first = parse_day(day or "today")
            except BadTime as err:
                raise HTTPProblem(400, f"day: {err}") from None
            start, end, period = local_midnight(first), local_midnight(first + timedelta(days=1)), first.isoformat()
        else:
            start, end, period = _time(since, "since"), _time(until, "until"), "period"
        return period, [Attendance(**row) for row in attendance(history().named_intervals(start, end), since=start,
                                                                 until=end, gap=gap)]

    @app.get("/attendance", response_model=list[Attendance], responses=problems)
    def attendance_rows(day: Optional[str] = Query(None, description="a local day: 2026-12-01, today, yesterday"),
                        since: Optional[str] = Query(None), until: Optional[str] = Query(None),
                        gap: float = Query(DEFAULT_GAP, ge=0, le=86400)) -> list[Attendance]:
        return attendance_of(day, since, until, gap)[1]

    @app.get("/attendance.csv", responses={200: {"content": {"text/csv": {}}}, **problems})
    def attendance_csv(day: Optional[str] = Query(None, description="a local day: 2026-12-01, today, yesterday"),
                       since: Optional[str] = Query(None), until: Optional[str] = Query(None),
                       gap: float = Query(DEFAULT_GAP, ge=0, le=86400)):
        """The same rows as CSV (the columns of `facecam report attendance --csv`), to download."""
        from ..history.report import write_csv

        period, rows = attendance_of(day, since, until, gap)
        text = io.StringIO()
        write_csv([row.model_dump() for row in rows], text)
        return Response(text.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="attendance-{period}.csv"'})

    def clusters():
        from ..history.unknowns import unknown_clusters

        return unknown_clusters(history(), service.embedder)[0]

    @app.get("/unknowns", response_model=list[UnknownGroup], responses=problems)
    def unknowns(since: Optional[str] = Query(None), until: Optional[str] = Query(None),
                 source: Optional[str] = Query(None),
                 min_sightings: int = Query(1, ge=1, le=10**9)) -> list[UnknownGroup]:
        """The unknown faces grouped by person (as `facecam unknowns`), most sightings first."""
        from ..history.unknowns import touching

        start, end = _time(since, "since"), _time(until, "until")
        return [UnknownGroup(**c.summary()) for c in touching(clusters(), since=start, until=end, source=source)
                if len(c.rows) >= min_sightings]

    @app.post("/unknowns/{cluster}/enrol", response_model=GroupEnrolled, status_code=201, responses=problems,
              dependencies=[Depends(writer)])
    def enrol_group(cluster: int, body: GroupEnrolment) -> GroupEnrolled:
        from ..history.unknowns import find
        from ..services.sightings import enrol_group

        done = enrol_group(service.people, history(), find(clusters(), cluster), body.name, add=body.add,
                           force=body.force)
        return GroupEnrolled(**done)

    @app.delete("/unknowns/{cluster}", response_model=Forgotten, responses=problems, dependencies=[Depends(writer)])
    def forget_group(cluster: int) -> Forgotten:
        """Erase the group's sightings and their faces (as `facecam unknowns forget`)."""
        from ..history.unknowns import find

        ids = [row["id"] for row in find(clusters(), cluster).rows]
        return Forgotten(cluster=cluster, sightings=history().erase_sightings(ids))

    @app.post("/sightings/{sighting_id}/correct", response_model=Corrected, responses=problems,
              dependencies=[Depends(writer)])
    def correct_sighting(sighting_id: int, body: Correction) -> Corrected:
        """name null: it was not the person it names; else it was `name` (as `facecam history correct`)."""
        from ..services.sightings import correct

        return Corrected(**correct(service.people, history(), sighting_id, name=body.name))

    @app.post("/search", response_model=list[Found], responses=problems)
    async def search(image: UploadFile = File(description="a photo of one face"),
                     top: int = Query(10, ge=1, le=1000)) -> list[Found]:
        """The sightings whose faces are nearest the photo's face, best first."""
        from ..services.sightings import search as search_history

        decoded = await service.read_image(image)

        def work():
            return [Found(**public(row), score=score) for row, score in
                    search_history(service.people, history(), decoded, service.detector, top=top,
                                   origin=image.filename or "upload")]

        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(work)

    @app.get("/events", responses={200: {"content": {"text/event-stream": {}}}, **problems})
    def events():
        if stream is None:
            raise HTTPProblem(404, "no live events: start facecam serve with --camera or --source")
        return StreamingResponse(service.events.stream(stream.stopping), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
