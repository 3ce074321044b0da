"""Optional extras (``akhbar[onnx]``, ``akhbar[serve]``, ``akhbar[ray]``): the error a missing one raises."""

from __future__ import annotations


class MissingDependency(ImportError, ValueError):
    """An optional dependency is not installed; the message gives the ``pip install`` line. Also a
    ValueError, so the CLI prints it as one line."""
