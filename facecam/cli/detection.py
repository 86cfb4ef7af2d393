"""`facecam detect` and `facecam embed`: faces, landmarks and vectors of images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import config, ui
from ..words import counted
from .options import BackboneOpt, DetectorOpt, DeviceOpt, FaceConfidenceOpt, Images, MaxSizeOpt, ModelOpt, build_detector

PathsArg = Annotated[list[Path], typer.Argument(help="Images, or folders searched recursively for images.")]
JsonImagesOpt = Annotated[bool, typer.Option("--json", help="One JSON object per image on stdout.")]

app = typer.Typer()


@app.command()
def detect(
    paths: PathsArg,
    json_out: JsonImagesOpt = False,
    save_dir: Annotated[
        Optional[Path],
        typer.Option(help="Write annotated copies to DIR/images/ and WIDER FACE result files to DIR/wider/."),
    ] = None,
    threshold: FaceConfidenceOpt = config.DETECT_THRESHOLD,
    max_size: MaxSizeOpt = config.DETECT_MAX_SIZE,
    detector: DetectorOpt = None,
    detector_backbone: BackboneOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Find faces and their 5 landmarks in images."""
    from .. import draw

    images = Images(paths, json_out, "detecting")
    det = build_detector(detector, detector_backbone, device, threshold, max_size)
    rows = []
    for path, rel, image in images:
        faces = det.detect(image)
        height, width = image.shape[:2]
        if json_out:
            ui.json_line({"image": str(path), "width": width, "height": height, "faces": [f.to_json() for f in faces]})
        else:
            rows.extend(_table_rows(path, faces))
        if save_dir is not None:
            _save(save_dir, rel, draw.detections(image, faces), faces)
    if not json_out:
        found = sum(1 for row in rows if row[1] != "-")
        ui.table(None, ["image", "face", "score", "box x1, y1, x2, y2"], rows)
        ui.info(f"{counted(found, 'face')} in {counted(images.done, 'image')}"
                + (f"; annotated copies in {save_dir / 'images'}" if save_dir else "")
                + ("; landmarks: use --json" if found else ""))
    if images.failed:
        raise typer.Exit(1)


@app.command()
def embed(
    paths: PathsArg,
    json_out: JsonImagesOpt = False,
    model: ModelOpt = None,
    threshold: FaceConfidenceOpt = config.DETECT_THRESHOLD,
    max_size: MaxSizeOpt = config.DETECT_MAX_SIZE,
    detector: DetectorOpt = None,
    detector_backbone: BackboneOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Detect, align and embed every face: boxes, landmarks and L2-normalised vectors."""
    from ..models import load_embedder

    images = Images(paths, json_out, "embedding")
    det = build_detector(detector, detector_backbone, device, threshold, max_size)
    embedder = load_embedder(model, device=device)
    rows = []
    for path, _, image in images:
        faces = det.detect(image)
        vectors = embedder.embed(image, faces)
        if json_out:
            ui.json_line({"image": str(path), "model": embedder.name, "dim": embedder.dim, "faces": [
                {**f.to_json(), "vector": [round(float(x), 6) for x in v]} for f, v in zip(faces, vectors)]})
        else:
            rows.extend(_table_rows(path, faces))
    if not json_out:
        ui.table(None, ["image", "face", "score", "box x1, y1, x2, y2"], rows)
        ui.info(f"{embedder.name}: {embedder.dim}-d vectors for the faces above; use --json to get them")
    if images.failed:
        raise typer.Exit(1)


@app.command("check-live")
def check_live(
    paths: PathsArg,
    json_out: JsonImagesOpt = False,
    liveness_threshold: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="A face scoring at least this is judged live (default: the model's, 0.5).")] = None,
    liveness_weights: Annotated[Optional[Path], typer.Option(
        help="A folder holding upstream's two MiniFASNet .pth files instead of the weights shipped in facecam.")] = None,
    threshold: FaceConfidenceOpt = config.DETECT_THRESHOLD,
    max_size: MaxSizeOpt = config.DETECT_MAX_SIZE,
    detector: DetectorOpt = None,
    detector_backbone: BackboneOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Whether each face is a real one in front of the camera or a picture of one (a print, a
    phone, a screen): its liveness score, 0..1 (MiniFASNet), for tuning a camera's --liveness."""
    from ..models import minifasnet

    images = Images(paths, json_out, "checking")
    det = build_detector(detector, detector_backbone, device, threshold, max_size)
    judge = minifasnet.load(liveness_weights, device=device, threshold=liveness_threshold)
    rows = []
    for path, _, image in images:
        faces = det.detect(image)
        scores = judge.score(image, [f.box for f in faces])
        if json_out:
            ui.json_line({"image": str(path), "model": judge.name, "threshold": judge.threshold, "faces": [
                {**f.to_json(), "liveness": round(float(s), 4), "live": bool(s >= judge.threshold)}
                for f, s in zip(faces, scores)]})
        else:
            said = [f"{s:.3f} ({'live' if s >= judge.threshold else 'not live'})" for s in scores] or [""]  # "" beside "no face"
            rows.extend([*row, liveness] for row, liveness in zip(_table_rows(path, faces), said))
    if not json_out:
        ui.table(None, ["image", "face", "score", "box x1, y1, x2, y2", "liveness"], rows)
        ui.info(f"{judge.name}: a face scoring {judge.threshold:g} or more is judged live")
    if images.failed:
        raise typer.Exit(1)


def _table_rows(path: Path, faces) -> list[list]:
    if not faces:
        return [[str(path), "-", "", "no face"]]
    return [[str(path) if i == 0 else "", i + 1, f"{f.score:.3f}", ", ".join(f"{v:.0f}" for v in f.box)]
            for i, f in enumerate(faces)]


def _save(save_dir: Path, rel: Path, annotated, faces) -> None:
    """Annotated image under images/, WIDER FACE submission txt under wider/ (same relative path)."""
    from ..evaluation import write_wider_result
    from ..storage import write_image

    image_path = save_dir / "images" / rel
    if image_path.suffix.lower() not in {".jpg", ".jpeg", ".png", ".bmp"}:
        image_path = image_path.with_suffix(".png")  # e.g. GIF cannot be written back
    write_image(image_path, annotated)
    write_wider_result(save_dir / "wider" / rel.with_suffix(".txt"), faces)
