"""Named values the host exports to Prometheus and the run report
(recorded for :func:`weft_sdk.testing.emitted_metrics` in native tests)."""

from __future__ import annotations

from typing import Mapping

from ._host import HOST


def emit(name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
    """Emit ``name = value`` with ``labels``."""
    HOST.emit(name, float(value), list((labels or {}).items()))
