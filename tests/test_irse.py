"""IR-50 (face.evoLVe) and iresnet50 (insightface): strict loading of user-supplied weights,
`facecam models import`, and use by name. The real weights are not distributed; the state dicts
here are built from each project's published key layout, written out independently below."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import SAMPLES
from facecam.errors import WeightsError
from facecam.models import irse

STAGES = [(64, 3), (128, 4), (256, 14), (512, 3)]


def _bn(shapes, name, c):
    for field in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"{name}.{field}"] = (c,)
    shapes[f"{name}.num_batches_tracked"] = ()


def ir50_layout() -> dict:
    """face.evoLVe backbone/model_irse.py, Backbone([112, 112], 50, 'ir')."""
    shapes = {"input_layer.0.weight": (64, 3, 3, 3), "input_layer.2.weight": (64,)}
    _bn(shapes, "input_layer.1", 64)
    i, cin = 0, 64
    for depth, units in STAGES:
        for u in range(units):
            inp = cin if u == 0 else depth
            if inp != depth:  # otherwise the shortcut is a parameter-free MaxPool2d(1, stride)
                shapes[f"body.{i}.shortcut_layer.0.weight"] = (depth, inp, 1, 1)
                _bn(shapes, f"body.{i}.shortcut_layer.1", depth)
            _bn(shapes, f"body.{i}.res_layer.0", inp)
            shapes[f"body.{i}.res_layer.1.weight"] = (depth, inp, 3, 3)
            shapes[f"body.{i}.res_layer.2.weight"] = (depth,)
            shapes[f"body.{i}.res_layer.3.weight"] = (depth, depth, 3, 3)
            _bn(shapes, f"body.{i}.res_layer.4", depth)
            i += 1
        cin = depth
    _bn(shapes, "output_layer.0", 512)
    shapes["output_layer.3.weight"], shapes["output_layer.3.bias"] = (512, 512 * 7 * 7), (512,)
    _bn(shapes, "output_layer.4", 512)
    return shapes


def iresnet50_layout() -> dict:
    """insightface recognition/arcface_torch/backbones/iresnet.py, iresnet50()."""
    shapes = {"conv1.weight": (64, 3, 3, 3), "prelu.weight": (64,)}
    _bn(shapes, "bn1", 64)
    cin = 64
    for layer, (planes, blocks) in enumerate(STAGES, start=1):
        for b in range(blocks):
            p, inp = f"layer{layer}.{b}", cin if b == 0 else planes
            _bn(shapes, f"{p}.bn1", inp)
            shapes[f"{p}.conv1.weight"] = (planes, inp, 3, 3)
            _bn(shapes, f"{p}.bn2", planes)
            shapes[f"{p}.prelu.weight"] = (planes,)
            shapes[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            _bn(shapes, f"{p}.bn3", planes)
            if b == 0:  # every stage starts with stride 2
                shapes[f"{p}.downsample.0.weight"] = (planes, inp, 1, 1)
                _bn(shapes, f"{p}.downsample.1", planes)
        cin = planes
    _bn(shapes, "bn2", 512)
    shapes["fc.weight"], shapes["fc.bias"] = (512, 512 * 7 * 7), (512,)
    _bn(shapes, "features", 512)
    return shapes


def random_state(shapes: dict, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        else:
            state[key] = torch.randn(shape, generator=g) * 0.05
    return state


@pytest.mark.parametrize("arch,layout,params", [("ir50", ir50_layout, 43_574_976), ("iresnet50", iresnet50_layout, 43_590_848)])
def test_published_layouts_load_strictly(tmp_path, arch, layout, params):
    shapes = layout()
    learnable = sum(torch.Size(s).numel() for k, s in shapes.items()
                    if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert learnable == params  # iresnet50: insightface's published 43.59 M
    path = tmp_path / f"{arch}.pth"
    torch.save({f"module.{k}": v for k, v in random_state(shapes).items()}, path)  # DataParallel prefix
    net, state = irse.read_state_dict(path, arch)
    with torch.inference_mode():
        out = net.eval()(torch.rand(2, 3, 112, 112) * 255)
    assert out.shape == (2, 512) and torch.isfinite(out).all()
    # the other architecture's file is refused, naming keys
    other = "iresnet50" if arch == "ir50" else "ir50"
    with pytest.raises(WeightsError, match=f"{path}: not .* weights \\(missing: "):
        irse.read_state_dict(path, other)


def test_import_then_use_by_name(tmp_path):
    env = {**os.environ, "FACECAM_MODELS": str(tmp_path / "models"), "COLUMNS": "200"}

    def facecam(*args):
        return subprocess.run([sys.executable, "-m", "facecam", *map(str, args)], capture_output=True,
                              text=True, env=env, timeout=300)

    weights = tmp_path / "backbone_ir50_asia.pth"
    torch.save(random_state(ir50_layout()), weights)
    result = facecam("models", "import", weights, "--arch", "ir50")
    assert result.returncode == 0, result.stderr
    assert "use it with --model backbone_ir50_asia" in result.stderr
    weights.unlink()  # facecam keeps its own copy

    listed = {o["name"]: o for o in map(json.loads, facecam("models", "list", "--json").stdout.splitlines())}
    entry = listed["backbone_ir50_asia"]
    assert entry["arch"] == "ir50" and entry["dim"] == 512 and entry["sha256_ok"] and entry["threshold"] == 0.4

    embedded = facecam("embed", "--json", "--model", "backbone_ir50_asia", SAMPLES / "obama_small.jpg")
    assert embedded.returncode == 0, embedded.stderr
    face = json.loads(embedded.stdout)["faces"][0]
    assert len(face["vector"]) == 512 and abs(sum(v * v for v in face["vector"]) - 1) < 1e-3

    # the same name again needs --replace; a wrong architecture is refused with the keys
    again = tmp_path / "again.pth"
    torch.save(random_state(iresnet50_layout()), again)
    dup = facecam("models", "import", again, "--arch", "iresnet50", "--name", "backbone_ir50_asia")
    assert dup.returncode == 2 and "exists already (--replace replaces it)" in dup.stderr
    wrong = facecam("models", "import", again, "--arch", "ir50", "--name", "x")
    assert wrong.returncode == 1 and "not face.evoLVe IR-50 weights (missing: body.0.res_layer" in wrong.stderr
    assert facecam("models", "import", again, "--arch", "iresnet50", "--name", "backbone_ir50_asia",
                   "--replace").returncode == 0
    builtin = facecam("models", "import", again, "--arch", "iresnet50", "--name", "sface")
    assert builtin.returncode == 2 and "exists already" in builtin.stderr
