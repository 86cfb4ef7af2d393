"""What the networks share: the Detector protocol, the Model base (name, weights' sha256, device),
the Embedder (aligned crops in, L2-normalised float32 vectors out) with its torch form, and the
strict state-dict loading and batch-norm folding every torch network uses."""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np
import torch
from torch import nn

from ..align import align
from ..calibration import ScoreScale
from ..errors import WeightsError
from ..types import Detection


class Detector(Protocol):
    """What the pipeline needs of a face detector."""

    name: str
    sha256: str
    threshold: float
    max_size: int | None

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Faces in a BGR uint8 HxWx3 image, best score first, in the image's pixels."""


class Model:
    """What every network facecam runs shares: its name, the sha256 of its weights, and the
    device it runs on (torch models are moved there and put in eval mode)."""

    def __init__(self, *, name: str, sha256: str, device, net: nn.Module | None = None):
        self.name, self.sha256, self.device = name, sha256, device
        self.net = net.eval().to(device) if net is not None else None


class Embedder(Model):
    """A face embedding network with its alignment template: aligned crops in, L2-normalised
    float32 vectors out. Subclasses implement `_forward` for a batch of crops.

    name, dim, sha256 of the weights; scale: cosine <-> score (calibration.ScoreScale);
    default_threshold: the score at or above which a face is taken for an enrolled person;
    input_size (width, height) and template (5, 2) in crop pixels;
    rgb: whether the network takes RGB (else BGR) channels;
    landmark_weights: whole-number weight of each landmark in the alignment fit (None: equal).
    """

    def __init__(
        self, *, name: str, sha256: str, device, dim: int, input_size: tuple[int, int], template: np.ndarray,
        default_threshold: float, scale: ScoreScale, rgb: bool, batch_size: int = 32,
        landmark_weights: tuple[int, ...] | None = None, net: nn.Module | None = None,
    ):
        super().__init__(name=name, sha256=sha256, device=device, net=net)
        self.dim, self.input_size = dim, input_size
        self.template = np.asarray(template, np.float32)
        self.default_threshold, self.scale, self.rgb = default_threshold, scale, rgb
        self.batch_size, self.landmark_weights = batch_size, landmark_weights

    @property
    def model_info(self) -> dict:
        """What a registry records of the model that made its vectors."""
        return {"name": self.name, "dim": self.dim, "sha256": self.sha256}

    def min_cosine(self, threshold: float | None = None) -> float:
        """The cosine that a score threshold (default: the model's) stands for."""
        return self.scale.cosine(self.default_threshold if threshold is None else threshold)

    def score(self, cosine: float) -> float:
        """The score of one match's cosine, to 4 places; 0 when there was nobody to match (-inf)."""
        return round(float(self.scale.score(cosine)), 4) if np.isfinite(cosine) else 0.0

    def crop(self, image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The aligned BGR uint8 crop (height, width, 3) this embedder expects."""
        return align(image_bgr, landmarks, self.template, self.input_size, self.landmark_weights)

    def embed(self, image_bgr: np.ndarray, faces: list[Detection]) -> np.ndarray:
        """Vectors (N, dim) float32 for the detected faces of one BGR uint8 image."""
        if not faces:
            return np.zeros((0, self.dim), np.float32)
        return self.embed_crops(np.stack([self.crop(image_bgr, f.landmarks) for f in faces]))

    def embed_crops(self, crops_bgr: np.ndarray) -> np.ndarray:
        """Vectors (N, dim) float32, L2-normalised, for aligned BGR uint8 crops (N, H, W, 3)."""
        crops_bgr = np.asarray(crops_bgr)
        width, height = self.input_size
        if crops_bgr.ndim != 4 or crops_bgr.shape[1:] != (height, width, 3) or crops_bgr.dtype != np.uint8:
            raise ValueError(f"expected uint8 crops of shape (N, {height}, {width}, 3), got {crops_bgr.shape}")
        out = []
        for start in range(0, len(crops_bgr), self.batch_size):
            batch = crops_bgr[start : start + self.batch_size]
            vectors = np.asarray(self._forward(np.ascontiguousarray(batch[..., ::-1] if self.rgb else batch)), np.float32)
            out.append(vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12))
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """Raw vectors (N, dim) for uint8 crops (N, H, W, 3) in the network's channel order."""
        raise NotImplementedError


class TorchEmbedder(Embedder):
    """An embedder whose network is a torch module taking float 0..255 NCHW."""

    @torch.inference_mode()
    def _forward(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).to(self.device)
        x = x.permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last)
        return self.net(x).cpu().numpy()


_NETWORKS: dict = {}
_NETWORKS_LOCK = threading.Lock()


def shared_network(key: tuple, build) -> nn.Module:
    """The network for `key` (what it is, the sha256 of its weights, the device), built by
    build() once per process: every FaceCam, command and server request of a process shares it
    (inference leaves it unchanged, and torch runs it from several threads at once)."""
    with _NETWORKS_LOCK:
        if key not in _NETWORKS:
            _NETWORKS[key] = build()
        return _NETWORKS[key]


def release_networks() -> None:
    """Let go of the networks built so far (their memory; the next load builds them again from
    their weight files, as a new process would)."""
    with _NETWORKS_LOCK:
        _NETWORKS.clear()


def fuse_batchnorms(module: nn.Module) -> nn.Module:
    """Fold every Conv2d → BatchNorm2d pair into the convolution (inference only, in place)."""
    for child in module.children():
        if isinstance(child, nn.Sequential):
            for i in reversed(range(len(child) - 1)):
                conv, bn = child[i], child[i + 1]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    child[i] = _fold(conv, bn)
                    del child[i + 1]  # fewer module calls per frame
        fuse_batchnorms(child)
    return module


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    fused = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
        groups=conv.groups, bias=True,
    )
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return fused


def load_strict(net: nn.Module, state: dict, path, what: str) -> None:
    """load_state_dict(strict=True), with a one-line WeightsError naming the file and what is off."""
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        details = "; ".join(
            f"{label}: {', '.join(keys[:3])}{' …' if len(keys) > 3 else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if keys
        )
        raise WeightsError(f"{path}: not {what} weights ({details})")
    net.load_state_dict(state, strict=True)
