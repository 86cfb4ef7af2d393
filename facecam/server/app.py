"""`facecam serve`: the recognition pipeline and the registry behind an HTTP API (FastAPI), with an
MJPEG stream of the annotated camera or video when a source is given.

The models are loaded once; requests run concurrently in the server's thread pool. Registry
writes go through the same locked, atomic transactions as the CLI, so both can run at once. Every
change needs the token (FACECAM_TOKEN: as a bearer token, or the web page's session); without
one the service is read-only and open. With one, reading anything personal (names, faces,
sightings, the streams) needs it too; /health, the page itself and its login stay open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from ..errors import ConflictError, FacecamError, InputError, NotFoundError, UsageError
from ..registry import Registry
from ..services import People
from ..images import ImageTooLarge, decode_image
from ..validate import person_name
from ..version import __version__
from . import history, sessions, web
from .guard import Guard, HTTPProblem

MAX_FILES = 20  # images per enrolment request
UPLOAD = "upload:"  # the source an uploaded photo's sample records: upload:<file name>
READ_ONLY_POSTS = {"/recognize", "/search"}  # every other POST, and every PATCH or DELETE, changes the registry
# open to anyone: the page itself (it asks for the token), logging in and out, health, the API docs
PUBLIC = ("/health", "/login", "/logout", "/session", "/app/", "/docs", "/openapi.json")
# most specific first: ConflictError and NotFoundError are UsageErrors
ERROR_STATUS = ((ConflictError, 409), (NotFoundError, 404), (UsageError, 400), (ImageTooLarge, 413), (InputError, 422))


class Face(BaseModel):
    box: list[float] = Field(description="x1, y1, x2, y2 in pixels")
    detection_score: float
    landmarks: list[list[float]] = Field(description="(x, y) of left eye, right eye, nose, left and right mouth corner")
    name: Optional[str] = Field(description="the enrolled person, or null for unknown")
    score: float = Field(description="match score of the best enrolled person, on the calibrated scale")
    best_name: Optional[str] = Field(description="the best enrolled person even below the threshold")


class Recognition(BaseModel):
    width: int
    height: int
    threshold: float
    faces: list[Face]


class Person(BaseModel):
    name: str
    samples: int
    negatives: int = Field(0, description="faces they were wrongly taken for, kept by corrections")
    poses: list[str]
    created: str
    updated: str
    model: str
    sightings: Optional[int] = Field(None, description="sightings of them in the history (null without one)")
    last_seen: Optional[str] = Field(None, description="when their last sighting ended, ISO 8601 UTC")


class Skipped(BaseModel):
    file: str
    reason: str


class Enrolled(BaseModel):
    name: str
    added: int
    total: int
    skipped: list[Skipped]


class Rename(BaseModel):
    name: str = Field(min_length=1, max_length=400, description="the new name (the rule: README, 'Names')")


class Deleted(BaseModel):
    name: str
    samples: int
    sightings: int = Field(description="sightings erased from the history with them")


class SourceHealth(BaseModel):
    name: Optional[str]
    frames: int = Field(description="frames processed")
    dropped: int = Field(description="frames a live source delivered that were superseded before they could be processed")
    reconnects: int
    state: str = Field(description="running, reconnecting (attempt N), or why it stopped")
    idle: bool = Field(False, description="the picture is still and nobody is tracked: the face detector rests")
    gated: int = Field(0, description="frames the face detector was not run on (the motion gate)")
    motion: bool = Field(False, description="whether the motion gate is on (off with --no-motion)")


class Health(BaseModel):
    status: str
    version: str
    model: str
    people: int
    writable: bool
    stream: bool
    history: bool
    registry_offline: Optional[str] = Field(None, description="why a shared (PostgreSQL) registry cannot be reached now; "
                                            "the people known before are recognised meanwhile")
    source: Optional[SourceHealth] = Field(None, description="the (first) live source, with --camera or --source")
    sources: list[SourceHealth] = Field([], description="every live source")


class Remedy(BaseModel):
    does: str = Field(description="what it does")
    parameter: Optional[str] = Field(None, description="the request's parameter to set")
    value: Optional[str] = Field(None, description="the value to give it")
    command: Optional[str] = Field(None, description="or: the command to run on the server")


class Problem(BaseModel):
    detail: str
    remedies: list[Remedy] = Field([], description="ways to proceed, where there are some")


PROBLEMS = {code: {"model": Problem} for code in (400, 401, 403, 404, 409, 413, 415, 422, 503)}


class Service:
    """What the endpoints share: the models, the people (services.People: the registry, re-read
    when another process changed it, and the history), the token, the limits."""

    def __init__(self, *, registry_path: Path, detector, embedder, token: str | None, threshold: float | None,
                 max_upload_bytes: int, history=None, events=None):
        from .history import Events

        self.detector, self.embedder = detector, embedder
        self.history = history  # a history.History, or None with --no-history
        self.people = People(registry_path, embedder, threshold=threshold, history=history)
        self.events = events or Events()  # the live sources' sightings and presence, for /events
        self.token, self.max_upload_bytes = token, max_upload_bytes
        self.threshold = self.people.threshold
        self.people.registry()  # another model's registry is refused at start

    def registry(self) -> Registry:
        return self.people.registry()

    def body_limit(self, path: str) -> int:
        """The largest request body for `path`: its images at the upload limit, plus room for the
        multipart headers."""
        files = MAX_FILES if path.startswith("/identities/") else 1  # one image, one enrolment frame
        return files * (self.max_upload_bytes + 64 * 1024)

    async def read_image(self, upload: UploadFile) -> np.ndarray:
        return self.image_of(await upload.read(self.max_upload_bytes + 1), upload.filename or "upload")

    def image_of(self, data: bytes, name: str) -> np.ndarray:
        """The uploaded image, or the HTTP problem of one too large (413) or unreadable (415)."""
        if len(data) > self.max_upload_bytes:
            raise HTTPProblem(413, f"{name}: larger than {self.max_upload_bytes} bytes")
        try:
            return decode_image(data, name)
        except ImageTooLarge as err:
            raise HTTPProblem(413, str(err)) from None
        except InputError:
            raise HTTPProblem(415, f"{name}: not a readable image") from None

    def recognise(self, image: np.ndarray) -> Recognition:
        return Recognition(width=image.shape[1], height=image.shape[0], threshold=self.threshold, faces=[
            Face(box=[round(float(v), 2) for v in who.face.box], detection_score=round(float(who.face.score), 4),
                 landmarks=[[round(float(x), 2), round(float(y), 2)] for x, y in who.face.landmarks], name=who.name,
                 score=who.score, best_name=who.best_name)
            for who in self.people.recognise(image, self.detector)])


def create_app(service: Service, streams: list | None = None) -> FastAPI:
    """The ASGI app. streams: the LiveStreams of annotated frames for GET /stream (the first) and
    /stream/{source} (by name or number), or none."""
    streams = list(streams or [])
    stream = streams[0] if streams else None
    app = FastAPI(title="facecam", version=__version__, docs_url=None, redoc_url=None,
                  description="Face recognition over an enrolled registry: recognise, enrol, list, rename, delete.")

    def refuse(method: str, path: str, headers: dict) -> None:
        if path == "/" or path.startswith(PUBLIC):
            return
        change = method not in ("GET", "HEAD", "OPTIONS") and path not in READ_ONLY_POSTS
        if change or service.token is not None:  # with a token, reading personal data needs it too
            sessions.authorise(service.token, headers, change=change)

    app.add_middleware(Guard, refuse=refuse, body_limit=service.body_limit, problem=HTTPProblem, secure=web.headers)
    _errors(app)
    _docs(app)

    @app.get("/health", response_model=Health)
    def health() -> Health:
        registry = service.registry()
        return Health(status="ok", version=__version__, model=service.embedder.name, people=len(registry.identities),
                      writable=service.token is not None, stream=stream is not None, history=service.history is not None,
                      registry_offline=getattr(registry, "offline", None),
                      source=SourceHealth(**stream.health()) if stream is not None else None,
                      sources=[SourceHealth(**s.health()) for s in streams])

    @app.post("/recognize", response_model=Recognition, responses=PROBLEMS)
    async def recognize(image: UploadFile = File(description="a photo (JPEG, PNG, ...)")) -> Recognition:
        return await _in_thread(service.recognise, await service.read_image(image))

    writer = _people(app, service)
    history.routes(app, service, stream, PROBLEMS, writer)
    web.routes(app, service, PROBLEMS, writer)

    @app.get("/stream", responses={200: {"content": {"multipart/x-mixed-replace": {}}}, 404: {"model": Problem}})
    def live_stream():
        if stream is None:
            raise HTTPProblem(404, "no stream: start facecam serve with --camera or --source")
        return StreamingResponse(stream.frames(), media_type="multipart/x-mixed-replace; boundary=frame")

    @app.get("/stream/{source}", responses={200: {"content": {"multipart/x-mixed-replace": {}}}, 404: {"model": Problem}})
    def live_stream_of(source: str):
        """One source's stream, by its name (door in --source door=rtsp://...) or number (0, 1, ...)."""
        chosen = next((s for s in streams if s.name == source), None)
        if chosen is None and source.isdigit() and int(source) < len(streams):
            chosen = streams[int(source)]
        if chosen is None:
            raise HTTPProblem(404, f"no source {source!r}: there are {', '.join(repr(s.name) for s in streams) or 'none'}")
        return StreamingResponse(chosen.frames(), media_type="multipart/x-mixed-replace; boundary=frame")

    return app


def _errors(app: FastAPI) -> None:
    """Every error as JSON {"detail"}: facecam's with their status, a bug as a 500."""
    @app.exception_handler(HTTPProblem)
    async def _problem(request: Request, err: HTTPProblem):
        return JSONResponse({"detail": err.detail}, status_code=err.status, headers=err.headers)

    @app.exception_handler(FacecamError)
    async def _facecam_error(request: Request, err: FacecamError):
        status = next((code for kind, code in ERROR_STATUS if isinstance(err, kind)), 503)  # 503: registry, weights
        body = {"detail": str(err)}
        if err.remedies:  # how to proceed, as the request's parameters (force=true) or a command to run
            body["remedies"] = [{"does": r.does, **({"command": f"facecam {r.command}"} if r.command else
                                                    {"parameter": r.option, "value": r.value or "true"})}
                                for r in err.remedies]
        return JSONResponse(body, status_code=status)

    @app.exception_handler(Exception)
    async def _internal(request: Request, err: Exception):  # a bug: JSON all the same, the traceback in the log
        return JSONResponse({"detail": f"internal error ({type(err).__name__})"}, status_code=500)


def _people(app: FastAPI, service: Service):
    """The /identities routes; the changes need the token (checked by Guard before the body is read).
    Returns the dependency that marks a route as needing it."""
    bearer = HTTPBearer(auto_error=False)

    def writer(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        pass  # marks the route as needing the token in the schema; Guard has checked it already

    @app.get("/identities", response_model=list[Person], responses=PROBLEMS)
    def identities() -> list[Person]:
        return [Person(**p) for p in service.people.listing()]

    @app.post("/identities/{name:path}/samples", response_model=Enrolled, status_code=201, responses=PROBLEMS,
              dependencies=[Depends(writer)])
    async def add_samples(name: str, images: list[UploadFile] = File(description="photos, one main face each"),
                          force: bool = Query(False, description="enrol even if the face matches someone else")) -> Enrolled:
        name = person_name(name)
        if len(images) > MAX_FILES:
            raise HTTPProblem(413, f"at most {MAX_FILES} images per request")
        decoded = [(f"{UPLOAD}{upload.filename or f'image {k + 1}'}", await service.read_image(upload))
                   for k, upload in enumerate(images)]
        done = await _in_thread(lambda: service.people.enrol_photos(name, decoded, service.detector, force=force))
        return Enrolled(name=done.name, added=done.added, total=done.total,
                        skipped=[Skipped(file=s["image"].removeprefix(UPLOAD), reason=s["reason"]) for s in done.skipped])

    @app.delete("/identities/{name:path}", response_model=Deleted, responses=PROBLEMS, dependencies=[Depends(writer)])
    def delete(name: str) -> Deleted:
        erased = service.people.delete(name)
        return Deleted(name=erased.name, samples=erased.samples, sightings=erased.sightings)

    @app.patch("/identities/{name:path}", response_model=Person, responses=PROBLEMS, dependencies=[Depends(writer)])
    def rename(name: str, body: Rename) -> Person:
        new = person_name(body.name)
        service.people.rename(name, new)
        return next(Person(**p) for p in service.people.listing() if p["name"] == new)

    return writer


async def _in_thread(function, *args):
    """Run model work off the event loop, so requests are served concurrently."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)


def _docs(app: FastAPI) -> None:
    """/docs: Swagger UI from the files of the swagger-ui-bundle package (no CDN, works offline)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    try:
        from starlette.staticfiles import StaticFiles
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        swagger_ui_path = None
    if swagger_ui_path is not None:
        app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs():
        if swagger_ui_path is None:
            return HTMLResponse("<p>The interactive docs need the swagger-ui-bundle package (pip install "
                                "'facecam[serve]'). The schema is at <a href='/openapi.json'>/openapi.json</a>.</p>")
        return get_swagger_ui_html(openapi_url="/openapi.json", title="facecam API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")
