"""ONNX embedders: `facecam models import FILE.onnx --arch onnx`, then --model NAME everywhere.
Checked with the SFace ONNX file imported as a generic embedder (its vectors are the built-in
sface's), and with an iresnet50 exported to ONNX from torch (its vectors are the torch model's)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from facecam.models import irse
from helpers import SAMPLES, assert_one_line_error, facecam, facecam_process, iresnet50_layout, random_state


def run(env, *args):
    return facecam(*args, env=env)


def vectors(result) -> np.ndarray:
    assert result.returncode == 0, result.stderr
    return np.array([f["vector"] for line in result.stdout.splitlines() for f in json.loads(line)["faces"]])


class BareIResNet50(irse.IResNet50):
    """iresnet50 as insightface exports it: the graph takes (x - 127.5) / 127.5, it does not
    normalise its input itself."""

    def forward(self, x):
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.features(self.fc(torch.flatten(self.bn2(x), 1)))


@pytest.fixture(scope="module")
def models_env(tmp_path_factory):
    return {"FACECAM_MODELS": str(tmp_path_factory.mktemp("models"))}


def test_sface_onnx_imported_as_a_generic_embedder_gives_sfaces_vectors(models_env, sface_onnx, tmp_path):
    result = run(models_env, "models", "import", sface_onnx, "--arch", "onnx", "--name", "sface-onnx", "--threshold", "0.36")
    assert result.returncode == 0, result.stderr
    # read from the graph: 112x112 NCHW, and it normalises its input itself
    assert "sface-onnx (onnx, 128-d, input 112x112 RGB NCHW, (x - 0) / 1" in result.stderr
    listed = {o["name"]: o for o in map(json.loads, run(models_env, "models", "list", "--json").stdout.splitlines())}
    assert listed["sface-onnx"]["dim"] == 128 and listed["sface-onnx"]["sha256_ok"]
    photos = [SAMPLES / "obama_and_biden.jpg", SAMPLES / "kit_with_rose.jpg"]
    generic = vectors(run(models_env, "embed", "--json", "--model", "sface-onnx", *photos))
    builtin = vectors(run(models_env, "embed", "--json", "--model", "sface", *photos))
    assert generic.shape == builtin.shape == (5, 128)
    assert np.abs(generic - builtin).max() < 1e-4
    # --model NAME works in enrolment and recognition too
    registry = tmp_path / "registry"
    train = SAMPLES.parents[0] / "people"
    assert run(models_env, "register", "--from-dir", train, "--by-folder", "--registry", registry,
               "--model", "sface-onnx").returncode == 0
    people = [json.loads(line) for line in run(models_env, "list", "--json", "--registry", registry).stdout.splitlines()]
    assert {p["model"] for p in people} == {"sface-onnx"}
    # recognize with it: at its raw cosine threshold 0.36 (OpenCV's 1:1 threshold, lower than the
    # built-in model's calibrated 0.8 = cosine 0.476) Lin-Manuel Miranda is named in the same 149
    # frames, and the pianist Alex Lacamoire too, in the first 20 (his cosine is about 0.43)
    clip = SAMPLES.parents[0] / "short_hamilton_clip.mp4"
    seen = run(models_env, "recognize", "--source", clip, "--registry", registry, "--model", "sface-onnx", "--headless", "--json")
    assert seen.returncode == 0, seen.stderr
    summary = json.loads(seen.stdout.splitlines()[-1])["summary"]
    assert summary["threshold"] == 0.36
    assert [(p["name"], p["first"], p["last"], p["frames"]) for p in summary["people"]] == [
        ("Alex Lacamoire", 0.0, 0.634, 20), ("Lin-Manuel Miranda", 0.0, 7.007, 149)]


@pytest.fixture(scope="module")
def exported_iresnet50(tmp_path_factory):
    folder = tmp_path_factory.mktemp("r50")
    state = random_state(iresnet50_layout(), seed=7)
    torch.save(state, folder / "r50.pth")
    bare = BareIResNet50().eval()
    bare.load_state_dict(state)
    onnx_file = folder / "w600k_r50.onnx"
    torch.onnx.export(bare, torch.zeros(1, 3, 112, 112), str(onnx_file), input_names=["input.1"],
                      output_names=["embedding"], dynamic_axes={"input.1": {0: "batch"}}, dynamo=False)
    return folder / "r50.pth", onnx_file


def test_an_exported_iresnet50_gives_the_torch_models_vectors(models_env, exported_iresnet50, data, tmp_path):
    pth, onnx_file = exported_iresnet50
    assert run(models_env, "models", "import", pth, "--arch", "iresnet50", "--name", "r50-torch").returncode == 0
    result = run(models_env, "models", "import", onnx_file, "--arch", "onnx", "--name", "r50")
    assert result.returncode == 0, result.stderr
    assert "r50 (onnx, 512-d, input 112x112 RGB NCHW, (x - 127.5) / 127.5" in result.stderr  # insightface's convention
    photo = SAMPLES / "obama_and_biden.jpg"
    from_onnx = vectors(run(models_env, "embed", "--json", "--model", "r50", photo))
    from_torch = vectors(run(models_env, "embed", "--json", "--model", "r50-torch", photo))
    assert from_onnx.shape == (3, 512) and np.abs(from_onnx - from_torch).max() < 1e-4
    # register and recognize with it (random weights: the registry and the run work, names are not the point)
    registry = tmp_path / "registry"
    assert run(models_env, "register", "--name", "Speaker", "--source", data / "video/test.mp4", "--registry", registry,
               "--model", "r50", "--headless", "--max-frames", "20").returncode == 0
    clip = data / "face_recognition_examples/examples/short_hamilton_clip.mp4"
    seen = run(models_env, "recognize", "--source", clip, "--registry", registry, "--model", "r50", "--headless",
               "--max-frames", "10", "--json")
    assert seen.returncode == 0, seen.stderr
    assert json.loads(seen.stdout.splitlines()[-1])["summary"]["frames"] == 10
    assert_one_line_error(run(models_env, "recognize", "--source", clip, "--registry", registry, "--model", "sface",
                              "--headless"), 1, "enrolled with model r50 (512-d), not sface")


def test_files_that_are_not_onnx_embedders(models_env, tmp_path, exported_iresnet50):
    _, onnx_file = exported_iresnet50
    truncated = tmp_path / "cut.onnx"
    truncated.write_bytes(onnx_file.read_bytes()[:5000])
    assert_one_line_error(run(models_env, "models", "import", truncated, "--arch", "onnx"), 1,
                          "cut.onnx: not a readable ONNX model")
    # a graph that is not an embedder: one 2-D input, no image
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])])
    flat = tmp_path / "flat.onnx"
    flat.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    assert_one_line_error(run(models_env, "models", "import", flat, "--arch", "onnx"), 1,
                          "not a face embedder: it needs one image input of rank 4")
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 112, 112])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 112, 112])])
    image_out = tmp_path / "image_out.onnx"
    image_out.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    assert_one_line_error(run(models_env, "models", "import", image_out, "--arch", "onnx"), 1,
                          "not a face embedder: its first output is not one (N, D) vector per face")
    assert_one_line_error(run(models_env, "models", "import", onnx_file, "--arch", "onnx", "--input-size", "128x128"), 2,
                          "the graph takes 112x112 crops, not 128x128")
    assert_one_line_error(run(models_env, "models", "import", onnx_file, "--arch", "onnx", "--layout", "nhwc"), 2,
                          "is nchw, not nhwc")
    assert_one_line_error(run(models_env, "models", "import", tmp_path / "none.onnx", "--arch", "onnx"), 2,
                          "none.onnx: no such weight file")
    del onnx


def test_missing_onnxruntime_is_a_one_line_error(models_env, sface_onnx, tmp_path):
    """With onnxruntime hidden from the process, the import says what to install."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "onnxruntime.py").write_text("raise ImportError('blocked for this test')")
    env = {**models_env, "PYTHONPATH": str(blocker)}  # a process of its own: this one has onnxruntime loaded
    assert_one_line_error(facecam_process("models", "import", sface_onnx, "--arch", "onnx", "--name", "x", env=env), 2,
                          "ONNX embedders need onnxruntime: pip install 'facecam[onnx]'")
