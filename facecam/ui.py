"""Everything the user sees in the terminal: the only module that imports rich.

Every string shown goes through `safe`: names, paths and messages may hold control characters
(an escape sequence in a file or person's name would otherwise rewrite the terminal), and rich's
markup is never applied to them.
"""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
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


def table(title: str | None, columns: list[str], rows: list[list]) -> None:
    t = Table(title=Text(safe(title)) if title else None, title_justify="left")
    for column in columns:
        t.add_column(column, overflow="fold")
    for row in rows:
        t.add_row(*[Text(safe(v)) for v in row])
    out.print(t)


def progress(enabled: bool = True) -> Progress:
    """A progress bar on stderr (hidden when disabled or stderr is not a terminal)."""
    return Progress(
        TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, disable=not enabled, transient=True,
    )
