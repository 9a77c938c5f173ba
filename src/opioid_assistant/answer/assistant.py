"""The Python API: `Assistant(settings).ask(question, history)` and `.stream(...)`.

The chain is LangChain LCEL, four runnables: prepare (sanitize, refuse, correct, condense) |
retrieve | answer (extractive composer or LLM) | check (citations against the evidence).
`ask`, `stream` and `stream_events` all run `chain.stream`, so they carry the same citations,
and LangChain callbacks and tracing see every stage.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator, RunnableLambda

from opioid_assistant.answer.answering import condense_messages
from opioid_assistant.answer.backends import ChatBackend, load_backend
from opioid_assistant.answer.citations import check_citations
from opioid_assistant.answer.extractive import Draft, Question, Signals, condense, extractive_answer
from opioid_assistant.answer.generation import Event, extractive_reply, model_reply
from opioid_assistant.answer.guard import refusal_reason, sanitize_question
from opioid_assistant.answer.history import History, normalize_history
from opioid_assistant.answer.prompts import NOT_COVERED, NOT_MENTIONED
from opioid_assistant.answer.retrieval import HybridRetriever, tokenize
from opioid_assistant.answer.spelling import Speller, build_speller, correct_question
from opioid_assistant.answer.topics import (
    absent_terms,
    known_terms,
    looks_like_a_drug,
    section_list,
)
from opioid_assistant.answer.turn import Reply, Turn
from opioid_assistant.errors import BackendError, InvalidQuestionError
from opioid_assistant.index import store
from opioid_assistant.index.embedding import load_embedder
from opioid_assistant.report.parsing import load_report
from opioid_assistant.settings import Settings
from opioid_assistant.types import Answer, Evidence, Heading, Report

REFUSALS = {
    "injection": (
        f"{NOT_COVERED} I only answer questions about the report from its text, and I do not "
        "follow instructions that ask me to do otherwise."
    ),
    "unsafe": (
        "I can't help with that: I don't give medical dosing advice or help anyone obtain or "
        "make drugs. I can tell you what the report says about treatment, naloxone and harm "
        "reduction."
    ),
}
HEADING_MIN_SIMILARITY = 0.55  # a question this close to a heading draws from its section
HEADING_MIN_SHARED = 2  # ... as does one sharing this many words with it
HINT_MIN_SIMILARITY = 0.3  # an abstention suggests a heading only this close to the question
HEADING_PASSAGES = 6  # at most this many of the matched section's passages join the evidence
# A rare word the report lacks may be a paraphrase ("reoffend" for "recidivism"): unless it
# names a drug, it counts as missing only when no report sentence comes this close in meaning.
PARAPHRASE_SIMILARITY = 0.6
MISSING_TERMS = 3  # more missing terms than this: another language or noise, not a near miss


@lru_cache(maxsize=4)
def _cached_report(path: Path | None) -> Report:
    return load_report(path)


class Assistant:
    """Answers questions about the report with citations to its endnotes."""

    def __init__(self, settings: Settings | None = None, backend: ChatBackend | None = None):
        """Open the index and the answering backend.

        Args:
            settings: Configuration; default: from `OA_*` environment variables.
            backend: An LLM backend to use instead of the one the settings name.

        Raises:
            IndexMissingError: nothing was ingested (run `opioid-assistant ingest`).
            StoreUnavailableError: the Chroma store or server cannot be reached.
        """
        self.settings = settings or Settings()
        self.report = _cached_report(self.settings.report_path)
        client = store.connect(self.settings)
        collection = store.open_active_collection(client, self.settings)
        self.retriever = HybridRetriever.from_collection(
            collection,
            load_embedder(self.settings.embedding_model, self.settings.data_dir),
            self.settings.top_k,
            where=store.describe(self.settings),
        )
        self.sentence_vectors = store.load_sentence_vectors(collection)
        self.vocabulary = self.report.text.lower()
        self.clauses = {s.text: s.clauses() for s in self.report.sentences}
        self.preceding = {
            s.text: before.text
            for before, s in zip(self.report.sentences, self.report.sentences[1:], strict=False)
            if before.section == s.section
        }
        self.position = {s.text: (s.section, i) for i, s in enumerate(self.report.sentences)}
        self.topic = {
            self.report.sentences[i].text: h.text
            for h in self.report.headings
            if h.level == 3
            for i in range(h.first, h.last)
        }
        self.known = known_terms(self.report)
        self.heading_words = [set(tokenize(h.text)) for h in self.report.headings]
        self.heading_vectors = np.asarray(
            self.retriever.embedder.embed_documents([h.text for h in self.report.headings])
        )
        self._speller: Speller | None = None
        self.backend = backend if backend is not None else load_backend(self.settings)
        self.chain: Runnable[dict[str, Any], str | Answer] = (
            RunnableLambda(self._prepare, name="prepare")
            | RunnableLambda(self._retrieve, name="retrieve")
            | RunnableGenerator(self._answer_stage, name="answer")
            | RunnableGenerator(self._check_stage, name="check")
        ).with_config(run_name="opioid-assistant")

    @property
    def backend_name(self) -> str:
        """Name of the backend that writes answers."""
        return self.backend.name if self.backend else "extractive"

    def ask(
        self, question: str, history: History | None = None, config: RunnableConfig | None = None
    ) -> Answer:
        """Answer a question; `history` is earlier turns as role/content messages, `config` a
        LangChain run config (callbacks, tags) that every stage of the chain sees."""
        answer = None
        for event in self.stream_events(question, history, config):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None  # stream_events always ends with the Answer
        return answer

    def stream(
        self, question: str, history: History | None = None, config: RunnableConfig | None = None
    ) -> Iterator[str]:
        """Yield the answer text in pieces as it is generated."""
        for event in self.stream_events(question, history, config):
            if isinstance(event, str):
                yield event

    def stream_events(
        self, question: str, history: History | None = None, config: RunnableConfig | None = None
    ) -> Iterator[str | Answer]:
        """Yield text pieces, then the final checked Answer (the UI replaces the text with it)."""
        inputs = {"question": question, "history": history}
        yield from self.chain.stream(inputs, config)

    def _prepare(self, inputs: dict[str, Any]) -> Turn:
        question, notice = sanitize_question(
            str(inputs["question"] or ""), self.settings.max_question_chars
        )
        if not question:
            raise InvalidQuestionError("the question is empty: type a question about the report")
        history = normalize_history(inputs.get("history"))
        reason = refusal_reason(question)
        if reason:
            return Turn(Question(question, question), history, notice, refusal=reason)
        corrected = correct_question(question, self.speller)
        if corrected:
            question = corrected
            notice = " ".join(n for n in (notice, f"Showing results for “{corrected}”.") if n)
        missing = tuple(absent_terms(question, self.known))
        condensed = condense(question, history)
        if self.backend is not None and condensed.context:
            condensed = self._condense_with_llm(condensed, history)
        return Turn(condensed, history, notice, corrected=corrected, missing=missing)

    @property
    def speller(self) -> Speller:
        """The report's vocabulary for spelling correction (built on first use)."""
        if self._speller is None:
            texts = [self.report.text, *(h.text for h in self.report.headings)]
            self._speller = build_speller(texts)
        return self._speller

    def _condense_with_llm(self, question: Question, history: list[dict[str, str]]) -> Question:
        assert self.backend is not None
        try:
            text = "".join(self.backend.stream(condense_messages(question.text, history))).strip()
        except BackendError:
            return question  # the rule-based rewrite still works
        first_line = text.splitlines()[0].strip() if text else ""
        return replace(question, standalone=first_line) if first_line else question

    def _retrieve(self, state: Turn) -> Turn:
        embedder = self.retriever.embedder
        vector = embedder.embed_query(state.question.standalone)
        evidence = self.retriever.retrieve(state.question.standalone, self.settings.top_k, vector)
        if state.question.context:  # a follow-up: its own words weigh as much as the history
            own = embedder.embed_query(state.question.text)
            vector = [(a + b) / 2 for a, b in zip(vector, own, strict=True)]
        query = np.asarray(vector)
        closeness = self.heading_vectors @ query
        heading = self._matched_heading(state.question.standalone, closeness)
        favoured: frozenset[str] = frozenset()
        spans: tuple[tuple[int, int], ...] = ()
        if heading is not None:
            sentences = self.report.sentences[heading.first : heading.last]
            favoured = frozenset(s.text for s in sentences)
            spans = tuple(
                (h.first, h.last)
                for h in self.report.headings
                if h.level == heading.level + 1 and heading.first <= h.first < heading.last
            )
            extra = self._passages(vector, [(heading.first, heading.last)])
            if spans:  # an overview of a section: each sub-section's best passages
                extra = self._passages(vector, spans, per_span=2)
            ids = {e.chunk_id for e in evidence}
            evidence = evidence + [e for e in extra if e.chunk_id not in ids]
        signals = Signals(
            similarity=self._similarity(vector, evidence),
            vocabulary=self.vocabulary,
            clauses=self.clauses,
            preceding=self.preceding,
            position=self.position,
            topic=self.topic,
            favoured=favoured,
            spans=spans,
            report=self.report,
            vectors=self.sentence_vectors,
            query=tuple(query / (np.linalg.norm(query) or 1.0)),
        )
        nearest_heading = int(np.argmax(closeness)) if len(closeness) else -1
        closest = (
            self.report.headings[nearest_heading]
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

    def _matched_heading(self, question: str, closeness: np.ndarray) -> Heading | None:
        """The heading the question names: close in meaning, or sharing enough words."""
        words = set(tokenize(question))
        best: tuple[float, Heading] | None = None
        for heading, heading_words, score in zip(
            self.report.headings, self.heading_words, closeness, strict=True
        ):
            shared = len(words & heading_words)
            close = score >= HEADING_MIN_SIMILARITY or shared >= HEADING_MIN_SHARED
            if close and (best is None or score > best[0]):
                best = (float(score), heading)
        return best[1] if best else None

    def _passages(
        self,
        vector: list[float],
        spans: Sequence[tuple[int, int]],
        per_span: int = HEADING_PASSAGES,
    ) -> list[Evidence]:
        """The passages of each span (sentence ranges) closest to the question."""
        chosen: list[Evidence] = []
        for first, last in spans:
            start, end = self.report.sentences[first].start, self.report.sentences[last - 1].end
            passages = self.retriever.passages_between(start, end)
            chosen += sorted(passages, key=lambda e: -self._closeness(vector, e))[:per_span]
        return chosen

    def _closeness(self, vector: list[float], passage: Evidence) -> float:
        similarity = self._similarity(vector, [passage])
        return max(similarity.values(), default=0.0)

    def _with_quoted(self, evidence: tuple[Evidence, ...], draft: Draft) -> tuple[Evidence, ...]:
        """The evidence, plus the passage of every quoted sentence that it lacks."""
        held = {s for e in evidence for s in e.sentences}
        added: list[Evidence] = []
        for index in draft.quoted:
            sentence = self.report.sentences[index]
            if sentence.text in held:
                continue
            for passage in self.retriever.passages_holding(sentence.start, sentence.end):
                added.append(passage)
                held.update(passage.sentences)
        return (*evidence, *added)

    def _abstention(self, state: Turn) -> str:
        """Say what the report lacks, then name the closest part it does cover."""
        if state.missing:
            lead = NOT_MENTIONED.format(terms=" or ".join(state.missing))
        else:
            lead = NOT_COVERED
        if state.closest is not None:
            return (
                f"{lead} The closest it comes is its section “{state.closest.text}”: try "
                "asking about that."
            )
        return f"{lead} Its sections are {section_list(self.report)}."

    def _similarity(self, vector: list[float], evidence: Sequence[Evidence]) -> dict[str, float]:
        """Cosine similarity of the question to each sentence of the evidence."""
        query = np.asarray(vector)
        query = query / (np.linalg.norm(query) or 1.0)
        similarity = {}
        for sentence in (s for e in evidence for s in e.sentences):
            if sentence in self.sentence_vectors and sentence not in similarity:
                similarity[sentence] = float(np.dot(query, self.sentence_vectors[sentence]))
        return similarity

    def _extractive_draft(self, state: Turn) -> tuple[Turn, Draft | None]:
        """The composed answer, and the state whose evidence holds every sentence it quotes
        (a quoted neighbour's passage joins the evidence, so its endnotes are cited)."""
        draft = extractive_answer(
            state.question, state.evidence, self.report.endnotes, state.signals
        )
        if draft is not None:
            state = replace(state, evidence=self._with_quoted(state.evidence, draft))
        return state, draft

    def _answer_stage(self, turns: Iterator[Turn]) -> Iterator[Event]:
        """Stream the answer's text, then its unchecked Reply."""
        for turn in turns:
            if turn.refusal:
                yield from _abstaining(turn, REFUSALS[turn.refusal])
            elif turn.missing:
                yield from _abstaining(turn, self._abstention(turn))
            else:
                turn, draft = self._extractive_draft(turn)
                if draft is None:  # nothing in the report answers: no model can cite it either
                    yield from _abstaining(turn, self._abstention(turn))
                elif self.backend is None:
                    yield from extractive_reply(turn, draft)
                else:
                    yield from model_reply(turn, draft, self.backend, self.report)

    def _check_stage(self, events: Iterator[Event]) -> Iterator[str | Answer]:
        """Pass the text through; turn the Reply into an Answer whose every citation is one
        the evidence carries."""
        for event in events:
            if isinstance(event, str):
                yield event
                continue
            turn = event.turn
            checked = check_citations(event.text, turn.evidence, self.report.endnotes)
            yield Answer(
                text=checked.text,
                citations=checked.citations,
                evidence=turn.evidence,
                abstained=event.abstained,
                question=turn.question.text,
                standalone_question=turn.question.standalone,
                backend=event.backend or self.backend_name,
                dropped_citations=event.dropped or checked.dropped,
                notice=" ".join(n for n in (turn.notice, event.notice) if n),
                corrected_question=turn.corrected,
            )


def _abstaining(turn: Turn, text: str) -> Iterator[Event]:
    yield text
    yield Reply(turn, text, abstained=True)
