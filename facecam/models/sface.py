"""SFace (OpenCV model zoo, 2021dec) re-expressed in torch, from its int8 block-quantised ONNX.

A MobileNet-style network: a 3x3 conv, then 13 depthwise-3x3 + pointwise-1x1 pairs, each conv
followed by batch norm and PReLU; then batch norm, a 1024*7*7 -> 128 linear layer and a final
batch norm. Input: RGB float 0..255, NCHW 112x112, aligned with the ArcFace template; the network
maps it to (x - 127.5) / 128 itself. Output: 128-d, L2-normalised by the Embedder.

The ONNX file stores weights as int8 blocks with a float scale and int8 zero point per block
(DequantizeLinear with block_size, opset 21); they are dequantised once at load, then cached.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..align import ARCFACE_112
from ..device import resolve_device
from ..errors import WeightsError
from . import catalog
from ..calibration import ScoreScale
from .base import Embedder, fuse_batchnorms, load_strict

# (in channels, out channels, depthwise stride) of blocks conv_2 ... conv_14
BLOCKS = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)] + [
    (512, 512, 1)
] * 5 + [(512, 1024, 2), (1024, 1024, 1)]


class ConvBnPrelu(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3)
        self.prelu = nn.PReLU(cout)


class SFaceNet(nn.Module):
    """forward(RGB float 0..255, N×3×112×112) -> N×128 (not normalised)."""

    def __init__(self):
        super().__init__()
        self.conv_1 = ConvBnPrelu(3, 32, 3)
        for i, (cin, cout, stride) in enumerate(BLOCKS, start=2):
            setattr(self, f"conv_{i}_dw", ConvBnPrelu(cin, cin, 3, stride, groups=cin))
            setattr(self, f"conv_{i}", ConvBnPrelu(cin, cout, 1))
        self.bn1 = nn.BatchNorm2d(1024, eps=2e-5)
        self.pre_fc1 = nn.Linear(1024 * 7 * 7, 128)
        self.fc1 = nn.BatchNorm1d(128, eps=2e-5)

    def forward(self, x):
        x = self.conv_1((x - 127.5) * 0.0078125)
        for i in range(2, 2 + len(BLOCKS)):
            x = getattr(self, f"conv_{i}")(getattr(self, f"conv_{i}_dw")(x))
        return self.fc1(self.pre_fc1(self.bn1(x).flatten(1)))


def load(weights: str | None = None, *, device: str = "auto") -> Embedder:
    """The SFace embedder: a catalog name (default "sface") or a path to the int8 ONNX file."""
    dev = resolve_device(device)
    path, entry, name, digest = catalog.resolve(weights, "sface", ".onnx")
    convert = lambda: onnx_to_state_dict(path.read_bytes(), origin=path)  # noqa: E731
    state = catalog.cached_conversion(entry, convert) if digest == entry.sha256 else convert()
    net = SFaceNet()
    load_strict(net, state, path, "SFace")
    return Embedder(
        net=fuse_batchnorms(net), device=dev, name=name, sha256=digest, dim=128, input_size=(112, 112),
        template=ARCFACE_112, default_threshold=entry.threshold,
        scale=ScoreScale(entry.score_knots), rgb=True,
    )


_BN = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_var": "running_var"}


def onnx_to_state_dict(onnx_bytes: bytes, origin: Path | str = "ONNX model") -> dict[str, torch.Tensor]:
    """Dequantise the block-quantised weights and name every tensor as SFaceNet's state dict."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load_from_string(onnx_bytes)
    except Exception:
        raise WeightsError(f"{origin}: not a readable ONNX model") from None
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:  # weights arrive as DequantizeLinear(+Reshape) outputs
        if node.op_type == "DequantizeLinear":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            q, scale, zero = (inits[name] for name in node.input)
            inits[node.output[0]] = dequantize_blocks(q, scale, zero, attrs.get("axis", 1), attrs.get("block_size", 0))
        elif node.op_type == "Reshape" and node.input[0] in inits and node.input[1] in inits:
            inits[node.output[0]] = inits[node.input[0]].reshape(inits[node.input[1]])

    state: dict[str, torch.Tensor] = {}
    for node in model.graph.node:
        op, name = node.op_type, node.name
        if op == "Conv":
            state[f"{name.removesuffix('_conv2d')}.conv.weight"] = inits[node.input[1]]
        elif op == "BatchNormalization":
            layer = name.removesuffix("_batchnorm")
            module = layer if layer in ("bn1", "fc1") else f"{layer}.bn"
            for tensor, field in zip(node.input[1:], ("weight", "bias", "running_mean", "running_var")):
                state[f"{module}.{field}"] = inits[tensor]
            state[f"{module}.num_batches_tracked"] = np.array(0)
        elif op == "PRelu":
            state[f"{name.removesuffix('_relu')}.prelu.weight"] = inits[node.input[1]].reshape(-1)
        elif op == "Gemm":
            state[f"{name}.weight"] = inits[node.input[1]]
            state[f"{name}.bias"] = inits[node.input[2]]
    return {k: torch.from_numpy(np.array(v, dtype=np.int64 if k.endswith("tracked") else np.float32)) for k, v in state.items()}


def dequantize_blocks(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block: int) -> np.ndarray:
    """ONNX DequantizeLinear with blocked quantisation: (q - zero) * scale, one pair per `block`
    consecutive elements along `axis` (block 0: per-axis or per-tensor)."""
    q = q.astype(np.float32)
    scale = np.asarray(scale, np.float32)
    zero = np.asarray(zero, np.float32)
    if block and scale.ndim:
        length = q.shape[axis]
        scale = np.take(np.repeat(scale, block, axis=axis), np.arange(length), axis=axis)
        zero = np.take(np.repeat(zero, block, axis=axis), np.arange(length), axis=axis)
    elif scale.ndim == 1 and q.ndim > 1:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (q - zero) * scale
