"""The Python API: `Assistant(settings).ask(question, history)` and `.stream(...)`.

The chain is LangChain LCEL, four runnables: prepare (sanitize, refuse, correct, condense) |
retrieve | answer (extractive composer or LLM) | check (citations against the evidence).
`ask`, `stream` and `stream_events` all run `chain.stream`, so they carry the same citations,
and LangChain callbacks and tracing see every stage.

Every question is answered from one index snapshot (`live_index.py`), captured when it starts:
a re-ingest swaps the snapshot for later questions and never fails one under way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator, RunnableLambda

from opioid_assistant.answer.abstaining import (
    ONE_FACT,
    abstention,
    other_section,
    section_answers,
)
from opioid_assistant.answer.backends import ChatBackend, load_backend
from opioid_assistant.answer.citations import check_citations
from opioid_assistant.answer.composer import Draft
from opioid_assistant.answer.extractive import extractive_answer
from opioid_assistant.answer.follow_up_topics import topical_follow_ups
from opioid_assistant.answer.follow_ups import checked_follow_ups
from opioid_assistant.answer.generation import (
    Event,
    abstaining_reply,
    chat_reply,
    condensed_by_model,
    extractive_reply,
    model_reply,
    topic_reply,
)
from opioid_assistant.answer.guard import requests_act, sanitize_question, verdict
from opioid_assistant.answer.help_first import help_line
from opioid_assistant.answer.live_index import LiveIndex, Snapshot, SnapshotTurn
from opioid_assistant.answer.prompts import NOT_IN_SECTION
from opioid_assistant.answer.retrieval import HybridRetriever
from opioid_assistant.answer.retrieve_stage import retrieve
from opioid_assistant.answer.small_talk import GREETING_LEAD, plain_case, small_talk
from opioid_assistant.answer.spelling import correct_question
from opioid_assistant.answer.topics import absent_terms, named_section
from opioid_assistant.answer.turn import History, Question, Turn, condense, normalize_history
from opioid_assistant.errors import IndexReplacedError, InvalidQuestionError
from opioid_assistant.index.embedding import load_embedder
from opioid_assistant.report.sections import canonical_section, section_paths, section_scope
from opioid_assistant.settings import Settings
from opioid_assistant.types import Answer, Report

# Answers already given, by index version, section and question: the composer is
# deterministic, so a suggested follow-up checked once needs no second check while the index
# stays the same (the same few suggestions come back under many answers).
Key = tuple[str, str, str]  # index version, section ('' for the whole report), question


class CheckedAnswers:
    """A bounded, thread-safe memo of answers, least recently used out first."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def answer(self, key: Key, ask: Callable[[], Answer]) -> Answer:
        """The remembered answer for `key`, or `ask()`'s (remembered; errors are not)."""
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        found = ask()
        with self._lock:
            self._answers[key] = found
            if len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return found


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
        *,
        offered: Sequence[str] = (),
    ) -> Answer:
        """Answer a question.

        Args:
            question: The question.
            history: Earlier turns as role/content messages.
            config: A LangChain run config (callbacks, tags) that every stage sees.
            section: Answer from this section (one of `sections`) and its sub-sections only.
            offered: Follow-ups the conversation was already offered: none is suggested
                again (nor a question of `history`).

        Raises:
            InvalidQuestionError: an empty question, or an unknown section (UnknownSectionError).
        """
        answer = None
        for event in self.stream_events(question, history, config, section, offered=offered):
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
        *,
        offered: Sequence[str] = (),
    ) -> Iterator[str | Answer]:
        """Yield text pieces, then the final checked Answer (the UI replaces the text with it),
        which carries suggested follow-ups, each checked to get a cited answer and new to the
        conversation (`offered` and the questions of `history`; arguments as for `ask`)."""
        for event in self._events(question, history, config, section):
            if isinstance(event, Answer) and self.settings.follow_ups:
                asked = [m["content"] for m in normalize_history(history) if m["role"] == "user"]
                event = self._with_follow_ups(event, [*asked, *offered])
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

    def retrieved(self, question: str, history: History | None = None) -> Turn:
        """The question after the understand and retrieve stages (eval/fit_selection.py)."""
        inputs = {"question": question, "history": history, "snapshot": self.live.snapshot()}
        return self._retrieve(self._prepare(inputs))

    def _with_follow_ups(self, answer: Answer, seen: Sequence[str] = ()) -> Answer:
        """The answer with 2-4 suggested next questions on its topic that get cited answers
        themselves, none of them in `seen`."""
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

        candidates = topical_follow_ups(snapshot.report, answer, seen)
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
        # A part of the report named in the question scopes it as `section=` does.
        named = "" if inputs.get("section") else named_section(question, snapshot.report)
        # A section's label (as the page shows it) names it as its path does.
        given = inputs.get("section") or ""
        section = (canonical_section(snapshot.report, given) or given) if given else named
        scope = section_scope(snapshot.report, section) if section else ()
        common: dict[str, Any] = dict(section=section, scope=scope, snapshot=snapshot)
        common["section_named"] = bool(named)
        common["extractive_only"] = bool(inputs.get("extractive_only"))
        question = GREETING_LEAD.sub("", plain_case(question))
        chat = small_talk(question, conversation=bool(history))
        if chat:  # "hi", "thanks", "what can you do?": a fixed reply; a bare "help" gets help
            plea = "overdose" if chat == "help" else ""
            return SnapshotTurn(
                Question(question, question), history, notice, need=plea, chat=chat, **common
            )
        need = verdict(question, snapshot.retriever.embedder)  # help first, harm declined
        if need.outcome == "harmful" and history and not requests_act(question):
            # A short follow-up ("Do those work?") is judged with what it refers to, not by
            # the examples its few words happen to be near.
            standalone = condense(question, history).standalone
            need = verdict(standalone, snapshot.retriever.embedder)
        if need.refusal:
            return SnapshotTurn(
                Question(question, question), history, notice, refusal=need.refusal, **common
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
            need=need.kind,
            **common,
        )

    def _snapshot_of(self, turn: Turn) -> Snapshot:
        """The snapshot the turn's question was captured on."""
        if isinstance(turn, SnapshotTurn) and turn.snapshot is not None:
            return turn.snapshot
        return self.live.current

    def _retrieve(self, state: Turn, config: RunnableConfig | None = None) -> Turn:
        return retrieve(self._snapshot_of(state), state, self.settings, config)

    def _extractive_draft(self, state: Turn) -> tuple[Turn, Draft | None]:
        """The composed answer, and the state whose evidence holds every sentence it quotes
        (a quoted neighbour's passage joins the evidence, so its endnotes are cited)."""
        snap = self._snapshot_of(state)
        draft = extractive_answer(
            state.question, state.evidence, snap.report.endnotes, state.signals
        )
        said = state.question.previous_answer
        if draft is None and state.question.context and said and not state.scope:
            # A follow-up is retried with the topic the last answer carries (its own words)
            # before it is told the report does not say.
            retry = replace(state.question, standalone=f"{said} {state.question.text}")
            again = self._retrieve(replace(state, question=retry))
            draft = extractive_answer(retry, again.evidence, snap.report.endnotes, again.signals)
            # The answer keeps the question as the conversation put it (the reader's link and
            # the model's prompt show that), not the retry's search text.
            state = replace(again, question=state.question) if draft is not None else state
        if draft is not None:
            state = replace(
                state, evidence=snap.with_quoted(state.evidence, draft.quoted, draft.about)
            )
        return state, draft

    def _answered_elsewhere(self, turn: Turn, draft: Draft | None) -> str:
        """For a scoped question that its section does not answer (no draft, or a near miss
        after one fact): where the whole report answers it, when that is outside the scope;
        else ''."""
        report = self._snapshot_of(turn).report
        if not turn.scope or (
            draft is not None and (draft.shape not in ONE_FACT or section_answers(turn, report))
        ):
            return ""
        _, found = self._extractive_draft(self._retrieve(replace(turn, section="", scope=())))
        return other_section(turn, draft, found, report)

    def _answer_stage(self, turns: Iterator[Turn]) -> Iterator[Event]:
        """Stream the answer's text, then its unchecked Reply."""
        for turn in turns:
            if turn.chat:
                yield from chat_reply(turn, self._snapshot_of(turn).report)
            elif turn.refusal or turn.need:  # refused, declined or help first: its help line
                yield from topic_reply(turn, self._retrieve, self._extractive_draft, self.backend)
            elif turn.missing:
                yield from abstaining_reply(turn, abstention(turn, self._snapshot_of(turn).report))
            else:
                turn, draft = self._extractive_draft(turn)
                elsewhere = self._answered_elsewhere(turn, draft)
                if elsewhere:
                    text = NOT_IN_SECTION.format(section=turn.section)
                    yield from abstaining_reply(
                        turn, f"{text} The report answers it in “{elsewhere}”."
                    )
                elif draft is None:  # nothing in the report answers: no model can cite it either
                    yield from abstaining_reply(
                        turn, abstention(turn, self._snapshot_of(turn).report)
                    )
                elif self.backend is None or turn.extractive_only or draft.abstains:
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
