"""The library as a Python program uses it: FaceCam, and the main face of a photo on real data."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import SAMPLES


def test_facecam_enrols_from_photos_and_names_the_faces_of_an_image(data, tmp_path):
    from facecam import FaceCam

    train = data / "face_recognition_examples/examples/knn_examples/train"
    cam = FaceCam(registry=tmp_path / "people", device="cpu")
    biden = cam.enrol("Joe Biden", sorted((train / "biden").iterdir()))
    obama = cam.enrol("Barack Obama", sorted((train / "obama").iterdir()))
    assert (biden.added, biden.total, obama.added, obama.total, obama.skipped) == (2, 2, 2, 2, [])
    again = cam.enrol("Barack Obama", [train / "obama" / "obama.jpg", SAMPLES / "obama_and_biden.jpg"])
    assert (again.added, again.total) == (1, 3)
    assert again.skipped == [{"image": str(SAMPLES / "obama_and_biden.jpg"), "reason": "3 faces, none clearly the largest"}]
    found = sorted(cam.recognize(SAMPLES / "obama_and_biden.jpg"), key=lambda who: who.face.box[0])
    assert [who.name for who in found] == ["Joe Biden", "Barack Obama", None]
    assert all(who.score >= 0.8 for who in found[:2]) and found[2].score < 0.8
    assert found[2].best_name in ("Joe Biden", "Barack Obama")
    vectors = cam.embed(SAMPLES / "obama_and_biden.jpg")
    assert vectors.shape == (3, 128) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert [p["samples"] for p in cam.people()] == [2, 3]
    from facecam.history import History, Record

    history = History.open(tmp_path / "people" / "history.sqlite", create=True)  # where recognize keeps it
    history.write([Record(key=name, source="door", track_id=1, name=name, started_at=1e9, ended_at=1e9 + 5, start_s=None,
                          end_s=None, frames=5, best_score=0.9, closed=True) for name in ("Joe Biden", "Barack Obama")], {})
    assert cam.forget("Joe Biden") == 2 and [p["name"] for p in cam.people()] == ["Barack Obama"]
    assert [r["name"] for r in history.sightings()] == ["Barack Obama"]  # his sightings went with him
    history.close()
    # a second FaceCam on the same folder takes the registry's model and sees the same people
    assert [who.name for who in FaceCam(registry=tmp_path / "people").recognize(train / "obama" / "obama2.jpg")] == ["Barack Obama"]


@pytest.mark.slow
def test_folder_enrolment_takes_the_main_face_of_every_lfw_photo_but_30(detector, data):
    """All 1,721 shared LFW photos (335 with background faces): the main-face rule enrols 1,691
    and skips 30 (1.7%; the one-face rule skipped 335, 19.5%), and the face taken is always the
    photo's subject: LFW photos are centred on it."""
    from facecam.enrol import main_face
    from facecam.images import list_images, read_image

    paths = list_images([data / "recognition" / "lfw"])
    found = []  # (height, width, the photo's faces)
    for start in range(0, len(paths), 16):  # the detector takes photos of one size as one batch
        images = [read_image(path) for path in paths[start:start + 16]]
        found += [(*image.shape[:2], faces) for image, faces in zip(images, detector.detect_many(images))]
    taken = off_centre = 0
    for height, width, faces in found:
        face, reason = main_face(faces)
        if face is None:
            assert reason.endswith("faces, none clearly the largest")
            continue
        taken += 1
        x1, y1, x2, y2 = face.box
        off_centre += not (x1 <= width / 2 <= x2 and y1 <= height / 2 <= y2)
    assert (taken, off_centre) == (1691, 0)
