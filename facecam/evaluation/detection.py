"""WIDER FACE detection scoring of a detector over an images folder and a ground-truth file, and
the WIDER submission format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import config
from . import widerface
from .common import Progress, no_progress

EVAL_THRESHOLD = 0.02  # the usual WIDER evaluation confidence floor


@dataclass(frozen=True)
class DetectionResult:
    images: int
    faces: int
    max_size: int | None
    detector: str
    ap: dict  # {"easy", "medium", "hard"} with the official .mat files, else {"overall"}
    recall_at_default_threshold: float  # faces matched at IoU 0.5 by detections above 0.6

    def to_json(self) -> dict:
        return {"images": self.images, "faces": self.faces, "max_size": self.max_size, "detector": self.detector,
                **{f"ap_{k}": round(v, 4) for k, v in self.ap.items()},
                "recall_at_default_threshold": round(self.recall_at_default_threshold, 4)}


def wider_rows(faces) -> np.ndarray:
    """Detections as WIDER's (N, 5) x, y, w, h, score."""
    return np.array([[*f.box[:2], *(f.box[2:] - f.box[:2]), f.score] for f in faces]).reshape(-1, 5)


def evaluate_detection(images: str | Path, gt_file: str | Path, detector, *, mat_dir: str | Path | None = None,
                       progress: Progress = no_progress) -> DetectionResult:
    """AP (easy/medium/hard with the official .mat ground truth in mat_dir, else over all faces)
    and recall of the detector on the images a bbx_gt.txt-format file lists. The detector should
    keep faces down to EVAL_THRESHOLD."""
    from ..images import read_image

    truth = widerface.read_gt_txt(gt_file)
    preds, hits = {}, 0
    for done, (rel, boxes) in enumerate(truth.items(), 1):
        p = wider_rows(detector.detect(read_image(Path(images) / rel)))
        preds[(Path(rel).parent.name, Path(rel).stem)] = p
        keep = p[:, 4] > config.DETECT_THRESHOLD
        g = boxes[:, :4].astype(float)
        g[:, 2:] += g[:, :2]
        hits += widerface.recall_at_iou(np.hstack([p[keep, :2], p[keep, :2] + p[keep, 2:4]]), g)
        progress(done, len(truth))
    faces = sum(len(b) for b in truth.values())
    if mat_dir is not None:
        ap = widerface.average_precision(preds, widerface.load_mat_ground_truth(mat_dir))
    else:
        ap = {"overall": widerface.average_precision(preds, widerface.every_face_counts(truth))["easy"]}
    return DetectionResult(images=len(truth), faces=faces, max_size=detector.max_size, detector=detector.name, ap=ap,
                           recall_at_default_threshold=hits / max(faces, 1))


def write_wider_result(path: Path, faces) -> None:
    """One WIDER FACE submission file: the image's name, the face count, `x y w h score` lines."""
    from ..storage import atomic_write

    lines = [path.stem, str(len(faces))] + [f"{x:.1f} {y:.1f} {w:.1f} {h:.1f} {s:.5f}" for x, y, w, h, s in wider_rows(faces)]
    with atomic_write(path, "w") as f:
        f.write("\n".join(lines) + "\n")
