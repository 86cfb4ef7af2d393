"""dlib's face recognition ResNet (the network behind the face_recognition library) in torch, and a
reader for its .dat weights (dlib_face_recognition_resnet_model_v1.dat, face_recognition_models).

The network (dlib's dnn_face_recognition_ex.cpp `anet_type`): a 7x7/2 conv, affine (folded batch
norm), ReLU, 3x3/2 max pool; 15 residual blocks of two 3x3 convs at 32, 64, 128, 256, 256
filters, where the first block of each new width has a stride-2 first conv and an average-pooled
shortcut; a global average pool and a 256 -> 128 linear layer without bias.

dlib's conventions, each needed for equal outputs: a conv or pool with stride 2 has no padding;
a residual sum of tensors of different sizes zero-pads the smaller one (channels and both spatial
sides, top-left aligned); fc weights are stored inputs x outputs. Input: RGB 150x150, scaled as
(x - mean) / 256 with the means stored in the file. The 128-d output is not normalised (its norm
is about 1.4); the Embedder normalises it, so dlib's "distance < 0.6" is cosine > ~0.91.

.dat format (dlib serialisation): integers are a length/sign byte then little-endian bytes;
strings are an integer length then bytes; floats are (mantissa, exponent) integer pairs; tensors
are version 2, then num_samples, k, nr, nc, then raw little-endian float32. Layers follow from the
one nearest the input outwards, each opening with its type name ("con_4", "affine_", ...).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..device import resolve_device
from ..errors import WeightsError
from ..calibration import ScoreScale
from . import catalog
from .base import TorchEmbedder, load_strict, shared_network

# (in, out, stride) of the 15 residual blocks, input side first
BLOCKS = (
    [(32, 32, 1)] * 3
    + [(32, 64, 2)] + [(64, 64, 1)] * 3
    + [(64, 128, 2)] + [(128, 128, 1)] * 2
    + [(128, 256, 2)] + [(256, 256, 1)] * 2
    + [(256, 256, 2)]
)

# Where RetinaFace's 5 landmarks land in dlib's 150x150 chip (padding 0.25): the mean position over
# half of the shared LFW faces, mapped by dlib's own detector + 5-point predictor + chip geometry
# (bench/fit_dlib_template.py). dlib places its chip by the eye corners and the nose, so the fit
# weighs the eyes most and RetinaFace's mouth corners, which move with expressions, least.
DLIB_TEMPLATE_150 = np.array(
    [[46.67, 45.38], [101.95, 45.02], [73.26, 77.03], [50.73, 103.34], [97.21, 103.16]], dtype=np.float32
)
DLIB_LANDMARK_WEIGHTS = (20, 20, 5, 1, 1)


class Affine(nn.Module):
    """dlib's affine_ layer: a per-channel scale and shift (batch norm with frozen statistics)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return x * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)


def _pad_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev: the sum over the larger of each dimension, the smaller tensor zero-padded."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))
    pad = lambda t: F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))  # noqa: E731
    return pad(a) + pad(b)


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 0 if stride != 1 else 1)
        self.affine1 = Affine(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.affine2 = Affine(cout)
        self.stride = stride

    def forward(self, x):
        out = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.stride != 1 else x
        return F.relu(_pad_add(out, shortcut))


class DlibResNet(nn.Module):
    """forward(RGB float 0..255, N×3×150×150) -> N×128 (not normalised)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([122.782, 117.001, 104.298]).reshape(1, 3, 1, 1))
        self.conv = nn.Conv2d(3, 32, 7, 2, 0)
        self.affine = Affine(32)
        self.blocks = nn.Sequential(*[Block(*spec) for spec in BLOCKS])
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, x):
        x = F.relu(self.affine(self.conv((x - self.mean) / 256.0)))
        x = self.blocks(F.max_pool2d(x, 3, 2))
        return self.fc(x.mean(dim=(2, 3)))


def fold_affines(net: DlibResNet) -> DlibResNet:
    """Fold every Affine into the conv before it (inference only, in place)."""
    pairs = [(net, "conv", "affine")] + [(b, f"conv{i}", f"affine{i}") for b in net.blocks for i in (1, 2)]
    with torch.no_grad():
        for owner, conv_name, affine_name in pairs:
            conv, affine = getattr(owner, conv_name), getattr(owner, affine_name)
            conv.weight.mul_(affine.weight.reshape(-1, 1, 1, 1))
            conv.bias.mul_(affine.weight).add_(affine.bias)
            setattr(owner, affine_name, nn.Identity())
    return net


def load(weights: str | None = None, *, device: str = "auto") -> TorchEmbedder:
    """The dlib ResNet embedder: a catalog name (default "dlib-resnet") or a path to the .dat file."""
    dev = resolve_device(device)
    path, entry, name, digest = catalog.resolve(weights, "dlib-resnet", ".dat")

    def build():
        net = DlibResNet()
        load_strict(net, read_dat(path), path, "dlib face recognition ResNet")
        return fold_affines(net).eval().to(dev)

    return TorchEmbedder(
        net=shared_network(("dlib-resnet", digest, str(dev)), build), device=dev, name=name, sha256=digest, dim=128, input_size=(150, 150),
        template=DLIB_TEMPLATE_150, default_threshold=entry.threshold,
        scale=ScoreScale(entry.score_knots), rgb=True,
        landmark_weights=DLIB_LANDMARK_WEIGHTS,
    )


# --- the .dat reader

_LAYER = re.compile(rb"\x01[\x04-\x20]((?:input|con|affine|bn|relu|max_pool|avg_pool|add_prev|fc|loss)[a-z_]*\d*)")


class _Reader:
    def __init__(self, data: bytes, pos: int, origin):
        self.data, self.pos, self.origin = data, pos, origin

    def integer(self) -> int:
        head = self._take(1)[0]
        value = int.from_bytes(self._take(head & 0x0F), "little")
        return -value if head & 0x80 else value

    def string(self) -> str:
        return self._take(self.integer()).decode("ascii", "replace")

    def real(self) -> float:
        mantissa = self.integer()
        return mantissa * 2.0 ** self.integer()

    def tensor(self) -> tuple[list[int], np.ndarray]:
        if self.integer() != 2:
            raise WeightsError(f"{self.origin}: unsupported tensor format at byte {self.pos}")
        dims = [self.integer() for _ in range(4)]
        count = int(np.prod(dims))
        return dims, np.frombuffer(self._take(4 * count), "<f4").copy()

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise WeightsError(f"{self.origin}: truncated (ends inside a layer)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


def read_dat(path: Path) -> dict[str, torch.Tensor]:
    """The .dat file's weights as DlibResNet's state dict (with its Affine layers unfolded)."""
    data = Path(path).read_bytes()
    layers = []  # (kind, payload) in file order: input side first
    pos = 0
    while (m := _LAYER.search(data, pos)) is not None:
        r = _Reader(data, m.start(), path)
        name = r.string()
        if name.startswith("input"):
            layers.append(("input", [r.real() for _ in range(3)]))
        elif name.startswith("con"):
            dims, params = r.tensor()
            config = [r.integer() for _ in range(7)]  # filters, rows, cols, stride y/x, padding y/x
            layers.append(("con", (params, config)))
        elif name.startswith("affine"):
            layers.append(("affine", r.tensor()[1]))
        elif name.startswith("fc"):
            outputs, inputs = r.integer(), r.integer()
            layers.append(("fc", (r.tensor()[1], outputs, inputs)))
        elif name.startswith("bn"):
            raise WeightsError(f"{path}: holds a training network (batch norm layers); save its inference form")
        else:
            layers.append((name.rstrip("0123456789").rstrip("_"), None))
        pos = r.pos
    return _to_state_dict(layers, path)


def _to_state_dict(layers: list, path) -> dict[str, torch.Tensor]:
    convs = [p for kind, p in layers if kind == "con"]
    affines = [p for kind, p in layers if kind == "affine"]
    fcs = [p for kind, p in layers if kind == "fc"]
    inputs = [p for kind, p in layers if kind == "input"]
    if len(convs) != 1 + 2 * len(BLOCKS) or len(affines) != len(convs) or len(fcs) != 1 or len(inputs) != 1:
        raise WeightsError(
            f"{path}: not dlib's face recognition ResNet ({len(convs)} conv, {len(affines)} affine, "
            f"{len(fcs)} fc layers; expected 31, 31, 1)"
        )
    names = ["conv"] + [f"blocks.{i}.conv{j}" for i in range(len(BLOCKS)) for j in (1, 2)]
    shapes = [(32, 3, 7, 2, 0)] + [
        (cout, cin if j == 1 else cout, 3, stride if j == 1 else 1, 0 if (j == 1 and stride != 1) else 1)
        for cin, cout, stride in BLOCKS for j in (1, 2)
    ]
    state = {"mean": torch.tensor(inputs[0], dtype=torch.float32).reshape(1, 3, 1, 1)}
    for name, (params, config), affine, (cout, cin, k, stride, pad) in zip(names, convs, affines, shapes):
        if config != [cout, k, k, stride, stride, pad, pad] or params.size != cout * cin * k * k + cout:
            raise WeightsError(f"{path}: layer {name} is {config[:3]}, stride {config[3]}: not this network")
        state[f"{name}.weight"] = torch.from_numpy(params[: cout * cin * k * k].reshape(cout, cin, k, k))
        state[f"{name}.bias"] = torch.from_numpy(params[cout * cin * k * k :])
        affine_name = name.replace("conv", "affine")
        state[f"{affine_name}.weight"] = torch.from_numpy(affine[:cout])
        state[f"{affine_name}.bias"] = torch.from_numpy(affine[cout:])
    weights, outputs, inputs_ = fcs[0]
    if (outputs, inputs_) != (128, 256):
        raise WeightsError(f"{path}: fc layer is {inputs_} -> {outputs}, expected 256 -> 128")
    state["fc.weight"] = torch.from_numpy(weights.reshape(256, 128).T.copy())
    return state
