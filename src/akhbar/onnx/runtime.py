"""Run a package's ONNX export with ONNX Runtime, called like the transformers model it stands in for."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from transformers import AutoConfig

from . import ONNX_DIR, import_onnxruntime


class OnnxModel:
    """A package's ONNX export run by ONNX Runtime (CPUExecutionProvider), called like the transformers model
    it stands in for: ``model(input_ids=..., attention_mask=...).logits`` is a CPU float tensor.

    Inputs the graph has but the caller leaves out get the transformers defaults: ``attention_mask`` all
    ones, ``token_type_ids`` all zeros. Intra-op threads are ONNX Runtime's default (one per physical core).
    """

    device = torch.device("cpu")

    def __init__(self, path: str | Path, config):
        ort = import_onnxruntime()
        self.path = Path(path)
        self.config = config
        self.session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    @classmethod
    def from_package(cls, directory: str | Path, onnx_file: str = "model.onnx") -> OnnxModel:
        """Open ``<directory>/onnx/<onnx_file>`` (a file the package's manifest lists, once verified).

        Raises:
            ValueError: ``onnx_file`` is a path rather than a file name.
            FileNotFoundError: the package has no such export; says how to write it.
        """
        directory = Path(directory)
        if not onnx_file or Path(onnx_file).name != onnx_file:
            raise ValueError(
                f"onnx_file must be a file name in {directory / ONNX_DIR} (e.g. model.onnx), not {onnx_file!r}"
            )
        path = directory / ONNX_DIR / onnx_file
        if not path.is_file():
            quantize = " --quantize int8" if ".int8." in onnx_file else ""
            raise FileNotFoundError(
                f"{path}: not found; the package has no ONNX export {onnx_file!r} yet: run `akhbar export-onnx "
                f"{directory}{quantize}` first (or use the torch backend)"
            )
        import_onnxruntime()  # the install hint before any transformers work
        return cls(path, AutoConfig.from_pretrained(directory))

    def __call__(self, **inputs) -> SimpleNamespace:
        ids = inputs["input_ids"]
        feed = {}
        for name in self.input_names:
            value = inputs.get(name)
            if value is None and name == "attention_mask":
                value = torch.ones_like(torch.as_tensor(ids))
            elif value is None and name == "token_type_ids":
                value = torch.zeros_like(torch.as_tensor(ids))
            elif value is None:
                raise ValueError(f"{self.path}: the graph needs an input {name!r} the caller did not give")
            feed[name] = torch.as_tensor(value).cpu().numpy().astype(np.int64, copy=False)
        (logits,) = self.session.run(["logits"], feed)
        return SimpleNamespace(logits=torch.from_numpy(logits))
