"""What `register` and `recognize` do with each frame of the shared capture loop."""

from __future__ import annotations

import time

import numpy as np

from . import draw
from .capture import Loop
from .enrol import POSES, Enrolment, sample
from .errors import InputError
from .pipeline import Recognizer
from .sources import Frame, FrameSource

GUIDANCE = {"frontal": "look straight at the camera", "left": "turn your head to the left (as on screen)",
            "right": "turn your head to the right (as on screen)", "up": "tilt your head up",
            "down": "tilt your head down"}


class Fps:
    """Frames per second over the last second or so, for the window."""

    def __init__(self):
        self._times: list[float] = []

    def tick(self) -> float:
        now = time.perf_counter()
        self._times = [t for t in self._times if now - t < 1.0] + [now]
        return (len(self._times) - 1) / max(now - self._times[0], 1e-6) if len(self._times) > 1 else 0.0


def capture_samples(source: FrameSource, detector, embedder, enrolment: Enrolment, *, name: str,
                    auto: bool, headless: bool, max_frames: int | None, keep_crops: bool) -> tuple[Loop, list]:
    """Run the enrolment loop; returns (the finished loop, the samples kept, one per pose)."""
    fps = Fps()

    def step(frame: Frame):
        faces = detector.detect(frame.image)
        candidate, warning = enrolment.candidate(frame.image, faces)
        if candidate is not None and enrolment.wanted(candidate):
            meta = {"source": source.name, "frame": frame.index, "frame_time": round(frame.time, 3),
                    "pose": candidate.pose, "yaw": round(candidate.yaw, 1), "pitch": round(candidate.pitch, 1),
                    "sharpness": round(candidate.sharpness, 1)}
            enrolment.keep(candidate, sample(frame.image, candidate.face, embedder, meta, keep_crops))
        if headless:
            return None, auto and enrolment.complete
        shown = frame.image.copy()
        covered = set(enrolment.samples)
        missing = [p for p in POSES if p not in covered]
        if candidate is not None:
            colour = draw.WARN if candidate.problem else draw.KNOWN
            draw.label_box(shown, candidate.face.box, candidate.problem or candidate.pose, colour)
        lines = [f"{name}: {len(covered)}/{len(POSES)} poses   {fps.tick():.0f} fps",
                 GUIDANCE[missing[0]] if missing else "all poses covered: q saves",
                 "q saves, Esc cancels"]
        if warning:
            lines.append(warning)
        draw.status(shown, lines)
        draw.pose_chart(shown, covered, candidate.pose if candidate is not None else None)
        return shown, auto and enrolment.complete

    loop = Loop(source, step, title=f"facecam register {name}", headless=headless, max_frames=max_frames)
    loop.run()
    samples = [enrolment.samples[p][1] for p in POSES if p in enrolment.samples]
    return loop, samples


class Recognition:
    """Recognize's per-frame step: names on tracks, events, who was seen when, the annotated video."""

    def __init__(self, recognizer: Recognizer, *, headless: bool, output, fps: float | None, on_event):
        self.recognizer, self.headless, self.on_event = recognizer, headless, on_event
        self.output, self.output_fps = output, fps or 25.0
        self.writer = None
        self.seen: dict[str, dict] = {}  # name -> first, last (seconds), frames
        self.unknown_tracks: set[int] = set()  # tracks seen unknown ...
        self.named_tracks: set[int] = set()  # ... and those that got a name at some point
        self.fps = Fps()

    def __call__(self, frame: Frame):
        timer = self.recognizer.timer
        tracks, matched = self.recognizer.process(frame.image, frame.index)
        for track in matched:
            self.on_event({"frame": frame.index, "time": round(frame.time, 3), "track_id": track.id,
                           "name": track.name, "score": track.score,
                           "box": [round(float(v), 1) for v in track.face.box]})
        for track in tracks:
            if track.name is None:
                self.unknown_tracks.add(track.id)
                continue
            self.named_tracks.add(track.id)
            seen = self.seen.setdefault(track.name, {"first": frame.time, "last": frame.time, "frames": set()})
            seen["last"] = frame.time
            seen["frames"].add(frame.index)
        if self.headless and self.output is None:
            return None, False
        with timer("draw"):
            shown = draw.tracks(frame.image.copy(), tracks)
            draw.status(shown, [f"{self.fps.tick():.0f} fps   {len(tracks)} face(s)   q quits"])
        if self.output is not None:
            self._write(shown)
        return shown, False

    def _write(self, image: np.ndarray) -> None:
        import cv2

        if self.writer is None:
            self.writer = cv2.VideoWriter(str(self.output), cv2.VideoWriter_fourcc(*"mp4v"), self.output_fps,
                                          (image.shape[1], image.shape[0]))
            if not self.writer.isOpened():
                raise InputError(f"{self.output}: cannot write a video here")
        self.writer.write(image)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None

    def summary(self, loop: Loop) -> dict:
        stages = {k: round(1000 * v / max(loop.frames, 1), 2) for k, v in self.recognizer.timer.seconds.items()}
        return {"frames": loop.frames, "seconds": round(loop.seconds, 3),
                "fps": round(loop.frames / loop.seconds, 2) if loop.seconds else None,
                "ended": loop.reason, "threshold": self.recognizer.threshold,
                "people": [{"name": n, "first": round(s["first"], 3), "last": round(s["last"], 3),
                            "frames": len(s["frames"])} for n, s in sorted(self.seen.items())],
                "unknown_tracks": len(self.unknown_tracks - self.named_tracks), "ms_per_frame": stages}


def recognize(source: FrameSource, recognizer: Recognizer, *, headless: bool, output, max_frames: int | None,
              on_event) -> tuple[Loop, dict]:
    """Run the recognition loop; returns (the finished loop, the summary)."""
    step = Recognition(recognizer, headless=headless, output=output, fps=source.fps, on_event=on_event)
    loop = Loop(source, step, title="facecam recognize", headless=headless, max_frames=max_frames,
                timer=recognizer.timer)
    try:
        loop.run()
    finally:
        step.close()
    return loop, step.summary(loop)
