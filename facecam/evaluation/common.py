"""What the protocols share: the subject's face of a labelled photo, progress reporting."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import FacecamError

Progress = Callable[[int, int], None]  # (done, total), called after each item


def no_progress(done: int, total: int) -> None:
    pass


def central_vector(path: Path, detector, embedder) -> tuple[np.ndarray | None, str | None]:
    """(vector of the face nearest the photo's centre, None) or (None, why there is none).
    The central face is the subject of a portrait or an LFW photo."""
    from ..images import read_image

    try:
        image = read_image(path)
    except FacecamError as err:
        return None, str(err)
    centre = np.array(image.shape[1::-1]) / 2
    face = min(detector.detect(image), key=lambda f: float(np.linalg.norm((f.box[:2] + f.box[2:]) / 2 - centre)),
               default=None)
    if face is None:
        return None, f"{path}: no face found"
    return embedder.embed(image, [face])[0], None
