"""5-point similarity alignment: a face crop in the pose an embedder was trained on."""

from __future__ import annotations

import numpy as np

# The standard ArcFace template for 112x112 crops (insightface), in the landmark order of
# types.Detection: left eye, right eye, nose tip, left mouth corner, right mouth corner.
ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def similarity_matrix(landmarks: np.ndarray, template: np.ndarray, weights=None) -> np.ndarray:
    """The 2x3 least-squares similarity transform (rotation, uniform scale, shift) that maps
    `landmarks` (5, 2) onto `template` (5, 2).

    weights: optional whole-number weight per point. Weighted least squares with integer weights is
    the plain fit on the points repeated that many times, which is how they are applied.
    """
    from skimage.transform import SimilarityTransform

    src = np.asarray(landmarks, dtype=np.float64)
    dst = np.asarray(template, dtype=np.float64)
    if weights is not None:
        src, dst = np.repeat(src, weights, axis=0), np.repeat(dst, weights, axis=0)
    if hasattr(SimilarityTransform, "from_estimate"):  # scikit-image >= 0.26
        tform = SimilarityTransform.from_estimate(src, dst)
    else:
        tform = SimilarityTransform()
        tform.estimate(src, dst)
    return tform.params[:2].astype(np.float32)


def align(image_bgr: np.ndarray, landmarks: np.ndarray, template: np.ndarray, size: tuple[int, int],
          weights=None) -> np.ndarray:
    """Warp the face with these landmarks onto `template`: BGR uint8 crop of `size` (width, height).

    Pixels outside the source image are black, as in the embedders' training crops.
    """
    import cv2

    matrix = similarity_matrix(landmarks, template, weights)
    return cv2.warpAffine(image_bgr, matrix, size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


# The crop kept with each registry sample: the ArcFace geometry centred in 224x224, wide enough to
# hold every embedder's crop (dlib's 150x150 chip spans about 95 of these pixels), so that the
# registry can be re-embedded with another model from the crop and its landmarks alone.
CANONICAL_SIZE = (224, 224)
CANONICAL_TEMPLATE = ARCFACE_112 + 56.0


def canonical_crop(image_bgr: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(BGR uint8 224x224 crop, the 5 landmarks (5, 2) in that crop's pixels)."""
    import cv2

    matrix = similarity_matrix(landmarks, CANONICAL_TEMPLATE)
    crop = cv2.warpAffine(image_bgr, matrix, CANONICAL_SIZE, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    moved = np.asarray(landmarks, np.float32) @ matrix[:, :2].T + matrix[:, 2]
    return crop, moved.astype(np.float32)
