"""The `eadbench` command line: a thin layer over the library.

Each command group lives in its own module of this package; this file only assembles them.
"""

from __future__ import annotations

import sys

import typer

from eadbench import __version__
from eadbench.cli import (
    ablate_cmd,
    builtin_cmd,
    catalog_cmd,
    check_cmd,
    datasets_cmd,
    eadnet_cmd,
    prepare_cmd,
    probe_cmd,
    report_cmd,
    robustness_cmd,
    run_cmd,
    score_cmd,
    syncnet_cmd,
    synth_cmd,
    weights_cmd,
)

app = typer.Typer(
    name="eadbench",
    help=(
        "Reproducible evaluation of audio-driven, emotion-aware talking-head generation: "
        "generate with EAD-Net and baselines on HDTF / MEAD / RAVDESS splits, score with "
        "pinned metric protocols, and write paper tables."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool):
    if value:
        typer.echo(f"eadbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
):
    pass


app.command("run", cls=run_cmd.RunCommand)(run_cmd.run)
app.command("ablate")(ablate_cmd.ablate)
app.command("report")(report_cmd.report)
app.command("check")(check_cmd.check)
app.command("score")(score_cmd.score)
app.command("prepare")(prepare_cmd.prepare)
app.command("synth")(synth_cmd.synth)
app.command("robustness")(robustness_cmd.robustness)
app.add_typer(datasets_cmd.app, name="datasets")
app.add_typer(catalog_cmd.metrics_app, name="metrics")
app.add_typer(catalog_cmd.methods_app, name="methods")
app.add_typer(weights_cmd.app, name="weights")
app.add_typer(eadnet_cmd.app, name="eadnet")
app.add_typer(syncnet_cmd.app, name="syncnet")
app.add_typer(probe_cmd.app, name="probe")
app.add_typer(builtin_cmd.app, name="builtin")


def main() -> None:
    """The console script: a usage error (an unknown option, a value out of range) is one line
    naming the command and exit 2, like every other bad input."""
    try:  # typer (the version pinned) vendors click; older ones use click itself
        from typer._click import exceptions as cx
    except ImportError:  # pragma: no cover
        import click.exceptions as cx

    try:
        rv = app(standalone_mode=False)
    except cx.NoArgsIsHelpError as exc:  # a bare group: its help, as typer prints it
        exc.show()
        sys.exit(exc.exit_code)
    except cx.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "eadbench"
        typer.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
        sys.exit(2)
    except cx.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
