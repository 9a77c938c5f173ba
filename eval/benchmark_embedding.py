"""Compare the embedders: sentence-transformers, ONNX fp32 and ONNX int8 (dynamic quantisation).

Run: .venv/bin/python eval/benchmark_embedding.py
Prints load and embedding times, the lowest cosine to sentence-transformers' vectors over the
report's indexed texts, and how many evaluation questions keep the same dense top-5 passages.
This is how the ONNX fp32 default was chosen over int8 (README, "Start-up and speed").
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from opioid_assistant import Settings, load_report
from opioid_assistant.index.building import embedding_text
from opioid_assistant.index.chunking import chunk_report, endnote_chunks, sentence_chunks
from opioid_assistant.index.onnx_embedding import OnnxEmbedder
from opioid_assistant.index.onnx_export import ensure_export, max_tokens

EVALSET = Path(__file__).with_name("evalset.jsonl")
TOP = 5


def timed(make: Callable[[], object]) -> tuple[object, float]:
    """Call make() and return (result, seconds)."""
    started = time.perf_counter()
    result = make()
    return result, time.perf_counter() - started


def top_k(passages: np.ndarray, queries: np.ndarray) -> list[list[int]]:
    """Indices of the TOP passages nearest each query, best first."""
    return [list(np.argsort(-(passages @ q), kind="stable")[:TOP]) for q in queries]


def main() -> None:
    """Print one row per embedder."""
    model = Path(Settings().embedding_model)
    report = load_report()
    chunks = chunk_report(report, 800) + endnote_chunks(report)
    texts = [embedding_text(c) for c in chunks]
    everything = sorted({embedding_text(c) for c in chunks + sentence_chunks(report)})
    questions = [
        json.loads(line)["question"] for line in EVALSET.read_text().splitlines() if line.strip()
    ]
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    st, st_load = timed(lambda: SentenceTransformer(str(model), device="cpu"))
    encode = st.encode  # type: ignore[attr-defined]
    reference, st_embed = timed(lambda: encode(everything, normalize_embeddings=True))
    st_passages = encode(texts, normalize_embeddings=True)
    st_top = top_k(st_passages, encode(questions, normalize_embeddings=True))
    print(f"{'embedder':24} {'load s':>7} {'embed s':>8} {'min cos':>9} {'same top-5':>11}")
    print(f"{'sentence-transformers':24} {st_load:7.2f} {st_embed:8.2f} {1.0:9.7f} {'-':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = ensure_export(model, Path(tmp))
        import onnx

        variants = [("onnx fp32", fp32)]
        for per_channel in (False, True):
            int8 = fp32.with_name(f"int8-{per_channel}.onnx")
            quantize_dynamic(
                str(fp32),
                str(int8),
                weight_type=QuantType.QInt8,
                per_channel=per_channel,
                # the fused operators defeat shape inference; their outputs are float
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
            variants.append((f"onnx int8{' per-channel' if per_channel else ''}", int8))
        for name, path in variants:
            embedder, load = timed(
                lambda p=path: OnnxEmbedder(p, model / "tokenizer.json", max_tokens(model))
            )
            onnx = embedder  # type: OnnxEmbedder
            vectors, embed = timed(lambda e=onnx: e.embed(everything))
            cosine = float(np.min(np.sum(np.asarray(vectors) * reference, axis=1)))
            same = sum(
                a == b
                for a, b in zip(
                    top_k(onnx.embed(texts), onnx.embed(questions)), st_top, strict=True
                )
            )
            print(f"{name:24} {load:7.2f} {embed:8.2f} {cosine:9.7f} {same:>5}/{len(questions):<5}")
    print(f"({len(everything)} distinct texts embedded; {len(questions)} questions)")


if __name__ == "__main__":
    main()
