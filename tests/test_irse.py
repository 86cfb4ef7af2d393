"""IR-50 (face.evoLVe) and iresnet50 (insightface): strict loading of user-supplied weights,
`facecam models import`, and use by name. The real weights are not distributed; the state dicts
here are built from each project's published key layout, written out independently below."""

from __future__ import annotations

import json

import pytest
import torch

from facecam.errors import WeightsError
from facecam.models import irse
from helpers import SAMPLES, facecam, ir50_layout, iresnet50_layout, random_state

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
    def run(*args):
        return facecam(*args, env={"FACECAM_MODELS": tmp_path / "models"})

    weights = tmp_path / "backbone_ir50_asia.pth"
    torch.save(random_state(ir50_layout()), weights)
    result = run("models", "import", weights, "--arch", "ir50")
    assert result.returncode == 0, result.stderr
    assert "use it with --model backbone_ir50_asia" in result.stderr
    weights.unlink()  # facecam keeps its own copy

    listed = {o["name"]: o for o in map(json.loads, run("models", "list", "--json").stdout.splitlines())}
    entry = listed["backbone_ir50_asia"]
    assert entry["arch"] == "ir50" and entry["dim"] == 512 and entry["sha256_ok"] and entry["threshold"] == 0.4

    embedded = run("embed", "--json", "--model", "backbone_ir50_asia", SAMPLES / "obama_small.jpg")
    assert embedded.returncode == 0, embedded.stderr
    face = json.loads(embedded.stdout)["faces"][0]
    assert len(face["vector"]) == 512 and abs(sum(v * v for v in face["vector"]) - 1) < 1e-3

    # the same name again needs --replace; a wrong architecture is refused with the keys
    again = tmp_path / "again.pth"
    torch.save(random_state(iresnet50_layout()), again)
    dup = run("models", "import", again, "--arch", "iresnet50", "--name", "backbone_ir50_asia")
    assert dup.returncode == 2 and "exists already (--replace replaces it)" in dup.stderr
    wrong = run("models", "import", again, "--arch", "ir50", "--name", "x")
    assert wrong.returncode == 1 and "not face.evoLVe IR-50 weights (missing: body.0.res_layer" in wrong.stderr
    assert run("models", "import", again, "--arch", "iresnet50", "--name", "backbone_ir50_asia",
                   "--replace").returncode == 0
    builtin = run("models", "import", again, "--arch", "iresnet50", "--name", "sface")
    assert builtin.returncode == 2 and "exists already" in builtin.stderr
