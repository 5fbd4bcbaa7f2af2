"""Shared CLI plumbing: one-line errors with exit codes."""

from __future__ import annotations

import functools
import sys

import typer

from eadbench.errors import EadbenchError


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def friendly(fn):
    """Turn EadbenchError (and bad-argument ValueError) into one line on stderr + exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EadbenchError as exc:
            fail(str(exc), exc.exit_code)
        except FileNotFoundError as exc:
            fail(f"{exc.filename or exc}: no such file or folder", 2)
        except KeyboardInterrupt:
            typer.echo("interrupted; finished work is kept, re-run to resume", err=True)
            sys.exit(130)

    return wrapper


def split_csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]
