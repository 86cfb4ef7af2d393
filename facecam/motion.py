"""The motion gate: a cheap change detector that decides when the face detector runs at all.

A camera looking at an empty hallway delivers frames that differ only by sensor noise, slow
light changes and compression flicker. Each frame is shrunk to a small grey copy and compared
with a background model (a running average); a pixel has moved when it differs by more than
the scene's own noise (measured, median absolute difference) and a whole-frame brightness shift
(auto exposure, clouds) is taken out first. Isolated changed pixels are ignored; a region of
them is motion. While there is no motion and nothing is being tracked the detector is skipped;
the frame in which motion starts is detected at once, so an arrival is not missed. Every
RECHECK_S the detector runs anyway (someone who came in unseen and stands still). While the
picture is still only one frame in IDLE_STRIDE is looked at (an arrival is seen at most one frame
later).

While faces are followed (pipeline.Recognizer: every face on screen tracked and named steadily),
movement around them is theirs (a face, and the head and shoulders below it): the gate tells
the recognizer to carry those tracks by their prediction, and to run the detector only when
something moves elsewhere in the picture.

Masks leave parts of the picture out (a tree, a TV, a clock): rectangles in the frame's pixels,
or an image of the frame's size whose black pixels are ignored.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError, UsageError


@dataclass(frozen=True)
class MotionMask:
    """What the gate ignores: rectangles (x1, y1, x2, y2) in the frame's pixels and/or an image
    file (black = ignored), each as given on the command line (for messages)."""

    rectangles: tuple[tuple[int, int, int, int], ...] = ()
    image: Path | None = None
    given: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, texts: list[str] | None) -> "MotionMask":
        """From --motion-mask values: "x1,y1,x2,y2" (repeatable) or one mask image."""
        rectangles, image = [], None
        for text in texts or []:
            parts = text.split(",")
            if len(parts) == 4:
                try:
                    x1, y1, x2, y2 = (int(p) for p in parts)
                except ValueError:
                    raise UsageError(f"{text!r}: x1,y1,x2,y2 in whole pixels, or a mask image", param="motion_mask") from None
                if not (0 <= x1 < x2 and 0 <= y1 < y2):
                    raise UsageError(f"{text!r}: a rectangle needs x1 < x2 and y1 < y2, from 0", param="motion_mask")
                rectangles.append((x1, y1, x2, y2))
                continue
            path = Path(text)
            if image is not None:
                raise UsageError("one mask image at most (and rectangles beside it)", param="motion_mask")
            if not path.is_file():
                raise UsageError(f"{text!r}: neither x1,y1,x2,y2 nor an image file", param="motion_mask")
            _read_mask(path)  # a file that is not an image is refused now, not at the first frame
            image = path
        return cls(tuple(rectangles), image, tuple(texts or ()))

    def watched(self, width: int, height: int) -> np.ndarray:
        """The pixels watched in a width x height frame (bool HxW); InputError when a rectangle
        is outside the frame or the image has another size."""
        watch = np.ones((height, width), bool)
        if self.image is not None:
            mask = _read_mask(self.image)
            if mask.shape != (height, width):
                raise InputError(f"{self.image}: {mask.shape[1]}x{mask.shape[0]}, not the frame's {width}x{height}",
                                 param="motion_mask")
            watch &= mask
        for x1, y1, x2, y2 in self.rectangles:
            if x2 > width or y2 > height:
                raise InputError(f"{x1},{y1},{x2},{y2}: outside the {width}x{height} frame", param="motion_mask")
            watch[y1:y2, x1:x2] = False
        if not watch.any():
            raise InputError(f"{' '.join(self.given)}: the whole {width}x{height} frame is masked", param="motion_mask")
        return watch

    def __bool__(self) -> bool:
        return bool(self.rectangles or self.image)

    def plus(self, other: "MotionMask | None") -> "MotionMask":
        """This mask and another (a source's own beside the one of every source)."""
        if not other:
            return self
        if self.image is not None and other.image is not None:
            raise UsageError("one mask image per source at most", param="motion_mask")
        return MotionMask(self.rectangles + other.rectangles, self.image or other.image, self.given + other.given)


def parse_masks(texts: list[str] | None, names: list[str | None]) -> dict[str | None, MotionMask]:
    """--motion-mask values by source: "NAME=..." for the source of that name, else for every
    source (key None). names: the sources' names, to refuse a mask for one that does not exist."""
    grouped: dict[str | None, list[str]] = {}
    for text in texts or []:
        named = re.fullmatch(r"([\w-]{1,40})=(.+)", text)
        grouped.setdefault(named.group(1) if named else None, []).append(named.group(2) if named else text)
    for name in grouped:
        if name is not None and name not in names:
            raise UsageError(f"{name}=...: no source is named {name!r} (name one: --source {name}=URL)",
                             param="motion_mask")
    return {name: MotionMask.parse(values) for name, values in grouped.items()}


def _read_mask(path: Path) -> np.ndarray:
    import cv2

    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise UsageError(f"{str(path)!r}: not an image that can be read", param="motion_mask")
    return mask > 0


REST, FOLLOW, DETECT = "rest", "follow", "detect"  # what a frame gets (MotionGate.look)


class MotionGate:
    """look(image, now, tracked, followed) -> what this frame gets: REST (no detector), FOLLOW
    (the followed faces carried by their tracks' prediction) or DETECT. Counts what it did:
    `frames` seen, `gated` (rested), `followed`, `idle` (the last frame rested), `closed` (it
    rested at least once)."""

    WIDTH = 160  # pixels of the grey copy the comparison runs on
    LEARN = 0.05  # background update per frame where nothing moves (a time constant of 20 frames)
    ABSORB = 0.005  # and everywhere: a chair moved for good becomes background in a few hundred frames
    NOISE_K = 5.0  # a pixel moved when it differs by this many noise deviations ...
    MIN_LEVEL = 8.0  # ... and at least this many grey levels
    MIN_AREA = 0.002  # motion: at least this share of the watched pixels (20 of a 160x90 copy)
    RECHECK_S = 5.0  # the detector runs at least this often, motion or not
    IDLE_STRIDE = 2  # while the picture is still, one frame in this many is looked at
    AROUND = (1.0, 0.5, 1.0, 3.0)  # a followed face's own region: face widths left and right, heights above and below

    def __init__(self, mask: MotionMask | None = None):
        self.mask = mask or MotionMask()
        self.frames = self.gated = self.followed = 0
        self.idle = self.closed = False
        self.reset()

    def reset(self) -> None:
        """Start learning the scene again (a video that starts over, another source)."""
        self._background: np.ndarray | None = None
        self._watch: np.ndarray | None = None  # on the small copy
        self._noise: float | None = None
        self._detected = None  # when the detector last ran (seconds)

    def look(self, image: np.ndarray, now: float | None = None, *, tracked: bool = False,
             followed: list[np.ndarray] | None = None) -> str:
        """What this frame gets. DETECT: something moved (outside the followed faces' regions),
        something is tracked but not followed, or the detector has not run for RECHECK_S.
        FOLLOW: faces are followed (their boxes) and nothing moved elsewhere. REST: nothing
        moved and nothing is tracked. now: the frame's time in seconds (default: the clock's)."""
        self.frames += 1
        moving = self.moving(image, outside=followed)
        now = time.monotonic() if now is None else now
        if moving or self._detected is None or (tracked and not followed) or (
                not tracked and not 0 <= now - self._detected < self.RECHECK_S):
            self._detected, self.idle = now, False
            return DETECT
        if tracked:
            self.followed += 1
            self.idle = False
            return FOLLOW
        self.gated += 1
        self.idle = self.closed = True
        return REST

    def stride(self) -> int:
        """One frame in how many the loop needs to look at now."""
        return self.IDLE_STRIDE if self.idle else 1

    def moving(self, image: np.ndarray, outside: list[np.ndarray] | None = None) -> bool:
        """Whether this frame shows motion against the background (and learn from it); outside:
        face boxes (x1, y1, x2, y2 in the frame) whose regions' own movement does not count."""
        import cv2

        height, width = image.shape[:2]
        small_size = (self.WIDTH, max(1, round(height * self.WIDTH / width)))
        # twice the size by interpolation, then halved by averaging: a 4x4 box for 640 pixels' width
        # at a quarter of INTER_AREA's cost from full size
        half = cv2.resize(image, (2 * small_size[0], 2 * small_size[1]), interpolation=cv2.INTER_LINEAR)
        small = cv2.cvtColor(cv2.resize(half, small_size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        small = cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)
        if self._background is None or self._background.shape != small.shape:
            watch = self.mask.watched(width, height) if self.mask else np.ones((height, width), bool)
            self._watch = cv2.resize(watch.astype(np.uint8), small_size, interpolation=cv2.INTER_AREA) > 0
            self._background, self._noise = small, None
            return True  # nothing to compare with yet: look
        diff = small - self._background
        sample = diff[self._watch][::7]  # ~2,000 pixels: enough for the medians, at a seventh of their cost
        shift = _median(sample)
        diff -= shift  # a brightness change of the whole picture is not motion
        spread = _median(np.abs(sample - shift)) * 1.4826  # the noise, as a deviation
        self._noise = spread if self._noise is None else 0.95 * self._noise + 0.05 * min(spread, 4 * self._noise + 1)
        level = max(self.MIN_LEVEL, self.NOISE_K * self._noise)
        changed = ((np.abs(diff) > level) & self._watch).astype(np.uint8)
        changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))  # lone pixels are noise
        cv2.accumulateWeighted(small, self._background, self.LEARN, mask=1 - changed)
        cv2.accumulateWeighted(small, self._background, self.ABSORB)
        if outside:
            changed = changed.copy()
            scale = small_size[0] / width
            left, above, right, below = self.AROUND
            for x1, y1, x2, y2 in outside:
                w, h = x2 - x1, y2 - y1
                changed[max(0, int((y1 - above * h) * scale)):max(0, int(np.ceil((y2 + below * h) * scale))),
                        max(0, int((x1 - left * w) * scale)):max(0, int(np.ceil((x2 + right * w) * scale)))] = 0
        return int(changed.sum()) >= max(4, self.MIN_AREA * int(self._watch.sum()))

    def summary(self) -> dict:
        return {"frames": self.frames, "gated": self.gated, "followed": self.followed, "closed": self.closed}


def _median(values: np.ndarray) -> float:
    """The middle value (the upper one of an even count): np.median's answer without its overhead,
    which is most of its cost on a few thousand values."""
    middle = len(values) // 2
    return float(np.partition(values, middle)[middle])
