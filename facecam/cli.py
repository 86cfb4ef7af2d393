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
from .errors import FacecamError

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
    from . import draw, sources

    files: list[tuple[Path, Path]] = []  # (image, path relative to what the user named)
    failures = 0
    for root_path in paths:
        try:
            found = sources.list_images([root_path])
        except FacecamError as err:
            failures += 1
            _report_failure(root_path, err, json_out)
            continue
        for f in found:
            files.append((f, f.relative_to(root_path) if root_path.is_dir() else Path(f.name)))
    det = _detector(detector, detector_backbone, device, threshold, max_size)

    rows = []
    with ui.progress(enabled=not json_out and len(files) > 1) as bar:
        task = bar.add_task("detecting", total=len(files))
        for path, rel in files:
            bar.advance(task)
            try:
                image = sources.read_image(path)
            except FacecamError as err:
                failures += 1
                _report_failure(path, err, json_out)
                continue
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
        ui.info(f"{found} face(s) in {len(files) - failures} image(s)"
                + (f"; annotated copies in {save_dir / 'images'}" if save_dir else "")
                + ("; landmarks: use --json" if found else ""))
    if failures:
        raise typer.Exit(1)


def _report_failure(path: Path, err: FacecamError, json_out: bool) -> None:
    ui.error(str(err))
    if json_out:
        ui.json_line({"image": str(path), "error": str(err)})


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


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors on stderr, exit 1 for failures, 2 for usage errors."""
    # A process started in the background (or by a runner) inherits SIGINT as ignored; Ctrl-C and
    # `kill -INT` must still stop facecam cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
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
