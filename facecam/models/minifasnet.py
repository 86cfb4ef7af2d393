"""MiniFASNet (minivision-ai/Silent-Face-Anti-Spoofing, Apache-2.0) re-expressed in torch: passive
presentation-attack detection, whether a face in front of the camera is a real one or a picture
of one (a print, a phone or a monitor).

Two networks judge the same face from two crops around the detector's box: MiniFASNetV2 sees the
box scaled by 2.7, MiniFASNetV1SE (squeeze-and-excitation in the last block of each residual
stage) the box scaled by 4.0, each resized to 80x80. Input: BGR float 0..255, unnormalised, as the
original feeds it. Each answers three classes (0: a print, 1: a real face, 2: a screen); the two
softmaxes are summed as upstream does, and the liveness score is the real-face share of that sum
(0..1).

facecam ships the two checkpoints' float32 arrays, pickle-free, in
pretrained/minifasnet_2020.npz (`pack`, from the originals `2.7_80x80_MiniFASNetV2.pth` and
`4_0_0_80x80_MiniFASNetV1SE.pth`); a test rebuilds it from them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..device import resolve_device
from ..errors import WeightsError
from ..storage import sha256_file
from . import catalog
from .base import fuse_batchnorms, load_strict, shared_network

SIZE = 80
# the channel widths of every convolution, in order (upstream's keep_dict): V2 is "1.8M_", V1SE "1.8M"
KEEP = {
    "v2": [32, 32, 103, 103, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 231, 231, 128, 231, 231, 128, 52,
           52, 128, 26, 26, 128, 77, 77, 128, 26, 26, 128, 26, 26, 128, 308, 308, 128, 26, 26, 128, 26, 26, 128, 512, 512],
    "v1se": [32, 32, 103, 103, 64, 13, 13, 64, 26, 26, 64, 13, 13, 64, 52, 52, 64, 231, 231, 128, 154, 154, 128, 52,
             52, 128, 26, 26, 128, 52, 52, 128, 26, 26, 128, 26, 26, 128, 308, 308, 128, 26, 26, 128, 26, 26, 128, 512, 512],
}
SCALES = {"v2": 2.7, "v1se": 4.0}  # the crop around the box each network was trained on
ORIGINALS = {"v2": "2.7_80x80_MiniFASNetV2.pth", "v1se": "4_0_0_80x80_MiniFASNetV1SE.pth"}
REAL = 1  # the class of a real face


class ConvBn(nn.Sequential):
    """conv (no bias) -> batch norm -> PReLU (left out in a linear block)."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, *, prelu: bool = True,
                 padding: int | None = None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2 if padding is None else padding, groups=groups,
                              bias=False)
        self.bn = nn.BatchNorm2d(cout)
        if prelu:
            self.prelu = nn.PReLU(cout)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels // reduction)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        w = torch.relu(self.bn1(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(self.bn2(self.fc2(w)))


class DepthWise(nn.Module):
    """1x1 expand (PReLU) -> 3x3 depthwise (PReLU) -> 1x1 project (linear), optionally
    squeeze-and-excitation and a residual connection. widths: (in, expanded, depthwise out, out)."""

    def __init__(self, widths, stride: int = 1, *, residual: bool = False, se: bool = False):
        super().__init__()
        cin, c1, c2, cout = widths
        self.conv = ConvBn(cin, c1)
        self.conv_dw = ConvBn(c1, c2, 3, stride, groups=c1)
        self.project = ConvBn(c2, cout, prelu=False)
        self.residual = residual
        if se:
            self.se_module = SqueezeExcite(cout)

    def forward(self, x):
        out = self.project(self.conv_dw(self.conv(x)))
        if hasattr(self, "se_module"):
            out = self.se_module(out)
        return x + out if self.residual else out


class Residual(nn.Module):
    def __init__(self, keep: list[int], start: int, count: int, *, se: bool):
        super().__init__()
        self.model = nn.Sequential(*(DepthWise(_widths(keep, start + 3 * i), residual=True, se=se and i == count - 1)
                                     for i in range(count)))

    def forward(self, x):
        return self.model(x)


class MiniFASNet(nn.Module):
    """forward(BGR float 0..255, N×3×80×80) -> N×3 logits (print, real, screen)."""

    def __init__(self, keep: list[int], *, se: bool = False):
        super().__init__()
        self.conv1 = ConvBn(3, keep[0], 3, 2)
        self.conv2_dw = ConvBn(keep[0], keep[1], 3, groups=keep[1])
        self.conv_23 = DepthWise(_widths(keep, 1), 2)
        self.conv_3 = Residual(keep, 4, 4, se=se)
        self.conv_34 = DepthWise(_widths(keep, 16), 2)
        self.conv_4 = Residual(keep, 19, 6, se=se)
        self.conv_45 = DepthWise(_widths(keep, 37), 2)
        self.conv_5 = Residual(keep, 40, 2, se=se)
        self.conv_6_sep = ConvBn(keep[46], keep[47])
        self.conv_6_dw = ConvBn(keep[47], keep[48], SIZE // 16, groups=keep[48], prelu=False, padding=0)
        self.linear = nn.Linear(512, 128, bias=False)
        self.bn = nn.BatchNorm1d(128)
        self.prob = nn.Linear(128, 3, bias=False)

    def forward(self, x):
        for stage in (self.conv1, self.conv2_dw, self.conv_23, self.conv_3, self.conv_34, self.conv_4, self.conv_45,
                      self.conv_5, self.conv_6_sep, self.conv_6_dw):
            x = stage(x)
        return self.prob(self.bn(self.linear(x.flatten(1))))


def _widths(keep: list[int], i: int) -> tuple[int, int, int, int]:
    return keep[i], keep[i + 1], keep[i + 2], keep[i + 3]


def network(kind: str) -> MiniFASNet:
    return MiniFASNet(KEEP[kind], se=kind == "v1se")


class Liveness:
    """score(image_bgr, boxes) -> each face's liveness, 0..1: the share the two networks give a
    real face (upstream's fused answer); `threshold` is where a face counts as live."""

    def __init__(self, nets: dict[str, nn.Module], *, name: str, sha256: str, device, threshold: float):
        self.nets, self.name, self.sha256, self.device, self.threshold = nets, name, sha256, device, threshold

    @torch.inference_mode()
    def score(self, image_bgr: np.ndarray, boxes) -> np.ndarray:
        boxes = list(boxes)
        if not boxes:
            return np.zeros(0, np.float32)
        total = np.zeros((len(boxes), 3))
        for kind, net in self.nets.items():
            batch = np.stack([crop(image_bgr, box, SCALES[kind]) for box in boxes]).astype(np.float32)
            x = torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous().to(self.device)
            total += torch.softmax(net(x), dim=1).cpu().double().numpy()
        return (total[:, REAL] / len(self.nets)).astype(np.float32)


def crop(image_bgr: np.ndarray, box, scale: float) -> np.ndarray:
    """The 80x80 patch upstream cuts for a face box (x1, y1, x2, y2): the box scaled by `scale`
    about its centre (less where the picture is too small), shifted inside the picture."""
    import cv2

    height, width = image_bgr.shape[:2]
    x, y = int(box[0]), int(box[1])
    w, h = int(box[2] - box[0] + 1), int(box[3] - box[1] + 1)  # upstream's [x, y, w, h]
    scale = min((height - 1) / h, (width - 1) / w, scale)
    cx, cy, half_w, half_h = x + w / 2, y + h / 2, w * scale / 2, h * scale / 2
    left, top, right, bottom = cx - half_w, cy - half_h, cx + half_w, cy + half_h
    if left < 0:
        right, left = right - left, 0
    if top < 0:
        bottom, top = bottom - top, 0
    if right > width - 1:
        left, right = left - (right - width + 1), width - 1
    if bottom > height - 1:
        top, bottom = top - (bottom - height + 1), height - 1
    patch = image_bgr[int(top):int(bottom) + 1, int(left):int(right) + 1]
    return cv2.resize(patch, (SIZE, SIZE))


def load(weights: str | None = None, *, device: str = "auto", threshold: float | None = None) -> Liveness:
    """The liveness judge: the catalog's "minifasnet" (shipped inside facecam) or a folder holding
    upstream's two .pth files."""
    dev = resolve_device(device)
    entry = catalog.get("minifasnet")
    if weights:
        states = originals(Path(weights))
        name, digest = str(weights), sha256_file(Path(weights) / ORIGINALS["v2"])
    else:
        name, digest = entry.name, entry.sha256
        with np.load(catalog.locate(entry), allow_pickle=False) as arrays:
            states = unpack(dict(arrays))

    def build():
        nets = {}
        for kind, state in states.items():
            net = network(kind)
            load_strict(net, state, name, f"MiniFASNet {kind}")
            nets[kind] = fuse_batchnorms(net).eval().to(dev)
        return nets

    nets = shared_network(("minifasnet", name, digest, str(dev)), build)
    return Liveness(nets, name=name, sha256=digest, device=dev, threshold=entry.threshold if threshold is None else threshold)


def originals(folder: Path) -> dict[str, dict[str, torch.Tensor]]:
    """The state dicts of upstream's two checkpoints in `folder` (read without running pickled code)."""
    from .weights import read_checkpoint

    if not folder.is_dir():
        raise WeightsError(f"{folder}: not a folder holding {' and '.join(ORIGINALS.values())}")
    states = {}
    for kind, file in ORIGINALS.items():
        if not (folder / file).is_file():
            raise WeightsError(f"{folder}: {file} is missing (MiniFASNet needs {' and '.join(ORIGINALS.values())})")
        states[kind] = read_checkpoint(folder / file)
    return states


def pack(states: dict[str, dict[str, torch.Tensor]]) -> dict[str, np.ndarray]:
    """The arrays facecam ships: every tensor under '<kind>/<name>', as it is (no pickle)."""
    return {f"{kind}/{key}": value.numpy() for kind, state in states.items() for key, value in state.items()}


def unpack(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, torch.Tensor]]:
    states: dict[str, dict[str, torch.Tensor]] = {kind: {} for kind in ORIGINALS}
    for key, value in arrays.items():
        kind, name = key.split("/", 1)
        states[kind][name] = torch.from_numpy(value)
    return states
