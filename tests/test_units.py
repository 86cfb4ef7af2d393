"""Small, data-free checks of the pieces with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facecam.evaluation import widerface
from facecam.device import resolve_device
from facecam.errors import DeviceError, UsageError
from facecam.models import retinaface


def _priors_loop(h, w):
    """biubug6's PriorBox, written as its nested loops."""
    out = []
    for step, sizes in zip(retinaface.STEPS, retinaface.MIN_SIZES):
        for i in range(-(-h // step)):
            for j in range(-(-w // step)):
                for s in sizes:
                    out.append([(j + 0.5) * step / w, (i + 0.5) * step / h, s / w, s / h])
    return np.array(out, np.float32)


@pytest.mark.parametrize("h,w", [(360, 640), (37, 61), (1, 1), (240, 427)])
def test_priors_match_the_reference_loops(h, w):
    np.testing.assert_allclose(retinaface.priors(h, w), _priors_loop(h, w), rtol=1e-6)


def test_priors_count_matches_the_network_output():
    net = retinaface.RetinaFace().eval()
    with torch.inference_mode():
        loc, conf, landms = net(torch.zeros(1, 3, 37, 61))
    assert loc.shape == (1, len(retinaface.priors(37, 61)), 4)
    assert conf.shape[-1] == 2 and landms.shape[-1] == 10
    torch.testing.assert_close(conf.sum(-1), torch.ones(conf.shape[:2]))


def test_decode_zero_offsets_gives_the_anchor():
    anchors = np.array([[0.5, 0.25, 0.1, 0.2]], np.float32)
    boxes, points = retinaface.decode(np.zeros((1, 4), np.float32), np.zeros((1, 10), np.float32), anchors)
    np.testing.assert_allclose(boxes, [[0.45, 0.15, 0.55, 0.35]], atol=1e-7)
    np.testing.assert_allclose(points, np.tile([[0.5, 0.25]], (1, 5, 1)), atol=1e-7)
    # offsets are scaled by the variances (0.1 for centres, 0.2 for log sizes)
    boxes, points = retinaface.decode(np.array([[1, 0, np.log(2) / 0.2, 0]], np.float32),
                                      np.full((1, 10), 1.0, np.float32), anchors)
    np.testing.assert_allclose(boxes, [[0.51 - 0.1, 0.15, 0.51 + 0.1, 0.35]], atol=1e-6)
    np.testing.assert_allclose(points[0, 0], [0.51, 0.27], atol=1e-6)


def test_nms_keeps_the_best_of_each_cluster():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], np.float32)
    scores = np.array([0.8, 0.9, 0.7, 0.85], np.float32)
    # IoU(1, 0) = 81/119 = 0.68 -> suppressed; IoU(1, 3) = 72/118 = 0.61 -> suppressed
    assert retinaface.nms(boxes, scores, 0.4).tolist() == [1, 2]
    # at 0.7 both survive box 1, but box 0 overlaps the kept box 3 by 90/100
    assert retinaface.nms(boxes, scores, 0.7).tolist() == [1, 3, 2]
    assert retinaface.nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.4).tolist() == []


def test_fused_batchnorm_gives_the_same_output():
    torch.manual_seed(0)
    net = retinaface.RetinaFace().eval()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    x = torch.randn(1, 3, 64, 96) * 50
    with torch.inference_mode():
        want = net(x)
        got = retinaface.fuse_batchnorms(net)(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_voc_ap_known_values():
    # precision 1 up to recall 0.5, then 0.5 up to recall 1: AP = 0.5 + 0.25
    assert widerface.voc_ap(np.array([0.5, 1.0]), np.array([1.0, 0.5])) == pytest.approx(0.75)
    assert widerface.voc_ap(np.array([1.0]), np.array([1.0])) == pytest.approx(1.0)
    # the precision envelope: a later higher precision lifts earlier points
    assert widerface.voc_ap(np.array([0.5, 0.5, 1.0]), np.array([0.4, 0.6, 0.6])) == pytest.approx(0.6)


def test_wider_ap_on_hand_made_predictions():
    gt_boxes = np.array([[10, 10, 20, 20], [50, 50, 20, 20], [100, 100, 4, 4]], np.float64)
    # faces 0 and 1 count in every setting; face 2 (tiny) only in hard
    keep = {"easy": np.array([0, 1]), "medium": np.array([0, 1]), "hard": np.array([0, 1, 2])}
    gt = {("e", "img"): (gt_boxes, keep)}
    perfect = np.array([[10, 10, 20, 20, 0.9], [50, 50, 20, 20, 0.8], [100, 100, 4, 4, 0.7]])
    ap = widerface.average_precision({("e", "img"): perfect}, gt)
    assert ap == pytest.approx({"easy": 1.0, "medium": 1.0, "hard": 1.0})
    # a false positive ranked first halves the precision at the first recall step
    fp_first = np.vstack([[200, 200, 20, 20, 0.95], perfect[:2]])
    ap = widerface.average_precision({("e", "img"): fp_first}, gt)
    # easy: recall 0.5 at precision 1/2, recall 1 at precision 2/3 -> envelope 2/3 over both
    assert ap["easy"] == pytest.approx(2 / 3, abs=1e-3)
    assert ap["hard"] == pytest.approx(2 / 3 * 2 / 3, abs=1e-3)


def test_recall_at_iou_is_one_to_one():
    gt = np.array([[0, 0, 10, 10], [100, 100, 110, 110]], float)
    preds = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    assert widerface.recall_at_iou(preds, gt) == 1
    assert widerface.recall_at_iou(preds[:0], gt) == 0


def test_device_choice():
    assert resolve_device("auto").type in {"cpu", "cuda"}
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(UsageError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="no CUDA device"):
            resolve_device("cuda:0")


def test_read_pairs(tmp_path):
    from facecam.errors import InputError
    from facecam.evaluation.pairs import image_path, read_pairs

    f = tmp_path / "pairs.txt"
    f.write_text("1\t2\nAbel_Pacheco\t1\t4\nAbdel_Madi_Shabneh 1 Dean_Barker 1\n\n")
    assert read_pairs(f) == [(("Abel_Pacheco", 1), ("Abel_Pacheco", 4), True),
                             (("Abdel_Madi_Shabneh", 1), ("Dean_Barker", 1), False)]
    assert image_path("lfw", ("Dean_Barker", 1)).as_posix() == "lfw/Dean_Barker/Dean_Barker_0001.jpg"
    f.write_text("1 1\nAbel_Pacheco one 4\n")
    with pytest.raises(InputError, match="pairs.txt:2: not a pairs line"):
        read_pairs(f)


def test_read_official_lfw_pairs(data):
    from facecam.evaluation.pairs import read_pairs

    pairs = read_pairs(data / "recognition" / "lfw_pairs.txt")
    assert len(pairs) == 6000 and sum(same for _, _, same in pairs) == 3000


def test_threshold_for_far_and_rates():
    from facecam.calibration import rates, score_pools, threshold_for_far

    impostor = np.array([0.1, 0.5, 0.2, 0.3, 0.4, 0.05, 0.15, 0.25, 0.35, 0.45], np.float32)
    t = threshold_for_far(impostor, 0.2)  # 2 of 10 may pass (0.5 and 0.45): just above 0.4
    assert 0.4 < t < 0.4 + 1e-6
    assert rates(np.array([0.9, 0.38, 0.46]), impostor, t) == (pytest.approx(2 / 3), pytest.approx(0.2))
    assert rates([], impostor, threshold_for_far(impostor, 0.0))[1] == 0.0
    vectors = np.eye(3, dtype=np.float32)[[0, 0, 1, 2]]
    genuine, impostors = score_pools(vectors, np.array([0, 0, 1, 1]))
    assert sorted(genuine.tolist()) == [0.0, 1.0] and sorted(impostors.tolist()) == [0.0] * 4


def test_kfold_accuracy_known_answers():
    from facecam.evaluation.metrics import best_threshold, kfold_accuracy, tar_at_far

    # separable scores: every fold is classified perfectly
    same = np.array([True, False] * 10)
    scores = np.where(same, 0.8, 0.2) + np.linspace(0, 0.01, 20)
    assert kfold_accuracy(scores, same, folds=10)[0] == 1.0
    assert 0.21 < best_threshold(scores, same) < 0.8
    # one impostor scores above every genuine pair: the fold holding it loses that pair
    scores2 = scores.copy()
    scores2[1] = 0.95
    mean, _, thresholds = kfold_accuracy(scores2, same, folds=10)
    assert mean == pytest.approx(0.95) and len(thresholds) == 10
    genuine, impostor = scores2[same], scores2[~same]
    assert tar_at_far(genuine, impostor, 0.1)[0] == 1.0  # 1 of 10 impostors may pass: the 0.95 one
    assert tar_at_far(genuine, impostor, 0.0) == (0.0, pytest.approx(0.95, abs=1e-6))
    assert tar_at_far(scores[same], scores[~same], 0.0)[0] == 1.0


def test_score_scale_maps_false_accept_decades_to_tenths():
    from facecam.calibration import ScoreScale, fit_score_knots

    impostor = np.arange(1_000_000) / 1_000_000  # uniform: a fraction f of pairs reaches 1 - f
    knots = fit_score_knots(impostor)
    assert [s for _, s in knots] == [0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0]
    assert [c for c, _ in knots][1:6] == [0.9, 0.99, 0.999, 0.9999, 1.0]  # 0.99999 rounds to 1.0
    scale = ScoreScale([[-1, 0], [0.2, 0.4], [0.3, 0.5], [0.4, 0.8], [0.6, 1.0]])
    assert scale.score(0.35) == pytest.approx(0.65) and scale.cosine(0.65) == pytest.approx(0.35)
    assert scale.score(0.9) == 1.0 and scale.cosine(1.0) == 0.6  # clamped at the ends
    assert list(scale.score(np.array([-1.0, 0.2]))) == [0.0, 0.4]
    assert ScoreScale(None).score(0.37) == 0.37 and not ScoreScale(None).calibrated
    with pytest.raises(ValueError):
        ScoreScale([[0.1, 0.5], [0.2, 0.5]])
    with pytest.raises(ValueError):
        fit_score_knots(np.zeros(999_999))  # cannot measure 1 in 100,000 with 10 pairs to spare
