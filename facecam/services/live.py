"""A recognising process, built once from its settings for `recognize` and `serve`: the models,
the registry, the history and its writer, the notifier and its sinks, and for each live source
its FrameSource, Recognizer and observers (history recorder, notification watch, and whatever
the front end adds).

    settings = LiveSettings(sources=[SourceSpec(camera=0)], registry=Path("registry"))
    with Live(settings, warn=print, info=print) as live:
        source = live.open(settings.sources[0])
        ...live.recognizer(), live.observers(source)...
"""

from __future__ import annotations

import random
import re
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..errors import Remedy, UsageError
from ..notify import sinks as sink_table
from ..quality import same_face_cosine
from ..words import counted


@dataclass(frozen=True)
class SourceSpec:
    """One live source: a camera index, or a video file, stream URL or folder of images (path);
    name: what events and the history call it (default: the camera, path or URL); threshold,
    away_after: its own, instead of the settings' (a deployment file's [sources.NAME])."""

    camera: int | None = None
    path: str | None = None
    name: str | None = None
    threshold: float | None = None
    away_after: float | None = None

    @property
    def photos(self) -> bool:
        """A folder of images: unrelated pictures, not the frames of one scene."""
        return self.path is not None and Path(self.path).is_dir()


@dataclass(frozen=True)
class Capture:
    """How sources are read. reconnect: attempts to reopen a source that stops delivering (None:
    for ever); realtime: a file at its own frame rate, dropping frames as a live source would;
    camera_size (width, height), camera_fps, fourcc: what to ask a camera for."""

    reconnect: int | None = 3
    realtime: bool = False
    rtsp_transport: str = "tcp"
    camera_size: tuple[int, int] | None = None
    camera_fps: float | None = None
    fourcc: str | None = None

    def __post_init__(self):
        if self.rtsp_transport not in ("tcp", "udp"):
            raise UsageError("tcp or udp", param="rtsp_transport")
        if self.fourcc is not None and not re.fullmatch(r"[A-Za-z0-9 ]{4}", self.fourcc):
            raise UsageError("four letters or digits, e.g. MJPG or YUYV", param="fourcc")


@dataclass
class LiveSettings:
    """Everything a recognising process is told. registry: the folder; history: where sightings
    are kept (None: $FACECAM_HISTORY, else history.sqlite in the registry); keep_history False
    keeps none; retention, retention_unknown: days after which sightings (all, unknown) are
    deleted; sinks: the notification sinks' settings (notify.sinks: {setting: value}); snapshots:
    events carry the face; away_after, unknown_every: seconds (notify.presence); motion: the
    detector rests while a source's scene is still (motion.MotionGate); motion_masks: what the
    gate ignores, by source name (None: every source; motion.parse_masks); liveness: a face counts
    only once judged live; challenge: a person only once they turn their head as asked
    (pipeline.Recognizer)."""

    sources: list[SourceSpec]
    registry: Path
    threshold: float | None = None
    model: str | None = None
    detector: str | None = None
    detector_backbone: Path | None = None
    detect_threshold: float = config.DETECT_THRESHOLD
    max_size: int = config.DETECT_MAX_SIZE
    device: str = "auto"
    capture: Capture = field(default_factory=Capture)
    history: str | None = None
    keep_history: bool = True
    retention: float | None = None
    retention_unknown: float = config.UNKNOWN_RETENTION_DAYS
    sinks: dict = field(default_factory=sink_table.defaults)
    snapshots: bool = False
    away_after: float = config.AWAY_AFTER
    unknown_every: float = config.UNKNOWN_EVERY
    motion: bool = True
    motion_masks: dict = field(default_factory=dict)
    liveness: bool = False
    challenge: bool = False


# --- settings as people type them

def parse_sources(cameras: list[int] | None, paths: list[str] | None, *, default_camera: bool) -> list[SourceSpec]:
    """The sources of camera indices and of paths or URLs, each optionally named: `door=rtsp://...`
    (a word before the first "=", no "/" or ":" in it). Camera 0 when there is none and
    default_camera."""
    specs = [SourceSpec(camera=c) for c in cameras or []]
    for text in paths or []:
        named = re.fullmatch(r"([\w-]{1,40})=(.+)", text)
        specs.append(SourceSpec(path=named.group(2), name=named.group(1)) if named else SourceSpec(path=text))
    names = [s.name for s in specs if s.name]
    if len(names) != len(set(names)):
        raise UsageError("two sources have the same name", param="source")
    return specs or ([SourceSpec(camera=0)] if default_camera else [])


def parse_reconnect(text: str) -> int | None:
    """A number of attempts, or "forever" (None)."""
    if text.strip().lower() == "forever":
        return None
    if text.strip().isdigit():
        return int(text)
    raise UsageError("a number of attempts or 'forever'", param="reconnect")


def parse_size(text: str | None) -> tuple[int, int] | None:
    """WIDTHxHEIGHT, e.g. 1280x720."""
    if text is None:
        return None
    found = re.fullmatch(r"\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*", text)
    if not found:
        raise UsageError("WIDTHxHEIGHT, e.g. 1280x720", param="camera_size")
    return int(found.group(1)), int(found.group(2))


# --- the parts

def load_detector(weights, backbone, device: str, threshold: float, max_size: int | None):
    """The RetinaFace detector, its face confidence checked (0-1)."""
    from ..models import retinaface

    if not 0.0 <= threshold <= 1.0:
        raise UsageError("must be between 0 and 1", param="detect_threshold")
    return retinaface.load(weights, backbone=str(backbone) if backbone else None, device=device,
                           threshold=threshold, max_size=max_size or None)


def load_embedder(registry: Path, model: str | None, device: str):
    """The embedder to use with this registry: `model`, else the registry's own, else the default."""
    from ..models import load_embedder as load
    from ..registry import stored_model

    if model is None and (stored := stored_model(registry)) is not None:
        model = stored["name"]
    return load(model, device=device)


def check_threshold(threshold: float | None, embedder) -> None:
    """A match threshold on the embedder's scale: 0-1 when calibrated, a cosine -1-1 otherwise."""
    low = 0.0 if embedder.scale.calibrated else -1.0
    if threshold is not None and not low <= threshold <= 1.0:
        raise UsageError(f"must be between {low:g} and 1", param="threshold")


def open_source(spec: SourceSpec, capture: Capture, *, warn, info):
    """The FrameSource of a spec; for a camera, what it accepted of the settings asked is said
    (a warning when it differs)."""
    from ..sources import CameraSettings, FrameSource

    settings = CameraSettings(size=capture.camera_size, fps=capture.camera_fps,
                              fourcc=capture.fourcc.upper() if capture.fourcc else None)
    frames = FrameSource(camera=spec.camera if spec.camera is not None else 0, source=spec.path,
                         realtime=capture.realtime, reconnect=capture.reconnect, camera_settings=settings,
                         rtsp_transport=capture.rtsp_transport, on_status=warn, name=spec.name)
    asked = settings.size or settings.fps or settings.fourcc
    if frames.accepted is not None and asked:
        got = frames.accepted
        said = f"{frames.name}: {got['size'][0]}x{got['size'][1]} at {got['fps']:g} fps ({got['fourcc'] or 'format unknown'})"
        refused = [what for what, differs in (("size", settings.size and tuple(got["size"]) != settings.size),
                                              ("frame rate", settings.fps and abs(got["fps"] - settings.fps) >= 0.5),
                                              ("format", settings.fourcc and got["fourcc"] != settings.fourcc)) if differs]
        (warn if refused else info)(said + (f"; it did not take the {', '.join(refused)} asked" if refused else ""))
    return frames


class Live:
    """The parts of a recognising process. sinks: where events go besides the settings' own
    (the server's /events, recognize --json's lines); on_stored(rows): the sightings as they are
    stored; open_sources: open every source now, in `sources` (before the history is touched, so
    a source that cannot be read leaves no trace), else each when open() is called. The sinks'
    settings and the threshold are checked before any model loads. A context manager: leaving it
    closes the sources, delivers the last events and stores the last sightings (`unsaved` then
    says how many could not be)."""

    def __init__(self, settings: LiveSettings, *, warn, info, sinks=(), on_stored=None, open_sources: bool = True):
        from ..device import describe
        from .people import People

        self.settings, self.warn, self.info = settings, warn, info
        targets = sink_table.targets(settings.sinks)  # checked now: a bad URL is a usage error, before any work
        if targets and not settings.sources:
            raise UsageError("events need a live source to watch", Remedy("gives one", "camera", "N"),
                             Remedy("gives one", "source", "FILE_OR_URL"))
        self.embedder = load_embedder(settings.registry, settings.model, settings.device)
        for threshold in {settings.threshold, *(s.threshold for s in settings.sources)}:
            check_threshold(threshold, self.embedder)
        self.people = People(settings.registry, self.embedder, threshold=settings.threshold)
        self.people.registry()  # a registry of another model is refused before anything else
        self.detector = load_detector(settings.detector, settings.detector_backbone, settings.device,
                                      settings.detect_threshold, settings.max_size)
        if settings.device == "auto":
            info(f"device: {describe(self.detector.device)}")
        self.liveness = None
        if settings.liveness:
            from ..models import minifasnet

            self.liveness = minifasnet.load(device=settings.device)
        self._opened = ExitStack()
        self.sources, self.history, self.writer, self.notifier, self.unsaved = [], None, None, None, 0
        try:
            self._start(on_stored, sinks, open_sources)
        except BaseException:
            self.close()
            raise

    def _start(self, on_stored, sinks, open_sources: bool) -> None:
        from ..history import Place, Writer
        from ..notify import Notifier
        from ..registry import EnrolledNames

        settings = self.settings
        if open_sources:
            self.sources = [self.open(spec) for spec in settings.sources]
        if settings.keep_history:
            self.history = self.people.history = Place.of(settings.history, settings.registry).for_writing()
        if self.history is not None and settings.sources:
            self.writer = Writer(self.history, enrolled=EnrolledNames(settings.registry), on_stored=on_stored,
                                 warn=self.warn, retention=settings.retention, unknown_retention=settings.retention_unknown)
        chosen = [*sinks, *sink_table.sinks(settings.sinks, snapshots=settings.snapshots, warn=self.warn)]
        if chosen and settings.sources:
            self.notifier = Notifier(chosen, away_after=settings.away_after, unknown_every=settings.unknown_every,
                                     away_after_at={s.name: s.away_after for s in settings.sources if s.away_after},
                                     same_face_cosine=same_face_cosine(self.embedder), snapshots=settings.snapshots,
                                     enrolled=EnrolledNames(settings.registry),
                                     sighting_id=self.writer.row_id if self.writer is not None else None)

    def open(self, spec: SourceSpec):
        """A source opened with the settings' capture (closed with the session)."""
        return self._opened.enter_context(open_source(spec, self.settings.capture, warn=self.warn, info=self.info))

    def recognizer(self, spec: SourceSpec | None = None):
        """A Recognizer for one source, on the session's models and registry, with its motion
        gate (not for a folder of photos, whose pictures are unrelated)."""
        from ..motion import MotionGate, MotionMask
        from ..pipeline import Recognizer

        gate = None
        if self.settings.motion and not (spec is not None and spec.photos):
            masks = self.settings.motion_masks
            gate = MotionGate(masks.get(None, MotionMask()).plus(masks.get(spec.name) if spec and spec.name else None))
        threshold = spec.threshold if spec is not None and spec.threshold is not None else self.settings.threshold
        return Recognizer(self.detector, self.embedder, self.people.registry(), threshold, gate=gate, liveness=self.liveness,
                          challenge=random.SystemRandom() if self.settings.challenge else None, warn=self.warn)

    def observers(self, source, *extra, replays=None) -> list:
        """A source's observers, in the order they are told of each frame: its sightings (with a
        history; replays: a looped file's history.Replays), its presence and alerts (with sinks),
        then `extra` (None is left out)."""
        from ..history import Recorder

        recorder = None if self.writer is None else Recorder(self.writer, source=source.name, live=source.live,
                                                             model=self.embedder.name, replays=replays)
        watch = None if self.notifier is None else self.notifier.watch(source.name, live=source.live, recorder=recorder)
        return [o for o in (recorder, watch, *extra) if o is not None]

    def close(self) -> None:
        try:
            self._opened.close()
        finally:
            if self.notifier is not None:
                self.notifier.close()
            if self.writer is not None:
                self.unsaved = self.writer.close()  # closes the history too
            elif self.history is not None:
                self.history.close()

    def __enter__(self) -> "Live":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def unsaved_message(live: Live) -> str | None:
    """What to say when sightings could not be stored at the end."""
    if not live.unsaved:
        return None
    return f"history {live.history.where}: {counted(live.unsaved, 'sighting')} could not be stored ({live.writer.error})"


__all__ = ["Capture", "Live", "LiveSettings", "SourceSpec", "check_threshold", "load_detector",
           "load_embedder", "open_source", "parse_reconnect", "parse_size", "parse_sources"]
