"""WIDER FACE detection scoring: the standard evaluation (AP per easy / medium / hard setting).

This re-implements the official protocol (as in the WIDER FACE eval tool and its Python port):
scores are normalised to [0, 1] over the whole result set, each prediction is matched at IoU ≥ 0.5
(areas with the +1 pixel convention) to the best-overlapping ground-truth face, predictions that
hit a face outside the setting are ignored, and AP is the VOC area under the precision/recall
curve sampled at 1000 score thresholds. On a subset, only the images that have predictions count.

Predictions: {(event, image stem): float array (N, 5) of x, y, w, h, score}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..geometry import iou_matrix

SETTINGS = ("easy", "medium", "hard")
THRESHOLDS = 1000


def read_gt_txt(path: Path) -> dict[str, np.ndarray]:
    """The bbx_gt.txt format: image path, face count, then `x y w h blur ... pose` per face.

    Returns {relative image path: int array (N, 10)}; an image with no face has N = 0.
    """
    from ..errors import InputError

    try:
        lines = Path(path).read_text().split("\n")
        out, i = {}, 0
        while i < len(lines) and lines[i].strip():
            name, count = lines[i].strip(), int(lines[i + 1])
            rows = [list(map(int, lines[i + 2 + k].split()[:10])) for k in range(max(count, 1))]
            out[name] = np.asarray(rows[:count], dtype=np.int64).reshape(-1, 10)
            i += 2 + max(count, 1)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
    except (ValueError, IndexError):
        raise InputError(f"{path}: not a WIDER FACE ground-truth file (line {i + 1})") from None
    return out


def load_mat_ground_truth(mat_dir: Path):
    """{(event, stem): (gt boxes (N, 4) xywh, {setting: 0-based indices of faces that count})}."""
    from scipy.io import loadmat

    mat_dir = Path(mat_dir)
    full = loadmat(mat_dir / "wider_face_val.mat")
    settings = {s: loadmat(mat_dir / f"wider_{s}_val.mat")["gt_list"] for s in SETTINGS}
    gt = {}
    for e, event in enumerate(full["event_list"]):
        event_name = str(event[0][0])
        for j, file in enumerate(full["file_list"][e][0]):
            stem = str(file[0][0])
            boxes = full["face_bbx_list"][e][0][j][0].astype(np.float64).reshape(-1, 4)
            keep = {s: settings[s][e][0][j][0].astype(np.int64).ravel() - 1 for s in SETTINGS}
            gt[(event_name, stem)] = (boxes, keep)
    return gt


def _image_eval(pred: np.ndarray, gt: np.ndarray, counts: np.ndarray, iou: float = 0.5):
    """Per prediction (sorted by score): faces recalled so far, and whether it is a proposal."""
    recalled = np.zeros(len(gt), dtype=np.int8)  # 1 found, -1 hit a face that does not count
    pred_recall = np.zeros(len(pred))
    proposal = np.ones(len(pred))
    if len(gt) and len(pred):
        p = pred[:, :4].copy()
        p[:, 2:] += p[:, :2]
        g = gt.copy()
        g[:, 2:] += g[:, :2]
        ov = iou_matrix(p, g, plus_one=True)
        for h in range(len(pred)):
            j = int(ov[h].argmax())
            if ov[h, j] >= iou:
                if not counts[j]:
                    recalled[j] = -1
                    proposal[h] = -1
                elif recalled[j] == 0:
                    recalled[j] = 1
            pred_recall[h] = np.count_nonzero(recalled == 1)
    return pred_recall, proposal


def _image_pr(scores: np.ndarray, proposal: np.ndarray, pred_recall: np.ndarray) -> np.ndarray:
    """(THRESHOLDS, 2): proposals and recalled faces at each threshold 1 - (t+1)/THRESHOLDS."""
    out = np.zeros((THRESHOLDS, 2))
    thresholds = 1 - (np.arange(THRESHOLDS) + 1) / THRESHOLDS
    for t, thresh in enumerate(thresholds):
        above = np.flatnonzero(scores >= thresh)
        if above.size:
            last = above[-1]
            out[t] = np.count_nonzero(proposal[: last + 1] == 1), pred_recall[last]
    return out


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def average_precision(preds: dict, gt: dict) -> dict[str, float]:
    """AP per setting over the images present in `preds` (keys (event, stem), see module doc)."""
    missing = [k for k in preds if k not in gt]
    if missing:
        raise KeyError(f"no ground truth for {missing[0][0]}/{missing[0][1]}")
    all_scores = np.concatenate([p[:, 4] for p in preds.values() if len(p)] or [np.zeros(0)])
    lo, hi = (all_scores.min(), all_scores.max()) if all_scores.size else (0.0, 1.0)
    aps = {}
    for setting in SETTINGS:
        curve = np.zeros((THRESHOLDS, 2))
        faces = 0
        for key, pred in preds.items():
            boxes, keep = gt[key]
            counts = np.zeros(len(boxes), dtype=bool)
            counts[keep[setting]] = True
            faces += counts.sum()
            pred = pred[np.argsort(-pred[:, 4], kind="stable")]
            scores = (pred[:, 4] - lo) / max(hi - lo, 1e-12)
            if len(pred) and len(boxes):
                pred_recall, proposal = _image_eval(pred, boxes, counts)
                curve += _image_pr(scores, proposal, pred_recall)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.nan_to_num(curve[:, 1] / curve[:, 0])
        recall = curve[:, 1] / max(faces, 1)
        aps[setting] = voc_ap(recall, precision)
    return aps


def recall_at_iou(pred_boxes: np.ndarray, gt_boxes: np.ndarray, iou: float = 0.5) -> int:
    """How many ground-truth boxes (x1y1x2y2) are matched one-to-one by a prediction at ≥ iou.

    Greedy in prediction order (pass them best score first), without the +1 pixel convention.
    """
    if not len(pred_boxes) or not len(gt_boxes):
        return 0
    ious = iou_matrix(pred_boxes, gt_boxes)
    taken = np.zeros(len(gt_boxes), dtype=bool)
    for row in ious:
        row = np.where(taken, -1.0, row)
        j = int(row.argmax())
        if row[j] >= iou:
            taken[j] = True
    return int(taken.sum())


def every_face_counts(truth: dict) -> dict:
    """Ground truth in the .mat form where every face counts in every setting (no easy/medium/hard
    split): its "easy" AP is the AP over all faces."""
    out = {}
    for rel, boxes in truth.items():
        every = np.arange(len(boxes))
        out[(Path(rel).parent.name, Path(rel).stem)] = (boxes[:, :4].astype(float), {s: every for s in SETTINGS})
    return out
