"""ONNX Runtime for akhbar packages: the export (:mod:`akhbar.onnx.export`) and the runtime backend
(:mod:`akhbar.onnx.runtime`), an optional extra (``pip install "akhbar[onnx]"``).

Nothing here imports onnx or onnxruntime at import time; a missing one is a :class:`MissingDependency` that
says how to install it.
"""

from __future__ import annotations

from ..extras import MissingDependency

ONNX_DIR = "onnx"  # inside a package: model.onnx, and model.int8.onnx when exported with --quantize int8
INSTALL_ONNX = 'pip install "akhbar[onnx]"'

__all__ = ["INSTALL_ONNX", "ONNX_DIR", "MissingDependency", "import_onnxruntime"]


def import_onnxruntime():
    """``onnxruntime``, or a :class:`MissingDependency` that says how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependency(f"the onnx backend needs onnxruntime, which is not installed: {INSTALL_ONNX}") from None
    return onnxruntime
