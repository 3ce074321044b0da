"""akhbar: fine-tune, evaluate, package and serve Arabic BERT models for entities and events in news.

Nothing runs at import; heavy modules load on first use of a public name.
"""

__version__ = "0.1.0"
__all__ = ["NerTagger", "__version__"]


def __getattr__(name: str):
    if name == "NerTagger":
        from .inference import NerTagger

        return NerTagger
    raise AttributeError(f"module 'akhbar' has no attribute {name!r}")
