"""An ASGI middleware that refuses a request before its body is read: a change without a valid
token or session (401/403), a body larger than the limit, by its Content-Length or as it streams
in (413); the answer is JSON like every other error. It also adds the security headers of every
answer (Content-Security-Policy and the rest)."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException


class HTTPProblem(Exception):
    """An answer other than 2xx: status, the JSON detail, extra headers."""

    def __init__(self, status: int, detail: str, headers: dict | None = None):
        self.status, self.detail, self.headers = status, detail, headers


class _TooLarge(HTTPException):
    """Raised from inside the app's body reading: FastAPI passes an HTTPException on as it is
    (any other error while parsing a form becomes a 400)."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit} bytes")


class Guard:
    """refuse(method, path, {lower-case header: value}): raises `problem` for a request that may
    not go on; body_limit(path): the largest body in bytes; problem: the exception type with
    status, detail and headers; secure(path): the headers every answer to path carries."""

    def __init__(self, app, *, refuse, body_limit, problem, secure):
        self.app, self.refuse, self.body_limit, self.problem = app, refuse, body_limit, problem
        self.secure = secure

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = self.body_limit(scope["path"])
        extra = [(k.lower().encode(), v.encode()) for k, v in self.secure(scope["path"]).items()]

        async def secured(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            self.refuse(scope["method"], scope["path"], headers)
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                raise self.problem(413, f"the request body of {length} bytes is larger than {limit} bytes")
        except self.problem as err:
            return await _answer(secured, err.status, err.detail, err.headers)
        return await self._pass(scope, receive, secured, limit)

    async def _pass(self, scope, receive, send, limit: int):
        received, started = 0, False

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge as err:
            if not started:
                await _answer(send, 413, err.detail)


async def _answer(send, status: int, detail: str, headers: dict | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"connection", b"close")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
