"""Named entities of texts of any length, with offsets into the original text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModelForTokenClassification

from ..labels import detect_scheme, tags_to_spans, to_iob
from ..preprocessing import Words, split_words
from ..windows import encode_words, merge_entities, missing_words
from .batching import chunked, run_windows
from .package import PackagedModel


@dataclass
class TaggedText:
    """One text as the model read it: its words, a tag and a probability per word."""

    words: Words
    tags: list[str]
    scores: list[float]
    missing_words: int = 0  # words the tokenizer gave no token (tagged O)

    def entities(self, text: str) -> list[dict]:
        """Entities with offsets into the original ``text`` (lenient IOB reading of the tags)."""
        spans = self.words.original_spans
        out = []
        for a, b, label in tags_to_spans(self.tags):
            start, end = spans[a][0], spans[b - 1][1]
            out.append(
                {
                    "start": start,
                    "end": end,
                    "label": label,
                    "text": text[start:end],
                    "score": round(float(np.mean(self.scores[a:b])), 4),
                }
            )
        return out


class NerTagger(PackagedModel):
    """Named-entity tagger over a packaged akhbar checkpoint (``task: ner``)."""

    model_class = AutoModelForTokenClassification

    def read_labels(self, labels: list[str]) -> list[str]:
        """The model's labels as IOB tags (BIOES, BILOU, IO and bare types converted), types renamed by
        ``options.label_map``: what span decoding reads."""
        scheme = detect_scheme(labels)
        return [to_iob(label, scheme, self.options.label_map) for label in labels]

    def tag(
        self, texts: Sequence[str], show_progress: bool = False, words: Sequence[Words] | None = None
    ) -> list[TaggedText]:
        """Words, tags and tag probabilities for each text (the evaluation's view of predictions).

        ``words``: the texts already normalized and split with this model's preprocessing (the Analyzer
        shares them between models). Texts are read in chunks of about :data:`CHUNK_CHARS` characters.
        """
        return self._tag(texts, show_progress, words)

    def _tag(
        self,
        texts: Sequence[str],
        show_progress: bool,
        words: Sequence[Words] | None,
        markers: Sequence[Sequence[int]] | None = None,
    ) -> list[TaggedText]:
        """:meth:`tag`, each text's windows carrying its ``markers`` (see :func:`akhbar.windows.encode_words`)."""
        indices = list(chunked(range(len(texts)), lambda i: len(texts[i])))
        if len(indices) == 1:  # one chunk: a progress bar over its windows
            return self._tag_chunk(texts, show_progress, words, markers)
        results: list[TaggedText] = []
        with tqdm(total=len(texts), desc="tagging", unit="text", disable=not show_progress) as bar:
            for chunk in indices:
                part = [words[i] for i in chunk] if words else None
                marks = [markers[i] for i in chunk] if markers else None
                results += self._tag_chunk([texts[i] for i in chunk], False, part, marks)
                bar.update(len(chunk))
        return results

    def _tag_chunk(
        self,
        texts: Sequence[str],
        show_progress: bool,
        words: Sequence[Words] | None = None,
        markers: Sequence[Sequence[int]] | None = None,
    ) -> list[TaggedText]:
        words = words or [split_words(t, self.settings.preprocessing) for t in texts]
        markers = markers or [()] * len(words)
        encoded = [
            encode_words(self.tokenizer, w, self.settings.max_length, self.settings.stride, m)
            for w, m in zip(words, markers)
        ]
        windows = {(i, k): ids for i, enc in enumerate(encoded) for k, ids in enumerate(enc.input_ids)}
        label_ids: dict[tuple[int, int], np.ndarray] = {}
        probs: dict[tuple[int, int], np.ndarray] = {}
        for keys, logits in run_windows(
            self.model, self.tokenizer, windows, self.batch_size, self.batch_tokens, show_progress, "tagging"
        ):
            p, y = torch.softmax(logits, dim=-1).max(dim=-1)  # (batch, tokens)
            for row, key in enumerate(keys):
                n = len(windows[key])
                label_ids[key] = y[row, :n].cpu().numpy()
                probs[key] = p[row, :n].cpu().numpy()
        results = []
        for i, (w, enc) in enumerate(zip(words, encoded)):
            keys = [(i, k) for k in range(len(enc.input_ids))]
            tags, scores = merge_entities(
                enc.word_index,
                [[self.id2label[int(y)] for y in label_ids[key]] for key in keys],
                [probs[key] for key in keys],
                enc.cut_left,
                enc.cut_right,
                enc.num_words,
            )
            results.append(TaggedText(w, tags, scores, len(missing_words(enc))))
        return results

    def predict(self, texts: str | Iterable[str], show_progress: bool = False) -> list[list[dict]]:
        """Entities of each text as ``{"start", "end", "label", "text", "score"}``, offsets into the text.

        A single string gives a list with one entry.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        return [tagged.entities(text) for tagged, text in zip(self.tag(texts, show_progress), texts)]

    def iter_predict(self, texts: Iterable[str]) -> Iterator[list[dict]]:
        """:meth:`predict` over a stream: texts are read lazily, a chunk at a time, and each text's entities
        are yielded as soon as its chunk is done (memory bounded by the chunk, not the stream)."""
        for chunk in chunked(texts, len):
            yield from self.predict(chunk)
