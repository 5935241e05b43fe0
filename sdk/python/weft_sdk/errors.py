"""What goes wrong in a step: the three kinds of WIT `step-error`.

Raise :class:`InvalidConfig` for a wrong config (name the field),
:class:`InvalidInput` for data that does not fit the step (name the column),
and :class:`Internal` for anything else. Any other exception a step raises
reaches the host as ``internal``; every error carries the last frames of its
Python traceback, so the host's message says where it happened.
"""

from __future__ import annotations

from types import TracebackType
from typing import ClassVar

#: How many of the innermost traceback frames an error message shows.
FRAMES = 4


class StepError(Exception):
    """An error of a step; ``kind`` is the WIT case it becomes."""

    kind: ClassVar[str] = "internal"

    @property
    def message(self) -> str:
        """The message, without the kind."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return f"{self.kind.replace('-', ' ')}: {self.message}"


class InvalidConfig(StepError):
    """The step's config is wrong; the message names the field."""

    kind = "invalid-config"


class InvalidInput(StepError):
    """The data (or a state) does not fit the step; the message names the column."""

    kind = "invalid-input"


class Internal(StepError):
    """A bug or an unexpected condition inside the step."""

    kind = "internal"


_BY_KIND: dict[str, type[StepError]] = {
    e.kind: e for e in (InvalidConfig, InvalidInput, Internal)
}


def where(traceback: TracebackType | None, frames: int = FRAMES) -> list[str]:
    """The innermost ``frames`` frames of ``traceback`` as ``dir/file.py:line in name``.

    Frames are read from the traceback objects, not from the source files:
    inside a component there are no files to read, and with stubbed WASI
    opening one would trap.
    """
    found: list[str] = []
    while traceback is not None:
        code = traceback.tb_frame.f_code
        found.append(f"{_short(code.co_filename)}:{traceback.tb_lineno} in {code.co_name}")
        traceback = traceback.tb_next
    return found[-frames:]


def _short(path: str) -> str:
    """The last two components of ``path``, enough to find the file; the
    numbered folders componentize-py files an app's sources under drop."""
    parts = path.replace("\\", "/").split("/")[-2:]
    return "/".join(p for p in parts if not p.isdigit())


def as_step_error(error: BaseException) -> StepError:
    """``error``, caught by the caller, as a step error whose message ends
    with where it was raised, innermost frame first.

    A :class:`StepError` keeps its kind; any other exception becomes
    :class:`Internal`, its message starting with the exception's type.
    """
    message = error.message if isinstance(error, StepError) else f"{type(error).__name__}: {error}"
    traceback = error.__traceback__
    frames = where(traceback.tb_next if traceback else None)  # not the frame that caught it
    if frames:
        # One line: the host shows step errors on one line.
        message += "; raised at " + ", from ".join(reversed(frames))
    kind = error.kind if isinstance(error, StepError) else Internal.kind
    return _BY_KIND.get(kind, Internal)(message)
