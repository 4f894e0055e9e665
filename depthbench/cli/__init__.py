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


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the process exit code."""
    from depthbench.errors import DepthbenchError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("DEPTHBENCH_DEBUG") == "1"
    try:
        app(args=args, prog_name="depthbench", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        return 1
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except DepthbenchError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def run() -> None:
    sys.exit(main())
