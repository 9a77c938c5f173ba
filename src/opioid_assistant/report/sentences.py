"""Sentence boundaries, as character spans, using pysbd's rule-based segmenter."""

from __future__ import annotations

from functools import lru_cache

import pysbd


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return (start, end) spans of the sentences of `text`, trailing spaces excluded."""
    spans = []
    for piece in _segmenter().segment(text):
        start, end = piece.start, piece.end
        while end > start and text[end - 1].isspace():
            end -= 1
        while start < end and text[start].isspace():
            start += 1
        if end > start:
            spans.append((start, end))
    return spans
