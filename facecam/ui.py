"""Everything the user sees in the terminal: the only module that imports rich.

Every string shown goes through `safe`: names, paths and messages may hold control characters
(an escape sequence in a file or person's name would otherwise rewrite the terminal), and rich's
markup is never applied to them.
"""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def safe(value) -> str:
    """`value` as text with every unprintable character (escape, bell, zero-width, ...) escaped."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _line(prefix: str, style: str, message: str) -> Text:
    line = Text(prefix, style=style) if prefix else Text()
    line.append(safe(message))
    return line


def error(message: str) -> None:
    """One line on stderr: `error: <message>`."""
    err.print(_line("error: ", "bold red", message), soft_wrap=True)


def warn(message: str) -> None:
    err.print(_line("warning: ", "yellow", message), soft_wrap=True)


def info(message: str) -> None:
    err.print(_line("", "", message), soft_wrap=True)


def json_line(obj: dict) -> None:
    """One JSON object per line on stdout, flushed so pipes see it at once (json escapes control
    characters itself)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: list[str], rows: list[list], *, empty: str | None = None,
          whole: tuple[str, ...] = ("name",), shared: tuple[str, ...] = ()) -> None:
    """A table on stdout that fits the terminal. A column narrows by wrapping between words, never
    inside one; the `whole` columns (names) never wrap. A `shared` column whose value is the same
    in every row is said once above the table instead ("source: door"). With no rows, `empty`
    is printed as one line instead (on stderr, as the other messages)."""
    if not rows and empty is not None:
        info(empty)
        return
    cells = [[safe(v) for v in row] for row in rows]
    said = [k for k, c in enumerate(columns) if c in shared and len({row[k] for row in cells}) == 1]
    if title:
        out.print(Text(safe(title)), soft_wrap=True)
    for k in said:
        out.print(Text(f"{columns[k]}: {cells[0][k]}"), soft_wrap=True)
    kept = [k for k in range(len(columns)) if k not in said]
    heads = [columns[k] for k in kept]
    body = [[row[k] for k in kept] for row in cells]
    t = Table()
    for head, width in zip(heads, _widths(heads, body, whole, out.width)):
        t.add_column(head, width=width, overflow="fold")
    for row in body:
        t.add_row(*map(Text, row))
    out.print(t)


def _widths(heads: list[str], body: list[list[str]], whole: tuple[str, ...], room: int) -> list[int | None]:
    """Column widths that fit `room` characters: the widest column narrows first, down to its
    longest word (its whole longest cell for the `whole` columns). In a terminal too narrow for
    that, rich chooses (words are broken then)."""
    texts = [[head, *(row[k] for row in body)] for k, head in enumerate(heads)]
    widths = [max(len(t) for t in col) for col in texts]
    least = [w if head in whole else max(len(word) for t in col for word in t.split() or [""])
             for head, col, w in zip(heads, texts, widths)]
    room -= 3 * len(heads) + 1  # borders and padding
    while sum(widths) > room:
        k = max(range(len(widths)), key=lambda i: (widths[i] > least[i], widths[i]))
        if widths[k] <= least[k]:
            return [None] * len(widths)
        widths[k] -= 1
    return [max(w, 1) for w in widths]


def short_source(source: str) -> str:
    """A source as a table shows it: a file by its name (the full path is in --json), a camera or
    URL as it is."""
    text = str(source)
    return text if "://" in text or "/" not in text else text.rstrip("/").rsplit("/", 1)[-1]


class _Rate(ProgressColumn):
    """Items per second, once there is a measure."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        return Text(f"{task.speed:.1f} {self.unit}/s" if task.speed else "")


def progress(enabled: bool = True, unit: str | None = None) -> Progress:
    """A progress bar on stderr (hidden when disabled or stderr is not a terminal); with `unit`,
    the rate too ("31.9 frames/s")."""
    rate = (_Rate(unit),) if unit else ()
    return Progress(
        TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), *rate, TimeRemainingColumn(),
        console=err, disable=not enabled or not err.is_terminal, transient=True,
    )
