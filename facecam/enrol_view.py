"""What the enrolment window shows: the mirrored preview with the face guide (the image dimmed
outside an oval whose colour says whether the face is right), the ring of head directions that
fills as samples are taken (a new one flashes), the kept samples as a strip of thumbnails, one
hint at a time; then the review of what will be saved."""

from __future__ import annotations

import time

import numpy as np

from .draw import text
from .guide import oval

GOOD, WAIT, EMPTY, FLASH = (80, 200, 60), (0, 170, 255), (110, 110, 110), (255, 255, 255)
class EnrolView:
    """Draws frames of an enrolment. mirror: show a selfie view (the samples stay as the camera
    saw them)."""

    FLASH_SECONDS = 0.5

    def __init__(self, enrolment, *, name: str, mirror: bool = True):
        self.enrolment, self.name, self.mirror = enrolment, name, mirror
        self.flashes: dict[str, float] = {}
        self.thumbnails: dict[str, np.ndarray] = {}
        self._scale = None
        self.selected = 0  # the review's chosen sample (the arrows move it, Delete drops it)

    def _dimmer(self, height: int, width: int) -> np.ndarray:
        """Per-pixel scale (255: as is) that dims the image outside the guide; made once per size."""
        import cv2

        if self._scale is None or self._scale.shape[:2] != (height, width):
            (cx, cy), axes = oval(width, height)
            self._scale = np.full((height, width, 3), 115, np.uint8)
            cv2.ellipse(self._scale, (cx, cy), axes, 0, 0, 360, (255, 255, 255), -1)
        return self._scale

    def captured(self, direction: str, image: np.ndarray, landmarks: np.ndarray) -> None:
        """A sample was kept: flash its segment, show its face in the strip."""
        import cv2

        from .align import canonical_crop

        crop, _ = canonical_crop(image, landmarks)
        self.thumbnails[direction] = cv2.resize(crop[40:184, 40:184], (96, 96), interpolation=cv2.INTER_AREA)
        self.flashes[direction] = time.monotonic()

    def frame(self, image: np.ndarray, fps: str, warning: str | None = None) -> np.ndarray:
        import cv2

        h, w = image.shape[:2]
        (cx, cy), (a, b) = oval(w, h)
        shown = cv2.multiply(cv2.flip(image, 1) if self.mirror else image, self._dimmer(h, w), scale=1 / 255)
        guidance = self.enrolment.guidance()
        cv2.ellipse(shown, (cx, cy), (a, b), 0, 0, 360, GOOD if guidance["ok"] else WAIT, max(2, h // 160), cv2.LINE_AA)
        self._ring(shown, (cx, cy), (a, b), guidance)
        unit = max(14, h // 24)
        text(shown, guidance["hint"] if not warning or guidance["ok"] else warning, (w // 2, unit // 2 + 4), unit,
             anchor="mt")
        filled, total = len(guidance["filled"]), len(guidance["directions"])
        text(shown, f"{self.name}: {filled}/{total}   {fps}", (6, h - unit // 2 - 4), int(unit * 0.7), anchor="ls")
        text(shown, "Enter/q: review and save   Esc: cancel   f: full screen", (w - 6, h - unit // 2 - 4),
             int(unit * 0.6), anchor="rs")
        self._strip(shown, unit)
        return shown

    def _ring(self, image, centre, axes, guidance) -> None:
        """A segment per ring direction just outside the oval; the centre's sample is the dot."""
        import cv2

        directions = self.enrolment.directions
        (cx, cy), (a, b) = centre, axes
        thick = max(6, image.shape[0] // 40)
        now = time.monotonic()
        ring = [d for d in guidance["directions"] if directions.angle_of(d) is not None]
        half = 180.0 / max(len(ring), 1) - 4.0
        for name in ring:
            angle = directions.angle_of(name)
            shown = 180.0 - angle if self.mirror else angle  # the preview is flipped left-right
            colour = FLASH if now - self.flashes.get(name, -9) < self.FLASH_SECONDS else (
                GOOD if name in guidance["filled"] else EMPTY)
            # cv2.ellipse measures angles clockwise (image y points down)
            cv2.ellipse(image, (cx, cy), (a + thick, b + thick), 0, -shown - half, -shown + half, colour, thick,
                        cv2.LINE_AA)
            if name == guidance["current"]:
                cv2.ellipse(image, (cx, cy), (a + 2 * thick, b + 2 * thick), 0, -shown - half, -shown + half,
                            FLASH, max(2, thick // 3), cv2.LINE_AA)
        frontal = "frontal" in guidance["filled"]
        colour = FLASH if now - self.flashes.get("frontal", -9) < self.FLASH_SECONDS else (GOOD if frontal else EMPTY)
        cv2.circle(image, (cx, cy - b - 2 * thick - 4), max(5, thick // 2 + 2), colour, -1, cv2.LINE_AA)

    def _strip(self, image, unit: int) -> None:
        """The kept samples' faces along the bottom, above the status line."""
        import cv2

        size = max(32, image.shape[0] // 10)
        y = image.shape[0] - size - int(unit * 1.6)
        kept = self.enrolment.samples  # a sample found to be someone else's is gone from the strip too
        for k, name in enumerate(d for d in self.enrolment.directions.names if d in self.thumbnails and d in kept):
            x = 6 + k * (size + 4)
            if x + size > image.shape[1]:
                break
            image[y:y + size, x:x + size] = cv2.resize(self.thumbnails[name], (size, size))

    def reviewed(self) -> list[str]:
        """The directions of the samples the review shows, in its order (number key k is the k-th)."""
        return [d for d in self.enrolment.directions.names if d in self.enrolment.samples]

    def review(self, width: int, height: int) -> np.ndarray:
        """The review screen: every kept sample numbered, with its direction and its quality in
        words, the chosen one framed, and the keys."""
        import cv2

        shown = np.full((height, width, 3), 24, np.uint8)
        unit = max(14, height // 24)
        names = self.reviewed()
        self.selected = min(self.selected, max(0, len(names) - 1))
        text(shown, f"{self.name}: {len(names)} sample{'s' if len(names) != 1 else ''} to save", (width // 2, unit),
             unit, anchor="mt", band=False)
        columns = max(1, min(5, len(names), (width - 20) // 150))  # room for each one's words
        cell = (width - 20) // columns
        size = max(32, min(cell - 10, (height - 8 * unit) // max(1, -(-len(names) // columns)) - 3 * unit))
        for k, name in enumerate(names):
            row, col = divmod(k, columns)
            x = 10 + col * cell + (cell - size) // 2
            y = 3 * unit + row * (size + 3 * unit)
            if y + size + 2 * unit > height:
                break
            thumb = self.thumbnails.get(name)
            if thumb is not None:
                shown[y:y + size, x:x + size] = cv2.resize(thumb, (size, size))
            if k == self.selected:
                cv2.rectangle(shown, (x - 3, y - 3), (x + size + 2, y + size + 2), FLASH, 2)
            candidate = self.enrolment.samples[name][0]
            small = int(unit * 0.55)
            overall, details = candidate.described()
            text(shown, f"{k + 1} {name}: {overall}", (x + size // 2, y + size + 4), small, anchor="mt", band=False)
            text(shown, details, (x + size // 2, y + size + 6 + small), int(small * 0.85), anchor="mt", band=False)
        text(shown, "quality: how sharp, how large and how clearly detected each face is", (width // 2, height - int(2.4 * unit)),
             int(unit * 0.6), anchor="mb", band=False)
        text(shown, "Enter/q: save   1-9 or arrows+Del: drop one   r: retake the weakest   Esc: cancel",
             (width // 2, height - unit), int(unit * 0.6), anchor="mb", band=False)
        return shown
