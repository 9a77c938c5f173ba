"""Hybrid retrieval: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bm25s
import numpy as np
from chromadb.api.models.Collection import Collection
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from opioid_assistant.answer.question_shapes import asks_for_sources
from opioid_assistant.index import store
from opioid_assistant.index.embedding import Embedder
from opioid_assistant.text import tokenize
from opioid_assistant.types import Chunk, Evidence

RRF_K = 60  # the constant of Cormack et al.'s reciprocal rank fusion
CANDIDATES = 30  # depth of each ranking before fusion
SOURCE_NOTES = 3  # endnote documents added for a question about sources
SOURCE_PASSAGES = 2  # passages of cited sources added to every answer's evidence


def fuse(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of several best-first rankings of ids."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


class LexicalIndex:
    """BM25 over the chunks' section headings and text."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.ids = [c.id for c in chunks]
        self.bm25 = bm25s.BM25()
        self.bm25.index(
            [tokenize(f"{c.section.split(' > ')[-1]} {c.text}") or ["_"] for c in chunks],
            show_progress=False,
        )

    def rank(self, query: str, depth: int) -> list[str]:
        """Ids of the best-matching chunks, best first (only those with a positive score)."""
        tokens = tokenize(query)
        if not tokens:
            return []
        scores = self.bm25.get_scores(tokens)
        order = np.argsort(-scores, kind="stable")[:depth]
        return [self.ids[i] for i in order if scores[i] > 0]


class HybridRetriever(BaseRetriever):
    """Dense + BM25 retrieval over the active index, as a LangChain retriever."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    collection: Collection
    chunks: dict[str, Chunk]
    lexical: LexicalIndex
    source_lexical: LexicalIndex | None = None
    embedder: Any  # an Embedder; pydantic cannot check a Protocol
    k: int = 6
    where: str = "the Chroma store"

    @classmethod
    def from_collection(
        cls, collection: Collection, embedder: Embedder, k: int, where: str = "the Chroma store"
    ) -> HybridRetriever:
        """Build the retriever, reading every chunk once for the lexical index."""
        chunks = [c for c in store.load_chunks(collection) if c.kind != "sentence"]
        # Cited sources are ranked apart, so ingesting them leaves the report's ranking as is.
        report = [c for c in chunks if c.kind != "source"]
        sources = [c for c in chunks if c.kind == "source"]
        return cls(
            collection=collection,
            chunks={c.id: c for c in chunks},
            lexical=LexicalIndex(report),
            source_lexical=LexicalIndex(sources) if sources else None,
            embedder=embedder,
            k=k,
            where=where,
        )

    def retrieve(
        self,
        question: str,
        k: int | None = None,
        vector: list[float] | None = None,
        sections: Sequence[str] = (),
    ) -> list[Evidence]:
        """The top-k passages for a question, fused from both rankings.

        Endnote documents take part only when the question asks about sources.

        Args:
            question: The (standalone) question.
            k: Passages to return; default: the retriever's k.
            vector: The question's embedding, when the caller has it already.
            sections: Answer from these section paths only: the store searches within them,
                and neither cited sources nor endnote documents join.
        """
        k = k or self.k
        vector = vector if vector is not None else self.embedder.embed_query(question)
        kinds = ("report",) if sections else ("report", "endnote")
        dense = store.query(self.collection, vector, CANDIDATES, self.where, kinds, sections)
        lexical = self._lexical(question, sections)
        fused = [(c, s) for c, s in fuse([[c for c, _ in dense], lexical]) if c in self.chunks]
        passages = [(c, s) for c, s in fused if self.chunks[c].kind == "report"][:k]
        if sections:
            return [_evidence(self.chunks[cid], score) for cid, score in passages]
        # Cited sources' passages come on top of the k report passages, so ingesting sources
        # never pushes report text out of an answer's evidence.
        if self.source_lexical is not None:
            dense_sources = store.query(
                self.collection, vector, CANDIDATES, self.where, ("source",)
            )
            ranked = fuse(
                [[c for c, _ in dense_sources], self.source_lexical.rank(question, CANDIDATES)]
            )
            passages += [(c, s) for c, s in ranked if c in self.chunks][:SOURCE_PASSAGES]
        if asks_for_sources(question):  # so do endnote documents for a question about sources
            passages += [(c, s) for c, s in fused if self.chunks[c].kind == "endnote"][
                :SOURCE_NOTES
            ]
        return [_evidence(self.chunks[cid], score) for cid, score in passages]

    def _lexical(self, question: str, sections: Sequence[str]) -> list[str]:
        """The BM25 ranking, within `sections` when given: BM25 lives in memory, not in the
        store, so it ranks every passage and keeps the sections' ones."""
        if not sections:
            return self.lexical.rank(question, CANDIDATES)
        inside = set(sections)
        ranked = self.lexical.rank(question, len(self.chunks))
        return [cid for cid in ranked if self.chunks[cid].section in inside][:CANDIDATES]

    def passages_between(self, start: int, end: int) -> list[Evidence]:
        """The report passages that lie within `start`..`end` of the report text, in order."""
        inside = [
            c
            for c in self.chunks.values()
            if c.kind == "report" and c.start >= start and 0 <= c.end <= end
        ]
        return [_evidence(c, 0.0) for c in sorted(inside, key=lambda c: c.start)]

    def passages_holding(self, start: int, end: int) -> list[Evidence]:
        """The report passages that hold the span `start`..`end` of the report text."""
        holding = [
            c
            for c in self.chunks.values()
            if c.kind == "report" and 0 <= c.start <= start and c.end >= end
        ]
        return [_evidence(c, 0.0) for c in holding]

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        vector: list[float] | None = None,
        sections: Sequence[str] = (),
    ) -> list[Document]:
        """The retriever face the answering chain calls (`invoke(question, config, k=...,
        vector=..., sections=...)`), so LangChain callbacks see what was retrieved."""
        return [
            Document(
                page_content=e.text,
                metadata={
                    "id": e.chunk_id,
                    "section": e.section,
                    "endnotes": list(e.endnotes),
                    "score": e.score,
                },
            )
            for e in self.retrieve(query, k, vector, sections)
        ]

    def evidence_of(self, documents: Sequence[Document]) -> list[Evidence]:
        """The passages the retriever's documents stand for."""
        return [_evidence(self.chunks[d.metadata["id"]], d.metadata["score"]) for d in documents]


def _evidence(chunk: Chunk, score: float) -> Evidence:
    return Evidence(
        chunk_id=chunk.id,
        text=chunk.text,
        section=chunk.section,
        endnotes=chunk.endnotes,
        score=round(score, 6),
        kind=chunk.kind,
        url=chunk.url,
        sentences=chunk.sentences,
        sentence_endnotes=chunk.sentence_endnotes,
    )
