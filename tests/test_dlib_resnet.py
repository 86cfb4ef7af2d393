"""dlib's face recognition ResNet in torch: the .dat reader and parity with dlib itself."""

from __future__ import annotations

import dlib  # dlib-bin, a test extra: the reference this port is checked against
import numpy as np
import pytest

from facecam.errors import WeightsError
from facecam.models import catalog, dlib_resnet, load_embedder
from facecam.images import read_image


@pytest.fixture(scope="session")
def dat_path():
    return catalog.locate(catalog.get("dlib-resnet"))


@pytest.fixture(scope="session")
def dlib_embedder():
    return load_embedder("dlib-resnet", device="cpu")


def test_descriptors_equal_dlibs_on_real_face_chips(dat_path, dlib_embedder, detector, data):
    """The same 150x150 chips through dlib's network and ours: raw descriptors within 1e-4."""
    import torch

    reference = dlib.face_recognition_model_v1(str(dat_path))
    chips = []
    for rel in ["examples/obama.jpg", "examples/biden.jpg", "examples/two_people.jpg",
                "examples/knn_examples/test/kit_with_rose.jpg"]:
        image = read_image(data / "face_recognition_examples" / rel)
        chips += [dlib_embedder.crop(image, f.landmarks) for f in detector.detect(image)]
    image = read_image(data / "recognition/asian/cn_121/121_2.gif")
    chips += [dlib_embedder.crop(image, f.landmarks) for f in detector.detect(image)]
    assert len(chips) == 7
    rgb = [np.ascontiguousarray(c[..., ::-1]) for c in chips]
    theirs = np.array([reference.compute_face_descriptor(c) for c in rgb])
    raw = dlib_resnet.DlibResNet()
    raw.load_state_dict(dlib_resnet.read_dat(dat_path))
    with torch.inference_mode():
        x = torch.from_numpy(np.stack(rgb)).permute(0, 3, 1, 2).float()
        unfolded = raw.eval()(x).numpy()
        folded = dlib_embedder.net(x).numpy()
    print(f"max abs difference vs dlib: {np.abs(unfolded - theirs).max():.2e} (folded {np.abs(folded - theirs).max():.2e})")
    assert np.abs(unfolded - theirs).max() < 1e-5  # measured 2.2e-7
    assert np.abs(folded - theirs).max() < 1e-4
    assert 1.2 < np.linalg.norm(theirs, axis=1).min() and np.linalg.norm(theirs, axis=1).max() < 1.7
    vectors = dlib_embedder.embed_crops(np.stack(chips))
    np.testing.assert_allclose(vectors, theirs / np.linalg.norm(theirs, axis=1, keepdims=True), atol=1e-5)


def test_broken_dat_files_are_refused(dat_path, tmp_path):
    data = dat_path.read_bytes()
    truncated = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated|not dlib's face recognition ResNet"):
        dlib_resnet.load(str(truncated), device="cpu")
    other = tmp_path / "shape_predictor.dat"
    other.write_bytes((dat_path.parent / "shape_predictor_5_face_landmarks.dat").read_bytes())
    with pytest.raises(WeightsError, match="not dlib's face recognition ResNet"):
        dlib_resnet.load(str(other), device="cpu")


@pytest.mark.slow
def test_pipeline_stays_close_to_dlibs_own(dat_path, dlib_embedder, detector, data):
    """facecam's detector + fitted template + torch network vs dlib's HOG + 5-point predictor + chip.

    Measured on the 857 held-out LFW faces of bench/fit_dlib_template.py: mean distance 0.132.
    Here, the first 120 LFW images: the bar leaves room for that smaller sample.
    """
    models = dat_path.parent
    predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    hog = dlib.get_frontal_face_detector()
    reference = dlib.face_recognition_model_v1(str(dat_path))
    distances = []
    for path in sorted((data / "recognition/lfw").glob("*/*.jpg"))[:120]:
        bgr = read_image(path)
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        rects, faces = hog(rgb, 1), detector.detect(bgr)
        if not rects or not faces:
            continue
        rect = max(rects, key=lambda r: r.area())
        theirs = np.array(reference.compute_face_descriptor(dlib.get_face_chip(rgb, predictor(rgb, rect), 150, 0.25)))
        centre = np.array([rect.center().x, rect.center().y])
        face = min(faces, key=lambda f: np.linalg.norm((f.box[:2] + f.box[2:]) / 2 - centre))
        ours = dlib_embedder.embed(bgr, [face])[0] * np.linalg.norm(theirs)
        distances.append(np.linalg.norm(ours - theirs))
    assert len(distances) >= 115
    print(f"mean descriptor distance to dlib's pipeline: {np.mean(distances):.4f}")
    assert np.mean(distances) < 0.15 and np.percentile(distances, 95) < 0.25
