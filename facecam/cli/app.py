"""The Typer application and its command groups; the command modules add their commands here."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import ui
from ..version import __version__

app = typer.Typer(
    name="facecam",
    help="Enrol people in front of a camera and recognise them live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
registry_app = typer.Typer(help="Check, restore, re-embed, export and import the registry.", no_args_is_help=True)
models_app = typer.Typer(help="The weight files facecam knows: list, verify and import them.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure accuracy on your own labelled data.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")
app.add_typer(models_app, name="models")
app.add_typer(eval_app, name="eval")


def _version(value: bool) -> None:
    if value:
        ui.out.print(f"facecam {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Enrol people in front of a camera and recognise them live."""
