"""Shared CLI plumbing: one-line errors with exit codes.

Exit codes: 0 ok; 1 only for `check` regressions and `--strict` failures; 2 bad input (typed
``EadbenchError``, an unwritable folder, a corrupt file, memory exhausted by an input);
3 missing weights; 130 interrupted (finished work is kept).
"""

from __future__ import annotations

import functools
import os
import sys

import typer

from eadbench.errors import EadbenchError, is_out_of_memory, short_reason

#: the --tracking option's help, one text for every command
TRACKING_HELP = ("Face-tracking protocol (docs/tracking.md): mtcnn-large (default: MTCNN on every frame, its "
                 "pyramid from faces of 1/8 of the shorter side; the same boxes as mtcnn-full on every real clip "
                 "measured, 2x cheaper), mtcnn-full (the whole pyramid), mtcnn-fast (frames downscaled to 384 px) "
                 "or mtcnn-track (key frames only, ~10x cheaper, boxes differ). Recorded with every result.")

def group(help: str) -> typer.Typer:
    """A command group with the house settings: plain Click help (no ``<bool>`` placeholders on
    flags), ``-h`` as well as ``--help``, help when called without a subcommand."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None, add_completion=False,
                       pretty_exceptions_enable=False, context_settings={"help_option_names": ["-h", "--help"]})


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def friendly(fn):
    """Turn EadbenchError, OS errors (unwritable or missing paths) and memory exhaustion into
    one line on stderr and an exit code. Other exceptions are bugs: they keep their traceback
    (set EADBENCH_DEBUG=1 to see the traceback of the handled ones too)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EadbenchError as exc:
            _debug()
            fail(str(exc), exc.exit_code)
        except FileNotFoundError as exc:
            _debug()
            fail(f"{exc.filename or exc}: no such file or folder", 2)
        except OSError as exc:
            _debug()
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{exc.strerror or short_reason(exc)}", 2)
        except KeyboardInterrupt:
            typer.echo("interrupted; finished work is kept, re-run to resume", err=True)
            sys.exit(130)
        except (MemoryError, RuntimeError) as exc:
            if not is_out_of_memory(exc):
                raise
            _debug()
            fail(f"out of memory ({short_reason(exc, 120)}); use shorter clips, fewer workers or a larger "
                 "machine", 2)

    return wrapper


def _debug() -> None:
    if os.environ.get("EADBENCH_DEBUG"):
        import traceback

        traceback.print_exc()


def count(default, *names: str, help: str, min: int = 1):
    """An option counting something (clips, steps, workers, resamples), its lower bound declared
    once: 1, or 0 where 0 means what the help says. -1 is refused by the parser (exit 2), never
    used as a Python slice that silently drops the last clip."""
    return typer.Option(default, *names, help=help, min=min)


#: the --device option's help, one text for every command
DEVICE_HELP = ("Where the networks run: auto (CUDA when available; the rank's GPU under torchrun), cpu, cuda "
               "or cuda:N.")
#: the --weights-dir option's help, one text for every command
WEIGHTS_DIR_HELP = "Folder searched first for pretrained weight files."


def device_option(default: str | None = "auto"):
    """The --device option (``None``: the command's config or the network's own default decides)."""
    return typer.Option(default, "--device", help=DEVICE_HELP)


def weights_dir_option():
    """The --weights-dir option, also read from $EADBENCH_WEIGHTS."""
    return typer.Option(None, "--weights-dir", envvar="EADBENCH_WEIGHTS", help=WEIGHTS_DIR_HELP)


def split_csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def echo_timings(timings: dict, profile: bool) -> None:
    """On stderr: one line of totals and CPU seconds by stage; with ``--profile`` the whole table.
    Nothing when no frame was processed (a refused input keeps its one-line error)."""
    from eadbench.streams import format_stages, stages_line

    if not any(r["frames"] for r in (timings or {}).get("stages", {}).values()):
        return
    typer.echo(stages_line(timings), err=True)
    if profile:
        typer.echo(format_stages(timings.get("stages", {})), err=True)
        staged = sum(r["cpu_seconds"] for r in timings.get("stages", {}).values())
        if timings.get("cpu_seconds"):
            typer.echo(f"{'other':<24}{'':>9}{timings['cpu_seconds'] - staged:>9.2f}   (loading networks, "
                       "hashing inputs, writing results)", err=True)
        if timings.get("process_cpu_seconds"):
            typer.echo(f"{'process':<24}{'':>9}{timings['process_cpu_seconds']:>9.2f}   (all of the above, "
                       "with the interpreter's start and imports)", err=True)
