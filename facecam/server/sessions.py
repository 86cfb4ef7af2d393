"""Who may read and change through `facecam serve`: a bearer token (the API), or the web page's
session cookie, which its login form exchanges for the token.

The cookie holds its expiry and an HMAC of it keyed by the token, so a session outlives a server
restart, ends at its expiry, and ends at once for everyone when the token is changed. It is
HttpOnly (page scripts cannot read it) and SameSite=Strict (other sites' pages cannot send it);
a change made with it must also carry the page's request header and, when the browser says where
the request comes from, come from the page's own origin (CSRF)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from .guard import HTTPProblem

COOKIE = "facecam_session"
SESSION_HOURS = 12
PAGE_HEADER = "x-facecam-request"  # set by the page's scripts on every change; a cross-site form cannot set it


def issue(token: str, now: float | None = None) -> str:
    """A new session cookie's value."""
    expires = int((time.time() if now is None else now) + SESSION_HOURS * 3600)
    body = f"{expires}.{secrets.token_urlsafe(16)}"
    return f"{body}.{_signature(token, body)}"


def problem(token: str, value: str, now: float | None = None) -> str | None:
    """Why a session cookie's value does not log in (None when it does)."""
    body, _, signature = value.rpartition(".")
    expires = body.partition(".")[0]
    if not expires.isdigit() or not hmac.compare_digest(signature.encode(), _signature(token, body).encode()):
        return "your session is no longer valid (the token was changed): log in again"
    if int(expires) <= (time.time() if now is None else now):
        return "your session has expired: log in again"
    return None


def _signature(token: str, body: str) -> str:
    return hmac.new(token.encode(), body.encode(), hashlib.sha256).hexdigest()


def cookies(header: str | None) -> dict[str, str]:
    out = {}
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key:
            out.setdefault(key, value)
    return out


def authorise(token: str | None, headers: dict[str, str], *, change: bool) -> None:
    """Raise the HTTP problem of a request with these (lower-case) headers, if it may not go on.
    change: whether it changes something (else it reads personal data)."""
    if token is None:
        if change:
            raise HTTPProblem(403, "the registry is read-only: start facecam serve with FACECAM_TOKEN set to allow changes")
        return
    scheme, _, given = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        if hmac.compare_digest(given.strip().encode(), token.encode()):
            return
        raise HTTPProblem(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
    session = cookies(headers.get("cookie")).get(COOKIE)
    if session is None:
        raise HTTPProblem(401, "log in first (or send the bearer token)", {"WWW-Authenticate": "Bearer"})
    why = problem(token, session)
    if why is not None:
        raise HTTPProblem(401, why, {"WWW-Authenticate": "Bearer"})
    if change and (PAGE_HEADER not in headers or not same_origin(headers)):
        raise HTTPProblem(403, "a change from another site's page was refused")


def same_origin(headers: dict[str, str]) -> bool:
    """Whether the request's Origin (when the browser sent one) is the server it was sent to."""
    origin = headers.get("origin")
    if origin is None:
        return True
    return origin.partition("://")[2] == headers.get("host", "")
