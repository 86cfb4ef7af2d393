"""`facecam eval pairs | identify | detection` and `facecam calibrate`: adapters over facecam.evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import config, ui
from ..words import counted
from .options import (DetectorOpt, DeviceOpt, JsonOpt, MaxSizeOpt, ModelOpt, RegistryOpt, build_detector,
                      embedder_for, progress, registry_path)

app = typer.Typer()
eval_app = typer.Typer(help="Measure accuracy on your own labelled data.", no_args_is_help=True)


def _models(device: str, model: str | None):
    from ..models import load_embedder

    return build_detector(None, None, device, config.DETECT_THRESHOLD, config.DETECT_MAX_SIZE), load_embedder(model, device=device)


def _measures(title: str, rows: list) -> None:
    ui.table(title, ["measure", "value"], rows)


def _run(json_out: bool, what: str, protocol):
    """Run protocol(progress) behind a progress bar; with --json print its result and return None."""
    bar, report = progress(not json_out, what)
    with bar:
        result = protocol(report)
    if json_out:
        ui.json_line(result.to_json())
        return None
    return result


@eval_app.command("pairs")
def eval_pairs(
    pairs: Annotated[Path, typer.Option(help="A pairs file in the LFW pairs.txt format.")],
    root: Annotated[Path, typer.Option(help="The folder of <name>/<name>_NNNN.jpg images.")],
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Face verification on labelled pairs: 10-fold accuracy, accuracy at the model's threshold, TAR at FAR."""
    from ..evaluation import verify_pairs

    det, embedder = _models(device, model)
    r = _run(json_out, "embedding", lambda report: verify_pairs(pairs, root, det, embedder, progress=report))
    if r is None:
        return
    _measures(f"{r.model}: {r.pairs} pairs ({r.same} same, {r.different} different)", [
        ["accuracy, 10-fold cross-validated", f"{r.accuracy_10fold:.2%} ± {r.accuracy_10fold_std:.2%}"],
        [f"accuracy at the model threshold {r.threshold}", f"{r.accuracy_at_threshold:.2%}"],
        ["TAR at FAR 1e-2", f"{r.tar_at_far_1e_2:.2%} (threshold {r.threshold_at_far_1e_2:.3f})"],
        ["TAR at FAR 1e-3", f"{r.tar_at_far_1e_3:.2%} (threshold {r.threshold_at_far_1e_3:.3f})"],
        ["pairs skipped (counted as errors)", len(r.skipped)]])
    for item in r.skipped:
        ui.warn(f"pair {item['pair']}: {item['reason']}")


@eval_app.command("identify")
def eval_identify(
    root: Annotated[Path, typer.Option(help="A folder of identity sub-folders of photos.")],
    gallery: Annotated[int, typer.Option(min=1, help="Photos enrolled per identity (the first K by name); identities with fewer than K+1 "
        "photos are strangers.")] = 1,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Open-set identification: rank-1, true accepts of enrolled people, false accepts of strangers."""
    from ..evaluation import identify

    det, embedder = _models(device, model)
    r = _run(json_out, "embedding", lambda report: identify(root, det, embedder, gallery=gallery, progress=report))
    if r is None:
        return
    rows = [["enrolled identities / probes / stranger photos", f"{r.enrolled} / {r.probes} / {r.strangers}"],
            ["rank-1 accuracy", f"{r.rank1:.2%}"],
            [f"true accepts at the model threshold {r.threshold}", f"{r.tar:.2%} ({r.wrong_names} given a wrong name)"],
            [f"strangers accepted at {r.threshold}", "no strangers" if r.stranger_far is None else f"{r.stranger_far:.2%}"]]
    if r.threshold_at_far_1e_2 is not None:
        rows.append(["threshold for 1% of strangers accepted",
                     f"{r.threshold_at_far_1e_2} (true accepts {r.tar_at_far_1e_2:.2%})"])
    rows.append(["photos with no face found", r.no_face])
    _measures(f"{r.model}: open-set identification, {counted(gallery, 'enrolled photo')} per identity", rows)


@eval_app.command("detection")
def eval_detection(
    images: Annotated[Path, typer.Option(help="The WIDER FACE images folder (<event>/<image>.jpg).")],
    gt: Annotated[Path, typer.Option(help="A wider_face_val_bbx_gt.txt-format file listing the images to evaluate.")],
    mat_dir: Annotated[Optional[Path], typer.Option(help="The official eval-tool .mat ground truth, for easy/medium/hard AP.")] = None,
    max_size: MaxSizeOpt = config.DETECT_MAX_SIZE,
    detector: DetectorOpt = None,
    device: DeviceOpt = "auto",
    json_out: JsonOpt = False,
) -> None:
    """WIDER FACE average precision of the detector (easy/medium/hard with --mat-dir)."""
    from ..evaluation import evaluate_detection
    from ..evaluation.detection import EVAL_THRESHOLD

    det = build_detector(detector, None, device, EVAL_THRESHOLD, max_size)
    r = _run(json_out, "detecting", lambda report: evaluate_detection(images, gt, det, mat_dir=mat_dir, progress=report))
    if r is not None:
        _measures(f"{r.detector}: {r.images} images, {r.faces} faces, max size {r.max_size or 'full'}",
                  [[k, v] for k, v in r.to_json().items() if k.startswith(("ap_", "recall"))])


@app.command()
def calibrate(
    far: Annotated[float, typer.Option(help="Target false-accept rate for one comparison, e.g. 0.001.")] = 0.001,
    folder: Annotated[Optional[Path], typer.Option(help="Also use labelled photos: one sub-folder per person (the face nearest each photo's "
        "centre).")] = None,
    registry: RegistryOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Genuine and impostor score distributions, and the threshold that reaches a false-accept rate."""
    from ..evaluation import calibrate as run
    from ..evaluation.calibrate import folder_vectors
    from ..registry import Registry, exists

    if not 0 < far < 1:
        raise typer.BadParameter("must be between 0 and 1", param_hint="--far")
    path = registry_path(registry)
    embedder = embedder_for(path, model, device)
    vectors, labels = [], []
    if exists(path):
        reg = Registry.open(path, model=embedder.model_info)
        faces = ~reg.negative  # corrections are strangers' faces, not the person's
        vectors, labels = list(reg.vectors[faces]), [reg.identities[i]["name"] for i in reg.ids[faces]]
    if folder is not None:
        det = build_detector(None, None, device, config.DETECT_THRESHOLD, config.DETECT_MAX_SIZE)
        more, more_labels = folder_vectors(folder, det, embedder, warn=(lambda m: None) if json_out else ui.warn)
        vectors, labels = vectors + more, labels + more_labels
    r = run(vectors, labels, embedder, far=far)
    if json_out:
        return ui.json_line(r.to_json())
    ui.table(f"{r.model}: {r.people} people, {r.samples} samples",
             ["threshold (score)", "cosine", "true accepts", "false accepts"], [
                 [f"{r.threshold:.4f} (for FAR {far:g})", f"{r.cosine:.4f}", f"{r.tar:.2%}", f"{r.far:.4%}"],
                 [f"{r.default_threshold} (model default)", f"{r.default_cosine:.4f}", f"{r.default_tar:.2%}",
                  f"{r.default_far:.4%}"]])
    if r.impostor_pairs * far < 10:
        ui.warn(f"only {r.impostor_pairs} impostor pairs: a false-accept rate of {far:g} is barely measurable; "
                f"add people or --folder")
    if r.scale_check and r.impostor_pairs * r.scale_check[-1][1] >= 10:
        ui.table("the model's score scale on this data", ["score", "stands for FAR", "measured FAR", "standard error"],
                 [[f"{score:.1f}", f"{target:g}", f"{measured:.2e}", f"{error:.1e}"] for score, target, measured, error in r.scale_check])


@eval_app.command("cluster")
def eval_cluster(
    root: Annotated[Path, typer.Option(help="A folder of identity sub-folders of photos (the names are hidden from the clustering).")],
    merge: Annotated[Optional[float], typer.Option("--merge", min=0.0, max=1.0, help="The merge score, as for facecam cluster [default: "
        "0.7].")] = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Clustering against known identities: BCubed precision, recall and F, pairwise precision and
    recall, clusters against identities (each photo's subject: the face nearest its centre)."""
    from ..evaluation.cluster import evaluate_clustering

    det, embedder = _models(device, model)
    r = _run(json_out, "embedding", lambda report: evaluate_clustering(root, det, embedder, merge_score=merge, progress=report))
    if r is None:
        return
    _measures(f"{r.model}: {r.faces} faces of {r.identities} identities, merged at {r.merge_score}", [
        ["BCubed precision / recall / F", f"{r.bcubed_precision:.4f} / {r.bcubed_recall:.4f} / {r.bcubed_f:.4f}"],
        ["pairwise precision / recall", f"{r.pairwise_precision:.4f} / {r.pairwise_recall:.4f}"],
        ["clusters / identities", f"{r.clusters} / {r.identities}"],
        ["photos with no face found", r.no_face]])
