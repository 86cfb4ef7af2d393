"""Everything the user sees in the terminal: the only module that imports rich."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def error(message: str) -> None:
    """One line on stderr: `error: <message>`."""
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True, emoji=False)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}", markup=True, soft_wrap=True, emoji=False)


def info(message: str) -> None:
    err.print(message, markup=False, soft_wrap=True, emoji=False)


def json_line(obj: dict) -> None:
    """One JSON object per line on stdout, flushed so pipes see it at once."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: list[str], rows: list[list]) -> None:
    t = Table(title=title, title_justify="left")
    for column in columns:
        t.add_column(column, overflow="fold")
    for row in rows:
        t.add_row(*[str(v) for v in row])
    out.print(t)


def progress(enabled: bool = True) -> Progress:
    """A progress bar on stderr (hidden when disabled or stderr is not a terminal)."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, disable=not enabled, transient=True,
    )
