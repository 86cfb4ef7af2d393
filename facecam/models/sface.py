"""SFace (OpenCV model zoo, 2021dec) re-expressed in torch, from its int8 block-quantised ONNX.

A MobileNet-style network: a 3x3 conv, then 13 depthwise-3x3 + pointwise-1x1 pairs, each conv
followed by batch norm and PReLU; then batch norm, a 1024*7*7 -> 128 linear layer and a final
batch norm. Input: RGB float 0..255, NCHW 112x112, aligned with the ArcFace template; the network
maps it to (x - 127.5) / 128 itself. Output: 128-d, L2-normalised by the Embedder.

The ONNX file stores weights as int8 blocks with a float scale and int8 zero point per block
(DequantizeLinear with block_size, opset 21). facecam ships exactly those arrays, pickle-free, in
pretrained/sface_2021dec_int8bq.npz (`pack`), and dequantises them at load.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ..align import ARCFACE_112
from ..calibration import ScoreScale
from ..device import resolve_device
from ..errors import WeightsError
from . import catalog
from .base import TorchEmbedder, fuse_batchnorms, load_strict, shared_network
from .weights import read_onnx

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


def load(weights: str | None = None, *, device: str = "auto") -> TorchEmbedder:
    """The SFace embedder: a catalog name (default "sface", whose weights ship inside facecam) or a
    path to the int8 ONNX file of the OpenCV model zoo."""
    dev = resolve_device(device)
    path, entry, name, digest = catalog.resolve(weights, "sface", ".onnx")

    def build():
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                tensors = unpack(dict(arrays))
        else:
            tensors = onnx_tensors(path.read_bytes(), origin=path)
        net = SFaceNet()
        load_strict(net, state_dict(tensors), path, "SFace")
        return fuse_batchnorms(net).eval().to(dev)

    return TorchEmbedder(
        net=shared_network(("sface", digest, str(dev)), build), device=dev, name=name, sha256=digest, dim=128, input_size=(112, 112),
        template=ARCFACE_112, default_threshold=entry.threshold, scale=ScoreScale(entry.score_knots), rgb=True,
    )


class Blocks(NamedTuple):
    """A block-quantised tensor: int8 values with a float scale and an int8 zero point per `block`
    consecutive elements along `axis`, reshaped to `shape` once dequantised."""

    q: np.ndarray
    scale: np.ndarray
    zero: np.ndarray
    axis: int
    block: int
    shape: tuple

    def array(self) -> np.ndarray:
        return dequantize_blocks(self.q, self.scale, self.zero, self.axis, self.block).reshape(self.shape)

    def reshaped(self, shape) -> "Blocks":
        return self._replace(shape=tuple(int(v) for v in np.empty(self.shape).reshape(shape).shape))


def onnx_tensors(onnx_bytes: bytes, origin: Path | str = "ONNX model") -> dict[str, np.ndarray | Blocks]:
    """Every tensor of the SFace ONNX file under its SFaceNet state-dict name; the quantised
    weights stay int8 Blocks."""
    import onnx

    model, inits = read_onnx(onnx_bytes, origin)
    for node in model.graph.node:  # weights arrive as DequantizeLinear(+Reshape) outputs
        if node.op_type == "DequantizeLinear":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            q, scale, zero = (inits[name] for name in node.input)
            inits[node.output[0]] = Blocks(q, scale, zero, attrs.get("axis", 1), attrs.get("block_size", 0), q.shape)
        elif node.op_type == "Reshape" and node.input[0] in inits and node.input[1] in inits:
            tensor = inits[node.input[0]]
            shape = inits[node.input[1]]
            inits[node.output[0]] = tensor.reshaped(shape) if isinstance(tensor, Blocks) else tensor.reshape(shape)
    tensors: dict[str, np.ndarray | Blocks] = {}
    for node in model.graph.node:
        tensors.update(_node_tensors(node, inits))
    if not tensors:
        raise WeightsError(f"{origin}: not the SFace network (no layers found)")
    return tensors


def _node_tensors(node, inits) -> dict:
    op, name = node.op_type, node.name
    if op == "Conv":
        return {f"{name.removesuffix('_conv2d')}.conv.weight": inits[node.input[1]]}
    if op == "BatchNormalization":
        layer = name.removesuffix("_batchnorm")
        module = layer if layer in ("bn1", "fc1") else f"{layer}.bn"
        out = {f"{module}.{field}": inits[tensor]
               for tensor, field in zip(node.input[1:], ("weight", "bias", "running_mean", "running_var"))}
        return {**out, f"{module}.num_batches_tracked": np.array(0)}
    if op == "PRelu":
        slope = inits[node.input[1]]
        return {f"{name.removesuffix('_relu')}.prelu.weight": slope.reshaped(-1) if isinstance(slope, Blocks) else slope.reshape(-1)}
    if op == "Gemm":
        return {f"{name}.weight": inits[node.input[1]], f"{name}.bias": inits[node.input[2]]}
    return {}


def state_dict(tensors: dict) -> dict[str, torch.Tensor]:
    """SFaceNet's state dict, the quantised weights dequantised."""
    return {k: torch.from_numpy(np.array(v.array() if isinstance(v, Blocks) else v,
                                         dtype=np.int64 if k.endswith("tracked") else np.float32))
            for k, v in tensors.items()}


def pack(tensors: dict) -> dict[str, np.ndarray]:
    """The form shipped in the package (pretrained/sface_2021dec_int8bq.npz): plain arrays, a
    quantised tensor as its int8 values, scales and zero points plus [axis, block, *shape]."""
    out = {}
    for key, v in tensors.items():
        if isinstance(v, Blocks):
            out |= {f"{key}|q": v.q, f"{key}|scale": v.scale, f"{key}|zero": v.zero,
                    f"{key}|meta": np.array([v.axis, v.block, *v.shape], np.int64)}
        else:
            out[key] = np.asarray(v)
    return out


def unpack(arrays: dict[str, np.ndarray]) -> dict:
    tensors = {}
    for name, value in arrays.items():
        key, _, part = name.partition("|")
        if not part:
            tensors[key] = value
        elif part == "meta":
            axis, block, *shape = (int(x) for x in value)
            tensors[key] = Blocks(arrays[f"{key}|q"], arrays[f"{key}|scale"], arrays[f"{key}|zero"], axis, block,
                                  tuple(shape))
    return tensors


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
