"""How counts and names read in what facecam prints: "1 sighting", "2 sightings", and a folder
name turned into a person's name."""

from __future__ import annotations

import re

# nouns whose plural is not the noun + "s"
_IRREGULAR = {"person": "people", "face crop": "face crops", "match": "matches", "batch": "batches"}


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and the noun in the number it takes: counted(1, "sighting") == "1 sighting"."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural or _IRREGULAR.get(noun) or noun + 's'}"


def folder_person(folder: str) -> str:
    """The name a folder of someone's photos stands for: "alex_lacamoire" -> "Alex Lacamoire".
    A folder name that already has capitals or spaces is the name as written."""
    if any(c.isupper() for c in folder) or " " in folder:
        return folder
    name = " ".join(w for w in re.split(r"[_.\s]+", folder) if w)
    return re.sub(r"(^|[ -])(\w)", lambda m: m.group(1) + m.group(2).upper(), name) or folder
