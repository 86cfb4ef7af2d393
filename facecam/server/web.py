"""The web page at / (static files shipped in the package: no build step, nothing from other
sites), its login, and the routes only it needs: browser enrolment, face thumbnails, presence."""

from __future__ import annotations

import asyncio
import hmac
from pathlib import Path
from typing import Optional

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from . import sessions
from .enrolments import BrowserEnrolments
from .guard import HTTPProblem

PAGE = Path(__file__).with_name("page")
WRONG_TOKEN_DELAY_S = 1.0  # slows guessing down
# The page's scripts, styles and images come from this server only; no inline script, no frames.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def headers(path: str) -> dict[str, str]:
    """The security headers of every answer (the Swagger page at /docs runs an inline script)."""
    out = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
    if not path.startswith(("/docs", "/docs-assets")):
        out["Content-Security-Policy"] = CSP
    return out


class Login(BaseModel):
    token: str = Field(max_length=1000)


class Session(BaseModel):
    token_required: bool = Field(description="whether the server has a token: then the page needs a login")
    logged_in: bool
    writable: bool = Field(description="whether changes can be made from here")
    problem: Optional[str] = Field(description="why the session in the cookie does not log in, if it does not")


class Captured(BaseModel):
    direction: str
    quality: str = Field(description='the sample\'s quality in words: "good: sharp, 83 px, clear"')


class EnrolmentState(BaseModel):
    guidance: dict
    samples: int
    captured: list[Captured] = Field(description="the samples held, one per direction")


class FrameGuidance(BaseModel):
    guidance: dict
    warning: Optional[str]
    face: Optional[list[float]] = Field(description="the face considered: x1, y1, x2, y2 as fractions of the frame")
    kept: Optional[str] = Field(description="the direction this frame became the sample of")
    samples: int
    captured: list[Captured] = Field(description="the samples held, one per direction")
    oval: list[float] = Field(description="the guide: centre x, y and semi-axes a, b as fractions of the frame")


class EnrolmentStarted(BaseModel):
    id: str
    guidance: dict
    samples: int


class EnrolmentSave(BaseModel):
    name: str = Field(min_length=1, max_length=400)
    add: bool = False
    force: bool = False


class BrowserEnrolled(BaseModel):
    name: str
    added: int
    total: int
    poses: list[str]


class Present(BaseModel):
    name: str
    source: str
    since: str
    score: float
    live: bool | None = Field(None, description="judged live (serve --liveness); null without liveness checks")


def routes(app: FastAPI, service, problems: dict, writer) -> None:
    from starlette.concurrency import run_in_threadpool
    from starlette.staticfiles import StaticFiles

    from ..validate import person_name

    app.mount("/app", StaticFiles(directory=str(PAGE)), name="page")
    enrolments = BrowserEnrolments(service)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(PAGE / "index.html", headers={"Cache-Control": "no-cache"})

    def session_of(request: Request) -> Session:
        if service.token is None:
            return Session(token_required=False, logged_in=False, writable=False, problem=None)
        value = request.cookies.get(sessions.COOKIE)
        problem = None if value is None else sessions.problem(service.token, value)
        logged_in = value is not None and problem is None
        return Session(token_required=True, logged_in=logged_in, writable=logged_in, problem=problem)

    @app.get("/session", response_model=Session)
    def session(request: Request) -> Session:
        """Whether the page must ask for the token, and whether its session is good."""
        return session_of(request)

    @app.post("/login", response_model=Session, responses=problems)
    async def login(body: Login, request: Request, response: Response) -> Session:
        """Exchange the token for the page's session cookie (HttpOnly, SameSite=Strict)."""
        if service.token is None:
            raise HTTPProblem(400, "this server has no token: the page is read-only and needs no login")
        if not hmac.compare_digest(body.token.strip().encode(), service.token.encode()):
            await asyncio.sleep(WRONG_TOKEN_DELAY_S)
            raise HTTPProblem(401, "wrong token")
        response.set_cookie(sessions.COOKIE, sessions.issue(service.token), max_age=sessions.SESSION_HOURS * 3600,
                            httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")
        return Session(token_required=True, logged_in=True, writable=True, problem=None)

    @app.post("/logout", response_model=Session)
    def logout(response: Response) -> Session:
        response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="strict")
        return Session(token_required=service.token is not None, logged_in=False, writable=False, problem=None)

    @app.get("/identities/{name:path}/face", responses={200: {"content": {"image/png": {}}}, **problems})
    def person_face(name: str):
        """A face of the person: the sharpest frontal sample kept with its crop, else the best other."""
        crop = service.registry().thumbnail(name)
        if crop is None:
            raise HTTPProblem(404, f"no face kept for {name!r}")
        return Response(crop, media_type="image/png", headers={"Cache-Control": "private, no-cache"})

    @app.get("/presence", response_model=list[Present], responses=problems)
    def presence() -> list[Present]:
        """Who is on the live sources now (the /events arrived and left events keep it up to date)."""
        return [Present(**p) for p in service.events.presence()]

    @app.post("/enrolments", response_model=EnrolmentStarted, status_code=201, responses=problems,
              dependencies=[Depends(writer)])
    def start_enrolment() -> EnrolmentStarted:
        """Start a guided enrolment from the browser's camera (its frames to /enrolments/{id}/frames)."""
        return EnrolmentStarted(**enrolments.start())

    @app.post("/enrolments/{key}/frames", response_model=FrameGuidance, responses=problems,
              dependencies=[Depends(writer)])
    async def enrolment_frame(key: str, request: Request) -> FrameGuidance:
        """One camera frame as the request body (JPEG or PNG, as the camera sees it, not mirrored)."""
        image = service.image_of(await request.body(), "frame")
        return FrameGuidance(**await run_in_threadpool(enrolments.frame, key, image))

    @app.get("/enrolments/{key}/samples/{direction}/face", responses={200: {"content": {"image/jpeg": {}}}, **problems},
             dependencies=[Depends(writer)])
    def enrolment_face(key: str, direction: str) -> Response:
        """The face held as one direction's sample (the aligned crop that will be saved)."""
        return Response(enrolments.face(key, direction), media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.delete("/enrolments/{key}/samples/{direction}", response_model=EnrolmentState, responses=problems,
                dependencies=[Depends(writer)])
    def drop_enrolment_sample(key: str, direction: str) -> EnrolmentState:
        """Forget one direction's sample: the next good frame in that direction takes it again."""
        return EnrolmentState(**enrolments.drop(key, direction))

    @app.post("/enrolments/{key}", response_model=BrowserEnrolled, status_code=201, responses=problems,
              dependencies=[Depends(writer)])
    def save_enrolment(key: str, body: EnrolmentSave) -> BrowserEnrolled:
        """Enrol the samples captured so far under `name`."""
        return BrowserEnrolled(**enrolments.finish(key, person_name(body.name), add=body.add, force=body.force))

    @app.delete("/enrolments/{key}", status_code=204, dependencies=[Depends(writer)])
    def cancel_enrolment(key: str) -> Response:
        enrolments.cancel(key)
        return Response(status_code=204)
