"""Option declarations shared by the commands (those of a recognising process declared once, for
`recognize` and `serve`), and the few helpers every command group uses."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import config, ui
from ..errors import FacecamError, UsageError, worded

DeviceOpt = Annotated[str, typer.Option(help="Compute device: auto, cpu, cuda or cuda:N.")]
DetectorOpt = Annotated[
    Optional[str],
    typer.Option(help="Detector weights: a catalog name or a biubug6 checkpoint file [default: retinaface-mnet025]."),
]
BackboneOpt = Annotated[
    Optional[Path], typer.Option(help="Backbone checkpoint for split weights (--detector is then the header file).")
]
MaxSizeOpt = Annotated[
    int, typer.Option(min=0, help="Scale images down so the long side is at most N pixels before detection; 0 keeps full size.")
]
# detect and embed only have a face confidence, and keep --threshold for it
FaceConfidenceOpt = Annotated[float, typer.Option("--detect-threshold", "--threshold", help="Minimum face confidence, 0-1.")]
DetectThresholdOpt = Annotated[float, typer.Option("--detect-threshold", help="Minimum face confidence, 0-1.")]
ModelOpt = Annotated[
    Optional[str], typer.Option(help="Face embedder: a catalog name (see 'facecam models list') [default: the catalog's default].")
]
RegistryOpt = Annotated[
    Optional[str], typer.Option("--registry", help="Registry folder, or postgresql://user:password@host:port/database "
                                "(one registry shared by every facecam that names it) [default: $FACECAM_REGISTRY or "
                                "./registry].")
]
CameraOpt = Annotated[int, typer.Option(min=0, max=63, help="Camera index (not with --source).")]
SourceOpt = Annotated[Optional[str], typer.Option(help="A video file, a stream URL or a folder of images instead of the camera.")]
CamerasOpt = Annotated[
    Optional[list[int]], typer.Option("--camera", min=0, max=63, help="Camera index; repeat for several cameras (with --source too) "
        "[default: 0 when there is no --source].")
]
SourcesOpt = Annotated[
    Optional[list[str]],
    typer.Option("--source", help="A video file, stream URL or folder of images; repeat for several, each optionally named: door=rtsp://...")
]
HeadlessOpt = Annotated[bool, typer.Option(help="No window (for servers and scripts); Ctrl-C stops.")]
MaxFramesOpt = Annotated[Optional[int], typer.Option(min=1, help="Stop after N frames.")]
ThresholdOpt = Annotated[
    Optional[float],
    typer.Option(help="Score (0-1, the same scale for every model; see README) at which a face is taken for an enrolled person [default: "
        "the model's, 0.8]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]
ReconnectOpt = Annotated[
    str, typer.Option(help="Reopen a camera or stream that stops delivering: N attempts (1 s, 2 s, 4 s ... apart), or 'forever'.")
]
RealtimeOpt = Annotated[
    bool, typer.Option(help="Read a video file at its own frame rate, dropping frames when processing is slower, as a live source would.")
]
RtspTransportOpt = Annotated[
    str, typer.Option(help="RTSP over tcp (UDP loses frames on Wi-Fi) or udp.")
]
CameraSizeOpt = Annotated[Optional[str], typer.Option(help="Ask the camera for this size, WxH (e.g. 1280x720).")]
CameraFpsOpt = Annotated[Optional[float], typer.Option(min=1, max=240, help="Ask the camera for this frame rate.")]
FourccOpt = Annotated[
    Optional[str], typer.Option(help="Ask the camera for this pixel format, e.g. MJPG (many webcams give 30 fps at 720p only so).")
]
HistoryOpt = Annotated[
    Optional[str],
    typer.Option("--history", help="Where sightings are kept: a SQLite file, or postgresql://user:password@host:port/database "
                                   "[default: $FACECAM_HISTORY, else history.sqlite in the registry folder]."),
]
NoHistoryOpt = Annotated[bool, typer.Option("--no-history", help="Keep no record of who was seen when.")]
RetentionOpt = Annotated[
    Optional[float], typer.Option(min=0.01, help="Delete sightings (and their faces) older than this many days [default: keep].")
]
UnknownRetentionOpt = Annotated[
    float, typer.Option(min=0.01, help="Delete the sightings of unknown faces older than this many days.")
]
MotionOpt = Annotated[bool, typer.Option(
    "--motion/--no-motion", help="Rest the face detector while a source's picture is still and nobody is tracked.")]
MotionMaskOpt = Annotated[Optional[list[str]], typer.Option(
    "--motion-mask", help="Parts of the picture where movement does not count (a TV, a tree): x1,y1,x2,y2 in pixels, "
    "repeatable, or an image of the frame's size whose black pixels are ignored; NAME=... for the source of that name only.")]
LivenessOpt = Annotated[bool, typer.Option(
    "--liveness/--no-liveness", help="Count a face only once it is judged live (a real face in front of the camera, not a "
    "photo or a screen held up to it: MiniFASNet, a majority of checks).")]
ChallengeOpt = Annotated[bool, typer.Option(
    "--challenge/--no-challenge", help="Ask each person recognised to turn their head to one side, chosen at random, and "
    "count them as present only once they do, within 6 s: a photo cannot turn. For doors.")]
ConfigOpt = Annotated[Optional[Path], typer.Option(
    "--config", help="A deployment file (TOML): the sources, one [sources.NAME] table each, and any of these options; "
    "options given here win over it. 'facecam config check FILE' says what it would run.")]
# acting on what is seen (facecam.notify; the sinks' own options derive from notify.sinks)
SnapshotsOpt = Annotated[bool, typer.Option(
    "--snapshots", "--mqtt-snapshots",
    help="Events carry the face (base64 JPEG, MQTT and webhooks); Home Assistant gets each source's last unknown face.")]
AwayAfterOpt = Annotated[float, typer.Option(
    "--away-after", min=1, help="Seconds without being seen after which someone has left.")]
UnknownEveryOpt = Annotated[float, typer.Option(
    "--unknown-every", min=0, help="Seconds a stranger's face (and faces alike) raise no new 'unknown' event, counted from when last seen.")]


def build_detector(weights, backbone, device, threshold, max_size):
    from ..device import describe
    from ..services.live import load_detector

    det = load_detector(weights, backbone, device, threshold, max_size)
    if device == "auto":
        ui.info(f"device: {describe(det.device)}")
    return det


def registry_path(path: str | Path | None) -> Path | str:
    """The registry's place: a folder (Path) or a postgresql:// URL (str)."""
    from ..registry import default_path, place

    return place(path) if path is not None else default_path()


def embedder_for(registry: Path, model: str | None, device: str):
    """The embedder to use with this registry: --model, else the registry's own, else the default."""
    from ..services.live import load_embedder

    return load_embedder(registry, model, device)


def history_place(history: str | None, registry: Path | None):
    """--history, else $FACECAM_HISTORY, else history.sqlite in the registry folder."""
    from ..history import Place

    return Place.of(history, registry_path(registry))


def open_history(history: str | None, registry: Path | None):
    """The history to read or change (it must exist)."""
    return history_place(history, registry).open()


def people_of(registry: Path | None, history: str | None = None, embedder=None, threshold: float | None = None):
    """The services.People of the options: the registry, the history where it is kept (opened
    for each use), the embedder when the command needs one."""
    from ..services import People

    return People(registry_path(registry), embedder, threshold=threshold, history=history_place(history, registry))


def progress(enabled: bool, what: str, unit: str | None = None):
    """A rich progress bar as the library's progress callback: (bar context, callback)."""
    bar = ui.progress(enabled=enabled, unit=unit)
    task = bar.add_task(ui.safe(what), total=None)
    return bar, lambda done, total: bar.update(task, completed=done, total=total)


class Images:
    """The images named on the command line (files, or folders searched recursively), read one by
    one behind a progress bar. Unreadable ones are reported (stderr, and a JSON line with --json),
    kept in `failed` as (path, reason), and skipped."""

    def __init__(self, paths: list[Path], json_out: bool, what: str):
        from .. import images

        self.json_out, self.what = json_out, what
        self.files: list[tuple[Path, Path]] = []  # (image, path relative to what the user named)
        self.failed: list[tuple[Path, str]] = []
        self.done = 0
        for root_path in paths:
            try:
                found = images.list_images([root_path])
            except FacecamError as err:
                self._fail(root_path, err)
                continue
            for f in found:
                self.files.append((f, f.relative_to(root_path) if root_path.is_dir() else Path(f.name)))

    def __iter__(self):
        from .. import images

        with ui.progress(enabled=not self.json_out and len(self.files) > 1) as bar:
            task = bar.add_task(ui.safe(self.what), total=len(self.files))
            for path, rel in self.files:
                bar.advance(task)
                try:
                    image = images.read_image(path)
                except FacecamError as err:
                    self._fail(path, err)
                    continue
                self.done += 1
                yield path, rel, image

    def _fail(self, path: Path, err: FacecamError) -> None:
        said = worded(err, flags=True)
        self.failed.append((path, said))
        ui.error(said)
        if self.json_out:
            ui.json_line({"image": str(path), "error": said})




# --- the options of a recognising process, declared once for `recognize` and `serve`

def _sink_option(setting):
    """A notify.sinks setting as a Typer option."""
    flag = "--" + setting.name.replace("_", "-")
    if setting.many:
        kind = Optional[list[str]]
    elif setting.kind is Path:
        kind = Optional[Path]
    else:
        kind = str if setting.default is not None else Optional[str]
    extra = {"exists": True, "dir_okay": False} if setting.kind is Path else {}
    if setting.envvar:
        extra.update(envvar=setting.envvar, show_envvar=False)
    return setting.name, Annotated[kind, typer.Option(flag, help=setting.help, **extra)], setting.default


def _live_options(reconnect: str, camera_help: str, source_help: str) -> list[tuple[str, object, object]]:
    """(name, annotation, default) of every shared option, in the order --help lists them."""
    from ..notify.sinks import SETTINGS

    return [
        ("config", ConfigOpt, None),
        ("camera", Annotated[Optional[list[int]], typer.Option("--camera", min=0, max=63, help=camera_help)], None),
        ("source", Annotated[Optional[list[str]], typer.Option("--source", help=source_help)], None),
        ("threshold", ThresholdOpt, None),
        ("realtime", RealtimeOpt, False),
        ("reconnect", ReconnectOpt, reconnect),
        ("rtsp_transport", RtspTransportOpt, "tcp"),
        ("camera_size", CameraSizeOpt, None),
        ("camera_fps", CameraFpsOpt, None),
        ("fourcc", FourccOpt, None),
        ("motion", MotionOpt, True),
        ("motion_mask", MotionMaskOpt, None),
        ("liveness", LivenessOpt, False),
        ("challenge", ChallengeOpt, False),
        ("registry", RegistryOpt, None),
        ("history", HistoryOpt, None),
        ("no_history", NoHistoryOpt, False),
        ("retention", RetentionOpt, None),
        ("retention_unknown", UnknownRetentionOpt, config.UNKNOWN_RETENTION_DAYS),
        *(_sink_option(setting) for setting in SETTINGS),
        ("snapshots", SnapshotsOpt, False),
        ("away_after", AwayAfterOpt, config.AWAY_AFTER),
        ("unknown_every", UnknownEveryOpt, config.UNKNOWN_EVERY),
        ("model", ModelOpt, None),
        ("detect_threshold", DetectThresholdOpt, config.DETECT_THRESHOLD),
        ("max_size", MaxSizeOpt, config.DETECT_MAX_SIZE),
        ("detector", DetectorOpt, None),
        ("detector_backbone", BackboneOpt, None),
        ("device", DeviceOpt, "auto"),
    ]


def live_settings(values: dict, *, default_camera: bool):
    """The services.live.LiveSettings of the shared options' values (with a deployment file's
    sources, `with_config`, when the command line names none)."""
    from ..motion import parse_masks
    from ..notify.sinks import SETTINGS
    from ..services.live import Capture, LiveSettings, parse_reconnect, parse_size, parse_sources

    filed = values.get("filed_sources")
    sources = filed.specs if filed else parse_sources(values["camera"], values["source"], default_camera=default_camera)
    if values["motion_mask"] and not values["motion"]:
        raise UsageError("masks what the motion gate ignores, and --no-motion turns the gate off", param="motion_mask")
    masks = parse_masks(values["motion_mask"], [s.name for s in sources])
    if filed:
        masks.update(filed.masks)
    capture = Capture(reconnect=parse_reconnect(values["reconnect"]), realtime=values["realtime"],
                      rtsp_transport=values["rtsp_transport"], camera_size=parse_size(values["camera_size"]),
                      camera_fps=values["camera_fps"], fourcc=values["fourcc"])
    return LiveSettings(
        sources=sources,
        registry=registry_path(values["registry"]), threshold=values["threshold"], model=values["model"],
        detector=values["detector"], detector_backbone=values["detector_backbone"],
        detect_threshold=values["detect_threshold"], max_size=values["max_size"], device=values["device"],
        capture=capture, history=values["history"], keep_history=not values["no_history"],
        retention=values["retention"], retention_unknown=values["retention_unknown"],
        sinks={s.name: values[s.name] for s in SETTINGS}, snapshots=values["snapshots"],
        away_after=values["away_after"], unknown_every=values["unknown_every"], motion=values["motion"],
        motion_masks=masks, liveness=values["liveness"], challenge=values["challenge"])


def with_config(values: dict, ctx) -> dict:
    """The command's option values with a deployment file's (--config) where the command line
    gave none; its enabled sources as values["filed_sources"] (a
    FiledSources) unless --camera or --source name some. Each value is checked as the command
    line checks it; a bad one is a one-line error naming the file, the line and the key."""
    from ..deployment import PER_SOURCE, load

    if values.get("config") is None:
        return values
    # the command line wins over the file, the file over the environment (FACECAM_MQTT, FACECAM_REGISTRY ...)
    given_here = lambda name: (source := ctx.get_parameter_source(name)) is not None and source.name == "COMMANDLINE"  # noqa: E731
    params = {p.name: p for p in ctx.command.params}
    paths = {name for name, p in inspect.signature(ctx.command.callback).parameters.items()
             if Path in typing.get_args(p.annotation) or p.annotation is Path}
    deployment = load(values["config"], _file_settings(ctx) - {"config", *PER_SOURCE})
    for name, raw in deployment.settings.items():
        if name not in params or given_here(name):
            continue  # the other command's (serve's port under recognize), or given on the command line
        param = params[name]
        if getattr(param, "multiple", False) and not isinstance(raw, list):
            raw = [raw]
        if name in paths or (name == "history" and isinstance(raw, str) and "://" not in raw):
            raw = deployment.beside(raw) if isinstance(raw, str) else raw  # relative to the file, as its sources are
        try:
            values[name] = param.process_value(ctx, raw)
        except typer.BadParameter as err:
            raise UsageError(f"{deployment.where(name)}: {err.message}") from None
    if not values.get("camera") and not values.get("source"):
        given = {n for n in ("threshold", "away_after") if given_here(n)}
        values["filed_sources"] = FiledSources.of(deployment, given)
    return values


def _file_settings(ctx) -> set[str]:
    """The option names a deployment file may set: those of recognize and serve, which share it
    (the commands of the app the context runs in)."""
    commands = ctx.find_root().command.commands
    return {p.name for command in ("recognize", "serve") for p in commands[command].params}


class FiledSources:
    """A deployment file's enabled sources as services.live.SourceSpecs, and their masks."""

    def __init__(self, specs: list, masks: dict, disabled: list[str]):
        self.specs, self.masks, self.disabled = specs, masks, disabled

    @classmethod
    def of(cls, deployment, given: set[str] = frozenset()) -> "FiledSources":
        """given: the options the command line gave, which win over each source's own."""
        from ..motion import MotionMask
        from ..services.live import SourceSpec

        specs, masks = [], {}
        for source in deployment.enabled():
            specs.append(SourceSpec(camera=source.camera, path=source.url, name=source.name,
                                    threshold=None if "threshold" in given else source.threshold,
                                    away_after=None if "away_after" in given else source.away_after))
            if source.mask:
                try:
                    masks[source.name] = MotionMask.parse(list(source.mask))
                except UsageError as err:
                    raise UsageError(f"{deployment.where('mask', f'sources.{source.name}')}: {err.message}") from None
        return cls(specs, masks, [s.name for s in deployment.sources if not s.enabled])

    def __bool__(self) -> bool:
        return bool(self.specs)


def live_options(*, reconnect: str, default_camera: bool, camera_help: str, source_help: str):
    """Give a command every option of a recognising process (sources and how they are read, the
    registry, models, history, notifications), declared here once: the command's own parameter
    `settings` receives them as one LiveSettings, checked."""
    return gathered(_live_options(reconnect, camera_help, source_help), "settings",
                    lambda values: live_settings(values, default_camera=default_camera), prepare=with_config)


def sink_options():
    """Give a command the notification sinks' options (notify.sinks): its parameter `sinks`
    receives them as {setting: value}."""
    from ..notify.sinks import SETTINGS

    return gathered([_sink_option(setting) for setting in SETTINGS], "sinks", dict)


def gathered(options: list[tuple[str, object, object]], into: str, build, prepare=None):
    """A decorator that adds `options` ((name, annotation, default), declared once for several
    commands) to a Typer command, and hands the command build({name: value}) as its parameter
    `into` instead. prepare(every value of the command, the click context) -> the values to use
    (a deployment file's)."""
    import functools

    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
              for name, annotation, default in options]

    def decorate(command):
        hints = typing.get_type_hints(command, include_extras=True)  # the module's names, resolved
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name])
               for p in inspect.signature(command).parameters.values() if p.name != into]
        own_names = {p.name for p in own}

        @functools.wraps(command)
        def run(**values):
            ctx = values.pop("typer_context")
            if prepare is not None:
                values = prepare(values, ctx)
            gathered_values = {p.name: values.pop(p.name) for p in shared}
            gathered_values.update((k, values.pop(k)) for k in list(values) if k not in own_names)
            return command(**{into: build(gathered_values)}, **values)

        context = inspect.Parameter("typer_context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        run.__signature__ = inspect.Signature([context] + own + shared)
        run.__annotations__ = {p.name: p.annotation for p in [context] + own + shared}
        del run.__wrapped__  # Typer reads the signature above, not the command's own
        return run

    return decorate


def confirm(question: str, yes: bool) -> None:
    """Go on when --yes was given or the person at the terminal agrees; typer.Abort when they do
    not. Without a terminal to ask (a script, a pipe) nothing is done: UsageError naming --yes."""
    import sys

    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{question.rstrip('?')}: not done, as there is no terminal to confirm it on (--yes does it without asking)")
    if not typer.confirm(question):
        raise typer.Abort()
