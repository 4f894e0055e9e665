"""The ``depthbench`` command line (typer + rich).

Commands live in ``cmd_*.py`` modules of this package, each with ``register(app)``; they import
heavy libraries (torch, transformers) inside the command functions so that start-up stays fast.
Errors: a ``DepthbenchError`` prints one line and exits with its code (2 usage, 1 data) — no
traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import click
import typer

app = typer.Typer(
    name="depthbench",
    help="Monocular depth benchmark: prepare datasets, evaluate models under exact protocols, train, publish.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")) -> None:
    """depthbench command line."""


def _register_commands() -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{module.name}").register(app)


_register_commands()


def _click_exception_types() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """(Exit, Abort, ClickException) classes of click and of typer, whose newer releases vendor
    their own click copy (``typer._click``) with exception classes that are not click's."""
    exits: list[type] = [click.exceptions.Exit]
    aborts: list[type] = [click.exceptions.Abort]
    errors: list[type] = [click.ClickException]
    for name, bucket in (("Exit", exits), ("Abort", aborts)):
        if hasattr(typer, name) and getattr(typer, name) not in bucket:
            bucket.append(getattr(typer, name))
    try:
        from typer._click import exceptions as vendored  # type: ignore[import-not-found]

        errors.append(vendored.ClickException)
    except ImportError:
        pass
    return tuple(exits), tuple(aborts), tuple(errors)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the process exit code (0 ok, 1 data error, 2 usage error)."""
    from depthbench.errors import DepthbenchError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("DEPTHBENCH_DEBUG") == "1"
    if debug:  # accepted anywhere on the command line, not only before the subcommand
        args = ["--debug", *[a for a in args if a != "--debug"]]
    exit_types, abort_types, click_errors = _click_exception_types()
    try:
        app(args=args, prog_name="depthbench", standalone_mode=False)
    except exit_types as exc:
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except abort_types:
        print("aborted", file=sys.stderr)
        return 1
    except click_errors as exc:
        exc.show()  # type: ignore[attr-defined]
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except DepthbenchError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not a user error: one line, the traceback with --debug
        if debug:
            raise
        print(f"error: internal error {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    sys.exit(main())
