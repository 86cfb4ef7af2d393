"""Live recognition, facecam next to face_recognition on the same videos in one run.

facecam: `facecam recognize --headless --json` (its summary gives frames per second of the loop
and the time per stage). face_recognition 1.3.0, HOG detector, tolerance 0.6, two of its
documented examples: facerec_from_video_file.py (every frame at full size; the example made for
this Hamilton clip) and facerec_from_webcam_faster.py (frames scaled to 1/4, every other frame
processed, names kept on the frames between). Both know the same two people, enrolled from
face_recognition's own example photos. Videos: the 640x360 Hamilton clip (Lin-Manuel Miranda on
stage and close up, then the audience: strangers) and the 1920x1080 street video (strangers only).

    .ci/setup bench && .venv/bin/python bench/recognize_speed.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine  # noqa: E402

PEOPLE = {"Lin-Manuel Miranda": "lin-manuel-miranda.png", "Alex Lacamoire": "alex-lacamoire.png"}
AUDIENCE_FROM = 211  # Hamilton clip: from this frame on only the audience (strangers) is seen
STAGE_UNTIL = 46  # Hamilton clip: Alex Lacamoire at the piano in frames before this one


def wrong(name: str, frame: int, hamilton: bool) -> bool:
    if not hamilton or frame >= AUDIENCE_FROM:
        return True
    return name == "Alex Lacamoire" and frame >= STAGE_UNTIL


def facecam_run(video: Path, registry: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "facecam", "recognize", "--source", video, "--registry", registry,
                          "--headless", "--json"], capture_output=True, text=True, check=True)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    events, summary = lines[:-1], lines[-1]["summary"]
    return {"fps": summary["fps"], "frames": summary["frames"], "people": {p["name"]: p for p in summary["people"]},
            "events": events, "ms": summary["ms_per_frame"]}


def face_recognition_run(video: Path, examples: Path, scale: float, every: int) -> dict:
    import face_recognition

    known = [face_recognition.face_encodings(face_recognition.load_image_file(examples / f))[0] for f in PEOPLE.values()]
    names_known = list(PEOPLE)
    capture = cv2.VideoCapture(str(video))
    frames, named = 0, []  # named: per frame, the names shown
    names: list[str] = []
    start = time.perf_counter()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if frames % every == 0:
            small = cv2.resize(frame, (0, 0), fx=scale, fy=scale) if scale != 1 else frame
            rgb = np.ascontiguousarray(small[:, :, ::-1])
            locations = face_recognition.face_locations(rgb)
            encodings = face_recognition.face_encodings(rgb, locations)
            names = []
            for encoding in encodings:
                matches = face_recognition.compare_faces(known, encoding)
                distances = face_recognition.face_distance(known, encoding)
                best = int(np.argmin(distances))
                names.append(names_known[best] if matches[best] else "Unknown")
        named.append([n for n in names if n != "Unknown"])
        frames += 1
    seconds = time.perf_counter() - start
    return {"fps": frames / seconds, "frames": frames, "named": named}


def main():
    examples = data_dir() / "face_recognition_examples" / "examples"
    clip, street = examples / "short_hamilton_clip.mp4", data_dir() / "video" / "video.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, photo in PEOPLE.items():
            (folder / name).mkdir()
            (folder / name / photo).symlink_to(examples / photo)
        registry = folder / "registry"
        subprocess.run([sys.executable, "-m", "facecam", "register", "--from-dir", folder, "--by-folder",
                        "--registry", registry], capture_output=True, check=True)
        print(f"Machine: {machine()}.\n")
        print("| video | pipeline | frames/s | facecam's speed-up | frames with Lin-Manuel Miranda named | wrong names "
              "| ms/frame: decode / detect / track / embed / match |")
        print("|---|---|---|---|---|---|---|")
        for video, label, hamilton in ((clip, "Hamilton clip 640x360, 275 frames", True),
                                       (street, "street 1920x1080, 105 frames", False)):
            ours = facecam_run(video, registry)
            ours_named = ours["people"].get("Lin-Manuel Miranda", {}).get("frames", 0)
            ours_wrong = sum(1 for e in ours["events"] if e["name"] and wrong(e["name"], e["frame"], hamilton))
            ms = ours["ms"]
            print(f"| {label} | facecam (sface, threshold 0.8) | {ours['fps']:.1f} | | {ours_named} | {ours_wrong} events | "
                  + " / ".join(f"{ms.get(k, 0):.1f}" for k in ("decode", "detect", "track", "embed", "match")) + " |")
            for example, scale, every in (("video-file example: full size, every frame", 1.0, 1),
                                          ("webcam example: 1/4 size, every other frame", 0.25, 2)):
                theirs = face_recognition_run(video, examples, scale, every)
                named = sum("Lin-Manuel Miranda" in n for n in theirs["named"])
                mistakes = sum(1 for i, n in enumerate(theirs["named"]) for name in n if wrong(name, i, hamilton))
                print(f"| {label} | face_recognition ({example}) | {theirs['fps']:.1f} | "
                      f"facecam {ours['fps'] / theirs['fps']:.1f}x | {named} | {mistakes} frame-names | |", flush=True)


if __name__ == "__main__":
    main()
