"""Verification pairs in the LFW `pairs.txt` format."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError


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
