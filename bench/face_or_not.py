"""Is it a face? What the recognizer leaves out as the detector's passing faces (found in fewer
than Tracker.CONFIRM frames, never named) on the shared videos, next to what it keeps.

For each video: its tracks, those taken for faces (named, or found in 3 frames or more) and those
never taken for a face, the detector's frames per track, and a contact sheet of every track's
first face (green: counted, grey: left out) to judge by eye which are faces. Lin-Manuel Miranda
is enrolled (the Hamilton clip's person), so the named frames are counted too.

    .ci/setup && .venv/bin/python bench/face_or_not.py [SHEET.jpg]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, lin_registry, machine  # noqa: E402

from facecam.models import retinaface, sface  # noqa: E402
from facecam.pipeline import Recognizer  # noqa: E402
from facecam.registry import Registry  # noqa: E402

VIDEOS = ("face_recognition_examples/examples/short_hamilton_clip.mp4", "video/video.mp4", "video/test.mp4")
TILE = 112


def tracks_of(video: Path, detector, embedder, registry):
    """{track id: (first frame, detections, counted, named frames, first face's tile)}."""
    recognizer = Recognizer(detector, embedder, Registry.open(registry))
    capture = cv2.VideoCapture(str(video))
    seen: dict[int, list] = {}
    index = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        counted, _ = recognizer.process(image, index, index / 25)
        for track, counts in [(t, True) for t in counted] + [(t, False) for t in recognizer.ignored]:
            if track.id not in seen:
                x1, y1, x2, y2 = map(int, track.face.box)
                pad = (x2 - x1) // 3
                crop = image[max(0, y1 - pad):y2 + pad, max(0, x1 - pad):x2 + pad]
                seen[track.id] = [index, 0, False, 0, cv2.resize(crop, (TILE, TILE))]
            entry = seen[track.id]
            entry[1] = track.detections
            entry[2] |= counts
            entry[3] += counts and track.name is not None
        index += 1
    return seen


def main():
    print(machine())
    detector, embedder = retinaface.load(None, device="cpu"), sface.load(None, device="cpu")
    rows = []
    with tempfile.TemporaryDirectory() as work:
        registry = lin_registry(Path(work))
        for name in VIDEOS:
            seen = tracks_of(data_dir() / name, detector, embedder, registry)
            kept = [k for k, v in seen.items() if v[2]]
            left = [k for k, v in seen.items() if not v[2]]
            named = sum(v[3] for v in seen.values())
            print(f"{name}: {len(seen)} tracks, {len(kept)} counted, {len(left)} never taken for a face "
                  f"(detections {[seen[k][1] for k in left]}, first frames {[seen[k][0] for k in left]}); "
                  f"{named} named track-frames")
            for k, (first, detections, counts, _, tile) in seen.items():
                tile = tile.copy() if counts else (0.45 * tile + 40).astype(np.uint8)
                cv2.putText(tile, f"#{k} f{first} x{detections}", (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                            (80, 220, 80) if counts else (200, 200, 200), 1, cv2.LINE_AA)
                rows.append(tile)
    if len(sys.argv) > 1:
        while len(rows) % 10:
            rows.append(np.zeros((TILE, TILE, 3), np.uint8))
        sheet = np.vstack([np.hstack(rows[i:i + 10]) for i in range(0, len(rows), 10)])
        cv2.imwrite(sys.argv[1], sheet, [cv2.IMWRITE_JPEG_QUALITY, 80])
        print("contact sheet:", sys.argv[1])


if __name__ == "__main__":
    main()
