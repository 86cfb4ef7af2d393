"""Box overlap: the one IoU implementation behind tracking, NMS and detection scoring."""

from __future__ import annotations

import numpy as np


def box_area(boxes: np.ndarray, plus_one: bool = False) -> np.ndarray:
    """Areas (N,) of x1 y1 x2 y2 boxes (N, 4); plus_one counts pixels inclusively (WIDER's tool)."""
    extra = 1.0 if plus_one else 0.0
    return np.clip(boxes[:, 2] - boxes[:, 0] + extra, 0, None) * np.clip(boxes[:, 3] - boxes[:, 1] + extra, 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray, *, plus_one: bool = False) -> np.ndarray:
    """Intersection over union of every box in a (N, 4) with every box in b (M, 4), as x1 y1 x2 y2.
    plus_one: the +1 pixel convention of the WIDER FACE evaluation tool."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    extra = 1.0 if plus_one else 0.0
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + extra
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + extra
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    union = box_area(a, plus_one)[:, None] + box_area(b, plus_one)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
