"""What `register` and `recognize` do with each frame of the shared capture loop."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np

from . import draw
from .capture import ABORTED, Loop, close_window, open_window, toggle_fullscreen, window_closed
from .enrol import Enrolment
from .enrol_view import EnrolView
from .errors import InputError
from .observe import Seen
from .pipeline import Recognizer, process_together
from .sources import Frame, FrameSource
from .words import counted


class Fps:
    """Frames per second over the last two seconds or so, for the window."""

    def __init__(self):
        self._times: list[float] = []

    def tick(self) -> float | None:
        """The rate including this frame; None until there are two frames to measure between."""
        now = time.perf_counter()
        self._times = [t for t in self._times if now - t < 2.0][-60:] + [now]
        return (len(self._times) - 1) / max(now - self._times[0], 1e-6) if len(self._times) > 1 else None

    def label(self) -> str:
        rate = self.tick()
        if rate is None:
            return "- fps"
        return f"{rate:.1f} fps" if rate < 10 else f"{rate:.0f} fps"


def capture_samples(source: FrameSource, detector, embedder, enrolment: Enrolment, *, name: str,
                    auto: bool, headless: bool, max_frames: int | None, keep_crops: bool, mirror: bool = True,
                    on_guidance=None) -> tuple[Loop, list]:
    """Run the enrolment loop, then (in a window, without auto) the review: Enter or q saves, r
    retakes the weakest sample, a number key (or the arrows and Delete) drops that sample (to take
    it again in front of a camera; from a file the review goes on without it), Esc cancels (the
    loop's reason is then ABORTED). Returns (the finished loop, the samples kept, one per
    direction). on_guidance(frame index, dict): the enrolment's state after every frame."""
    view, fps = EnrolView(enrolment, name=name, mirror=mirror), Fps()

    def step(frame: Frame):
        meta = {"source": source.name, "frame": frame.index, "frame_time": round(frame.time, 3)}
        candidate, warning, kept = enrolment.offer(frame.image, detector.detect(frame.image), embedder, meta, keep_crops)
        if kept:
            view.captured(candidate.pose, frame.image, candidate.face.landmarks)
        if on_guidance is not None:
            on_guidance(frame.index, enrolment.guidance())
        done = auto and enrolment.complete
        return (None, done) if headless else (view.frame(frame.image, fps.label(), warning), done or enrolment.complete)

    title = f"facecam register {name}"
    while True:
        loop = Loop(source, step, title=title, headless=headless, max_frames=max_frames)
        loop.run()
        if headless or auto or loop.reason == ABORTED or not enrolment.samples:
            break
        choice = review(title, view, loop.shape)
        while choice in enrolment.samples and not source.live:  # a file would give the same sample back: review on
            enrolment.drop(choice)
            choice = review(title, view, loop.shape) if enrolment.samples else "cancel"
        if choice == "retake":
            enrolment.drop_worst()
            continue
        if choice in enrolment.samples:  # in front of a camera: take that direction again
            enrolment.drop(choice)
            continue
        if choice == "cancel":
            loop.reason = ABORTED
        break
    return loop, enrolment.kept()


# cv2.waitKeyEx's codes of the arrow and delete keys (GTK and Windows)
LEFT, RIGHT, DELETE, BACKSPACE = {65361, 2424832}, {65363, 2555904}, {65535, 3014656}, {8, 65288}


def review(title: str, view: EnrolView, shape) -> str:
    """Show the review screen until a key decides: "save", "retake", "cancel", or the direction
    of a sample to drop (its number key, or the arrows to choose it and Delete)."""
    import cv2

    height, width = shape[:2] if shape else (480, 640)
    open_window(title, (height, width))
    try:
        while True:
            directions = view.reviewed()
            cv2.imshow(title, view.review(width, height))
            code = cv2.waitKeyEx(50)
            key = code & 0xFF if code >= 0 else -1
            if code in LEFT or code in RIGHT:
                view.selected = (view.selected + (1 if code in RIGHT else -1)) % max(1, len(directions))
            elif code in DELETE or code in BACKSPACE or key in (ord("d"), ord("D")):
                return directions[view.selected]
            elif ord("1") <= key <= ord("9") and key - ord("1") < len(directions):
                return directions[key - ord("1")]
            elif key in (13, 10, ord("q"), ord("Q")):
                return "save"
            elif key in (ord("r"), ord("R")):
                return "retake"
            elif key == 27 or window_closed(title):
                return "cancel"
            elif key in (ord("f"), ord("F")):
                toggle_fullscreen(title)
    finally:
        close_window(title)


class Recognition:
    """Recognize's per-frame step: names on tracks, the observers told (history, notifications,
    JSON events), who was seen when, the annotated video. observers: observe.Observer, in the
    order they are told; writer: the history.Writer, whose outages the window shows."""

    def __init__(self, recognizer: Recognizer, *, headless: bool, output, fps: float | None, observers=(),
                 writer=None, source: FrameSource | None = None, annotate: bool | None = None):
        self.recognizer, self.headless, self.observers, self.writer = recognizer, headless, list(observers), writer
        self.annotate = (not headless or output is not None) if annotate is None else annotate  # draw the overlay
        self.for_video = False  # keep `clean`, the frame as a video shows it, for a tiled video (Tiled sets it)
        self.clean: np.ndarray | None = None
        self.source = source
        self.video = VideoOut(output, fps) if output is not None else None
        self.frames = 0
        self.seen: dict[str, dict] = {}  # name -> first, last (seconds), frames
        self.unknown_tracks: set[int] = set()  # tracks seen unknown ...
        self.named_tracks: set[int] = set()  # ... and those that got a name at some point
        self.fps = Fps()
        self.lags: list[float] = []  # seconds, per live frame
        self.unconfirmed: set[int] = set()  # tracks left out, not (yet) taken for a face
        self.not_live: set[int] = set()  # ... judged not live (with liveness checks)
        self.not_turned: set[int] = set()  # ... named but not turning their head as asked (with the challenge)

    def __call__(self, frame: Frame, recognized: tuple | None = None):
        """recognized: (tracks, matched) when the frame was processed already (with others)."""
        if frame.captured is not None:  # a live frame: how long it waited between being read and processed
            self.lags.append(time.monotonic() - frame.captured)
        timer = self.recognizer.timer
        self.frames += 1
        tracks, matched = recognized or self.recognizer.process(frame.image, frame.index, frame.time)
        if self.source is not None:
            self.source.pace(self.recognizer.stride())
        seen = Seen(frame, tracks, matched, self.recognizer.tracker.tracks)
        for observer in self.observers:
            observer.update(seen)
        ignored = self.recognizer.ignored
        self.unconfirmed.update(t.id for t in ignored if not t.confirmed)
        self.not_live.update(t.id for t in ignored if t.live is False)
        self.not_turned.update(t.id for t in ignored if t.turned is False)
        for track in tracks:
            if track.name is None:
                self.unknown_tracks.add(track.id)
                continue
            self.named_tracks.add(track.id)
            seen = self.seen.setdefault(track.name, {"first": frame.time, "last": frame.time, "frames": set()})
            seen["last"] = frame.time
            seen["frames"].add(frame.index)
        if not self.annotate:
            return None, False
        with timer("draw"):
            if self.video is not None or self.for_video:  # faces and names only: no frame rate or keys in a file
                self.clean = frame.image.copy()
                draw.left_out(self.clean, ignored, placed=(placed := []))
                draw.tracks(self.clean, tracks, placed=placed)
                if self.video is not None:
                    self.video.write(self.clean)
            if self.headless:
                return self.clean if self.for_video else None, False
            shown = frame.image.copy()
            dropped = f"   {self.source.dropped} dropped" if self.source is not None and self.source.dropped else ""
            gate = self.recognizer.gate
            idle = "   idle: nothing moves" if gate is not None and gate.idle else ""
            lines = [f"{self.fps.label()}   {counted(len(tracks), 'face')}{idle}{dropped}   q quits"]
            if self.writer is not None and self.writer.error:
                lines.append(f"history unavailable: {counted(self.writer.waiting, 'sighting')} waiting")
            if getattr(self.recognizer.registry, "offline", None):
                lines.append("registry unavailable: the people known until now are recognised")
            band = draw.status(shown, lines)
            draw.left_out(shown, ignored, top=band, placed=(placed := []))
            draw.tracks(shown, tracks, top=band, placed=placed)  # labels below the status band, never under it
        return shown, False

    def close(self) -> None:
        for observer in self.observers:
            observer.close()
        if self.video is not None:
            self.video.close()

    def summary(self, loop: Loop) -> dict:
        stages = {k: round(1000 * v / max(self.frames, 1), 2) for k, v in self.recognizer.timer.seconds.items()}
        return {"frames": self.frames, "seconds": round(loop.seconds, 3),
                "fps": round(self.frames / loop.seconds, 2) if loop.seconds else None,
                "ended": loop.reason, "threshold": self.recognizer.threshold,
                "people": [{"name": n, "first": round(s["first"], 3), "last": round(s["last"], 3),
                            "frames": len(s["frames"])} for n, s in sorted(self.seen.items())],
                "unknown_tracks": len(self.unknown_tracks - self.named_tracks),
                "not_faces": len(self.unconfirmed - self.unknown_tracks - self.named_tracks),
                "not_live": len(self.not_live - self.named_tracks) if self.recognizer.liveness is not None else None,
                "not_turned": len(self.not_turned) if self.recognizer.challenge is not None else None,
                "ms_per_frame": stages,
                "dropped": self.source.dropped if self.source is not None else 0,
                "reconnects": self.source.reconnects if self.source is not None else 0, "lag_ms": _lag(self.lags),
                "motion": self.recognizer.gate.summary() if self.recognizer.gate is not None else None}


class VideoOut:
    """An .mp4 file written frame by frame, sized by its first frame: H.264 where OpenCV's FFmpeg
    has its encoder (browsers play it), else MPEG-4 Part 2 (`codec()` says which). Its folder is
    made and the file checked when it is created, before any frame is processed."""

    def __init__(self, path, fps: float | None):
        self.path, self.fps, self.writer = Path(path), fps or 25.0, None
        self.check(self.path)

    @staticmethod
    def check(path) -> None:
        """Make the video's folder and check that the file can be written (InputError otherwise)."""
        path = Path(path)
        existed = path.exists()
        blocked = next((folder for folder in path.parents if folder.exists() and not folder.is_dir()), None)
        if blocked is not None:
            raise InputError(f"{path}: cannot write the video here ({blocked} is a file, not a folder)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab"):
                pass
        except OSError as err:
            raise InputError(f"{path}: cannot write the video here ({err.strerror or err})") from None
        if not existed:
            path.unlink()

    def write(self, image: np.ndarray) -> None:
        import cv2

        if self.writer is None:
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*codec()[0]), self.fps,
                                          (image.shape[1], image.shape[0]))
            if not self.writer.isOpened():
                raise InputError(f"{self.path}: cannot write a video here")
        self.writer.write(image)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None


@functools.cache
def codec() -> tuple[str, str | None]:
    """(the fourcc annotated videos are written with, what to tell the user about it or None):
    avc1 (H.264) when this OpenCV can encode it, else mp4v, which browsers do not play."""
    import tempfile

    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # the probe's failure is not the user's error
    try:
        with tempfile.TemporaryDirectory() as folder:
            test = cv2.VideoWriter(str(Path(folder) / "test.mp4"), cv2.VideoWriter_fourcc(*"avc1"), 25, (64, 64))
            h264 = test.isOpened()
            test.release()
    finally:
        cv2.utils.logging.setLogLevel(level)
    if h264:
        return "avc1", None
    return "mp4v", ("MPEG-4 Part 2: this OpenCV has no H.264 encoder, so browsers will not play it; VLC and mpv do, "
                    "and ffmpeg -i IN -c:v libx264 OUT converts it")


class Tiled:
    """recognize's step over several sources (sources.Sources): the newest frames of the sources
    are recognised together (pipeline.process_together), then each goes to its source's own
    Recognition (its own tracker, recorder and events, tagged with the source's name); the
    window shows the latest annotated frame of every source, tiled."""

    TILE = (640, 360)  # width, height of each tile

    def __init__(self, steps: list[Recognition], names: list[str], output=None, fps: float | None = None):
        self.steps, self.names = steps, names
        self.tiles: list[np.ndarray | None] = [None] * len(steps)
        self.video = VideoOut(output, fps) if output is not None else None
        self.clean_tiles: list[np.ndarray | None] = [None] * len(steps)
        for step in steps:
            step.for_video = self.video is not None

    def __call__(self, frames: list[Frame]):
        steps = [self.steps[f.source] for f in frames]
        recognized = process_together([s.recognizer for s in steps], [f.image for f in frames], [f.index for f in frames],
                                      [f.time for f in frames])
        shown = [step(frame, result)[0] for step, frame, result in zip(steps, frames, recognized)]
        grid = None
        for frame, step, image in zip(frames, steps, shown):  # the video gets a grid per frame, as one source's would
            if self.video is not None:
                self.clean_tiles[frame.source] = step.clean
                self.video.write(draw.tile(self.clean_tiles, self.names, self.TILE))
            if image is not None and not step.headless:
                self.tiles[frame.source] = image
                grid = draw.tile(self.tiles, self.names, self.TILE)
        return grid, False

    def close(self) -> None:
        for step in self.steps:
            step.close()
        if self.video is not None:
            self.video.close()


def recognize_many(sources, recognizers: list[Recognizer], *, headless: bool, output, max_frames: int | None,
                   observers: list[list], writer=None) -> tuple[Loop, dict]:
    """recognize over several sources (sources.Sources) in one loop, one Recognizer and list of
    observers each (sharing the models); returns (the loop, the summary: totals and each source's own)."""
    names = [s.name for s in sources.sources]
    steps = [Recognition(r, headless=headless, output=None, fps=s.fps, observers=watching, writer=writer, source=s,
                         annotate=not headless or output is not None)
             for r, s, watching in zip(recognizers, sources.sources, observers)]
    step = Tiled(steps, names, output, fps=max((s.fps or 0 for s in sources.sources), default=0) or None)
    loop = Loop(sources, step, title="facecam recognize", headless=headless, max_frames=max_frames)
    try:
        loop.run()
    finally:
        step.close()
    each = [{"source": name, **s.summary(loop)} for name, s in zip(names, steps)]
    return loop, {"frames": loop.frames, "seconds": round(loop.seconds, 3),
                  "fps": round(loop.frames / loop.seconds, 2) if loop.seconds else None, "ended": loop.reason,
                  "threshold": recognizers[0].threshold if recognizers else None,
                  "people": [{"source": e["source"], **p} for e in each for p in e["people"]],
                  "unknown_tracks": sum(e["unknown_tracks"] for e in each), "dropped": sources.dropped,
                  "reconnects": sources.reconnects, "sources": each}


def _lag(lags: list[float]) -> dict | None:
    """Median, 95th percentile and largest wait of live frames between being read and processed."""
    if not lags:
        return None
    ms = np.array(lags) * 1000
    return {"median": round(float(np.median(ms)), 1), "p95": round(float(np.percentile(ms, 95)), 1),
            "max": round(float(ms.max()), 1)}


def recognize(source: FrameSource, recognizer: Recognizer, *, headless: bool, output, max_frames: int | None,
              observers=(), writer=None, on_frame=None) -> tuple[Loop, dict]:
    """Run the recognition loop; returns (the finished loop, the summary). observers: told of
    every frame, closed with the loop (observe.Observer). on_frame: told the frames read so far."""
    step = Recognition(recognizer, headless=headless, output=output, fps=source.fps, observers=observers,
                       writer=writer, source=source)
    loop = Loop(source, step, title="facecam recognize", headless=headless, max_frames=max_frames,
                timer=recognizer.timer, on_frame=on_frame)
    try:
        loop.run()
    finally:
        step.close()
    return loop, step.summary(loop)
