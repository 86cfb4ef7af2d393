"""The capture loop: tracking and head pose, then `register` and `recognize` end to end, headless
and in a real OpenCV window under Xvfb driven with xdotool."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest

from facecam.enrol import head_pose, pose_bin
from facecam.tracking import Tracker, iou_matrix
from facecam.types import Detection
from helpers import (CLIP, assert_one_line_error, close_window, events_and_summary, facecam, finish, screenshot,
                     start_in_window, wait_for_window, wait_until, xdotool)

LANDMARKS = np.zeros((5, 2), np.float32)


def face(x1, y1, x2, y2, score=0.99):
    return Detection(np.array([x1, y1, x2, y2], np.float32), score, LANDMARKS)


def test_iou_matrix():
    out = iou_matrix(np.array([[0, 0, 10, 10], [0, 0, 0, 0]]), np.array([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]]))
    assert out.tolist() == [[50 / 150, 1.0, 0.0], [0.0, 0.0, 0.0]]


def test_tracker_follows_two_faces_that_move_and_drops_lost_ones():
    tracker = Tracker(max_misses=2)
    ids = []
    for frame in range(6):  # one face moving right 8 px a frame, one still; detections in any order
        faces = [face(100 + 8 * frame, 50, 160 + 8 * frame, 120), face(400, 60, 450, 130)]
        tracks = tracker.update(faces[::-1] if frame % 2 else faces, frame)
        ids.append([t.id for t in (tracks[::-1] if frame % 2 else tracks)])
    assert ids == [[1, 2]] * 6
    moving = tracker.tracks[0]
    assert moving.velocity[0] == pytest.approx(8 * (1 - 0.5 ** 5))  # smoothed towards 8 px/frame
    # the moving face is missed for two frames: the prediction carries it on, and it is found again
    tracker.update([face(400, 60, 450, 130)], 6)
    tracker.update([face(400, 60, 450, 130)], 7)
    again = tracker.update([face(100 + 8 * 8, 50, 160 + 8 * 8, 120), face(400, 60, 450, 130)], 8)
    assert [t.id for t in again] == [1, 2]
    # gone for more than max_misses frames: the track is dropped, a face there later is new
    for frame in (9, 10, 11):
        tracker.update([face(400, 60, 450, 130)], frame)
    assert [t.id for t in tracker.tracks] == [2]
    assert tracker.update([face(100 + 8 * 12, 50, 160 + 8 * 12, 120)], 12)[0].id == 3
    tracker.restart(tracker.tracks[0], 13)
    assert tracker.tracks[0].id == 4 and tracker.tracks[0].name is None


def test_names_are_smoothed_over_recent_matches():
    track = Tracker().update([face(0, 0, 50, 50)], 0)[0]
    names = []
    for name, score in [("Ann", 0.9), (None, 0.6), ("Ann", 0.85), ("Bob", 0.81), (None, 0.5), (None, 0.4),
                        (None, 0.3), ("Ann", 0.95)]:
        track.vote(name, score)
        names.append((track.name, track.score))
    # one odd match does not flip the name; a tie keeps it; a run of unknowns wins in the end
    assert names == [("Ann", 0.9), ("Ann", 0.9), ("Ann", 0.85), ("Ann", 0.85), ("Ann", 0.85),
                     (None, 0.4), (None, 0.3), (None, 0.3)]


@pytest.fixture(scope="module")
def clip_frames(data):
    capture = cv2.VideoCapture(str(data / "face_recognition_examples/examples/short_hamilton_clip.mp4"))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            return frames
        frames.append(image)


def test_labels_never_cover_one_another(detector, clip_frames):
    """Every 5th frame of the clip with its detected faces labelled as the window and the video
    label them: where the labels right above the faces would collide (the crowded audience), they
    are moved, and no two labels drawn overlap."""
    from facecam import draw
    from facecam.tracking import Track

    def overlap(a, b):
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    crowded, checked = [], 0
    for index in range(0, len(clip_frames), 5):
        image = clip_frames[index].copy()
        faces = detector.detect(image)
        tracks = [Track(k + 1, f, index, index) for k, f in enumerate(faces)]
        for t in tracks:
            t.score = 0.42  # as recognize labels them: "#3 unknown 0.42"
        placed = []
        draw.tracks(image, tracks, placed=placed)
        assert len(placed) == len(faces)
        assert not any(overlap(a, b) for k, a in enumerate(placed) for b in placed[k + 1:]), index
        # where each label would be right above its face
        size = draw._text_size(image)
        above = [(max(0, min(int(round(t.face.box[0])), image.shape[1] - int(draw.font(size).getlength(f"#{t.id} unknown 0.42")) - 6)),
                  max(0, int(round(t.face.box[1])) - size - 6)) for t in tracks]
        rects = [(x, y, x + int(draw.font(size).getlength(f"#{t.id} unknown 0.42")) + 6, y + size + 6) for (x, y), t in zip(above, tracks)]
        if any(overlap(a, b) for k, a in enumerate(rects) for b in rects[k + 1:]):
            crowded.append(index)
        checked += 1
    assert checked == 55 and crowded == CROWDED_FRAMES, crowded


CROWDED_FRAMES = [220, 225]  # the audience: faces side by side


def test_head_pose_on_real_faces(detector, clip_frames):
    """Lin-Manuel Miranda in the Hamilton clip: frame 130 turned to the image's left, 170 looking
    down, 180 facing the camera (checked by eye on the frames)."""
    def pose(image):
        faces = detector.detect(image)
        return head_pose(max(faces, key=lambda f: f.box[2] - f.box[0]).landmarks)

    yaw130, pitch130 = pose(clip_frames[130])
    assert (round(yaw130), round(pitch130), pose_bin(yaw130, pitch130)) == (-30, 8, "left")
    yaw, pitch = pose(clip_frames[170])
    assert (round(yaw), round(pitch), pose_bin(yaw, pitch)) == (4, -18, "down")
    yaw, pitch = pose(clip_frames[180])
    assert (round(yaw), round(pitch), pose_bin(yaw, pitch)) == (-8, 2, "frontal")
    # Mirrored, the turn changes side; rolled in the image plane, the pose stays. Within the
    # landmarks' own wobble: on a mirrored or rotated image they move by a pixel or two, which moves
    # yaw by up to 3 degrees and pitch by up to 6 (measured); the pose bins leave wider gaps.
    h, w = clip_frames[130].shape[:2]
    rolled = cv2.warpAffine(clip_frames[130], cv2.getRotationMatrix2D((w / 2, h / 2), 10, 1.0), (w, h))
    for image, expected_yaw in ((clip_frames[130][:, ::-1].copy(), -yaw130), (rolled, yaw130)):
        yaw, pitch = pose(image)
        assert abs(yaw - expected_yaw) < 3 and abs(pitch - pitch130) < 6 and pose_bin(yaw, pitch) == pose_bin(expected_yaw, pitch130)


def test_frame_sources(data, tmp_path):
    from facecam.errors import DeviceError, InputError
    from facecam.sources import FrameSource

    with FrameSource(source=data / "face_recognition_examples/examples/short_hamilton_clip.mp4") as clip:
        frames = list(clip)
    assert (len(frames), clip.fps, clip.live, clip.stopped) == (275, 29.97, False, False)
    assert [f.index for f in frames[:3]] == [0, 1, 2] and frames[30].time == pytest.approx(30 / 29.97)
    assert frames[0].image.shape == (360, 640, 3) and frames[0].image.dtype == np.uint8
    folder = data / "face_recognition_examples/examples/knn_examples/train/obama"
    with FrameSource(source=folder) as photos:
        assert [(f.index, f.time, f.image.shape) for f in photos] == [(0, 0.0, (1137, 910, 3)), (1, 1.0, (1200, 626, 3))]
    with pytest.raises(DeviceError, match="camera 9 could not be opened"):
        FrameSource(camera=9)
    with pytest.raises(InputError, match="the stream could not be opened"):
        FrameSource(source="rtsp://127.0.0.1:9/none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images in this folder"):
        FrameSource(source=tmp_path / "empty")


# --- the commands, as a user runs them

@pytest.fixture(scope="module")
def headless_run(clip_seen):
    """recognize --headless --json over the whole clip (conftest's clip_seen ran it once)."""
    return events_and_summary((clip_seen.parent / "recognize.jsonl").read_text())


def test_recognize_names_the_enrolled_and_nobody_else(headless_run):
    """The clip: Lin-Manuel Miranda on stage (frames 0-45) with Alex Lacamoire at the piano on the
    left (a face some 25 px wide), Lin-Manuel close up (82-210), then the audience, strangers all
    (211-274). Checked by eye. Alex, that small, stays unknown (score 0.71 < 0.8): a miss, not an error."""
    events, summary = headless_run
    assert summary["frames"] == 275 and summary["ended"] == "ended" and summary["threshold"] == 0.8
    assert set(summary["ms_per_frame"]) == {"decode", "motion", "detect", "track", "embed", "match"}
    # the stage moves in every frame of the clip: the motion gate never rests the detector; the
    # five strangers of the audience shot, still and steadily unknown, are followed without it
    # in frames 238-241 (which moves their re-embedding from 241 to 242: one event fewer than
    # with the detector on every frame, --no-motion)
    assert summary["motion"] == {"frames": 275, "gated": 0, "followed": 4, "closed": False}
    named = [e for e in events if e["name"]]
    assert all(e["frame"] < 211 for e in named)  # no name for anyone in the audience
    at_piano = lambda e: e["frame"] < 46 and e["box"][2] < 150  # noqa: E731
    assert all(e["name"] == ("Alex Lacamoire" if at_piano(e) else "Lin-Manuel Miranda") for e in named)
    assert all(e["score"] >= 0.8 for e in named)
    assert [(p["name"], p["first"], p["last"], p["frames"]) for p in summary["people"]] == EXPECTED_PEOPLE
    assert (len(events), len(named), summary["unknown_tracks"]) == EXPECTED_COUNTS
    assert set(events[0]) == {"frame", "time", "track_id", "name", "score", "box"}
    # a face no one is named as counts from the third frame the detector finds it in: the man at
    # the piano is news in frame 2 (his face embedded in frame 0); the score's fourth decimal
    # differs between CPUs (their float kernels round differently): 1e-4 apart
    assert [(e["frame"], e["name"], e["score"]) for e in events if e["frame"] < 5 and at_piano(e)] == [
        (2, None, pytest.approx(0.7137, abs=1e-4))]
    assert summary["not_faces"] == 7  # three hands, four dark audience faces: found in one or two frames


EXPECTED_PEOPLE = [("Lin-Manuel Miranda", 0.0, 7.007, 149)]
# 94 events with --no-motion (see above). Before faces had to be found in 3 frames to count: 93
# events, 26 unknown tracks; 10 events fewer now are the first (and only) events of the 7 tracks
# never taken for a face, and a re-embedding within their first 2 frames of 3 strangers (tracks
# 5, 9 and 26), reported with the frame they count from instead
EXPECTED_COUNTS = (83, 15, 19)


def test_recognize_writes_the_annotated_video(data, people_registry, tmp_path):
    """Into a folder made for it; the faces and names drawn, not the window's frame rate and keys
    (the top rows are the clip's own); H.264 where this OpenCV encodes it, else said."""
    from facecam.live import codec

    out = tmp_path / "new" / "folder" / "annotated.mp4"
    result = facecam("recognize", "--source", data / CLIP, "--registry", people_registry, "--headless", "--max-frames", 30,
                     "--output", out)
    assert result.returncode == 0, result.stderr
    assert "Lin-Manuel Miranda" in result.stdout  # the summary table
    fourcc, note = codec()
    assert f"annotated video: {out}" + (f" ({note})" if note else "") in result.stderr
    video, clip = cv2.VideoCapture(str(out)), cv2.VideoCapture(str(data / CLIP))
    assert (video.get(cv2.CAP_PROP_FRAME_COUNT), video.get(cv2.CAP_PROP_FRAME_WIDTH), video.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (30, 640, 360)
    stored = int(video.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    assert stored in {"avc1": ("avc1", "h264", "H264"), "mp4v": ("FMP4", "mp4v")}[fourcc]
    written, original = video.read()[1], clip.read()[1]
    assert np.abs(written[:24].astype(int) - original[:24]).mean() < 3  # no status band (its rows): only compression
    assert np.abs(written.astype(int) - original).max() > 200  # the boxes and names are there


def test_a_headless_run_on_a_file_shows_its_progress_on_a_terminal(data, people_registry):
    """On a terminal (a real pseudo-terminal here) the bar counts the clip's 275 frames with the
    rate and the time left, and is gone when the summary prints; piped, there is no bar."""
    import os
    import pty
    import subprocess
    import sys

    main, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "facecam", "recognize", "--source", str(data / CLIP), "--headless",
                             "--no-history", "--max-frames", "60", "--registry", str(people_registry)],
                            stdout=subprocess.PIPE, stderr=terminal, env={**os.environ, "COLUMNS": "100", "TERM": "xterm"})
    os.close(terminal)
    said = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        said += chunk
    assert proc.wait(timeout=120) == 0
    os.close(main)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", said.decode())
    counts = [int(done) for done in re.findall(r"short_hamilton_clip\.mp4 \S+ +(\d+)/275 [\d.]+ frames/s", screen)]
    assert counts and counts == sorted(counts) and counts[-1] <= 60 and counts[-1] >= 30, screen
    assert re.search(r"60 frames in [\d.]+ s", screen)
    piped = facecam("recognize", "--source", data / CLIP, "--headless", "--no-history", "--max-frames", "5",
                    "--registry", people_registry)
    assert "/275" not in piped.stderr


def test_a_run_that_cannot_write_its_video_stores_nothing(data, people_registry, tmp_path):
    (tmp_path / "notes").write_text("a file where the folder would be")
    result = facecam("recognize", "--source", data / CLIP, "--registry", people_registry, "--headless",
                     "--history", tmp_path / "history.sqlite", "--output", tmp_path / "notes" / "x.mp4")
    assert_one_line_error(result, 1, f"{tmp_path / 'notes' / 'x.mp4'}: cannot write the video here ({tmp_path / 'notes'} "
                                     "is a file, not a folder)")
    assert not (tmp_path / "history.sqlite").exists()


def test_bad_sources_and_registries_are_one_line_errors(data, people_registry, tmp_path):
    assert_one_line_error(facecam("recognize", "--camera", 7, "--registry", people_registry, "--headless"), 1,
                          "camera 7 could not be opened")
    (tmp_path / "notes.mp4").write_text("not a video")
    assert_one_line_error(facecam("recognize", "--source", tmp_path / "notes.mp4", "--registry", people_registry,
                                  "--headless"), 1,
                          "not a readable video")
    assert_one_line_error(facecam("recognize", "--source", tmp_path / "nothing", "--registry", people_registry,
                                  "--headless"), 1,
                          "no such file or folder")
    assert_one_line_error(facecam("recognize", "--source", data / "video/test.mp4", "--registry", tmp_path / "none",
                                  "--headless"), 2,
                          "no registry here")
    assert_one_line_error(facecam("recognize", "--threshold", 1.5, "--registry", people_registry, "--headless"), 2,
                          "--threshold: must be between 0 and 1")
    assert_one_line_error(facecam("recognize", "--detect-threshold", 2, "--registry", people_registry, "--headless"), 2,
                          "--detect-threshold: must be between 0 and 1")
    assert_one_line_error(facecam("register", "--name", "Lin-Manuel Miranda", "--source", data / "video/test.mp4",
                                  "--registry", people_registry, "--headless"), 2, "enrolled already")
    result = facecam("recognize", "--source", data / "video/test.mp4", "--registry", people_registry,
                     env={"DISPLAY": "", "WAYLAND_DISPLAY": ""})
    assert_one_line_error(result, 1, "(--headless runs without a window)")


def test_register_from_a_video_headless_covers_poses(data, tmp_path):
    """The East-Asian woman of video/test.mp4 (132 frames at 1280x720) talking to the camera."""
    registry = tmp_path / "registry"
    result = facecam("register", "--name", "Speaker", "--source", data / "video/test.mp4", "--registry", registry,
                     "--headless", "--json")
    assert result.returncode == 0, result.stderr
    person = json.loads(facecam("list", "--json", "--registry", registry).stdout)
    assert (person["name"], person["samples"], person["poses"]) == EXPECTED_SPEAKER, person
    # the same face is now enrolled: enrolling it under another name needs --force
    again = facecam("register", "--name", "Someone", "--source", data / "video/test.mp4", "--registry", registry,
                    "--headless", "--max-frames", 5)
    assert again.returncode == 2 and "matches 'Speaker'" in again.stderr
    assert facecam("register", "--name", "Someone", "--source", data / "video/test.mp4", "--registry", registry,
                   "--headless", "--max-frames", 5, "--force").returncode == 0


EXPECTED_SPEAKER = ("Speaker", 2, ["down", "frontal"])


def test_register_from_a_folder_of_photos_keeps_one_per_pose(data, tmp_path):
    """--source with a folder: the photos are frames (each judged alone, not smoothed with the
    others, and not required inside the guide); each head direction keeps its best photo."""
    registry = tmp_path / "registry"
    result = facecam("register", "--name", "Hugo", "--source", data / "recognition/lfw/Hugo_Chavez",
                     "--registry", registry, "--headless")
    assert result.returncode == 0, result.stderr
    assert "Hugo: 5 samples from 11 frames; directions: frontal, right, up-left, left, down-left" in result.stderr
    person = json.loads(facecam("list", "--json", "--registry", registry).stdout)
    assert (person["samples"], person["poses"]) == (5, ["down-left", "frontal", "left", "right", "up-left"])
    from facecam.registry import Registry

    samples = Registry.open(registry).samples
    assert all(set(s) >= {"pose", "yaw", "pitch", "quality", "sharpness", "frame", "source", "landmarks"} for s in samples)
    assert all(s["quality"] >= 0.9 for s in samples)


# --- in a real window

@pytest.fixture(scope="module")
def long_video(data, tmp_path_factory):
    """video/test.mp4 four times over (528 real frames), so the window is still open when the
    test presses its keys."""
    path = tmp_path_factory.mktemp("video") / "speaker_x4.mp4"
    capture = cv2.VideoCapture(str(data / "video/test.mp4"))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(cv2.resize(frame[1], (640, 360)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (640, 360))
    for frame in frames * 4:
        writer.write(frame)
    writer.release()
    return path


def frames_done(out, count: int) -> None:
    """Wait until the process has printed `count` JSON lines (a frame's guidance, a recognition)."""
    wait_until(lambda: len(Path(out.name).read_text().splitlines()) >= count, 120, f"{count} frames processed")


def test_register_in_a_window_q_saves(display, long_video, tmp_path):
    registry = tmp_path / "registry"
    proc, out, err = start_in_window(display, tmp_path, "register", "--name", "Speaker", "--source", long_video,
                                     "--registry", registry, "--json")
    window = wait_for_window(display, "facecam register Speaker", proc)
    frames_done(out, 20)
    xdotool(display, "key", "--window", window, "q")
    review = wait_for_window(display, "facecam register Speaker", proc, old=window)  # q: the review
    xdotool(display, "key", "--window", review, "Return")
    code, _, stderr = finish(proc, out, err)
    assert code == 0, stderr
    frames = int(stderr.split(" frames;")[0].rsplit(" ", 1)[1])
    assert 1 <= frames < 528  # q ended it, not the end of the video
    person = json.loads(facecam("list", "--json", "--registry", registry).stdout)
    assert person["name"] == "Speaker" and person["samples"] >= 1 and "frontal" in person["poses"]


@pytest.mark.parametrize("how", ["sigint", "sigint-inherited-ignored", "escape", "close"])
def test_register_in_a_window_cancelled_saves_nothing(display, long_video, tmp_path, how):
    registry = tmp_path / "registry"
    proc, out, err = start_in_window(display, tmp_path, "register", "--name", "Speaker", "--source", long_video,
                                     "--registry", registry, "--json", ignore_sigint=how == "sigint-inherited-ignored")
    window = wait_for_window(display, "facecam register Speaker", proc)
    frames_done(out, 20)  # samples are being taken
    if how == "escape":
        xdotool(display, "key", "--window", window, "Escape")
    elif how == "close":
        close_window(display, window)
    else:
        proc.send_signal(signal.SIGINT)
    code, _, stderr = finish(proc, out, err)
    assert code == (130 if how.startswith("sigint") else 1), stderr
    assert "cancelled; nothing saved" in stderr and "Traceback" not in stderr
    assert not (registry / "registry.json").exists() and not list(registry.glob("*.npy"))  # nothing written


def test_recognize_in_a_window_shows_the_overlay_and_finds_the_same_names(display, data, people_registry,
                                                                           headless_run, tmp_path):
    clip = data / "face_recognition_examples/examples/short_hamilton_clip.mp4"
    proc, out, err = start_in_window(display, tmp_path, "recognize", "--source", clip, "--registry", people_registry,
                                     "--json")
    window = wait_for_window(display, "facecam recognize", proc)
    frames_done(out, 3)  # a few frames recognised and painted (the clip lasts about 5 s here)
    pixels = screenshot(display, window, tmp_path / "window.png")
    height, width = pixels.shape[:2]
    code, stdout, stderr = finish(proc, out, err)
    assert code == 0, stderr
    assert (width, height) == (640, 360)
    # the overlay: label colours of a known (green) or an unknown (red) face, the dark status band
    green = np.all(pixels == (0, 200, 0), axis=2).sum()
    red = np.all(pixels == (230, 0, 0), axis=2).sum()
    assert green + red > 300, (green, red)
    assert (pixels[2:14, 2:100] < 40).mean() > 0.5  # the status line's black band, top left
    # the window changes nothing in what is recognised
    events, summary = events_and_summary(stdout)
    assert events == headless_run[0]
    assert summary["people"] == headless_run[1]["people"]
