"""Reading weight files: one reader of torch checkpoints and one of ONNX graphs, each failing with
a one-line WeightsError that names the file."""

from __future__ import annotations

from pathlib import Path

from ..errors import WeightsError

WRAPPERS = ("state_dict", "model", "backbone")  # keys training scripts wrap a state dict in


def read_checkpoint(path: str | Path) -> dict:
    """A torch checkpoint as a flat {key: tensor} state dict, unwrapped from the usual training
    containers and without DataParallel's 'module.' prefixes. No pickled code runs
    (weights_only)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weight file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a bad file
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}); "
                           f"the file is corrupt or of another format") from None
    for key in WRAPPERS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: holds no state dict of tensors")
    return {str(k).removeprefix("module."): v for k, v in obj.items()}


def read_onnx(data: bytes, origin: Path | str = "ONNX model"):
    """(the parsed ONNX model, {initializer name: NumPy array})."""
    try:
        import onnx
        from onnx import numpy_helper

        model = onnx.load_from_string(data)
        return model, {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    except ImportError:
        raise
    except Exception:
        raise WeightsError(f"{origin}: not a readable ONNX model (corrupt, truncated or another format)") from None
