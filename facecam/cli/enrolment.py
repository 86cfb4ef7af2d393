"""`facecam register`: guided enrolment from the camera (or a video), or from folders of photos."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import config, ui
from ..errors import UsageError
from ..validate import hide_password
from ..words import counted
from .options import (BackboneOpt, CameraFpsOpt, CameraOpt, CameraSizeOpt, DetectorOpt, DeviceOpt, FourccOpt, HeadlessOpt,
                      MaxFramesOpt, MaxSizeOpt, ModelOpt, RegistryOpt, SourceOpt, ThresholdOpt, build_detector,
                      embedder_for, progress, registry_path)

app = typer.Typer()


@app.command()
def register(
    photos: Annotated[Optional[list[Path]], typer.Argument(help="Photos (or folders of photos) to enrol --name from: each photo's main "
        "face is a sample. Without them, the camera or --source.", show_default=False)] = None,
    name: Annotated[Optional[str], typer.Option(help="Who is enrolled (not with --by-folder).")] = None,
    camera: CameraOpt = 0,
    source: SourceOpt = None,
    camera_size: CameraSizeOpt = None,
    camera_fps: CameraFpsOpt = None,
    fourcc: FourccOpt = None,
    auto: Annotated[bool, typer.Option(help="Save by itself once every head direction is covered (no review).")] = False,
    mirror: Annotated[bool, typer.Option(help="Show the camera as a mirror (a selfie view); --no-mirror for a rear camera. A video or "
        "stream (--source) is shown as it is. The samples are kept as the camera sees them.")] = True,
    directions: Annotated[int, typer.Option(help="Head directions around the centre to cover: 8 or 4.")] = 8,
    angle: Annotated[float, typer.Option(help="How far to turn for a ring direction, in degrees of yaw (8-45).")] = 20.0,
    poses: Annotated[str, typer.Option(help="ring (the centre and --directions around it) or five (frontal, left, right, up, down).")] = "ring",
    force: Annotated[bool, typer.Option(help="Enrol even if the face matches someone else already enrolled.")] = False,
    add: Annotated[bool, typer.Option(help="Add samples to a person already enrolled.")] = False,
    replace: Annotated[bool, typer.Option(help="Drop the person's existing samples first.")] = False,
    from_dir: Annotated[Optional[Path], typer.Option(help="Enrol from a folder of photos instead: each photo's main face is a sample (with "
        "--by-folder, one sub-folder per person).")] = None,
    by_folder: Annotated[bool, typer.Option(help="Enrol every sub-folder of --from-dir under the sub-folder's name, as people write "
        "names: alex_lacamoire is enrolled as Alex Lacamoire (a name with capitals or spaces is kept as it is).")] = False,
    keep_crops: Annotated[bool, typer.Option(help="Keep each sample's aligned face crop beside the registry (personal data), so it can be "
        "re-embedded with another model.")] = True,
    headless: HeadlessOpt = False,
    max_frames: MaxFramesOpt = None,
    min_face: Annotated[int, typer.Option(min=1, help="Smallest face side, in pixels, taken as a sample from the camera.")] = 80,
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
    Q saves, Esc or Ctrl-C cancel. 'facecam register --name Alice alice.jpg' enrols from photos."""
    from ..enrol import refuse_taken
    from ..registry import Registry
    from ..services.live import Capture, check_threshold, parse_size
    from ..validate import person_name

    people = _people(name, photos, from_dir, by_folder)
    if source is not None and None not in people.values():
        raise typer.BadParameter("enrol from --source or from photos, not both", param_hint="--source")
    if add and replace:
        raise typer.BadParameter("give --add or --replace, not both", param_hint="--add")
    if not 0.0 <= detect_threshold <= 1.0:
        raise typer.BadParameter("must be between 0 and 1", param_hint="--detect-threshold")
    people = {person_name(person): folder for person, folder in people.items()}
    path = registry_path(registry)
    embedder = embedder_for(path, model, device)
    check_threshold(threshold, embedder)
    # another model's registry, or a name taken, are refused before any work
    refuse_taken(people, Registry.open(path, model=embedder.model_info, create=True), add=add, replace=replace)
    # from the camera the window shows weaker faces too; samples need --detect-threshold
    det = build_detector(detector, detector_backbone, device, 0.5 if None in people.values() else config.DETECT_THRESHOLD,
                         max_size)
    if None not in people.values():
        enrolled, skipped = _from_photos(people, det, embedder, keep_crops, json_out)
    else:
        enrolled, skipped = _from_camera(person_name(name), camera, source, det, embedder, auto=auto, headless=headless,
                                         max_frames=max_frames, keep_crops=keep_crops, mirror=mirror, json_out=json_out,
                                         enrolment=_enrolment(detect_threshold, min_face, directions, angle, poses),
                                         capture=Capture(camera_size=parse_size(camera_size), camera_fps=camera_fps,
                                                         fourcc=fourcc))
    _save(path, embedder, enrolled, skipped, json_out, add=add, replace=replace, force=force, threshold=threshold)


def _enrolment(detect_threshold: float, min_face: int, directions: int, angle: float, poses: str):
    from ..enrol import Enrolment
    from ..guide import Directions

    if poses not in ("ring", "five"):
        raise typer.BadParameter("must be ring or five", param_hint="--poses")
    try:
        wanted = Directions(count=directions, angle=angle, five=poses == "five")
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--directions" if "directions" in str(err) else "--angle") from None
    return Enrolment(detect_threshold=detect_threshold, min_face=min_face, directions=wanted)


def _people(name: str | None, photos: list[Path] | None, from_dir: Path | None, by_folder: bool) -> dict:
    """{name: [photos and folders of photos], or None from the camera} from the options."""
    from ..words import folder_person

    if from_dir is not None and not from_dir.is_dir():
        raise typer.BadParameter(f"{from_dir} is not a folder", param_hint="--from-dir")
    if by_folder and from_dir is None:
        raise typer.BadParameter("--by-folder needs --from-dir", param_hint="--by-folder")
    if by_folder == (name is not None):
        raise typer.BadParameter("give --name, or --by-folder, not both", param_hint="--name")
    if photos and by_folder:
        raise typer.BadParameter("photos are enrolled under --name, not with --by-folder", param_hint="--by-folder")
    if by_folder:
        folders = [p for p in sorted(from_dir.iterdir()) if p.is_dir()]
        people = {}
        for folder in folders:
            people.setdefault(folder_person(folder.name), []).append(folder)
        return people
    given = (photos or []) + ([from_dir] if from_dir is not None else [])
    return {name: given or None}


def _from_photos(people: dict, det, embedder, keep_crops: bool, json_out: bool):
    from ..enrol import photo_samples
    from ..images import list_images

    enrolled, skipped = {}, []
    for person, given in people.items():
        bar, report = progress(not json_out, f"enrolling {person}")
        with bar:
            samples, missed = photo_samples(list_images(given), det, embedder, keep_crops=keep_crops, progress=report)
        for item in missed:
            ui.warn(f"{item['image']}: {item['reason']}; skipped")
        skipped += missed
        if samples:
            enrolled[person] = samples
        else:
            ui.warn(f"{person}: no usable photo in {', '.join(map(str, given))}; not enrolled")
    return enrolled, skipped


def _from_camera(name, camera, source, det, embedder, *, enrolment, auto, headless, max_frames, keep_crops, mirror,
                 json_out, capture):
    from .. import capture as window, live
    from ..services.live import SourceSpec, open_source

    if not headless:
        window.check_display()
    with open_source(SourceSpec(camera=camera, path=source), capture, warn=ui.warn, info=ui.info) as frames:
        enrolment.placed = frames.live  # a person in front of a camera can move into the guide; a file cannot
        enrolment.smooth = not frames.photos
        if headless and frames.live and not auto and max_frames is None:
            ui.info("no window: Ctrl-C stops (nothing saved); use --auto to finish once every direction is covered")
        on_guidance = (lambda index, state: ui.json_line({"frame": index, "guidance": state})) if json_out else None
        loop, samples = live.capture_samples(frames, det, embedder, enrolment, name=name, auto=auto,
                                             headless=headless, max_frames=max_frames, keep_crops=keep_crops,
                                             mirror=mirror and source is None, on_guidance=on_guidance)
    for problem in frames.unreadable:
        ui.warn(f"{problem}; skipped")
    if loop.reason == window.ABORTED:
        ui.warn(f"{name}: cancelled; nothing saved")
        raise typer.Exit(130 if loop.interrupted else 1)
    if loop.reason == window.STOPPED:
        ui.warn(f"{frames.name} stopped delivering frames after {loop.frames}")
        if samples and sys.stdin.isatty() and not typer.confirm(f"save the {counted(len(samples), 'sample')} captured?", default=True):
            raise typer.Exit(1)
    poses = [s.metadata["pose"] for s in samples]
    ui.info(f"{name}: {counted(len(samples), 'sample')} from {loop.frames} frames; directions: {', '.join(poses) or 'none'}; "
            f"{loop.frames / max(loop.seconds, 1e-6):.1f} frames/s")
    if not samples:
        raise UsageError(f"{name}: no usable face in {loop.frames} frames (one clear face, large and sharp enough); "
                         f"nothing saved")
    return {name: samples}, []


def _save(path, embedder, enrolled, skipped, json_out, *, threshold, **rules):
    from ..services import People

    counts = People(path, embedder, threshold=threshold).enrol(enrolled, warn=ui.warn, **rules) if enrolled else {}
    summary = {"registry": str(path), "model": embedder.name,
               "enrolled": {p: {"added": len(v), "total": counts[p]} for p, v in enrolled.items()},
               "skipped": skipped}
    if json_out:
        ui.json_line(summary)
    else:
        for person, info in summary["enrolled"].items():
            ui.info(f"{person}: {counted(info['added'], 'sample')} added, {info['total']} in all ({hide_password(str(path))})")
    if not enrolled:
        raise typer.Exit(1)
