"""`pip install` works: the wheel built from this tree, installed into a fresh virtual environment
next to torch, gives a facecam whose default detector and embedder run with no extra step and no
network, from outside the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile

import pytest

from helpers import REPO, SAMPLES

PEOPLE = REPO / "tests" / "data" / "people"


def sh(*args, cwd=None, timeout=900):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                            env={k: v for k, v in os.environ.items() if not k.startswith(("FACECAM_", "PYTHON"))})
    assert result.returncode == 0, f"{args}: {result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, REPO)
    wheel = next(dist.glob("facecam-*.whl"))
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip = (python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile")  # no .pyc: half the time
    sh(*pip, "torch==2.13.0")
    sh(*pip, wheel)
    return wheel, env_dir / "bin" / "facecam"


def test_the_wheel_carries_the_default_weights_and_stays_small(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "facecam/pretrained/sface_2021dec_int8bq.npz" in names and "facecam/pretrained/LICENSE.sface.Apache-2.0" in names
    assert "facecam/pretrained/minifasnet_2020.npz" in names and "facecam/pretrained/LICENSE.minifasnet.Apache-2.0" in names
    assert "facecam/pretrained/catalog.json" in names and "facecam/cli/__init__.py" in names
    assert {f"facecam/server/page/{f}" for f in ("index.html", "app.js", "app.css", "icon.svg")} <= set(names)  # the web page
    size = wheel.stat().st_size
    print(f"wheel: {wheel.name}, {size / 1e6:.1f} MB")
    assert size < 20_000_000  # PyPI's default limit is 100 MB


def test_the_installed_tool_detects_embeds_and_enrols_from_outside_the_tree(installed, tmp_path):
    _, facecam = installed
    photo = SAMPLES / "obama_small.jpg"
    detected = json.loads(sh(facecam, "detect", "--json", photo, cwd=tmp_path).stdout)
    assert (detected["width"], detected["height"], len(detected["faces"])) == (320, 240, 1)
    embedded = json.loads(sh(facecam, "embed", "--json", photo, cwd=tmp_path).stdout)
    vector = embedded["faces"][0]["vector"]
    assert embedded["model"] == "sface" and len(vector) == 128 and abs(sum(v * v for v in vector) - 1) < 1e-4
    enrolled = json.loads(sh(facecam, "register", "--from-dir", PEOPLE, "--by-folder", "--registry", tmp_path / "reg",
                             "--json", cwd=tmp_path).stdout)
    assert {k: v["added"] for k, v in enrolled["enrolled"].items()} == {
        p.name: len(list(p.iterdir())) for p in PEOPLE.iterdir()}
    assert (tmp_path / "reg" / "registry.json").is_file()
