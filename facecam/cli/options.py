"""Option declarations shared by the commands, and the few helpers every command group uses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import ui
from ..errors import FacecamError, worded

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
    Optional[Path], typer.Option("--registry", help="Registry folder [default: $FACECAM_REGISTRY or ./registry].")
]
CameraOpt = Annotated[int, typer.Option(min=0, max=63, help="Camera index (not with --source).")]
SourceOpt = Annotated[Optional[str], typer.Option(help="A video file, a stream URL or a folder of images instead of the camera.")]
CamerasOpt = Annotated[
    Optional[list[int]], typer.Option("--camera", min=0, max=63, help="Camera index; repeat for several cameras (with --source too) [default: 0 when there is no --source].")
]
SourcesOpt = Annotated[
    Optional[list[str]],
    typer.Option("--source", help="A video file, stream URL or folder of images; repeat for several, each optionally named: door=rtsp://...")
]
HeadlessOpt = Annotated[bool, typer.Option(help="No window (for servers and scripts); Ctrl-C stops.")]
MaxFramesOpt = Annotated[Optional[int], typer.Option(min=1, help="Stop after N frames.")]
ThresholdOpt = Annotated[
    Optional[float],
    typer.Option(help="Score (0-1, the same scale for every model; see README) at which a face is taken for an enrolled person [default: the model's, 0.8]."),
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
# acting on what is seen (facecam.notify)
MqttOpt = Annotated[Optional[str], typer.Option(
    "--mqtt", envvar="FACECAM_MQTT", show_envvar=False,
    help="Publish events, presence and Home Assistant discovery to this broker: "
         "mqtt://[user:password@]host[:port][/prefix] (mqtts:// for TLS) [env: FACECAM_MQTT].")]
MqttCaOpt = Annotated[Optional[Path], typer.Option(
    "--mqtt-ca", exists=True, dir_okay=False, help="CA certificate(s) to check an mqtts:// broker with [default: the system's].")]
SnapshotsOpt = Annotated[bool, typer.Option(
    "--snapshots", "--mqtt-snapshots",
    help="Events carry the face (base64 JPEG, MQTT and webhooks); Home Assistant gets each source's last unknown face.")]
MqttDiscoveryOpt = Annotated[str, typer.Option(
    "--mqtt-discovery", help="Home Assistant's discovery prefix; 'none' announces nothing.")]
WebhookOpt = Annotated[Optional[list[str]], typer.Option(
    "--webhook", help="POST every event as JSON to this URL (repeat for several); signed when FACECAM_WEBHOOK_SECRET is set.")]
AwayAfterOpt = Annotated[float, typer.Option(
    "--away-after", min=1, help="Seconds without being seen after which someone has left.")]
UnknownEveryOpt = Annotated[float, typer.Option(
    "--unknown-every", min=0, help="Seconds a stranger's face (and faces alike) raise no new 'unknown' event, counted from when last seen.")]


def build_detector(weights, backbone, device, threshold, max_size):
    from ..device import describe
    from ..models import retinaface

    if not 0.0 <= threshold <= 1.0:
        raise typer.BadParameter("must be between 0 and 1", param_hint="--threshold")
    det = retinaface.load(weights, backbone=str(backbone) if backbone else None, device=device,
                          threshold=threshold, max_size=max_size or None)
    if device == "auto":
        ui.info(f"device: {describe(det.device)}")
    return det


def registry_path(path: Path | None) -> Path:
    from ..registry import default_path

    return path if path is not None else default_path()


def source_list(cameras: list[int] | None, sources: list[str] | None) -> list[tuple[str | None, int | None, str | None]]:
    """(name or None, camera, source) for each --camera and --source; camera 0 when there is none.
    `door=rtsp://...` names a source: a word before the first "=" (no "/" or ":" in it)."""
    import re

    out: list[tuple[str | None, int | None, str | None]] = [(None, c, None) for c in cameras or []]
    for text in sources or []:
        named = re.fullmatch(r"([\w-]{1,40})=(.+)", text)
        out.append((named.group(1), None, named.group(2)) if named else (None, None, text))
    names = [label for label, _, _ in out if label]
    if len(names) != len(set(names)):
        raise typer.BadParameter("two sources have the same name", param_hint="--source")
    return out or [(None, 0, None)]


def open_source(camera: int, source: str | None, *, reconnect: str = "3", realtime: bool = False,
                rtsp_transport: str = "tcp", camera_size: str | None = None, camera_fps: float | None = None,
                fourcc: str | None = None, name: str | None = None):
    """The FrameSource the options describe; for a camera, what it accepted of the settings asked
    is said (a warning when it differs)."""
    import re

    from ..sources import CameraSettings, FrameSource

    if rtsp_transport not in ("tcp", "udp"):
        raise typer.BadParameter("tcp or udp", param_hint="--rtsp-transport")
    if reconnect.strip().lower() == "forever":
        attempts = None
    elif reconnect.strip().isdigit():
        attempts = int(reconnect)
    else:
        raise typer.BadParameter("a number of attempts or 'forever'", param_hint="--reconnect")
    size = None
    if camera_size is not None:
        if not (found := re.fullmatch(r"\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*", camera_size)):
            raise typer.BadParameter("WIDTHxHEIGHT, e.g. 1280x720", param_hint="--camera-size")
        size = (int(found.group(1)), int(found.group(2)))
    if fourcc is not None and not re.fullmatch(r"[A-Za-z0-9 ]{4}", fourcc):
        raise typer.BadParameter("four letters or digits, e.g. MJPG or YUYV", param_hint="--fourcc")
    settings = CameraSettings(size=size, fps=camera_fps, fourcc=fourcc.upper() if fourcc else None)
    frames = FrameSource(camera=camera, source=source, realtime=realtime, reconnect=attempts, camera_settings=settings,
                         rtsp_transport=rtsp_transport, on_status=ui.warn, name=name)
    if frames.accepted is not None and (size or camera_fps or fourcc):
        got = frames.accepted
        said = f"{frames.name}: {got['size'][0]}x{got['size'][1]} at {got['fps']:g} fps ({got['fourcc'] or 'format unknown'})"
        refused = [what for what, differs in (("size", size and tuple(got["size"]) != size),
                                              ("frame rate", camera_fps and abs(got["fps"] - camera_fps) >= 0.5),
                                              ("format", settings.fourcc and got["fourcc"] != settings.fourcc)) if differs]
        (ui.warn if refused else ui.info)(said + (f"; it did not take the {', '.join(refused)} asked" if refused else ""))
    return frames


def history_target(history: str | None, registry: Path | None) -> str:
    """--history, else $FACECAM_HISTORY, else history.sqlite in the registry folder."""
    import os

    from ..history import FILE_NAME

    return history or os.environ.get("FACECAM_HISTORY") or str(registry_path(registry) / FILE_NAME)


def open_history(history: str | None, registry: Path | None):
    """The history to read or change (it must exist)."""
    from ..history import History

    return History.open(history_target(history, registry))


def history_to_write(history: str | None, registry: Path | None):
    """The history a recognising command writes, made if needed (the registry folder too, when it
    lives there by default)."""
    from ..history import FILE_NAME, History

    target = history_target(history, registry)
    if target == str(registry_path(registry) / FILE_NAME):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    return History.open(target, create=True)


def history_writer(history: str | None, registry: Path, *, retention: float | None, unknown_retention: float,
                   on_stored=None):
    """The background writer of a recognising command, on a history opened (or made) now; its
    warnings go to stderr."""
    from ..history import Writer
    from ..registry import EnrolledNames

    store = history_to_write(history, registry)
    return Writer(store, enrolled=EnrolledNames(registry), on_stored=on_stored, warn=ui.warn, retention=retention,
                  unknown_retention=unknown_retention)


def embedder_for(registry: Path, model: str | None, device: str):
    """The embedder to use with this registry: --model, else the registry's own, else the default."""
    from ..models import load_embedder
    from ..registry import stored_model

    if model is None and (stored := stored_model(registry)) is not None:
        model = stored["name"]
    return load_embedder(model, device=device)


def check_threshold(threshold: float | None, embedder) -> None:
    low = 0.0 if embedder.scale.calibrated else -1.0
    if threshold is not None and not low <= threshold <= 1.0:
        raise typer.BadParameter(f"must be between {low:g} and 1", param_hint="--threshold")


def progress(enabled: bool, what: str):
    """A rich progress bar as the library's progress callback: (bar context, callback)."""
    bar = ui.progress(enabled=enabled)
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


def notifier_for(*, mqtt: str | None, mqtt_ca: Path | None, snapshots: bool, mqtt_discovery: str,
                 webhooks: list[str] | None, away_after: float, unknown_every: float, embedder, registry: Path,
                 writer=None, sinks: tuple = ()):
    """The notify.Notifier of a recognising command, or None when nothing listens; the MQTT
    broker and webhook URLs are checked now (a bad one is a usage error), reached in the background."""
    import os

    from .. import notify
    from ..quality import same_face_cosine
    from ..notify.mqtt import MqttSink, parse_url
    from ..notify.webhook import SECRET_ENV, WebhookSink, check_url
    from ..registry import EnrolledNames

    if mqtt is not None:
        parse_url(mqtt)
    for url in webhooks or ():
        check_url(url)
    if mqtt_ca is not None and mqtt is None:
        raise typer.BadParameter("needs --mqtt", param_hint="--mqtt-ca")
    chosen = list(sinks)
    if mqtt is not None:
        chosen.append(MqttSink(mqtt, ca=str(mqtt_ca) if mqtt_ca else None, snapshots=snapshots,
                               discovery=None if mqtt_discovery.lower() == "none" else mqtt_discovery.strip("/"),
                               warn=ui.warn))
    secret = os.environ.get(SECRET_ENV) or None
    chosen += [WebhookSink(url, secret=secret, warn=ui.warn) for url in webhooks or ()]
    if not chosen:
        return None
    return notify.Notifier(chosen, away_after=away_after, unknown_every=unknown_every,
                           same_face_cosine=same_face_cosine(embedder), snapshots=snapshots,
                           enrolled=EnrolledNames(registry), sighting_id=writer.row_id if writer is not None else None)
