"""Reading a live source in a thread of its own, so the frame loop always gets the newest frame.

OpenCV buffers what a camera or stream delivers; a loop that reads one frame per processed frame
falls further behind the moment processing is slower than the source. The grabber grabs every
frame as the source delivers it, so it never lags, but converts to a picture (retrieve: the
colour conversion, a camera's MJPEG decoding) only the frame the loop will take: the last one
before the loop is ready again, by the loop's own pace, or the next one while the loop waits. It
keeps only the latest picture, and counts the frames the loop never took (`dropped`). When the
source stops delivering (a camera unplugged, a stream's server restarting) it reopens it with a
growing pause (1 s, doubling up to 30 s), `reconnect` times or for ever.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import FacecamError
from .words import counted


@dataclass
class Frame:
    index: int  # 0, 1, 2, ... in the order the loop took them
    time: float  # seconds: the position in a video file, since opening for a live source; a folder: the index
    image: np.ndarray  # BGR uint8 HxWx3
    captured: float | None = None  # time.monotonic() when the frame was read from a live source
    source: int = 0  # which source, when a loop reads several


class Grabber:
    """frames() yields the newest Frame whenever there is one the loop has not taken, and None
    every IDLE seconds while there is none (so a window stays responsive while a source
    reconnects); it ends when the source ended, gave up, or stop() was called. poll() is the same
    without waiting, for a loop over several grabbers (which then share `wake`).

    open_capture(): a new opened cv2.VideoCapture (raises FacecamError); name: for messages;
    live: a camera or stream (reconnected), else a file read at `fps` (paced: --realtime);
    reconnect: attempts before giving up, None for ever; on_status(message): reconnecting, back.
    stride: of the frames grabbed, at most one in `stride` is retrieved (2 while the loop only
    watches a still picture: set by the loop as it goes).
    """

    IDLE = 0.25
    STALL_SECONDS = 3.0  # without a frame this long (reads failing or blocking) a live source is lost
    FIRST_PAUSE = 1.0  # seconds before the first attempt to reopen; doubled after each failed one
    RETRY_MAX = 30.0

    def __init__(self, capture, open_capture: Callable, *, name: str, live: bool, fps: float | None,
                 reconnect: int | None = 3, on_status: Callable[[str], None] | None = None,
                 wake: threading.Condition | None = None):
        self._capture, self.open_capture, self.name, self.live = capture, open_capture, name, live
        self.fps, self.reconnect, self.on_status = fps, reconnect, on_status
        self.decoded = 0  # frames retrieved (converted to a picture)
        self.stride = 1
        self.reconnects = 0  # times the source was opened again after it was lost
        self.state: str | None = None  # "reconnecting ..." while it is
        self.failure: str | None = None  # why it gave up
        self.stopped = False  # a live source that was lost for good
        self._latest: tuple | None = None  # (number, image, captured)
        self._number = 0  # frames read
        self._taken, self._index, self._start = -1, 0, time.monotonic()  # the loop's side
        # what decides which frame to retrieve: the source's pace (seconds between frames), how long
        # the loop is busy with a frame (from taking it to asking again), and whether it waits now
        self._interval: float | None = None
        self._busy: float | None = None
        self._took_at: float | None = None
        self._asked = True  # the loop asked since it last took a frame
        self._ahead = False  # a frame was retrieved for the loop before it asked, since it last took one
        self._waiting = True
        self._since_retrieved = 0  # frames grabbed since the last one retrieved
        self._done = False
        self._changed = wake or threading.Condition()  # several grabbers may share one: a loop over several sources
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"facecam-grab {name}", daemon=True)

    def stop(self) -> None:
        self._halt.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def start(self) -> "Grabber":
        if not self._thread.is_alive() and not self._done:
            self._start = time.monotonic()
            self._thread.start()
        return self

    @property
    def dropped(self) -> int:
        """Frames grabbed that the loop never took (superseded before it was ready)."""
        with self._changed:
            return self._number - self._index - (1 if self.has_new() else 0)

    @property
    def finished(self) -> bool:
        """The source ended (or was given up) and its last frame was taken."""
        with self._changed:
            return self._done and not self.has_new()

    def poll(self) -> Frame | None:
        """The newest frame the loop has not taken, or None (no waiting)."""
        now = time.monotonic()
        if not self._asked and self._took_at is not None:
            self._busy, self._asked = _average(self._busy, now - self._took_at), True
        with self._changed:
            if not self.has_new():
                self._waiting = True
                return None
            number, image, captured = self._latest
            self._waiting = self._asked = self._ahead = False
        self._took_at = now
        self._taken = number
        seconds = captured - self._start if self.live else number / (self.fps or 25.0)
        self._index += 1
        return Frame(self._index - 1, seconds, image, captured if self.live else None)

    def frames(self):
        self.start()
        try:
            while True:
                frame = self.poll()
                if frame is not None:
                    yield frame
                    continue
                with self._changed:
                    if self._done and not self.has_new():
                        return
                    self._changed.wait_for(lambda: self.has_new() or self._done, timeout=self.IDLE)
                    waited_in_vain = not self.has_new() and not self._done
                if waited_in_vain:
                    yield None
        finally:
            self.stop()

    def has_new(self) -> bool:
        return self._latest is not None and self._latest[0] > self._taken

    def _run(self) -> None:
        try:
            self._read_all()
        finally:
            if self._capture is not None:
                self._capture.release()
                self._capture = None
            with self._changed:
                self._done = True
                self._changed.notify_all()

    def _read_all(self) -> None:
        last_ok = due = time.monotonic()
        period = 1.0 / self.fps if self.fps else 0.04
        while not self._halt.is_set():
            if not self.live:  # a file at its own pace
                due += period
                if self._halt.wait(max(0.0, due - time.monotonic())):
                    return
            ok, image = self._capture.grab(), None
            if ok:
                now = time.monotonic()
                self._interval = _average(self._interval, now - last_ok)
                last_ok = now
                if not self._wanted(now):
                    with self._changed:
                        self._number += 1  # grabbed, never retrieved: superseded before the loop was ready
                    continue
                ok, image = self._capture.retrieve()
            if ok and image is not None:
                self.decoded += 1
                self._since_retrieved = 0
                with self._changed:
                    self._latest = (self._number, image, last_ok)
                    self._number += 1
                    self._changed.notify_all()
                continue
            if not self.live:
                return  # the end of the file
            if time.monotonic() - last_ok < self.STALL_SECONDS:
                time.sleep(0.03)
                continue
            if not self._reopen():
                return
            last_ok = time.monotonic()

    def _wanted(self, now: float) -> bool:
        """Whether to retrieve the frame just grabbed: not within the stride, and the loop waits
        for it, or it is the last frame to come before the loop will be ready (one such frame
        between two the loop takes)."""
        self._since_retrieved += 1
        if self._since_retrieved < self.stride:
            return False
        if self._waiting:
            return True
        if self._ahead or self._busy is None or self._interval is None or now + self._interval < self._took_at + self._busy:
            return False
        self._ahead = True
        return True

    def _reopen(self) -> bool:
        """Open the source again, pausing longer after each failure; False when it gave up."""
        self._capture.release()
        self._capture = None
        pause, attempt = self.FIRST_PAUSE, 0
        while self.reconnect is None or attempt < self.reconnect:
            attempt += 1
            of = "" if self.reconnect is None else f" of {self.reconnect}"
            self.state = f"reconnecting (attempt {attempt}{of})"
            self._say(f"{self.name}: no frames for {self.STALL_SECONDS:g} s; reconnecting in {pause:g} s "
                      f"(attempt {attempt}{of})")
            if self._halt.wait(pause):
                return False
            try:
                self._capture = self.open_capture()
            except FacecamError as err:
                self.failure = str(err)
                pause = min(2 * pause, self.RETRY_MAX)
                continue
            self.reconnects += 1
            self.state = None
            self._say(f"{self.name}: reconnected")
            return True
        self.stopped = True
        self.failure = f"{self.name}: lost, and not back after {counted(attempt, 'attempt')} ({self.failure or 'no frames'})"
        return False

    def _say(self, message: str) -> None:
        if self.on_status is not None:
            self.on_status(message)


def _average(mean: float | None, value: float) -> float:
    """A running mean that follows a pace as it changes (about the last ten values)."""
    return value if mean is None else 0.9 * mean + 0.1 * value
