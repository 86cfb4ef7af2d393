"""The `facecam` command as a user runs it: real files, exit codes, stderr; in this process (the
models loaded once), and as a real process where the process itself is what is tested."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from facecam.calibration import ScoreScale
from facecam.models import catalog
from helpers import SAMPLES, assert_one_line_error, facecam, facecam_process

SAMPLE_FACES = {"kit_with_rose.jpg": (501, 700, 2), "obama-240p.jpg": (427, 240, 1),
                "obama_and_biden.jpg": (2000, 1428, 3), "obama_small.jpg": (320, 240, 1)}


def test_cli_import_is_light():
    code = "import sys, facecam.cli; print(sorted(m for m in ('torch', 'cv2', 'numpy', 'sqlalchemy', 'fastapi') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_the_commands():
    result = facecam_process("--help")
    assert result.returncode == 0
    assert "detect" in result.stdout and "Find faces" in result.stdout


def test_the_process_exits_2_for_usage_and_1_for_failures_with_one_line(tmp_path):
    """The console entry point's own exit codes and one-line errors, as a shell sees them."""
    assert_one_line_error(facecam_process("detect", SAMPLES, "--bogus"), 2, "--bogus")
    assert_one_line_error(facecam_process("register", "--name", "x", "--from-dir", SAMPLES, "--registry", tmp_path / "r",
                                          "--model", "nonesuch"), 2, "unknown model 'nonesuch'")
    assert_one_line_error(facecam_process("detect", tmp_path / "missing.png"), 1, "missing.png: no such file or folder")


def test_detect_json_on_the_bundled_samples():
    result = facecam("detect", "--json", SAMPLES)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(o["image"]).name for o in lines] == sorted(SAMPLE_FACES)
    for obj in lines:
        width, height, count = SAMPLE_FACES[Path(obj["image"]).name]
        assert (obj["width"], obj["height"], len(obj["faces"])) == (width, height, count)
        for face in obj["faces"]:
            assert set(face) == {"box", "score", "landmarks"}
            x1, y1, x2, y2 = face["box"]
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
            assert len(face["landmarks"]) == 5 and all(len(p) == 2 for p in face["landmarks"])
            assert 0.6 < face["score"] <= 1


def test_unreadable_image_is_reported_and_the_rest_processed(tmp_path):
    folder = tmp_path / "photos"
    shutil.copytree(SAMPLES, folder)
    (folder / "broken.jpg").write_text("not an image")
    result = facecam("detect", "--json", folder, tmp_path / "missing.png")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "missing.png: no such file or folder" in errors[0]
    assert "broken.jpg: not a readable image" in errors[1]
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum("faces" in o for o in objs) == 4 and sum("error" in o for o in objs) == 2


def test_save_dir_writes_annotated_images_and_wider_results(tmp_path):
    result = facecam("detect", SAMPLES, "--save-dir", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "obama_and_biden.jpg" in result.stdout  # the table
    for name, (width, height, count) in SAMPLE_FACES.items():
        image = cv2.imread(str(tmp_path / "out" / "images" / name))
        assert image.shape == (height, width, 3)
        lines = (tmp_path / "out" / "wider" / name).with_suffix(".txt").read_text().splitlines()
        assert lines[0] == Path(name).stem and int(lines[1]) == count and len(lines) == 2 + count
        for line in lines[2:]:
            x, y, w, h, score = map(float, line.split())
            assert w > 0 and h > 0 and 0.6 < score <= 1


def test_usage_errors_exit_2_with_one_line():
    # detect's face confidence is --detect-threshold (--threshold too, as it has no other)
    assert_one_line_error(facecam("detect", SAMPLES, "--threshold", "1.5"), 2, "--detect-threshold: must be between 0 and 1")
    assert_one_line_error(facecam("detect", SAMPLES, "--bogus"), 2, "--bogus")
    assert_one_line_error(facecam("detct"), 2, "detct")
    assert_one_line_error(facecam("detect", SAMPLES, "--device", "tpu"), 2, "unknown device 'tpu'")
    assert_one_line_error(facecam("detect", SAMPLES, "--detector", "nonesuch"), 2, "unknown model 'nonesuch'")


def test_corrupt_weights_exit_1_naming_the_file(tmp_path):
    bad = tmp_path / "mobilenet0.25_Final.pth"
    bad.write_bytes(b"\x00" * 1000)
    assert_one_line_error(facecam("detect", SAMPLES, "--detector", bad), 1, f"{bad}: not a readable PyTorch checkpoint")


def test_sigint_stops_even_when_inherited_as_ignored(data):
    """A background job inherits SIGINT as ignored; facecam installs its own handler anyway."""
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-m", "facecam", "detect", "--json", data / "recognition" / "lfw"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    first = proc.stdout.readline()  # the detector runs: one image done
    assert json.loads(first)["faces"]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "error: interrupted" and "Traceback" not in err
    assert len(out.splitlines()) < 1700  # stopped well before the 1,721 images were done


def test_embed_json_gives_unit_vectors_for_every_face():
    result = facecam("embed", "--json", SAMPLES)
    assert result.returncode == 0, result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert {Path(o["image"]).name: len(o["faces"]) for o in objs} == {k: v[2] for k, v in SAMPLE_FACES.items()}
    import numpy as np

    vectors = {}
    for obj in objs:
        assert obj["model"] == "sface" and obj["dim"] == 128
        for i, face in enumerate(obj["faces"]):
            v = np.array(face["vector"])
            assert v.shape == (128,) and abs(np.linalg.norm(v) - 1) < 1e-4
            vectors[(Path(obj["image"]).name, i)] = v
    # Obama in two different photos is closer to himself than to Biden or to Kit Harington
    obama_small, obama_240 = vectors[("obama_small.jpg", 0)], vectors[("obama-240p.jpg", 0)]
    assert obama_small @ obama_240 > 0.5
    assert obama_small @ obama_240 > max(obama_small @ vectors[("obama_and_biden.jpg", 1)],
                                         obama_small @ vectors[("kit_with_rose.jpg", 0)]) + 0.3


def test_models_list_and_verify(tmp_path):
    result = facecam("models", "list", "--json")
    assert result.returncode == 0, result.stderr
    models = {o["name"]: o for o in map(json.loads, result.stdout.splitlines())}
    assert models["retinaface-mnet025"]["default"] and models["retinaface-mnet025"]["sha256_ok"]
    assert models["sface"]["default"] and models["sface"]["dim"] == 128 and models["sface"]["sha256_ok"]
    assert models["sface"]["threshold"] == 0.8
    # a damaged file in the cache is named, with the fix
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "mobilenet0.25_Final.pth").write_bytes(b"not the weights")
    verify = facecam("models", "verify", env={"FACECAM_CACHE": cache})
    assert verify.returncode == 1
    assert_one_line_error(verify, 1, f"retinaface-mnet025-biubug6: {cache / 'mobilenet0.25_Final.pth'} is corrupt")
    assert "sface: ok" in verify.stderr


def test_register_list_rename_delete(data, tmp_path):
    train = data / "face_recognition_examples/examples/knn_examples/train"
    reg = tmp_path / "registry"
    result = facecam("register", "--from-dir", train, "--by-folder", "--registry", reg, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    # folder names read as people write names
    assert {k: v["added"] for k, v in summary["enrolled"].items()} == {
        "Alex Lacamoire": 1, "Biden": 2, "Kit Harington": 2, "Obama": 2, "Rose Leslie": 2}
    assert summary["model"] == "sface" and summary["skipped"] == []
    assert_one_line_error(facecam("register", "--name", "Obama", "--from-dir", train / "obama", "--registry", reg), 2,
                          "'Obama' is enrolled already; nothing saved (--add adds samples, --replace starts over)")
    again = facecam("register", "--name", "Obama", "--from-dir", train / "obama", "--registry", reg, "--add", "--json")
    assert json.loads(again.stdout)["enrolled"]["Obama"] == {"added": 2, "total": 4}
    # photos as arguments: one photo is enough
    replaced = facecam("register", "--name", "Obama", train / "obama" / "obama.jpg", "--registry", reg, "--replace", "--json")
    assert json.loads(replaced.stdout)["enrolled"]["Obama"] == {"added": 1, "total": 1}
    assert_one_line_error(facecam("register", "--name", "Obama", train / "obama" / "nothing.jpg", "--registry", reg, "--add"), 1,
                          "nothing.jpg: no such file or folder")
    # a photo with three faces, none clearly the largest, is skipped and reported
    group = tmp_path / "group"
    group.mkdir()
    shutil.copy(SAMPLES / "obama_and_biden.jpg", group)
    shutil.copy(SAMPLES / "obama_small.jpg", group)
    # obama_small.jpg is obama, enrolled already: refused under another name unless --force
    assert_one_line_error(facecam("register", "--name", "Someone", "--from-dir", group, "--registry", reg), 2,
                          "this face matches 'Obama' (score 1.0), who is enrolled already; nothing saved")
    mixed = facecam("register", "--name", "Someone", "--from-dir", group, "--registry", reg, "--json", "--force")
    assert json.loads(mixed.stdout)["skipped"] == [{"image": str(group / "obama_and_biden.jpg"),
                                                    "reason": "3 faces, none clearly the largest"}]

    renamed = facecam("rename", "Someone", "Barack  Obama", "--registry", reg)  # a doubled space is one
    assert renamed.returncode == 0 and renamed.stderr.strip() == "renamed Someone to Barack Obama", renamed.stderr
    assert_one_line_error(facecam("rename", "Biden", "Rose Leslie", "--registry", reg), 2, "'Rose Leslie' is enrolled already")
    assert_one_line_error(facecam("delete", "nobody", "--yes", "--registry", reg), 2, "no one named 'nobody'")
    assert_one_line_error(facecam("register", "--name", " ", "--from-dir", group, "--registry", reg), 2, "invalid name")
    # without a terminal to confirm on (a script) and without --yes, nothing is deleted
    assert_one_line_error(facecam("delete", "Biden", "--registry", reg), 2,
                          "Delete Biden: 2 samples and 0 sightings: not done, as there is no terminal to confirm it on "
                          "(--yes does it without asking)")
    assert facecam("delete", "Biden", "--yes", "--registry", reg).returncode == 0
    people = {o["name"]: o for o in map(json.loads, facecam("list", "--json", "--registry", reg).stdout.splitlines())}
    assert {k: v["samples"] for k, v in people.items()} == {
        "Alex Lacamoire": 1, "Kit Harington": 2, "Obama": 1, "Rose Leslie": 2, "Barack Obama": 1}
    assert facecam("registry", "check", "--registry", reg).returncode == 0
    # another model's registry is refused before any work
    assert_one_line_error(facecam("register", "--name", "x", "--from-dir", group, "--registry", reg, "--model", "dlib-resnet"),
                          1, "enrolled with model sface (128-d), not dlib-resnet")
    # export, import into a fresh registry
    assert facecam("registry", "export", tmp_path / "people.npz", "--registry", reg).returncode == 0
    assert facecam("registry", "import", tmp_path / "people.npz", "--registry", tmp_path / "copy").returncode == 0
    copied = {o["name"]: o["samples"] for o in map(json.loads, facecam("list", "--json", "--registry", tmp_path / "copy").stdout.splitlines())}
    assert copied == {k: v["samples"] for k, v in people.items()}
    # nobody enrolled yet is an answer, not an error
    nothing = facecam("list", "--registry", tmp_path / "nothing")
    assert nothing.returncode == 0 and nothing.stdout == "", nothing.stderr
    assert nothing.stderr.strip() == f"nobody enrolled yet in {tmp_path / 'nothing'} (facecam register --name NAME enrols someone)"


def test_reembed_with_another_model_and_calibrate(data, tmp_path):
    import numpy as np

    train = data / "face_recognition_examples/examples/knn_examples/train"
    reg = tmp_path / "registry"
    assert facecam("register", "--from-dir", train, "--by-folder", "--registry", reg).returncode == 0
    result = facecam("calibrate", "--registry", reg, "--folder", data / "recognition/asian", "--json")
    assert result.returncode == 0, result.stderr
    cal = json.loads(result.stdout)
    # 5 + 19 people; 9 enrolled samples + the central face of each of the 76 photos
    assert (cal["people"], cal["samples"], cal["genuine_pairs"], cal["impostor_pairs"]) == (24, 85, 118, 3452)
    assert cal["far"] <= 0.001 and cal["tar"] > 0.98
    # the threshold is on the calibrated scale; the default 0.8 is sface's cosine 0.4759
    # (both printed to 4 places; a score moves up to 2.3 per unit of cosine)
    assert cal["threshold"] == pytest.approx(ScoreScale(catalog.get("sface").score_knots).score(cal["cosine"]), abs=2e-4)
    assert (cal["default_threshold"], cal["default_cosine"]) == (0.8, 0.4759)
    assert cal["score_knots"] is None  # 3452 pairs cannot measure 1 in 100,000

    assert facecam("registry", "reembed", "--model", "dlib-resnet", "--registry", reg).returncode == 0
    people = [json.loads(line) for line in facecam("list", "--json", "--registry", reg).stdout.splitlines()]
    assert {p["model"] for p in people} == {"dlib-resnet"} and sum(p["samples"] for p in people) == 9
    # the re-embedded vector of obama's first photo is the dlib vector of that photo
    from facecam.registry import Registry

    registry = Registry.open(reg)
    row = next(k for k, s in enumerate(registry.samples) if s["source"].endswith("obama/obama.jpg"))
    direct = json.loads(facecam("embed", "--json", "--model", "dlib-resnet", train / "obama" / "obama.jpg").stdout)
    assert float(np.dot(registry.vectors[row], direct["faces"][0]["vector"])) > 0.99

    bare = tmp_path / "bare"
    assert facecam("register", "--name", "obama", "--from-dir", train / "obama", "--registry", bare,
                   "--no-keep-crops").returncode == 0
    assert_one_line_error(facecam("registry", "reembed", "--model", "dlib-resnet", "--registry", bare), 1,
                          "no kept face crop for 2 samples")


def test_eval_pairs_counts_unscored_pairs_as_errors(data, tmp_path):
    lines = (data / "recognition/lfw_pairs_fold1.txt").read_text().splitlines()
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("\n".join(["1\t20", *lines[1:21], *lines[301:321], "Nobody_Here\t1\t2"]) + "\n")
    result = facecam("eval", "pairs", "--pairs", pairs, "--root", data / "recognition/lfw", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["pairs"], out["same"], out["different"]) == (41, 21, 20)
    assert out["skipped"] == [{"pair": 41, "reason": f"{data / 'recognition/lfw/Nobody_Here/Nobody_Here_0001.jpg'}: cannot read (No such "
        "file or directory)"}]
    # every scored pair is right at the model threshold; the unscored one is an error
    assert out["accuracy_at_threshold"] == round(40 / 41, 5)
    assert out["tar_at_far_1e-2"] == round(20 / 21, 5)  # the unscored same-person pair is a reject
    assert out["accuracy_10fold"] == 0.98  # folds i mod 10: the fold holding pair 41 scores 4/5


def test_eval_detection_on_a_wider_subset(data, tmp_path):
    from facecam.evaluation import widerface

    root = data / "detection/widerface_val"
    truth = widerface.read_gt_txt(root / "subset_bbx_gt.txt")
    chosen = ["0--Parade/0_Parade_Parade_0_194.jpg", "0--Parade/0_Parade_Parade_0_917.jpg",
              "0--Parade/0_Parade_Parade_0_854.jpg", "0--Parade/0_Parade_marchingband_1_355.jpg"]
    gt = tmp_path / "gt.txt"
    gt.write_text("".join(f"{rel}\n{len(truth[rel])}\n" + "".join(" ".join(map(str, row)) + "\n" for row in truth[rel])
                          for rel in chosen))
    result = facecam("eval", "detection", "--images", root / "images", "--gt", gt,
                     "--mat-dir", root / "ground_truth", "--max-size", "0", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["images"], out["faces"]) == (4, 27)
    # measured: AP 1.0 / 0.8996 / 0.7796, 17 of 27 faces found at the default threshold
    assert out["ap_easy"] == pytest.approx(1.0, abs=0.01)
    assert out["ap_medium"] == pytest.approx(0.8996, abs=0.01) and out["ap_hard"] == pytest.approx(0.7796, abs=0.01)
    assert round(out["recall_at_default_threshold"] * 27) in (16, 17, 18)
    overall = json.loads(facecam("eval", "detection", "--images", root / "images", "--gt", gt, "--max-size", "0", "--json").stdout)
    assert overall["ap_overall"] == pytest.approx(0.7218, abs=0.01)  # every face counts, tiny ones too
    assert overall["recall_at_default_threshold"] == out["recall_at_default_threshold"]


def test_eval_identify_on_a_small_real_set(data, tmp_path):
    lfw = data / "recognition/lfw"
    root = tmp_path / "people"
    root.mkdir()
    known = ["Abdullah_Gul", "Ai_Sugiyama", "Zhu_Rongji"]  # 3+ photos each: 2 enrolled, the rest probes
    strangers = ["Abdel_Madi_Shabneh", "Dean_Barker"]  # fewer than 3 photos: strangers
    for name in known + strangers:
        (root / name).symlink_to(lfw / name)
    probes = sum(len(list((lfw / n).glob("*.jpg"))) - 2 for n in known)
    stranger_photos = sum(len(list((lfw / n).glob("*.jpg"))) for n in strangers)
    result = facecam("eval", "identify", "--root", root, "--gallery", "2", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["enrolled"], out["probes"], out["strangers"], out["no_face"]) == (3, probes, stranger_photos, 0)
    assert out["rank1"] == 1.0 and out["tar"] == 1.0 and out["wrong_names"] == 0 and out["stranger_far"] == 0.0


@pytest.mark.slow
def test_score_scale_of_the_catalog_is_what_the_shared_lfw_set_gives(data, tmp_path):
    """bench/calibrate_scores.py's fit, redone: every shared LFW photo, all 1,478,204 pairs of
    different people. What the catalog's scale promises is that a score of 0.4 + 0.1 k lets
    through 10^-k of stranger pairs: measured on these pairs, each decade's false-accept rate is
    within the sampling error of 1.48 M pairs (4 standard errors, sqrt(f (1 - f) / n), and one pair
    for the count being whole). The knots themselves are order statistics, which move between
    CPUs by more than their printed precision, so they are not compared digit by digit."""
    result = facecam("calibrate", "--folder", data / "recognition/lfw", "--registry", tmp_path / "none",
                     "--far", "1e-5", "--json")
    assert result.returncode == 0, result.stderr
    cal = json.loads(result.stdout)
    n = cal["impostor_pairs"]
    assert (cal["samples"], n) == (1721, 1478204)
    assert [score for score, *_ in cal["scale_check"]] == [0.4, 0.5, 0.6, 0.7, 0.8]
    for score, target, measured, error in cal["scale_check"]:
        assert error == pytest.approx((target * (1 - target) / n) ** 0.5, rel=1e-3)
        assert abs(measured - target) <= 4 * error + 1 / n, (score, target, measured, error)
    # the fit on this data has the catalog's scores (its cosines are what the check above tests)
    assert [s for _, s in cal["score_knots"]] == [s for _, s in catalog.get("sface").score_knots]
    assert cal["far"] <= 1e-5
