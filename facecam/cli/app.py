"""The `facecam` command, composed: each module owns its commands (one Typer app per command
group, as Typer's "one file per command group" has it), added here in the order --help lists them."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import ui
from ..version import __version__
from . import cameras, deploy, detection, enrolment, evaluation, grouping, history, models, notify, people, recognition, serve

app = typer.Typer(
    name="facecam",
    help="Enrol people in front of a camera and recognise them live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
for commands in (detection.app, enrolment.app, recognition.app, cameras.app, grouping.app, people.app, serve.app,
                 evaluation.app):
    app.add_typer(commands)
app.add_typer(people.registry_app, name="registry")
app.add_typer(models.models_app, name="models")
app.add_typer(evaluation.eval_app, name="eval")
app.add_typer(history.history_app, name="history")
app.add_typer(history.report_app, name="report")
app.add_typer(grouping.unknowns_app, name="unknowns")
app.add_typer(notify.notify_app, name="notify")
app.add_typer(deploy.config_app, name="config")


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
