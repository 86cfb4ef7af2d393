"""Events POSTed as JSON to a URL, signed, from a thread of their own.

Each POST carries `X-Facecam-Event` (arrived, left, unknown, test) and, when FACECAM_WEBHOOK_SECRET
is set, `X-Facecam-Signature: sha256=<hex>`: the HMAC-SHA256 of the exact body under the secret
(README: how to check it). A receiver that fails (no answer, 5xx, 408, 429, a timeout) has the
event sent again after a pause that grows from 1 s to 30 s; meanwhile new events wait in a queue
of QUEUE, the oldest dropped (with a warning) when it is full. Any other 4xx drops the event with
a warning: sending it again would not change the answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import NotifyError, UsageError
from ..validate import hide_password
from ..version import __version__
from ..words import counted

SECRET_ENV = "FACECAM_WEBHOOK_SECRET"


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{shown(url)}: expected an http:// or https:// URL", param="webhook")
    try:
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError:
        raise UsageError(f"{shown(url)}: the port is not a number from 0 to 65535", param="webhook") from None
    return url


def shown(url: str) -> str:
    """The URL as it may be shown: without its query (where receivers often keep a token), its
    password as ***."""
    return hide_password(urlunsplit(urlsplit(url)._replace(query="", fragment="")))


def _credentials(url: str) -> tuple[str, dict[str, str]]:
    """(the URL without user and password, the Authorization header they make): urllib takes
    user:password@host for a host name, so basic authentication goes in a header."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    login = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    return urlunsplit(bare), {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()}


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, kind: str, secret: str | None, timeout: float) -> int:
    """POST the body; the HTTP status (raises OSError when there was no answer)."""
    url, login = _credentials(url)
    headers = {"Content-Type": "application/json", "User-Agent": f"facecam/{__version__}", "X-Facecam-Event": kind,
               **login}
    if secret:
        headers["X-Facecam-Signature"] = signature(body, secret)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


class WebhookSink:
    QUEUE = 1000
    TIMEOUT = 5.0
    RETRY_MAX = 30.0

    def __init__(self, url: str, *, secret: str | None, warn):
        self.url, self.name, self.secret, self.warn = check_url(url), f"webhook {shown(url)}", secret, warn
        self.delivered = self.dropped = self.rejected = 0
        self.error: str | None = None
        self._queue: deque = deque()
        self._changed = threading.Condition()
        self._closing: float | None = None  # the deadline once closing
        self._busy = False
        self._thread = threading.Thread(target=self._run, name=f"facecam-{self.name}", daemon=True)
        self._thread.start()

    def send(self, body: dict, snapshot: bytes | None) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        with self._changed:
            if len(self._queue) >= self.QUEUE:
                self._queue.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 100 == 0:
                    self.warn(f"{self.name}: {counted(self.dropped, 'event')} dropped so far, the oldest first "
                              f"({self.error or 'the receiver is behind'})")
            self._queue.append((body["event"], data))
            self._changed.notify_all()

    def people(self, names: set[str]) -> None:
        pass

    def close(self, deadline: float) -> None:
        with self._changed:
            self._closing = deadline
            self._changed.notify_all()
        self._thread.join(max(0.0, deadline - time.monotonic()) + self.TIMEOUT)
        left = len(self._queue)
        if left:
            self.warn(f"{self.name}: {counted(left, 'event')} not delivered ({self.error or 'no time left'})")

    def _run(self) -> None:
        pause = 1.0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queue or self._closing is not None)
                if not self._queue or (self._closing is not None and time.monotonic() >= self._closing):
                    return
                kind, data = self._queue[0]
            try:
                status = post(self.url, data, kind, self.secret, self.TIMEOUT)
                failure = None if 200 <= status < 300 else f"answered {status}"
            except (OSError, ValueError) as err:  # refused, unreachable, timed out, TLS
                status, failure = None, _reason(err)
            if failure is None or (status is not None and 400 <= status < 500 and status not in (408, 429)):
                with self._changed:
                    if self._queue and self._queue[0][1] is data:
                        self._queue.popleft()
                if failure is None:
                    self.delivered += 1
                    if self.error is not None:
                        self.warn(f"{self.name}: delivering again")
                    self.error, pause = None, 1.0
                else:
                    self.rejected += 1
                    self.warn(f"{self.name}: {failure}; the {kind} event is dropped")
                continue
            if self.error is None:
                self.warn(f"{self.name}: {failure}; events wait and are sent again (every {self.RETRY_MAX:g} s at most)")
            self.error = failure
            with self._changed:
                self._changed.wait_for(lambda: self._closing is not None and time.monotonic() >= self._closing,
                                       timeout=pause)
            pause = min(2 * pause, self.RETRY_MAX)


def _reason(err: Exception) -> str:
    reason = getattr(err, "reason", None) or err
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return f"no answer within {WebhookSink.TIMEOUT:g} s"
    return f"cannot reach it ({getattr(reason, 'strerror', None) or reason})"


def send_test(url: str, body: dict, *, secret: str | None) -> str:
    """POST one event; what the receiver answered (raises NotifyError unless it took it)."""
    check_url(url)
    data = json.dumps(body, separators=(",", ":")).encode()
    try:
        status = post(url, data, body["event"], secret, WebhookSink.TIMEOUT)
    except (OSError, ValueError) as err:
        raise NotifyError(f"webhook {shown(url)}: {_reason(err)}") from None
    if not 200 <= status < 300:
        raise NotifyError(f"webhook {shown(url)}: answered {status}")
    signed = "signed with FACECAM_WEBHOOK_SECRET" if secret else f"unsigned: {SECRET_ENV} is not set"
    return f"webhook {shown(url)}: the test event was taken (answered {status}; {signed})"
