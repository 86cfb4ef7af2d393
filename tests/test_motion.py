"""The motion gate: the face detector rests while a source's picture is still and nobody is
tracked, and runs again in the very frame someone arrives. The still scene is the Hamilton clip's
stage with the faces painted out, under sensor noise and a drifting light (tests/scenes.py)."""

from __future__ import annotations

import itertools

import cv2
import httpx
import numpy as np
import pytest

from helpers import CLIP, LIN, assert_one_line_error, events_and_summary, facecam, start_server, stop, wait_until
from scenes import clip_frames, empty_stage, still_frames, write_video

FPS = 29.97  # the clip's own rate
STILL = 100  # frames of the empty stage before he walks on (3.34 s)
ARRIVING = 60  # frames of the clip after them
NAMED = 20  # of which he is named in the first 20, as in the clip alone (a cut to the piano follows)


@pytest.fixture(scope="module")
def stage(data, detector) -> np.ndarray:
    return empty_stage(data / CLIP, detector)


@pytest.fixture(scope="module")
def arrival(data, stage, tmp_path_factory):
    """STILL frames of the empty stage, then the clip's first ARRIVING frames (he is on stage)."""
    path = tmp_path_factory.mktemp("motion") / "arrival.mp4"
    write_video(itertools.chain(still_frames(stage, STILL, FPS), clip_frames(data / CLIP, ARRIVING)), path, FPS)
    return path


def test_the_empty_stage_has_no_face(detector, stage):
    assert detector.detect(stage) == []


def test_a_still_picture_rests_the_detector_until_something_moves(stage):
    from facecam.motion import DETECT, REST, MotionGate, MotionMask

    frames = list(still_frames(stage, 140, FPS))  # 4.7 s: under the gate's 5 s recheck
    gate = MotionGate()
    assert [gate.look(f, i / FPS) for i, f in enumerate(frames)] == [DETECT] + [REST] * 139
    assert (gate.frames, gate.gated, gate.idle, gate.closed) == (140, 139, True, True)
    moved = frames[-1].copy()
    moved[150:200, 300:340] = 255 - moved[150:200, 300:340]  # something 40x50 px changed (of 640x360)
    assert gate.look(moved, 140 / FPS) == DETECT and not gate.idle
    assert gate.look(frames[-1], 141 / FPS, tracked=True) == DETECT  # someone tracked: the detector runs, still or not
    assert gate.look(frames[-1], 142 / FPS) == REST
    assert gate.look(frames[-1], 142 / FPS + MotionGate.RECHECK_S) == DETECT  # and every 5 s anyway
    # the same change inside a mask does not count
    masked = MotionGate(MotionMask.parse(["290,140,350,210"]))
    assert [masked.look(f, i / FPS) for i, f in enumerate([*frames[:20], moved])] == [DETECT] + [REST] * 20
    # a video that starts over is learnt again
    gate.reset()
    assert gate.look(frames[0], 0.0) == DETECT


def test_someone_walking_into_a_still_scene_is_found_in_the_frame_he_arrives(arrival, people_registry):
    """The gate rests the detector on the 99 still frames after the first and runs it on every
    frame from his first on: the events are those of --no-motion, frame for frame."""
    run = lambda *more: facecam("recognize", "--source", arrival, "--registry", people_registry,  # noqa: E731
                                "--headless", "--json", "--no-history", *more)
    gated, every = run(), run("--no-motion")
    assert gated.returncode == 0 and every.returncode == 0, gated.stderr + every.stderr
    (events, summary), (all_events, all_summary) = events_and_summary(gated.stdout), events_and_summary(every.stdout)
    assert summary["motion"] == {"frames": STILL + ARRIVING, "gated": STILL - 1, "followed": 0, "closed": True}
    assert all_summary["motion"] is None and "motion" not in all_summary["ms_per_frame"]
    assert events == all_events
    assert min(e["frame"] for e in events) == STILL
    assert [(p["name"], p["first"], p["frames"]) for p in summary["people"]] == [(LIN, round(STILL / FPS, 3), NAMED)]
    assert summary["people"] == all_summary["people"]


@pytest.fixture(scope="module")
def door(data, detector, tmp_path_factory):
    """Lin-Manuel Miranda standing still (the clip's frame 170, under sensor noise and a drifting
    light) for DOOR_ALONE frames; then a stranger of the audience (the clip's frame 230, its
    largest face) stands beside him, top left, for as long again."""
    frames = clip_frames(data / CLIP, 231)
    stranger = max(detector.detect(frames[230]), key=lambda f: f.box[2] - f.box[0])
    x1, y1, x2, y2 = (int(v) for v in stranger.box)
    patch = frames[230][y1 - 20:y2 + 20, x1 - 20:x2 + 20]

    def scene():
        for k, image in enumerate(still_frames(frames[170], 2 * DOOR_ALONE, FPS)):
            if k >= DOOR_ALONE:
                image[40:40 + patch.shape[0], 30:30 + patch.shape[1]] = patch
            yield image

    path = tmp_path_factory.mktemp("door") / "door.mp4"
    write_video(scene(), path, FPS)
    return path


DOOR_ALONE = 60


def test_faces_standing_still_are_followed_and_a_newcomer_is_detected_in_the_frame_he_arrives(door, people_registry):
    """Once his name is steady (three matches: frames 0, 10, 20) he is followed by his track's
    prediction and the detector runs on one frame in Recognizer.DETECT_EVERY; the stranger who
    appears in frame 60 moves outside his region and is detected in that very frame, as with the
    detector on every frame (--no-motion); once the stranger's track is steady too (frames 60,
    70, 80) both are followed. Both are on screen, with their names, in every frame."""
    from facecam.pipeline import Recognizer
    from facecam.tracking import Tracker

    run = lambda *more: facecam("recognize", "--source", door, "--registry", people_registry,  # noqa: E731
                                "--headless", "--json", "--no-history", *more)
    gated, every = run(), run("--no-motion")
    assert gated.returncode == 0 and every.returncode == 0, gated.stderr + every.stderr
    (events, summary), (all_events, all_summary) = events_and_summary(gated.stdout), events_and_summary(every.stdout)
    # each face is steady after its third match (frames 0, 10, 20 after it appears: re-embedded every
    # 10); in the 39 frames that follow, until the stranger comes and until the end, every fifth is detected
    after_steady = DOOR_ALONE - (Recognizer.STEADY_VOTES - 1) * 10 - 1
    followed = 2 * (after_steady - after_steady // Recognizer.DETECT_EVERY)
    assert summary["motion"] == {"frames": 2 * DOOR_ALONE, "gated": 0, "followed": followed, "closed": False}
    first = lambda evs: sorted({e["track_id"]: (e["frame"], e["name"]) for e in reversed(evs)}.values())  # noqa: E731
    # the stranger, detected in the frame he arrives, counts from the third (Tracker.CONFIRM)
    assert first(events) == first(all_events) == [(0, LIN), (DOOR_ALONE + Tracker.CONFIRM - 1, None)]
    assert summary["people"] == all_summary["people"] == [{"name": LIN, "first": 0.0, "last": round((2 * DOOR_ALONE - 1) / FPS, 3),
                                                           "frames": 2 * DOOR_ALONE}]
    assert summary["unknown_tracks"] == all_summary["unknown_tracks"] == 1


def test_the_summary_says_what_the_gate_did(arrival, data, people_registry):
    said = facecam("recognize", "--source", arrival, "--registry", people_registry, "--headless", "--no-history",
                   "--max-frames", STILL)
    assert said.returncode == 0, said.stderr
    assert "motion gate: the detector rested on 99 of 100 frames (a still picture, nobody tracked)" in said.stderr
    busy = facecam("recognize", "--source", data / CLIP, "--registry", people_registry, "--headless", "--no-history",
                   "--max-frames", 20)
    assert "motion gate: never closed (the picture moved, or someone was tracked, in every frame)" in busy.stderr


def test_bad_masks_are_one_line_errors(data, people_registry, tmp_path):
    run = lambda *more: facecam("recognize", "--source", data / CLIP, "--registry", people_registry,  # noqa: E731
                                "--headless", "--no-history", "--max-frames", 3, *more)
    assert_one_line_error(run("--motion-mask", "0,0,700,100"), 1, "--motion-mask: 0,0,700,100: outside the 640x360 frame")
    assert_one_line_error(run("--motion-mask", "0,0,640,360"), 1, "--motion-mask: 0,0,640,360: the whole 640x360 frame is masked")
    assert_one_line_error(run("--motion-mask", "10,10,5,50"), 2, "a rectangle needs x1 < x2 and y1 < y2")
    assert_one_line_error(run("--motion-mask", "1,2,3"), 2, "'1,2,3': neither x1,y1,x2,y2 nor an image file")
    (tmp_path / "notes.png").write_text("not an image")
    assert_one_line_error(run("--motion-mask", tmp_path / "notes.png"), 2, "not an image that can be read")
    cv2.imwrite(str(tmp_path / "small.png"), np.full((100, 100), 255, np.uint8))
    assert_one_line_error(run("--motion-mask", tmp_path / "small.png"), 1, "small.png: 100x100, not the frame's 640x360")
    assert_one_line_error(run("--motion-mask", "door=0,0,10,10"), 2, "no source is named 'door'")
    assert_one_line_error(run("--no-motion", "--motion-mask", "0,0,10,10"), 2, "--no-motion turns the gate off")
    # a mask image of the frame's size, black where movement does not count, is taken
    mask = np.full((360, 640), 255, np.uint8)
    mask[:, :320] = 0
    cv2.imwrite(str(tmp_path / "half.png"), mask)
    assert run("--motion-mask", tmp_path / "half.png", "--motion-mask", "400,0,500,50").returncode == 0


def test_serve_says_a_still_source_is_idle(stage, people_registry, tmp_path):
    """serve --config with the still stage as its only enabled source: /health names it as the
    file does, says it is idle, and counts the frames the detector rested on."""
    still = tmp_path / "still.mp4"
    write_video(still_frames(stage, 60, FPS), still, FPS)
    config = tmp_path / "facecam.toml"
    config.write_text(f'registry = "{people_registry}"\n\n[sources.stage]\nurl = "{still}"\nmask = ["0,0,64,36"]\n\n'
                      '[sources.porch]\ncamera = 3\nenabled = false\n')
    proc, url = start_server(tmp_path, "--config", config)
    try:
        health = lambda: httpx.get(f"{url}/health").json()  # noqa: E731
        wait_until(lambda: health()["source"]["state"] == "ended", 60, "the still video played to its end", every=0.3)
        assert [{k: s[k] for k in ("name", "frames", "idle", "gated", "motion")} for s in health()["sources"]] == [
            {"name": "stage", "frames": 60, "idle": True, "gated": 59, "motion": True}]
    finally:
        stop(proc)
