"""Networks and their weight loaders. Nothing here loads a model at import time."""


def load_embedder(model: str | None = None, *, device: str = "auto"):
    """An Embedder by catalog name (None: the default) or by weight-file path."""
    from pathlib import Path

    from ..errors import UsageError
    from . import catalog

    if model and Path(model).suffix == ".dat":
        from . import dlib_resnet

        return dlib_resnet.load(model, device=device)
    if model and Path(model).suffix == ".onnx":
        from . import sface

        return sface.load(model, device=device)
    entry = catalog.get(model) if model else catalog.default("embedder")
    if entry.kind != "embedder":
        raise UsageError(f"{entry.name} is a {entry.kind}, not a face embedder")
    if entry.arch == "dlib-resnet":
        from . import dlib_resnet

        return dlib_resnet.load(entry.name, device=device)
    if entry.arch in ("ir50", "iresnet50"):
        from . import irse

        return irse.load(entry.name, device=device)
    if entry.arch == "sface":
        from . import sface

        return sface.load(entry.name, device=device)
    if entry.arch == "onnx":
        from . import onnx_embedder

        return onnx_embedder.load(entry.name, device=device)
    raise UsageError(f"{entry.name}: no loader for architecture {entry.arch}")
