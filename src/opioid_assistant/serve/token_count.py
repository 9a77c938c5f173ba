"""Token counts for OpenAI's `usage` and `max_tokens`, with the embedding model's tokenizer.

The extractive backend has no tokenizer of its own, so every count uses the tokenizer of the
embedding model (the bundled all-MiniLM-L6-v2 unless OA_EMBEDDING_MODEL names another local
folder with a tokenizer.json). Counts leave out the [CLS]/[SEP] markers: they measure text.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from opioid_assistant.index.onnx_export import tokenizer_file
from opioid_assistant.settings import default_embedding_model


@lru_cache(maxsize=4)
def _load(path: Path) -> Any:
    from tokenizers import Tokenizer  # loaded on the first count, not at import

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()  # usage counts the whole text, not the model's window
    return tokenizer


def tokenizer_path(embedding_model: str) -> Path:
    """The tokenizer.json to count with: the embedding model's when it is a folder that has
    one, else the bundled MiniLM's (a model given by name has no local file to read).

    Raises:
        EmbeddingModelError: the bundled model has no tokenizer.json (a broken install).
    """
    folder = Path(embedding_model)
    if (folder / "tokenizer.json").is_file():
        return folder / "tokenizer.json"
    return tokenizer_file(Path(default_embedding_model()))


class TokenCounter:
    """Counts tokens of texts; the tokenizer is found and read on the first count."""

    def __init__(self, embedding_model: str) -> None:
        self.embedding_model = embedding_model

    def _tokenizer(self) -> Any:
        return _load(tokenizer_path(self.embedding_model))

    def count(self, texts: Sequence[str]) -> int:
        """The number of tokens in all `texts` together."""
        encodings = self._tokenizer().encode_batch(list(texts), add_special_tokens=False)
        return sum(len(e.ids) for e in encodings)

    def token_ends(self, text: str) -> list[int]:
        """Where each token of `text` ends, as character offsets (for cutting at a budget)."""
        encoding = self._tokenizer().encode(text, add_special_tokens=False)
        return [end for _, end in encoding.offsets]
