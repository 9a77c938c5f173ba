"""The ONNX embedder: same vectors and retrieval as sentence-transformers on the real report,
the embedder identity in the index, and a missing, corrupt or unbuildable export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from opioid_assistant import Settings, load_report
from opioid_assistant.answer.retrieval import HybridRetriever
from opioid_assistant.errors import EmbedderMismatchError, EmbeddingModelError
from opioid_assistant.evaluate.runner import load_evalset
from opioid_assistant.index import onnx_export as onnx
from opioid_assistant.index import store
from opioid_assistant.index.building import build_index, embedding_text, fingerprint
from opioid_assistant.index.chunking import chunk_report, endnote_chunks, sentence_chunks
from opioid_assistant.index.embedding import (
    embedder_backend,
    load_embedder,
    load_sentence_transformer,
    model_fingerprint,
)
from opioid_assistant.index.onnx_embedding import OnnxEmbedder, load_onnx_embedder
from opioid_assistant.index.onnx_export import export_path
from opioid_assistant.settings import default_embedding_model

MODEL = Path(default_embedding_model())


def model_copy(tmp_path: Path, leave_out: str = "", edit_config: bool = False) -> Path:
    """A copy of the bundled model folder (files linked), less one file or with a new config."""
    folder = tmp_path / "model"
    for source in MODEL.rglob("*"):
        if source.is_file() and source.relative_to(MODEL).as_posix() != leave_out:
            target = folder / source.relative_to(MODEL)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source)
    if edit_config:
        config = json.loads((MODEL / "config.json").read_text())
        (folder / "config.json").unlink()
        (folder / "config.json").write_text(json.dumps({**config, "note": "retrained"}))
    return folder


def test_bundled_model_embeds_on_onnxruntime(index_settings: Settings) -> None:
    embedder = load_embedder(index_settings.embedding_model, index_settings.data_dir)
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.onnx_file == export_path(MODEL, index_settings.data_dir)
    assert embedder.onnx_file.parent == index_settings.data_dir / "embedders"
    vectors = np.asarray(embedder.embed_documents(["naloxone", "  naloxone  ", "fentanyl"]))
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[1], atol=1e-6)  # stripped like sentence-transformers
    assert vectors[0] @ vectors[2] < 0.9
    assert embedder.embed_documents([]) == []
    assert embedder_backend(str(MODEL)) == "onnxruntime"


def test_a_query_embedded_again_is_not_run_again(
    index_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = load_embedder(index_settings.embedding_model, index_settings.data_dir)
    assert isinstance(embedder, OnnxEmbedder)
    embedder.forget_queries()
    runs = []
    real_embed = embedder.embed
    monkeypatch.setattr(
        embedder, "embed", lambda texts: runs.append(list(texts)) or real_embed(texts)
    )
    first = embedder.embed_query("naloxone")
    again = embedder.embed_query("naloxone")
    assert runs == [["naloxone"]]  # the second asking is answered from the kept vector
    assert again == first and again is not first  # a copy: a caller's edit changes nothing
    assert np.allclose(first, embedder.embed_documents(["naloxone"])[0], atol=1e-6)
    embedder.forget_queries()
    embedder.embed_query("naloxone")
    assert runs == [["naloxone"], ["naloxone"], ["naloxone"]]


@pytest.mark.slow
def test_onnx_matches_sentence_transformers_on_the_report(
    index_settings: Settings, tmp_path: Path
) -> None:
    report = load_report()
    chunks = chunk_report(report, 800) + endnote_chunks(report) + sentence_chunks(report)
    texts = sorted({embedding_text(c) for c in chunks})
    ours = load_embedder(str(MODEL), index_settings.data_dir)
    theirs = load_sentence_transformer(str(MODEL))
    cosine = np.sum(
        np.asarray(ours.embed_documents(texts)) * np.asarray(theirs.embed_documents(texts)),
        axis=1,
    )
    assert len(texts) == 407  # 191 sentences since a summary bullet is kept (issue 22)
    assert cosine.min() >= 0.9999

    # An index embedded by sentence-transformers: same vector space, so it opens, and every
    # evaluation question gets the same top-5 passages from it as from the ONNX index.
    st_settings = Settings(data_dir=tmp_path / "st")
    client = store.connect(st_settings)
    store.write_index(
        client,
        st_settings,
        chunks,
        lambda batch: theirs.embed_documents([embedding_text(c) for c in batch]),
        fingerprint(chunks, str(MODEL)),
        embedder=model_fingerprint(str(MODEL)),
        runtime="sentence-transformers",
    )
    st_index = store.open_active_collection(client, st_settings)
    onnx_index = store.open_active_collection(store.connect(index_settings), index_settings)
    assert st_index.metadata["embedder_runtime"] == "sentence-transformers"
    assert onnx_index.metadata["embedder_runtime"] == "onnxruntime"
    before = HybridRetriever.from_collection(st_index, theirs, k=5)
    after = HybridRetriever.from_collection(onnx_index, ours, k=5)
    mixed = HybridRetriever.from_collection(st_index, ours, k=5)
    questions = [item.question for item in load_evalset()]
    assert len(questions) >= 200
    for question in questions:
        expected = [e.chunk_id for e in before.retrieve(question)]
        assert [e.chunk_id for e in after.retrieve(question)] == expected, question
        assert [e.chunk_id for e in mixed.retrieve(question)] == expected, question


def test_index_records_its_embedder_and_refuses_another(
    index_settings: Settings, tmp_path: Path
) -> None:
    collection = store.open_active_collection(store.connect(index_settings), index_settings)
    assert collection.metadata["embedder"] == model_fingerprint(str(MODEL))
    assert collection.metadata["embedder"] == f"local:{onnx.source_checksum(MODEL)[:16]}"
    retrained = model_copy(tmp_path, edit_config=True)
    other = Settings(data_dir=index_settings.data_dir, embedding_model=str(retrained))
    with pytest.raises(EmbedderMismatchError) as caught:
        store.open_active_collection(store.connect(other), other)
    message = str(caught.value)
    assert f"built with the embedding model {model_fingerprint(str(MODEL))} (onnxruntime)" in (
        message
    )
    assert f"{model_fingerprint(str(retrained))} (sentence-transformers: {retrained})" in message
    assert "run `opioid-assistant ingest` to rebuild it" in message


def test_index_without_an_embedder_record_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    client = store.connect(settings)
    chunks = sentence_chunks(load_report())[:3]
    store.write_index(client, settings, chunks, lambda b: [[1.0] + [0.0] * 383] * len(b), "a" * 64)
    with pytest.raises(EmbedderMismatchError, match="built before embedding models were recorded"):
        store.open_active_collection(client, settings)


@pytest.mark.slow
def test_deleted_or_corrupt_export_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx, "_known_exports", {})  # export for real, do not copy
    settings = Settings(data_dir=tmp_path / "data")
    build_index(settings, progress=False)
    export = export_path(MODEL, settings.data_dir)
    first = export.stat().st_size
    assert export.name == f"model-{onnx.source_checksum(MODEL)[:16]}.onnx"
    export.unlink()
    monkeypatch.setattr(onnx, "_known_exports", {})
    again = build_index(settings, progress=False)
    assert again.reused is True  # the index was current; only the export was missing
    assert export.stat().st_size == first
    assert json.loads(export.with_suffix(".json").read_text())["bytes"] == first

    before = np.asarray(load_embedder(str(MODEL), settings.data_dir).embed_query("naloxone"))
    export.write_bytes(b"\0" * first)  # right size, unreadable content
    embedder = load_embedder(str(MODEL), settings.data_dir)
    assert isinstance(embedder, OnnxEmbedder)
    rebuilt = np.asarray(embedder.embed_query("naloxone"))  # the first embedding rebuilds it
    assert export.read_bytes()[:64] != b"\0" * 64
    # The rebuilt export embeds as the first one did, and as sentence-transformers does.
    reference = np.asarray(load_sentence_transformer(str(MODEL)).embed_query("naloxone"))
    assert np.allclose(rebuilt, before, atol=1e-6)
    assert float(rebuilt @ reference) >= 0.9999
    assert np.allclose(np.linalg.norm(rebuilt), 1.0, atol=1e-5)


def test_export_that_cannot_be_built_names_file_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx, "_known_exports", {})
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    target = export_path(MODEL, tmp_path / "data")
    with pytest.raises(EmbeddingModelError) as caught:
        load_onnx_embedder(MODEL, tmp_path / "data")
    assert f"cannot export {target}" in str(caught.value)
    assert "`opioid-assistant ingest`" in str(caught.value)
    assert not target.exists()


def test_model_folder_without_tokenizer_is_a_clear_error(tmp_path: Path) -> None:
    folder = model_copy(tmp_path, leave_out="tokenizer.json")
    with pytest.raises(EmbeddingModelError, match=f"{folder} has no tokenizer.json"):
        load_onnx_embedder(folder, tmp_path / "data")
    assert not (tmp_path / "data" / "embedders").exists()  # failed before any export


def test_changed_model_gets_its_own_export_name(tmp_path: Path) -> None:
    retrained = model_copy(tmp_path, edit_config=True)
    assert onnx.source_checksum(retrained) != onnx.source_checksum(MODEL)
    assert export_path(retrained, tmp_path).name != export_path(MODEL, tmp_path).name
