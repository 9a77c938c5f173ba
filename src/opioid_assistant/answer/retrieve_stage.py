"""The retrieve stage: the passages a question is answered from (the fused retrieval's, every
part's, a named heading's, the last answer's, and those of the report sentences closest to it),
the signals its sentences are scored on, the heading nearest it, and the key terms that are
really missing from the report."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from langchain_core.runnables import RunnableConfig

from opioid_assistant.answer.live_index import Snapshot
from opioid_assistant.answer.query_adapter import adapted_query
from opioid_assistant.answer.question_shapes import (
    Shape,
    endnote_asked,
    question_parts,
    question_shape,
)
from opioid_assistant.answer.small_talk import asks_for_more
from opioid_assistant.answer.topics import looks_like_a_drug
from opioid_assistant.answer.turn import Signals, Turn
from opioid_assistant.settings import Settings

HINT_MIN_SIMILARITY = 0.3  # an abstention suggests a heading only this close to the question
# A rare word the report lacks may be a paraphrase ("reoffend" for "recidivism"): unless it
# names a drug, it counts as missing only when no report sentence comes this close in meaning.
PARAPHRASE_SIMILARITY = 0.6
MISSING_TERMS = 3  # more missing terms than this: another language or noise, not a near miss


def retrieve(
    snap: Snapshot, state: Turn, settings: Settings, config: RunnableConfig | None = None
) -> Turn:
    """The retrieve stage: the question's passages (every part's, the last answer's, those of
    the sentences closest to it, and a named heading's), the signals its sentences are scored
    on, the heading nearest it, and the key terms that are really missing from the report."""
    embedder = snap.retriever.embedder
    vector = embedder.embed_query(state.question.standalone)
    is_open = question_shape(state.question.text) is Shape.COMPOSED
    documents = snap.retriever.invoke(
        state.question.standalone,
        config,
        k=settings.open_top_k if is_open else settings.top_k,
        vector=vector,
        sections=state.scope,
    )
    evidence = snap.retriever.evidence_of(documents)
    parts: tuple[tuple[str, tuple[float, ...]], ...] = ()
    if len(asked := question_parts(state.question.text)) > 1:  # retrieve for every part
        extra, parts = snap.part_evidence(asked, settings.top_k, state.scope)
        held = {e.chunk_id for e in evidence}
        evidence += [e for e in {e.chunk_id: e for e in extra}.values() if e.chunk_id not in held]
    if (number := endnote_asked(state.question.text)) is not None:  # "What is endnote 54?"
        evidence += snap.citing_passages(number, evidence)
    if state.question.previous_answer:  # a follow-up: the passages the last answer quoted
        evidence += snap.quoted_passages(state.question.previous_answer, evidence)
        if asks_for_more(state.question.text):  # "say more": and those it reads on to
            evidence += snap.following_passages(state.question.previous_answer, evidence)
    if state.question.context:  # a follow-up: its own words weigh as much as the history
        own = embedder.embed_query(state.question.text)
        vector = [(a + b) / 2 for a, b in zip(vector, own, strict=True)]
    # the passages of the sentences closest to the question (as the conversation asks it),
    # plainly and as the fitted adapter maps it
    count = settings.closest_sentences
    evidence += snap.closest_passages(vector, evidence, count, state.scope)
    mapped = adapted_query(vector)
    if mapped is not None:
        # (the floor is a plain closeness: the adapter's lie on another scale)
        evidence += snap.closest_passages(list(mapped), evidence, count - 1, state.scope, 0.0)
    query = np.asarray(vector)
    closeness = snap.heading_vectors @ query
    heading = snap.matched_heading(state.question.standalone, closeness, evidence)
    if heading is not None and state.scope:
        inside = snap.report.sentences[heading.first].section in state.scope
        heading = heading if inside else None
    favoured: frozenset[str] = frozenset()
    spans: tuple[tuple[int, int], ...] = ()
    if heading is not None:
        sentences = snap.report.sentences[heading.first : heading.last]
        favoured = frozenset(s.text for s in sentences)
        spans = tuple(
            (h.first, h.last)
            for h in snap.report.headings
            if h.level == heading.level + 1 and heading.first <= h.first < heading.last
        )
        extra = snap.passages(vector, [(heading.first, heading.last)])
        if spans:  # an overview of a section: each sub-section's best passages
            extra = snap.passages(vector, spans, per_span=2)
        ids = {e.chunk_id for e in evidence}
        evidence = evidence + [e for e in extra if e.chunk_id not in ids]
    signals = Signals(
        similarity=snap.similarity(vector, evidence),
        vocabulary=snap.vocabulary,
        clauses=snap.clauses,
        preceding=snap.preceding,
        position=snap.position,
        cited_figures=snap.cited_figures,
        topic=snap.topic,
        favoured=favoured,
        spans=spans,
        report=snap.report,
        vectors=snap.sentence_vectors,
        query=tuple(query / (np.linalg.norm(query) or 1.0)),
        scope=frozenset(state.scope),
        parts=parts,
    )
    nearest_heading = int(np.argmax(closeness)) if len(closeness) else -1
    closest = (
        snap.report.headings[nearest_heading]
        if nearest_heading >= 0 and closeness[nearest_heading] >= HINT_MIN_SIMILARITY
        else None
    )
    nearest = max(signals.similarity.values(), default=0.0)
    missing = tuple(
        term
        for term in (state.missing if len(state.missing) <= MISSING_TERMS else ())
        if term[0].isupper()
        or term.isdigit()
        or looks_like_a_drug(term)
        or nearest < PARAPHRASE_SIMILARITY
    )
    return replace(
        state, evidence=tuple(evidence), signals=signals, closest=closest, missing=missing
    )
