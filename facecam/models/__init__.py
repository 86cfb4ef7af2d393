"""Networks and their weight loaders. Nothing here loads a model at import time.

Embedders by architecture, in one table: each row names the module whose load(name or weight
file, device=) builds it, the weight-file suffix that, given as --model, is read as that
architecture, and whether users bring weights of it (`facecam models import FILE --arch NAME`).
A new architecture is its module and one row here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    name: str  # as the catalog and --arch name it
    loader: str  # the module of facecam.models with its load()
    about: str
    file_suffix: str | None = None  # a file of this suffix given as --model is of this architecture
    importable: bool = False  # users bring its weights (facecam models import)


ARCHITECTURES = (
    Architecture("sface", "sface", "SFace, 128-d (its weights ship in facecam; or the OpenCV zoo's int8 .onnx)", ".onnx"),
    Architecture("dlib-resnet", "dlib_resnet", "dlib's face recognition ResNet, 128-d (face_recognition's; .dat)", ".dat"),
    Architecture("ir50", "irse", "IR-50 in face.evoLVe's layout, e.g. backbone_ir50_asia.pth", importable=True),
    Architecture("iresnet50", "irse", "iresnet50 in insightface arcface_torch's layout (.pth)", importable=True),
    Architecture("onnx", "onnx_embedder", "any ONNX embedder graph, run by onnxruntime, e.g. w600k_r50.onnx", importable=True),
)
IMPORTABLE = tuple(a.name for a in ARCHITECTURES if a.importable)


def architecture(name: str) -> Architecture:
    from ..errors import UsageError

    for arch in ARCHITECTURES:
        if arch.name == name:
            return arch
    raise UsageError(f"unknown architecture {name!r}: use {', '.join(a.name for a in ARCHITECTURES)}")


def load_embedder(model: str | None = None, *, device: str = "auto"):
    """An Embedder by catalog name (None: the default) or by weight-file path."""
    import importlib
    from pathlib import Path

    from ..errors import UsageError
    from . import catalog

    by_file = next((a for a in ARCHITECTURES if model and a.file_suffix == Path(model).suffix), None)
    if by_file is not None:
        return importlib.import_module(f".{by_file.loader}", __name__).load(model, device=device)
    entry = catalog.get(model) if model else catalog.default("embedder")
    if entry.kind != "embedder":
        raise UsageError(f"{entry.name} is a {entry.kind}, not a face embedder")
    arch = architecture(entry.arch)
    return importlib.import_module(f".{arch.loader}", __name__).load(entry.name, device=device)
