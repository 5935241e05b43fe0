"""Logging into the host's log, tagged with the step's name (printed to
stderr in native tests)."""

from __future__ import annotations

from ._host import HOST


def trace(message: str) -> None:
    """Trace message."""
    HOST.log("trace", message)


def debug(message: str) -> None:
    """Debug message."""
    HOST.log("debug", message)


def info(message: str) -> None:
    """Informational message."""
    HOST.log("info", message)


def warn(message: str) -> None:
    """Warning."""
    HOST.log("warn", message)


def error(message: str) -> None:
    """Error."""
    HOST.log("error", message)
