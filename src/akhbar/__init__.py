"""akhbar: fine-tune, evaluate, package and serve Arabic BERT models for entities and events in news.

Nothing runs at import; heavy modules load on first use of a public name.
"""

__version__ = "0.1.0"
__all__ = ["Analyzer", "ArgumentTagger", "EventClassifier", "NerTagger", "SentenceEventClassifier", "__version__"]


def __getattr__(name: str):
    if name in ("Analyzer", "ArgumentTagger", "EventClassifier", "NerTagger", "SentenceEventClassifier"):
        from . import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'akhbar' has no attribute {name!r}")
