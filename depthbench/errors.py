"""Error types. Every error a user can cause is one of these, with a one-line message that names the
input and says what was expected. The CLI prints the message and exits with ``exit_code`` (no
traceback unless ``--debug``)."""

from __future__ import annotations


class DepthbenchError(Exception):
    """Base class. ``exit_code`` is what the CLI returns: 2 for usage errors, 1 for data errors."""

    exit_code: int = 1


class UsageError(DepthbenchError):
    """Bad argument, unknown name, impossible option combination (CLI exit code 2)."""

    exit_code = 2


class UnknownNameError(UsageError, KeyError):
    """A name that is not in a registry; the message carries a did-you-mean suggestion."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(DepthbenchError):
    """Missing, corrupt or inconsistent data, or a prediction that cannot be evaluated (exit 1)."""

    exit_code = 1


class ConfigError(UsageError):
    """A manifest, recipe or config file that fails validation; the message names file and field."""
