"""A deployment file: the sources and settings of a recognising process in one TOML file, for
`recognize --config FILE`, `serve --config FILE` and `facecam config check FILE`.

    registry = "/var/lib/facecam/registry"
    history = "postgresql://facecam:secret@db.local/facecam"
    mqtt = "mqtt://broker.local"

    [sources.door]
    url = "rtsp://viewer:secret@10.0.0.11/stream2"
    mask = ["0,0,640,40"]          # the clock in the corner
    threshold = 0.85
    away_after = 20

    [sources.desk]
    camera = 0
    enabled = false

The top-level keys are the options of `recognize` and `serve` (`detect_threshold` or
`detect-threshold`), checked as the command line checks them by the caller; here the file's
shape is: each source has a `url` (a stream, a file, a folder) or a `camera` index, and may have
`mask` (a --motion-mask value or a list of them), `threshold`, `away_after` and `enabled`. Paths
are relative to the file's folder, so a file and its mask images move together. Every
problem is one line naming the table, the key and the line: `facecam.toml line 7: [sources.door] mask: ...`.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError

SOURCE_KEYS = {"url": str, "camera": int, "mask": (str, list), "threshold": (int, float), "away_after": (int, float),
               "enabled": bool}
PER_SOURCE = ("camera", "source", "motion_mask")  # options the file gives per source, not at the top


@dataclass(frozen=True)
class Source:
    name: str
    url: str | None = None
    camera: int | None = None
    mask: tuple[str, ...] = ()
    threshold: float | None = None
    away_after: float | None = None
    enabled: bool = True


@dataclass
class Deployment:
    path: Path
    settings: dict  # top-level key (with underscores) -> value, as written
    sources: list[Source] = field(default_factory=list)
    text: str = ""
    written: dict = field(default_factory=dict)  # top-level key (with underscores) -> as the file writes it

    def where(self, key: str | None, table: str | None = None) -> str:
        """`FILE line N: [table] key` (the line where the key is written, else the table's);
        key None: the table's own line."""
        return _where(self.path, self.text, self.written.get(key, key) if table is None else key, table)

    def beside(self, written: str) -> str:
        """A path the file writes, relative to the file's folder (as an include is)."""
        return str(self.path.parent / Path(written).expanduser())

    def enabled(self) -> list[Source]:
        return [s for s in self.sources if s.enabled]


def load(path: Path, options: set[str]) -> Deployment:
    """The file at `path`, its shape checked; options: the top-level keys allowed (the command's
    option names, with underscores)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", param="config") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot be read ({getattr(err, 'strerror', None) or err})", param="config") from None
    try:
        tree = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{path}: not TOML ({err})", param="config") from None
    deployment = Deployment(path, {}, [], text)
    for key, value in tree.items():
        name = key.replace("-", "_")
        if key == "sources":
            if not isinstance(value, dict):
                raise UsageError(f"{deployment.where(key)}: a table of sources, [sources.NAME]")
            deployment.sources = [_source(deployment, name, entry) for name, entry in value.items()]
        elif name in PER_SOURCE:
            raise UsageError(f"{deployment.where(key)}: give sources as [sources.NAME] tables (url = ..., camera = N, mask = ...)")
        elif name not in options:
            close = difflib.get_close_matches(name, sorted(options), n=2)
            raise UsageError(f"{deployment.where(key)}: not a setting" + (f" (perhaps {', '.join(close)})" if close else ""))
        else:
            deployment.settings[name], deployment.written[name] = value, key
    return deployment


def _source(deployment: Deployment, name: str, entry) -> Source:
    table = f"sources.{name}"
    if not isinstance(entry, dict):
        raise UsageError(f"{deployment.where(None, table)}: a table, [sources.{name}], with url = ... or camera = N")
    if not re.fullmatch(r"[\w-]{1,40}", name):
        raise UsageError(f"{deployment.where(None, table)}: a source's name is a word (letters, digits, - or _), "
                         "at most 40 characters")
    for key, value in entry.items():
        kind = SOURCE_KEYS.get(key.replace("-", "_"))
        if kind is None:
            raise UsageError(f"{deployment.where(key, table)}: not a source's setting ({', '.join(SOURCE_KEYS)})")
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            want = {str: "a string", int: "a whole number", bool: "true or false"}.get(kind, "a number")
            if key == "mask":
                want = 'a string or a list of strings ("x1,y1,x2,y2" or a mask image)'
            raise UsageError(f"{deployment.where(key, table)}: {want}, not {value!r}")
    values = {k.replace("-", "_"): v for k, v in entry.items()}
    if ("url" in values) == ("camera" in values):
        raise UsageError(f"{deployment.where(None, table)}: needs a url or a camera, one of them")
    if "camera" in values and not 0 <= values["camera"] <= 63:
        raise UsageError(f"{deployment.where('camera', table)}: a camera index from 0 to 63")
    mask = values.get("mask", ())
    mask = (mask,) if isinstance(mask, str) else tuple(mask)
    if not all(isinstance(m, str) for m in mask):
        raise UsageError(f"{deployment.where('mask', table)}: a list of strings")
    mask = tuple(_beside_if_there(deployment, m) for m in mask)
    url = values.get("url")
    if "threshold" in values and not -1.0 <= values["threshold"] <= 1.0:
        raise UsageError(f"{deployment.where('threshold', table)}: a score from 0 to 1 (a cosine from -1 for an uncalibrated model)")
    if "away_after" in values and values["away_after"] < 1:
        raise UsageError(f"{deployment.where('away_after', table)}: at least 1 second")
    if url is not None and "://" not in url:
        url = deployment.beside(url)  # a file or a folder
    return Source(name, url, values.get("camera"), mask, values.get("threshold"), values.get("away_after"),
                  values.get("enabled", True))


def _beside_if_there(deployment: Deployment, mask: str) -> str:
    """A mask image the file names, relative to the file's folder; a rectangle, or a file that is
    not there, as written (so that its error quotes the file's own words)."""
    if mask.count(",") == 3:
        return mask
    beside = deployment.beside(mask)
    return beside if Path(beside).is_file() else mask


def _where(path: Path, text: str, key: str | None, table: str | None) -> str:
    """`FILE line N: [table] key`: the first line writing `key` inside `table` (the top when None),
    or the table's header when key is None."""
    current, found = None, None
    header = re.compile(r"\s*\[\s*([^\]]+?)\s*\]")
    bare = re.escape(key or "").replace("_", "[-_]").replace("\\-", "[-_]")
    for number, line in enumerate(text.splitlines(), 1):
        if (match := header.match(line)) is not None:
            current = match.group(1).replace('"', "")
            if key is None and current == table:
                found = number
                break
            continue
        if key is not None and current == table and re.match(rf'\s*"?{bare}"?\s*=', line):
            found = number
            break
    label = f"[{table}]" if key is None else f"[{table}] {key}" if table is not None else key
    return f"{path}" + (f" line {found}" if found else "") + f": {label}"
