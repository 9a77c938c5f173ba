"""The embedding model: a sentence-transformers model loaded from a local path or name."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from opioid_assistant.errors import EmbeddingModelError


class Embedder(Protocol):
    """Turns texts into vectors (LangChain's Embeddings interface)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


@lru_cache(maxsize=4)
def load_embedder(model: str) -> Embedder:
    """Load a sentence-transformers model as LangChain embeddings (cached per process).

    Args:
        model: A local model folder or a sentence-transformers model name (offline: only
            names already in the local cache work).

    Raises:
        EmbeddingModelError: the model cannot be loaded.
    """
    from langchain_huggingface import HuggingFaceEmbeddings

    try:
        return HuggingFaceEmbeddings(
            model_name=model,
            model_kwargs={"device": "cpu"},
            encode_kwargs={"normalize_embeddings": True, "batch_size": 32},
        )
    except Exception as e:  # sentence-transformers raises OSError, ValueError, ...
        raise EmbeddingModelError(
            f"cannot load embedding model {model!r}: {e}. Set OA_EMBEDDING_MODEL to a local "
            "sentence-transformers folder, or unset it to use the bundled all-MiniLM-L6-v2"
        ) from e


def model_fingerprint(model: str) -> str:
    """Identify a model by content where it is a folder, so a moved venv keeps its index."""
    path = Path(model)
    if not path.is_dir():
        return model
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "sentence_bert_config.json"):
        if (path / name).is_file():
            digest.update((path / name).read_bytes())
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return f"local:{digest.hexdigest()[:16]}"
