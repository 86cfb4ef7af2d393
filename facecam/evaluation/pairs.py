"""Face verification on labelled pairs in the LFW `pairs.txt` format (the 10-fold protocol)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError
from .common import Progress, central_vectors, no_progress
from .metrics import accuracy, kfold_accuracy, pair_folds, tar_at_far


def read_pairs(path: str | Path) -> list[tuple[tuple[str, int], tuple[str, int], bool]]:
    """((name, image number), (name, image number), same person) for every pair in the file.

    The format: a header line (folds and pairs per fold, e.g. "10 300"), then `name n1 n2` for a
    pair of the same person and `name1 n1 name2 n2` for two people, separated by white space.
    Image n of a person is <name>/<name>_<n:04d>.jpg.
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a pairs file (not text)") from None
    pairs = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split()
        try:
            if len(fields) == 3:
                pairs.append(((fields[0], int(fields[1])), (fields[0], int(fields[2])), True))
            elif len(fields) == 4:
                pairs.append(((fields[0], int(fields[1])), (fields[2], int(fields[3])), False))
            elif fields:
                raise ValueError
        except ValueError:
            raise InputError(f"{path}:{number}: not a pairs line: {line.strip()!r}") from None
    return pairs


def image_path(root: str | Path, key: tuple[str, int]) -> Path:
    name, n = key
    return Path(root) / name / f"{name}_{n:04d}.jpg"


@dataclass(frozen=True)
class PairsResult:
    """Accuracies are shares of pairs (0-1); thresholds are on the model's score scale."""

    model: str
    pairs: int
    same: int
    different: int
    accuracy_10fold: float
    accuracy_10fold_std: float
    threshold: float
    threshold_cosine: float
    accuracy_at_threshold: float
    tar_at_far_1e_2: float
    threshold_at_far_1e_2: float
    tar_at_far_1e_3: float
    threshold_at_far_1e_3: float
    skipped: list = field(default_factory=list)  # {"pair": number from 1, "reason"}: counted as errors

    def to_json(self) -> dict:
        return {k.replace("_1e_", "_1e-"): v for k, v in asdict(self).items()}


def verify_pairs(pairs_file: str | Path, root: str | Path, detector, embedder,
                 progress: Progress = no_progress) -> PairsResult:
    """Verification on an LFW-format pairs file over root/<name>/<name>_NNNN.jpg: accuracy with the
    threshold chosen by 10-fold cross-validation (the file's folds, or pair i in fold i mod 10),
    accuracy at the model's threshold, TAR at FAR 1e-2 and 1e-3. A pair whose face is not found
    counts as an error."""
    pair_list = read_pairs(pairs_file)
    if not pair_list:
        raise UsageError(f"{pairs_file}: no pairs")
    vectors, problems = {}, {}
    keys = sorted({k for a, b, _ in pair_list for k in (a, b)})
    for key, (vector, problem) in zip(keys, central_vectors([image_path(root, k) for k in keys], detector, embedder,
                                                          progress)):
        if vector is None:
            problems[key] = problem
        else:
            vectors[key] = vector
    scores = np.array([float(vectors[a] @ vectors[b]) if a in vectors and b in vectors else np.nan
                       for a, b, _ in pair_list])
    same = np.array([s for _, _, s in pair_list])
    mean, std, _ = kfold_accuracy(scores, same, fold_of=pair_folds(pairs_file, len(pair_list)))
    tar2, t2 = tar_at_far(scores[same], scores[~same], 1e-2)
    tar3, t3 = tar_at_far(scores[same], scores[~same], 1e-3)
    skipped = [{"pair": i + 1, "reason": problems.get(a) or problems.get(b)}
               for i, (a, b, _) in enumerate(pair_list) if np.isnan(scores[i])]
    return PairsResult(
        model=embedder.name, pairs=len(pair_list), same=int(same.sum()), different=int((~same).sum()),
        accuracy_10fold=round(mean, 5), accuracy_10fold_std=round(std, 5), threshold=embedder.default_threshold,
        threshold_cosine=round(embedder.min_cosine(), 4),
        accuracy_at_threshold=round(accuracy(scores, same, embedder.min_cosine()), 5),
        tar_at_far_1e_2=round(tar2, 5), threshold_at_far_1e_2=round(embedder.scale.score(t2), 4),
        tar_at_far_1e_3=round(tar3, 5), threshold_at_far_1e_3=round(embedder.scale.score(t3), 4), skipped=skipped)
