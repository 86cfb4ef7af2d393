"""Guided enrolment from a browser's camera: the page sends its camera's frames one at a time, the
server runs the same Enrolment as `facecam register` on each and answers with the guidance (the
hint, the directions covered, where the face and the oval guide are). The samples stay in memory
until the page saves them; an enrolment the page stops talking to (closed, the connection lost)
is dropped after IDLE_S with nothing saved."""

from __future__ import annotations

import secrets
import threading
import time

import numpy as np

from .. import enrol
from ..guide import oval
from .guard import HTTPProblem

IDLE_S = 60.0  # seconds without a frame after which an enrolment is dropped
MAX_OPEN = 4  # enrolments open at once (each holds a few samples and a detector's time)


class BrowserEnrolments:
    def __init__(self, service, *, clock=time.monotonic):
        self.service, self.clock = service, clock
        self._open: dict[str, tuple[enrol.Enrolment, threading.Lock, list]] = {}  # id -> (enrolment, lock, [last used])
        self._lock = threading.Lock()

    def start(self) -> dict:
        with self._lock:
            self._drop_idle()
            if len(self._open) >= MAX_OPEN:
                raise HTTPProblem(429, f"{MAX_OPEN} enrolments are open already: finish or cancel one, or wait a minute")
            key = secrets.token_urlsafe(12)
            self._open[key] = (enrol.Enrolment(), threading.Lock(), [self.clock()])
        return {"id": key, "guidance": self._open[key][0].guidance(), "samples": 0}

    def frame(self, key: str, image: np.ndarray) -> dict:
        """Offer one frame (BGR uint8 HxWx3, as the camera saw it: not mirrored); the guidance back."""
        enrolment, lock, used = self._get(key)
        if not lock.acquire(blocking=False):
            raise HTTPProblem(409, "send the next frame once the last one is answered")
        try:
            faces = self.service.detector.detect(image)
            candidate, warning, kept = enrolment.offer(image, faces, self.service.embedder, {"source": "browser"})
            guidance, samples = enrolment.guidance(), len(enrolment.samples)
            used[0] = self.clock()
        finally:
            lock.release()
        height, width = image.shape[:2]
        (cx, cy), (a, b) = oval(width, height)
        box = None if candidate is None else [round(float(v) / s, 4) for v, s in zip(candidate.face.box, (width, height) * 2)]
        return {"guidance": guidance, "warning": warning, "face": box, "kept": candidate.pose if kept else None,
                "samples": samples, "captured": _captured(enrolment),
                "oval": [cx / width, cy / height, a / width, b / height]}

    def face(self, key: str, direction: str) -> bytes:
        """The face kept as one direction's sample, as JPEG (for the page to show what it holds)."""
        import cv2

        enrolment, lock, _ = self._get(key)
        with lock:
            held = enrolment.samples.get(direction)
        if held is None or held[1].crop is None:
            raise HTTPProblem(404, f"no {direction} sample in this enrolment")
        return cv2.imencode(".jpg", held[1].crop, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()

    def drop(self, key: str, direction: str) -> dict:
        """Forget one direction's sample (the person wants it taken again); the state back."""
        enrolment, lock, used = self._get(key)
        with lock:
            if direction not in enrolment.samples:
                raise HTTPProblem(404, f"no {direction} sample in this enrolment")
            enrolment.drop(direction)
            used[0] = self.clock()
            return {"guidance": enrolment.guidance(), "samples": len(enrolment.samples), "captured": _captured(enrolment)}

    def finish(self, key: str, name: str, *, add: bool, force: bool) -> dict:
        """Save the samples as `name` (register's rules: a taken name needs add, a face of someone
        else force); the enrolment stays open when that refuses, to try again."""
        enrolment, lock, _ = self._get(key)
        with lock:
            samples = enrolment.kept()
            if not samples:
                raise HTTPProblem(422, "no sample yet: nothing saved")
            counts = self.service.people.enrol({name: samples}, add=add, force=force, can_replace=False)
        self.cancel(key)
        return {"name": name, "added": len(samples), "total": counts[name],
                "poses": [s.metadata["pose"] for s in samples]}

    def cancel(self, key: str) -> None:
        with self._lock:
            self._open.pop(key, None)

    def _get(self, key: str):
        with self._lock:
            self._drop_idle()
            found = self._open.get(key)
        if found is None:
            raise HTTPProblem(404, "this enrolment has ended (saved, cancelled, or left idle for a minute, which saves "
                                   "nothing): start again")
        return found

    def _drop_idle(self) -> None:
        now = self.clock()
        for key in [k for k, (_, lock, used) in self._open.items() if now - used[0] > IDLE_S and not lock.locked()]:
            del self._open[key]


def _captured(enrolment) -> list[dict]:
    """The samples held, in the order of the directions, with their quality in words."""
    out = []
    for direction in enrolment.directions.names:
        if direction in enrolment.samples:
            overall, detail = enrolment.samples[direction][0].described()
            out.append({"direction": direction, "quality": f"{overall}: {detail}"})
    return out
