"""The Python API: `Assistant(settings).ask(question, history)` and `.stream(...)`.

The chain is LangChain LCEL, four runnables: prepare (sanitize, refuse, correct, condense) |
retrieve | answer (extractive composer or LLM) | check (citations against the evidence).
`ask`, `stream` and `stream_events` all run `chain.stream`, so they carry the same citations,
and LangChain callbacks and tracing see every stage.

Every question is answered from one index snapshot (`live_index.py`), captured when it starts:
a re-ingest swaps the snapshot for later questions and never fails one under way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator, RunnableLambda

from opioid_assistant.answer.abstaining import (
    ONE_FACT,
    abstention,
    other_section,
    section_answers,
)
from opioid_assistant.answer.backends import ChatBackend, load_backend
from opioid_assistant.answer.checked_answers import CheckedAnswers
from opioid_assistant.answer.citations import check_citations
from opioid_assistant.answer.extractive import Draft, extractive_answer
from opioid_assistant.answer.follow_ups import candidate_follow_ups, checked_follow_ups
from opioid_assistant.answer.generation import (
    Event,
    abstaining_reply,
    condensed_by_model,
    extractive_reply,
    model_reply,
)
from opioid_assistant.answer.guard import sanitize_question, verdict
from opioid_assistant.answer.help_first import help_line, topic_reply
from opioid_assistant.answer.history import History, normalize_history
from opioid_assistant.answer.live_index import LiveIndex, Snapshot, SnapshotTurn
from opioid_assistant.answer.prompts import NOT_IN_SECTION
from opioid_assistant.answer.ranking import Question, Signals, condense
from opioid_assistant.answer.retrieval import HybridRetriever
from opioid_assistant.answer.spelling import correct_question
from opioid_assistant.answer.topics import (
    absent_terms,
    looks_like_a_drug,
    section_paths,
    section_scope,
)
from opioid_assistant.answer.turn import Turn
from opioid_assistant.errors import IndexReplacedError, InvalidQuestionError
from opioid_assistant.index.embedding import load_embedder
from opioid_assistant.settings import Settings
from opioid_assistant.types import Answer, Report

HINT_MIN_SIMILARITY = 0.3  # an abstention suggests a heading only this close to the question
# A rare word the report lacks may be a paraphrase ("reoffend" for "recidivism"): unless it
# names a drug, it counts as missing only when no report sentence comes this close in meaning.
PARAPHRASE_SIMILARITY = 0.6
MISSING_TERMS = 3  # more missing terms than this: another language or noise, not a near miss


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
        embedder = load_embedder(self.settings.embedding_model, self.settings.data_dir)
        self.live = LiveIndex(self.settings, embedder)
        self.checked = CheckedAnswers()  # follow-ups already checked, per index version
        self.backend = backend if backend is not None else load_backend(self.settings)
        self.chain: Runnable[dict[str, Any], str | Answer] = (
            RunnableLambda(self._prepare, name="prepare")
            | RunnableLambda(self._retrieve, name="retrieve")
            | RunnableGenerator(self._answer_stage, name="answer")
            | RunnableGenerator(self._check_stage, name="check")
        ).with_config(run_name="opioid-assistant")

    @property
    def report(self) -> Report:
        """The report of the current index snapshot (what new questions are answered from)."""
        return self.live.snapshot().report

    @property
    def retriever(self) -> HybridRetriever:
        """The retriever over the current index snapshot."""
        return self.live.snapshot().retriever

    @property
    def index_version(self) -> str:
        """The fingerprint of the current index snapshot."""
        return self.live.snapshot().version

    @property
    def backend_name(self) -> str:
        """Name of the backend that writes answers."""
        return self.backend.name if self.backend else "extractive"

    @property
    def sections(self) -> tuple[str, ...]:
        """The sections and sub-sections a question may be scoped to ('Section > Sub')."""
        return section_paths(self.report)

    def ask(
        self,
        question: str,
        history: History | None = None,
        config: RunnableConfig | None = None,
        section: str | None = None,
    ) -> Answer:
        """Answer a question.

        Args:
            question: The question.
            history: Earlier turns as role/content messages.
            config: A LangChain run config (callbacks, tags) that every stage sees.
            section: Answer from this section (one of `sections`) and its sub-sections only.

        Raises:
            InvalidQuestionError: an empty question, or an unknown section (UnknownSectionError).
        """
        answer = None
        for event in self.stream_events(question, history, config, section):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None  # stream_events always ends with the Answer
        return answer

    def stream(
        self,
        question: str,
        history: History | None = None,
        config: RunnableConfig | None = None,
        section: str | None = None,
    ) -> Iterator[str]:
        """Yield the answer text in pieces as it is generated (arguments as for `ask`)."""
        for event in self.stream_events(question, history, config, section):
            if isinstance(event, str):
                yield event

    def stream_events(
        self,
        question: str,
        history: History | None = None,
        config: RunnableConfig | None = None,
        section: str | None = None,
    ) -> Iterator[str | Answer]:
        """Yield text pieces, then the final checked Answer (the UI replaces the text with it),
        which carries suggested follow-ups, each checked to get a cited answer."""
        for event in self._events(question, history, config, section):
            if isinstance(event, Answer) and self.settings.follow_ups:
                event = self._with_follow_ups(event)
            yield event

    def _events(
        self,
        question: str,
        history: History | None,
        config: RunnableConfig | None,
        section: str | None,
        extractive_only: bool = False,
        snapshot: Snapshot | None = None,
    ) -> Iterator[str | Answer]:
        snapshot = snapshot or self.live.snapshot()  # the whole chain answers from this one
        inputs: dict[str, Any] = dict(question=question, history=history, section=section)
        inputs["extractive_only"] = extractive_only
        started = False
        try:
            for event in self.chain.stream({**inputs, "snapshot": snapshot}, config):
                started = True
                yield event
        except IndexReplacedError:
            # Its collection was collected under it (two ingests in quick succession):
            # nothing was said yet, so ask again on the generation the registry names now.
            fresh = self.live.refresh()
            if started or fresh is snapshot:
                raise
            yield from self.chain.stream({**inputs, "snapshot": fresh}, config)

    def _with_follow_ups(self, answer: Answer) -> Answer:
        """The answer with 2-4 suggested next questions that get cited answers themselves."""
        snapshot = self.live.snapshot()  # suggestions are made and checked on this one
        if answer.index_version != snapshot.version:
            return answer  # the index moved on: suggestions would come from another report
        section = answer.section or None

        def composed(question: str) -> Answer:
            events = self._events(question, None, None, section, True, snapshot)
            return [e for e in events if isinstance(e, Answer)][-1]

        def plain_ask(question: str) -> Answer:
            key = (answer.index_version, answer.section, question)
            return self.checked.answer(key, lambda: composed(question))

        candidates = candidate_follow_ups(snapshot.report, answer)
        kept = checked_follow_ups(candidates, answer, plain_ask, self.settings.follow_ups)
        return replace(answer, follow_ups=kept)

    def _prepare(self, inputs: dict[str, Any]) -> SnapshotTurn:
        snapshot: Snapshot = inputs.get("snapshot") or self.live.snapshot()
        question, notice = sanitize_question(
            str(inputs["question"] or ""), self.settings.max_question_chars
        )
        if not question:
            raise InvalidQuestionError("the question is empty: type a question about the report")
        history = normalize_history(inputs.get("history"))
        section = inputs.get("section") or ""
        scope = section_scope(snapshot.report, section) if section else ()
        need = verdict(question, snapshot.retriever.embedder)  # help first, harm declined
        if need.refusal:
            return SnapshotTurn(
                Question(question, question),
                history,
                notice,
                refusal=need.refusal,
                section=section,
                scope=scope,
                extractive_only=bool(inputs.get("extractive_only")),
                snapshot=snapshot,
            )
        corrected = correct_question(question, snapshot.speller)
        if corrected:
            question = corrected
            notice = " ".join(n for n in (notice, f"Showing results for “{corrected}”.") if n)
        missing = () if need.kind else tuple(absent_terms(question, snapshot.known))
        condensed = condense(question, history)
        if self.backend is not None and condensed.context:
            condensed = condensed_by_model(condensed, history, self.backend)
        return SnapshotTurn(
            condensed,
            history,
            notice,
            corrected=corrected,
            missing=missing,
            section=section,
            scope=scope,
            extractive_only=bool(inputs.get("extractive_only")),
            snapshot=snapshot,
            need=need.kind,
        )

    def _snapshot_of(self, turn: Turn) -> Snapshot:
        """The snapshot the turn's question was captured on."""
        if isinstance(turn, SnapshotTurn) and turn.snapshot is not None:
            return turn.snapshot
        return self.live.current

    def _retrieve(self, state: Turn, config: RunnableConfig | None = None) -> Turn:
        snap = self._snapshot_of(state)
        embedder = snap.retriever.embedder
        vector = embedder.embed_query(state.question.standalone)
        documents = snap.retriever.invoke(
            state.question.standalone,
            config,
            k=self.settings.top_k,
            vector=vector,
            sections=state.scope,
        )
        evidence = snap.retriever.evidence_of(documents)
        if state.question.context:  # a follow-up: its own words weigh as much as the history
            own = embedder.embed_query(state.question.text)
            vector = [(a + b) / 2 for a, b in zip(vector, own, strict=True)]
        query = np.asarray(vector)
        closeness = snap.heading_vectors @ query
        heading = snap.matched_heading(state.question.standalone, closeness)
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
            topic=snap.topic,
            favoured=favoured,
            spans=spans,
            report=snap.report,
            vectors=snap.sentence_vectors,
            query=tuple(query / (np.linalg.norm(query) or 1.0)),
            scope=frozenset(state.scope),
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

    def _extractive_draft(self, state: Turn) -> tuple[Turn, Draft | None]:
        """The composed answer, and the state whose evidence holds every sentence it quotes
        (a quoted neighbour's passage joins the evidence, so its endnotes are cited)."""
        snap = self._snapshot_of(state)
        draft = extractive_answer(
            state.question, state.evidence, snap.report.endnotes, state.signals
        )
        if draft is not None:
            state = replace(state, evidence=snap.with_quoted(state.evidence, draft))
        return state, draft

    def _answered_elsewhere(self, turn: Turn, draft: Draft | None) -> str:
        """For a scoped question after one fact: where the whole report answers it, when
        that is outside the scope (the scoped draft is then a near miss); else ''."""
        report = self._snapshot_of(turn).report
        if draft is None or draft.shape not in ONE_FACT or section_answers(turn, report):
            return ""
        _, found = self._extractive_draft(self._retrieve(replace(turn, section="", scope=())))
        return other_section(turn, draft, found, report)

    def _answer_stage(self, turns: Iterator[Turn]) -> Iterator[Event]:
        """Stream the answer's text, then its unchecked Reply."""
        for turn in turns:
            if turn.refusal or turn.need:  # refused, declined or help first: its help line
                yield from topic_reply(turn, self._retrieve, self._extractive_draft, self.backend)
            elif turn.missing:
                yield from abstaining_reply(turn, abstention(turn, self._snapshot_of(turn).report))
            else:
                turn, draft = self._extractive_draft(turn)
                elsewhere = self._answered_elsewhere(turn, draft)
                if draft is None:  # nothing in the report answers: no model can cite it either
                    yield from abstaining_reply(
                        turn, abstention(turn, self._snapshot_of(turn).report)
                    )
                elif elsewhere:
                    text = NOT_IN_SECTION.format(section=turn.section)
                    yield from abstaining_reply(
                        turn, f"{text} The report answers it in “{elsewhere}”."
                    )
                elif self.backend is None or turn.extractive_only:
                    yield from extractive_reply(turn, draft)
                else:
                    report = self._snapshot_of(turn).report
                    yield from model_reply(turn, draft, self.backend, report)

    def _check_stage(self, events: Iterator[Event]) -> Iterator[str | Answer]:
        """Pass the text through; turn the Reply into an Answer whose every citation is one
        the evidence carries."""
        for event in events:
            if isinstance(event, str):
                yield event
                continue
            turn = event.turn
            snap = self._snapshot_of(turn)
            checked = check_citations(event.text, turn.evidence, snap.report.endnotes)
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
                index_version=snap.version,
                section=turn.section,
                safety=help_line(turn),
            )
