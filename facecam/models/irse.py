"""ResNet-50 face embedders for user-supplied weights: IR-50 in the face.evoLVe layout (e.g. its
Asian-trained `backbone_ir50_asia.pth`) and iresnet50 in the insightface arcface_torch layout.

Both take a 112x112 face aligned with the ArcFace template, RGB, scaled to about [-1, 1], and give
a 512-d vector (normalised by the Embedder). Their weights are not distributed on PyPI: a user
brings the file and registers it with `facecam models import FILE --arch ir50|iresnet50`, which
loads it strictly here first, so a file of the wrong layout is refused with the keys that differ.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..align import ARCFACE_112
from ..device import resolve_device
from ..errors import WeightsError
from ..calibration import ScoreScale
from . import catalog
from .base import TorchEmbedder, fuse_batchnorms, load_strict, shared_network
from .weights import read_checkpoint

STAGES_50 = ((64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3))  # in, out, units


class BottleneckIR(nn.Module):
    """face.evoLVe's bottleneck_IR: BN-conv-PReLU-conv-BN, stride on the second conv."""

    def __init__(self, cin: int, depth: int, stride: int):
        super().__init__()
        if cin == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(cin, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(cin), nn.Conv2d(cin, depth, 3, 1, 1, bias=False), nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False), nn.BatchNorm2d(depth),
        )

    def forward(self, x):
        return self.res_layer(x) + self.shortcut_layer(x)


class IR50(nn.Module):
    """face.evoLVe Backbone([112, 112], 50, "ir"); keys input_layer.*, body.N.*, output_layer.*."""

    def __init__(self):
        super().__init__()
        self.input_layer = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))
        units = [BottleneckIR(cin if i == 0 else cout, cout, 2 if i == 0 else 1)
                 for cin, cout, n in STAGES_50 for i in range(n)]
        self.body = nn.Sequential(*units)
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(512), nn.Dropout(), nn.Flatten(), nn.Linear(512 * 7 * 7, 512), nn.BatchNorm1d(512)
        )

    def forward(self, x):  # RGB float 0..255
        return self.output_layer(self.body(self.input_layer((x - 127.5) / 128.0)))


class IBasicBlock(nn.Module):
    """insightface's IBasicBlock: BN-conv-BN-PReLU-conv-BN, stride on the second conv."""

    def __init__(self, cin: int, planes: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (self.downsample(x) if self.downsample is not None else x)


class IResNet50(nn.Module):
    """insightface arcface_torch iresnet50; keys conv1, bn1, prelu, layer1-4.N.*, bn2, fc, features."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.prelu = nn.PReLU(64)
        for index, (cin, cout, n) in enumerate(STAGES_50, start=1):
            blocks = [IBasicBlock(cin if i == 0 else cout, cout, 2 if i == 0 else 1) for i in range(n)]
            setattr(self, f"layer{index}", nn.Sequential(*blocks))
        self.bn2 = nn.BatchNorm2d(512)
        self.fc = nn.Linear(512 * 7 * 7, 512)
        self.features = nn.BatchNorm1d(512)

    def forward(self, x):  # RGB float 0..255
        x = self.prelu(self.bn1(self.conv1((x - 127.5) / 127.5)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.features(self.fc(torch.flatten(self.bn2(x), 1)))


ARCHITECTURES = {"ir50": (IR50, "face.evoLVe IR-50"), "iresnet50": (IResNet50, "insightface iresnet50")}


def read_state_dict(path: Path, arch: str) -> tuple[nn.Module, dict]:
    """The network for `arch` and the file's state dict, checked to fit it exactly."""
    if arch not in ARCHITECTURES:
        raise WeightsError(f"unknown architecture {arch!r}: use {' or '.join(ARCHITECTURES)}")
    cls, label = ARCHITECTURES[arch]
    state = read_checkpoint(path)
    net = cls()
    load_strict(net, state, path, label)
    return net, state


def load(name: str, *, device: str = "auto") -> TorchEmbedder:
    """An imported IR-50 / iresnet50 embedder, by its catalog name."""
    dev = resolve_device(device)
    entry = catalog.get(name)
    path = catalog.locate(entry)
    net = shared_network((entry.arch, entry.sha256, str(dev)),
                         lambda: fuse_batchnorms(read_state_dict(path, entry.arch)[0]).eval().to(dev))
    return TorchEmbedder(
        net=net, device=dev, name=entry.name, sha256=entry.sha256, dim=512, input_size=(112, 112),
        template=ARCFACE_112, default_threshold=entry.threshold,
        scale=ScoreScale(entry.score_knots), rgb=True,
    )
