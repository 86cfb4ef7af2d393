"""GET /stream: recognition over a camera or video in a background thread, through the same
capture loop and pipeline as `facecam recognize`; the latest annotated frame as JPEG for every
client (drawn and encoded only when a client asks). A video file plays once (or, asked to loop, starts over when it ends)."""

from __future__ import annotations

import threading

from .. import draw
from ..capture import Loop
from ..errors import FacecamError
from ..history.recorder import Replays
from ..observe import Seen
from ..pipeline import Recognizer
from ..sources import Frame, FrameSource


class LiveStream:
    """observers_for(source, replays) -> the observe.Observers of a source just opened (its
    sightings, presence and events), closed when it ends; replays: the history.Replays of this
    stream's file, counting its passes. loop: a file starts over when it ends (else the stream
    ends with it, its last frame kept)."""

    def __init__(self, open_source, recognizer: Recognizer, observers_for=None, *, loop: bool = False):
        self.open_source, self.recognizer, self.observers_for, self.loop = open_source, recognizer, observers_for, loop
        self.ended = False  # a file that played to its end, not looped
        self.replays = Replays()
        self.observers: list = []
        self.source: FrameSource | None = None  # the one being read
        self.name: str | None = None
        self.frames_done = 0
        self._latest = None  # (image, tracks, tracks left out) of the newest frame processed
        self._count = 0  # frames processed so far: which one _latest is
        self._jpeg: tuple[int, bytes] | None = None  # (count, JPEG) of the last frame a client was sent
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="facecam-stream", daemon=True)  # one per source

    @classmethod
    def open(cls, opener, recognizer: Recognizer, observers_for, *, loop: bool = False) -> "LiveStream":
        """Started on the source opener() opens (a FrameSource), which must open now (else the
        one-line error, before serving)."""
        first = opener()
        first.close()
        stream = cls(opener, recognizer, observers_for, loop=loop)
        stream.name = first.name
        return stream.start()

    @property
    def stopping(self) -> threading.Event:
        return self._stop

    def start(self) -> "LiveStream":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _step(self, frame: Frame):
        tracks, matched = self.recognizer.process(frame.image, frame.index, frame.time)
        self.source.pace(self.recognizer.stride())
        seen = Seen(frame, tracks, matched, self.recognizer.tracker.tracks)
        for observer in self.observers:
            observer.update(seen)
        self.frames_done += 1
        with self._changed:
            self._latest, self._count = (frame.image, tracks, self.recognizer.ignored), self._count + 1
            self._changed.notify_all()
        return None, False

    def _encoded(self) -> tuple[int, bytes]:
        """(count, the JPEG of the newest frame with its names), drawn when a client asks for it:
        nobody watching costs no drawing or encoding. Called with _changed held."""
        import cv2

        if self._jpeg is None or self._jpeg[0] != self._count:
            image, tracks, ignored = self._latest
            shown = draw.left_out(image.copy(), ignored, placed=(placed := []))
            ok, jpeg = cv2.imencode(".jpg", draw.tracks(shown, tracks, placed=placed), [cv2.IMWRITE_JPEG_QUALITY, 80])
            self._jpeg = (self._count, jpeg.tobytes())
        return self._jpeg

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self.open_source() as source:
                    self.source = source
                    self.replays.passes += 1
                    self.observers = self.observers_for(source, self.replays) if self.observers_for is not None else []
                    try:
                        Loop(source, self._step, title="facecam serve", headless=True, stop=self._stop).run()
                    finally:
                        for observer in self.observers:  # the sightings, presence end with the source
                            observer.close()
                if self._stop.is_set():
                    return
                if source.live:
                    self.error = source.failure or f"{source.name} stopped delivering frames"
                    return
                if not self.loop:
                    self.ended = True
                    return
                self.recognizer.reset()  # the video starts over
        except FacecamError as err:
            self.error = str(err)
        finally:
            with self._changed:
                self._changed.notify_all()

    def health(self) -> dict:
        source = self.source
        return {"name": source.name if source else None, "frames": self.frames_done,
                "dropped": source.dropped if source else 0, "reconnects": source.reconnects if source else 0,
                "state": self.error or ("ended" if self.ended else None) or (source.state if source else None) or "running",
                "idle": gate.idle if (gate := self.recognizer.gate) is not None else False,
                "gated": gate.gated if gate is not None else 0, "motion": gate is not None}

    def frames(self):
        seen = -1
        while not self._stop.is_set():
            with self._changed:
                self._changed.wait_for(lambda: self._count != seen or self.error or self.ended or self._stop.is_set(),  # noqa: B023 (called here)
                                       timeout=5)
                if self.ended and self._count == seen:  # the file's last frame was sent
                    return
                if self.error or self._latest is None:
                    if self.error:
                        return
                    continue
                seen, jpeg = self._encoded()
            yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n"
