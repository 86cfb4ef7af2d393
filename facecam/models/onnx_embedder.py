"""Face embedders held as ONNX files (insightface's w600k_r50.onnx or glintr100.onnx, face.evoLVe
exports, SFace), run by onnxruntime (an optional extra: pip install 'facecam[onnx]').

What the network takes is read from the graph and can be given instead: the input's layout (NCHW
or NHWC) and size, the colour order (RGB by default, as ArcFace-style models are trained), and
the normalisation: none when the graph's input feeds an arithmetic node first (the graph
normalises itself, as SFace does), else (x - 127.5) / 127.5 as for insightface's models. The
output must be one (N, D) vector per face. The face is aligned with the ArcFace 5-point template
scaled to the input size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..align import ARCFACE_112
from ..calibration import ScoreScale
from ..errors import Remedy, UsageError, WeightsError
from ..words import counted
from .base import Embedder
from .weights import read_onnx

NORMALISING_OPS = {"Sub", "Mul", "Div", "Add"}


@dataclass(frozen=True)
class InputSpec:
    """How crops are fed to the graph."""

    width: int
    height: int
    layout: str  # "nchw" or "nhwc"
    rgb: bool
    mean: float
    std: float
    batch: int | None  # a fixed batch size of the graph, or None when it takes any


def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else None for d in value_info.type.tensor_type.shape.dim]


def inspect(data: bytes, origin, *, input_size: tuple[int, int] | None = None, layout: str | None = None,
            rgb: bool = True, mean: float | None = None, std: float | None = None) -> tuple[InputSpec, bytes]:
    """The input spec of an embedder graph (options given override what the graph says, and are
    checked against it), and the graph's bytes with unused inputs dropped (onnxruntime refuses
    graphs that list stale weight names as inputs, as the SFace file does)."""
    model, inits = read_onnx(data, origin)
    consumed = {name for node in model.graph.node for name in node.input}
    inputs = [i for i in model.graph.input if i.name not in inits and i.name in consumed]
    if len(inputs) != 1 or len(_dims(inputs[0])) != 4:
        raise WeightsError(f"{origin}: not a face embedder: it needs one image input of rank 4, "
                           f"it has {counted(len(inputs), 'input')}" + (f" of rank {len(_dims(inputs[0]))}" if len(inputs) == 1 else ""))
    if len(model.graph.output) < 1 or len(_dims(model.graph.output[0])) != 2:
        raise WeightsError(f"{origin}: not a face embedder: its first output is not one (N, D) vector per face")
    dims = _dims(inputs[0])
    found = "nchw" if dims[1] == 3 else "nhwc" if dims[3] == 3 else None
    layout = layout or found
    if layout not in ("nchw", "nhwc") or (found and layout != found):
        if not found:
            raise UsageError(f"{origin}: the graph's input is {dims}", Remedy("says which it is", "layout", "nchw|nhwc"))
        raise UsageError(f"{origin}: the graph's input {dims} is {found}, not {layout}")
    spatial = (dims[3], dims[2]) if layout == "nchw" else (dims[2], dims[1])
    if input_size is None and None in spatial:
        raise UsageError(f"{origin}: the graph does not fix its input size", Remedy("gives it", "input_size", "WxH"))
    if input_size is not None and None not in spatial and tuple(input_size) != spatial:
        raise UsageError(f"{origin}: the graph takes {spatial[0]}x{spatial[1]} crops, not {input_size[0]}x{input_size[1]}")
    width, height = input_size or spatial
    normalises = any(node.op_type in NORMALISING_OPS for node in model.graph.node if inputs[0].name in node.input)
    spec = InputSpec(width=int(width), height=int(height), layout=layout, rgb=rgb,
                     mean=(0.0 if normalises else 127.5) if mean is None else float(mean),
                     std=(1.0 if normalises else 127.5) if std is None else float(std), batch=dims[0])
    if spec.std == 0:
        raise UsageError("must not be 0", param="std")
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    return spec, model.SerializeToString()


def template(width: int, height: int) -> np.ndarray:
    """The ArcFace 5-point template for a width x height crop (insightface's rule: multiples of 112
    scale it, others scale it for 128 with an 8-pixel shift)."""
    if width % 112 == 0:
        points = ARCFACE_112 * (width / 112)
    else:
        ratio = width / 128
        points = ARCFACE_112 * ratio + np.array([8.0 * ratio, 0.0], np.float32)
    return (points * np.array([1.0, height / width], np.float32)).astype(np.float32)


class OnnxEmbedder(Embedder):
    def __init__(self, *, session, spec: InputSpec, **kwargs):
        super().__init__(input_size=(spec.width, spec.height), template=template(spec.width, spec.height),
                         rgb=spec.rgb, batch_size=1 if spec.batch == 1 else 32, **kwargs)
        self.session, self.spec = session, spec
        self._input = session.get_inputs()[0].name

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        x = (batch.astype(np.float32) - self.spec.mean) / self.spec.std
        if self.spec.layout == "nchw":
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        out = np.asarray(self.session.run(None, {self._input: x})[0], np.float32)
        if out.ndim != 2 or len(out) != len(batch) or not np.all(np.isfinite(out)):
            raise WeightsError(f"{self.name}: the graph gave {out.shape} for {len(batch)} faces, not one finite vector each")
        return out


def session(graph: bytes, origin):
    try:
        import onnxruntime as ort
    except ImportError:
        raise UsageError("ONNX embedders need onnxruntime: pip install 'facecam[onnx]'") from None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    from ..config import cpu_threads

    options.intra_op_num_threads = cpu_threads()
    try:
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own error types
        raise WeightsError(f"{origin}: onnxruntime cannot run this graph ({str(err).splitlines()[0][:200]})") from None


def build(path: Path, spec: InputSpec, *, name: str, sha256: str, threshold: float, knots=None) -> OnnxEmbedder:
    """An embedder over an ONNX file whose input spec is known (from `inspect`, or an import)."""
    data = Path(path).read_bytes()
    _, graph = inspect(data, path, input_size=(spec.width, spec.height), layout=spec.layout, rgb=spec.rgb,
                       mean=spec.mean, std=spec.std)
    runner = session(graph, path)
    probe = OnnxEmbedder(session=runner, spec=spec, name=name, sha256=sha256, device="cpu", dim=0,
                         default_threshold=threshold, scale=ScoreScale(knots))
    dim = int(probe._forward(np.full((1, spec.height, spec.width, 3), 128, np.uint8)).shape[1])
    probe.dim = dim
    return probe


def load(name: str, *, device: str = "auto") -> OnnxEmbedder:
    """An imported ONNX embedder, by its catalog name (runs on the CPU through onnxruntime)."""
    from . import catalog

    entry = catalog.get(name)
    spec = InputSpec(**entry.source["input"])
    return build(catalog.locate(entry), spec, name=entry.name, sha256=entry.sha256, threshold=entry.threshold,
                 knots=entry.score_knots)


def spec_json(spec: InputSpec) -> dict:
    return asdict(spec)
