"""Load a packaged akhbar model and tag or classify text of any length.

    from akhbar import NerTagger
    tagger = NerTagger.from_pretrained("models/ner-anercorp")
    tagger.predict(["زار الرئيس عمّان أمس."])
    # [[{"start": 11, "end": 16, "label": "LOC", "text": "عمّان", "score": 0.98}]]

Inference applies the preprocessing saved with the checkpoint, reads long texts as overlapping windows
and merges them (:mod:`akhbar.windows`), and returns offsets into the original text. This package never
imports training code.

One module per job: where a name leads (:mod:`.hub`), how a package runs (:mod:`.options`), the verified
package every predictor shares (:mod:`.package`), chunks and forward passes (:mod:`.batching`), and the
predictors (:mod:`.ner`, :mod:`.events`, :mod:`.arguments`, :mod:`.analyzer`). ``backend="onnx"`` runs the
package's ONNX export (:mod:`akhbar.onnx`) with ONNX Runtime on CPU instead of PyTorch; everything else
(preprocessing, windows, merging, pooling) is the same code.
"""

from __future__ import annotations

import importlib

# Public name -> the module of this package that defines it. Loaded on first use, so that importing a light
# module such as .options (the CLI does, for its choices) does not import torch.
_EXPORTS = {
    "Analyzer": "analyzer",
    "ArgumentTagger": "arguments",
    "CHUNK_CHARS": "batching",
    "chunked": "batching",
    "plan_batches": "batching",
    "run_windows": "batching",
    "EventClassifier": "events",
    "SentenceEventClassifier": "events",
    "resolve_model_dir": "hub",
    "NerTagger": "ner",
    "TaggedText": "ner",
    "BACKENDS": "options",
    "PRECISIONS": "options",
    "LoadOptions": "options",
    "default_batching": "options",
    "resolve_device": "options",
    "torch_dtype": "options",
    "resolve_precision": "options",
    "native_bfloat16": "options",
    "PackagedModel": "package",
    "encoder_max_length": "package",
    "load_package": "package",
    "load_model": "package",
    "load_predictor": "package",
    "Loaded": "package",
    "parse_label_map": "options",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
