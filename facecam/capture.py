"""The one capture loop behind `register`, `recognize` and `serve`'s stream: read a frame, hand it to the
command's step, show the annotated frame in an OpenCV window, and handle the keys.

q finishes (the command keeps its work); Esc, Ctrl-C (SIGINT) or closing the window abort (the
command keeps nothing). The loop installs its own SIGINT handler, so Ctrl-C works even when the
process was started with SIGINT ignored (a background job, some runners).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import DeviceError, Remedy
from .sources import Frame, FrameSource

FINISHED = "finished"  # q, or the step said it is done
ABORTED = "aborted"  # Esc, Ctrl-C, the window closed
ENDED = "ended"  # the source has no more frames (or --max-frames was reached)
STOPPED = "stopped"  # a live source stopped delivering frames

NO_WINDOW = Remedy("runs without a window", "headless")
KEY_FINISH = {ord("q"), ord("Q"), 13, 10}  # q, Enter
KEY_ABORT = {27}  # Esc
KEY_FULLSCREEN = {ord("f"), ord("F")}


class Loop:
    """Run `step(frame) -> (annotated image or None, done)` over a source's frames (a list of
    frames, to be processed together, from sources.Sources).

    headless: no window (no keys but Ctrl-C). max_frames: stop after that many frames. timer: a
    pipeline.StageTimer to count frame reading in, as "decode". stop: a threading.Event that ends
    the loop from another thread (the server's stream). on_frame: told the count of frames read
    after each step (a progress bar).
    After run(): `reason` (one of the constants above), `frames` read, `seconds` spent.
    """

    def __init__(self, source: FrameSource, step: Callable[[Frame], tuple[np.ndarray | None, bool]],
                 *, title: str, headless: bool = False, max_frames: int | None = None, timer=None, stop=None,
                 on_frame=None):
        self.source, self.step, self.title, self.timer, self.stop = source, step, title, timer, stop
        self.on_frame = on_frame
        self.headless, self.max_frames = headless, max_frames
        self.reason: str | None = None
        self.frames = 0
        self.seconds = 0.0
        self.interrupted = False  # by Ctrl-C (SIGINT)
        self.shape = None  # of the last frame shown

    def _on_sigint(self, signum, frame) -> None:
        self.interrupted = True

    def run(self) -> str:
        import cv2

        main_thread = threading.current_thread() is threading.main_thread()  # signals go to the main thread only
        previous = signal.signal(signal.SIGINT, self._on_sigint) if main_thread else None
        window = False
        start = time.perf_counter()
        try:
            frames = iter(self.source)
            last = None  # the last image shown
            while not self.interrupted and not (self.stop is not None and self.stop.is_set()):
                with self.timer("decode") if self.timer else nullcontext():
                    frame = next(frames, END)
                if frame is END:
                    break
                if frame is None:  # a live source with no new frame yet (reconnecting): keep the window alive
                    if window and last is not None:
                        cv2.imshow(self.title, draw_waiting(last, self.source.state or "waiting for frames"))
                        if self._keys(cv2.waitKey(1) & 0xFF):
                            break
                    continue
                if isinstance(frame, list) and self.max_frames is not None:
                    frame = frame[:self.max_frames - self.frames]
                shown, done = self.step(frame)
                self.frames += len(frame) if isinstance(frame, list) else 1
                if self.on_frame is not None:
                    self.on_frame(self.frames)
                if not self.headless and shown is not None:
                    if not window:
                        open_window(self.title, shown.shape)
                        window = True
                    self.shape, last = shown.shape, shown
                    cv2.imshow(self.title, shown)
                    self._keys(cv2.waitKey(1) & 0xFF)
                if self.reason is None and done:
                    self.reason = FINISHED
                if self.reason is None and self.max_frames is not None and self.frames >= self.max_frames:
                    self.reason = ENDED
                if self.reason is not None:
                    break
            if self.interrupted:
                self.reason = ABORTED
            elif self.reason is None:
                self.reason = STOPPED if self.source.stopped else ENDED
        finally:
            self.seconds = time.perf_counter() - start
            if main_thread:
                signal.signal(signal.SIGINT, previous)
            if window:
                close_window(self.title)
        return self.reason


    def _keys(self, key: int) -> bool:
        """Act on a key (and on the window being closed); True when the loop should end."""
        if key in KEY_FINISH:
            self.reason = FINISHED
        elif key in KEY_ABORT or window_closed(self.title):
            self.reason = ABORTED
        elif key in KEY_FULLSCREEN:
            toggle_fullscreen(self.title)
        return self.reason is not None


END = object()  # the source has no more frames


def draw_waiting(image: np.ndarray, state: str) -> np.ndarray:
    """The last frame, dimmed, with what the source is doing."""
    from . import draw

    shown = (image * 0.5).astype(np.uint8)
    draw.status(shown, [state])
    return shown


def open_window(title: str, shape) -> None:
    """A resizable window of the frame's size (f toggles full screen)."""
    import cv2

    check_display()
    _system_fonts_for_qt()
    try:
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
    except cv2.error as err:
        raise DeviceError(f"cannot open a window ({err.err})", NO_WINDOW) from None
    cv2.resizeWindow(title, shape[1], shape[0])


def window_closed(title: str) -> bool:
    import cv2

    try:
        return cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1
    except cv2.error:  # Qt has already torn it down
        return True


def toggle_fullscreen(title: str) -> None:
    import cv2

    full = cv2.getWindowProperty(title, cv2.WND_PROP_FULLSCREEN) == cv2.WINDOW_FULLSCREEN
    cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_NORMAL if full else cv2.WINDOW_FULLSCREEN)


def close_window(title: str) -> None:
    import cv2

    try:
        cv2.destroyWindow(title)
        cv2.waitKey(1)  # let HighGUI process the close
    except cv2.error:
        pass  # closed by the user already


def check_display() -> None:
    """Fail early, with a one-line error, where no window can open: OpenCV's Qt aborts the whole
    process instead of raising."""
    if not sys.platform.startswith("linux") or os.environ.get("WAYLAND_DISPLAY"):
        return
    display = os.environ.get("DISPLAY", "")
    if not display:
        raise DeviceError("no display to open a window on: DISPLAY is not set", NO_WINDOW)
    host, _, number = display.partition(":")
    local = host in ("", "unix") and number.split(".")[0].isdigit()
    if local and not Path(f"/tmp/.X11-unix/X{number.split('.')[0]}").exists():
        raise DeviceError(f"no X server at DISPLAY={display}", NO_WINDOW)


def _system_fonts_for_qt() -> None:
    """opencv-python points Qt at a font folder it does not ship; Qt then warns on every window.
    Point it at the system's fonts instead, when there are some."""
    if Path(os.environ.get("QT_QPA_FONTDIR", "")).is_dir():
        return
    for folder in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype", "/usr/share/fonts"):
        if any(Path(folder).rglob("*.ttf")):
            os.environ["QT_QPA_FONTDIR"] = folder
            return
