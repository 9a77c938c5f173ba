"""The evaluation suite: run the evaluation set through the assistant and a tutorial baseline.

The baseline is what a peer builds from the LangChain RAG tutorial: RecursiveCharacterTextSplitter
(1000, 200) over the raw report text, the same embedding model, Chroma top-4, and the top chunk
as the answer (no endnotes). Both run in one call so every gain is a ratio from one run.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from opioid_assistant.answer.help_first import safety_first
from opioid_assistant.evaluate import metrics
from opioid_assistant.evaluate.conversation import history_of
from opioid_assistant.types import Answer, Evidence, Report, Sentence

# Categories whose right answer is an abstention or a refusal. "absent_term" asks about a
# term the report never mentions; its answer must name that term.
ANSWERABLE_EXCLUDED = frozenset({"unanswerable", "adversarial", "absent_term"})
# Categories whose required facts come from two or more sentences of the report.
MULTI_SENTENCE = frozenset({"synthesis"})
# Categories answered from the report's own front matter (title, publisher, authors), which
# carries no endnote.
META = frozenset({"meta"})
CONVERSATION = frozenset({"multi_turn"})  # items asked as a turn of a conversation
BASELINE_K = 4
NAIVE_SENTENCES = 6  # the naive answer: the evidence's first sentences, in the order given


@dataclass(frozen=True)
class EvalItem:
    """One known answer of the evaluation set."""

    id: str
    category: str
    question: str
    required_facts: list[list[str]]
    gold_endnotes: list[int]
    gold_section: str = ""
    turns: list[str] = field(default_factory=list)
    expected_url: str | None = None
    absent_term: str = ""

    @property
    def answerable(self) -> bool:
        """False for questions the assistant must refuse or abstain on."""
        return self.category not in ANSWERABLE_EXCLUDED


def item_problems(report: Report, item: EvalItem) -> list[str]:
    """What is wrong with an item, checked against the report ([] when it is sound).

    An answerable item's gold sentences (gold_report_sentences) must state its required facts
    (all in one sentence, or for a multi-sentence category each fact in some gold sentence,
    from at least two sentences); an abstention item has no facts or notes, and the term an
    "absent_term" item names must be missing from the report.
    """
    if not item.answerable:
        problems = []
        if item.required_facts or item.gold_endnotes:
            problems.append("an item to abstain on has no required facts or gold endnotes")
        if item.category == "absent_term":
            term = item.absent_term.lower()
            if not term or term not in item.question.lower():
                problems.append("absent_term must be set and appear in the question")
            elif re.search(rf"\b{re.escape(term)}", report.text.lower()):
                problems.append(f"the report does mention {item.absent_term!r}")
        return problems
    if item.category in META:
        found = metrics.has_facts(" ".join(report.front_matter()), item.required_facts)
        return [] if item.required_facts and found else ["the report does not state every fact"]
    sentences = gold_report_sentences(report, item)
    if not sentences:
        return [f"no gold sentence: endnotes {item.gold_endnotes}, {item.gold_section!r}"]
    problems = []
    if item.category in MULTI_SENTENCE:
        stating = [
            [s.text for s in sentences if metrics.has_facts(s.text, [group])]
            for group in item.required_facts
        ]
        if len(item.required_facts) < 2 or not all(stating):
            problems.append("each required fact must be stated by a gold sentence")
        elif len({t for texts in stating for t in texts}) < 2:
            problems.append("a synthesis item's facts must come from two or more sentences")
    elif not any(metrics.has_facts(s.text, item.required_facts) for s in sentences):
        problems.append("no gold sentence states all the required facts")
    if item.gold_section not in {s.section for s in sentences}:
        problems.append(f"gold_section {item.gold_section!r} is not a gold sentence's section")
    if not item.gold_endnotes:
        return problems
    url = report.endnotes[item.gold_endnotes[0]].resolved_url
    if item.expected_url and url != item.expected_url:
        problems.append(f"expected_url differs from endnote {item.gold_endnotes[0]}'s URL {url}")
    return problems


def default_evalset_path() -> Path:
    """The evaluation set shipped inside the package (a copy of eval/evalset.jsonl)."""
    return Path(str(resources.files("opioid_assistant.data").joinpath("evalset.jsonl")))


def bundled_report_text() -> str:
    """The raw text of the bundled report (what the baseline splits)."""
    return (
        resources.files("opioid_assistant.data")
        .joinpath("cap-opioid-report-2023.txt")
        .read_text("utf-8")
    )


def load_evalset(path: Path | None = None) -> list[EvalItem]:
    """Read the evaluation set (JSON lines)."""
    text = (path or default_evalset_path()).read_text(encoding="utf-8")
    return [EvalItem(**json.loads(line)) for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class ItemResult:
    """How one system did on one item."""

    id: str
    category: str
    question: str
    answer: str
    citations: list[int]
    abstained: bool
    accurate: bool
    precision: float | None
    cited_gold: bool | None  # None: the item has no gold endnote to cite
    hit_rank: int | None
    seconds: float
    failed_checks: list[str]
    words: int = 0
    sentence_precision: float | None = None
    index_version: str = ""  # the index (and report snapshot) the answer came from
    # The answer's stages, for answerable items (None otherwise, and for the baseline):
    in_evidence: bool | None = None  # the evidence holds every required fact (the ceiling)
    naive_accurate: bool | None = None  # the evidence's first NAIVE_SENTENCES hold them
    turn: int = 1  # the question's position in its conversation (1 for a single question)


def score_item(
    item: EvalItem,
    text: str,
    cited: Sequence[int],
    abstained: bool,
    passages: Sequence[tuple[str, Sequence[int]]],
    supporting: set[int],
    gold_sentences: Sequence[str],
    seconds: float,
    sentences_by_note: Mapping[int, Sequence[str]] | None = None,
) -> ItemResult:
    """Score one answer against its item (pure).

    Args:
        sentences_by_note: The report sentences carrying each endnote, for per-sentence
            citation precision (not scored when None).
    """
    hits = [metrics.retrieved(t, n, item.gold_endnotes, gold_sentences) for t, n in passages]
    rank = metrics.first_hit_rank(hits)
    if item.answerable:
        accurate = metrics.has_facts(text, item.required_facts) and not abstained
    else:  # an abstention about an absent term must name the term
        accurate = abstained and item.absent_term.lower() in text.lower()
    precision = metrics.citation_precision(cited, item.gold_endnotes, supporting)
    cited_gold = metrics.citation_recall(cited, item.gold_endnotes)
    failed = []
    if not accurate:
        failed.append("abstention" if not item.answerable or abstained else "required facts")
    if item.answerable and cited_gold is False:
        failed.append("no gold endnote cited")
    if precision is not None and precision < 1:
        failed.append("unsupported citation")
    if item.answerable and not metrics.recall_at_k(rank, 5):
        failed.append("gold not retrieved in top 5")
    return ItemResult(
        item.id,
        item.category,
        item.question,
        text,
        list(cited),
        abstained,
        accurate,
        precision,
        cited_gold,
        rank,
        seconds,
        failed,
        words=metrics.word_count(text),
        turn=max(len(item.turns), 1),
        sentence_precision=(
            metrics.sentence_citation_precision(text, sentences_by_note)
            if sentences_by_note is not None and not abstained
            else None
        ),
    )


def sentences_by_note(report: Report) -> dict[int, list[str]]:
    """The report sentences that carry each endnote, with the endnote's own text."""
    found: dict[int, list[str]] = {n: [] for n in report.endnotes}
    for sentence in report.sentences:
        for number in sentence.endnotes:
            found[number].append(sentence.text)
    for number, note in report.endnotes.items():
        found[number].append(note.text)  # a source answer quotes the endnote itself
    return found


def ask_item(
    ask: Callable[[str, list[dict[str, str]]], Answer], item: EvalItem
) -> tuple[Answer, float]:
    """Ask the item's question after its earlier turns (multi-turn items)."""
    history = history_of(ask, item.turns[:-1])
    started = time.perf_counter()
    answer = ask(item.question, history)
    return answer, time.perf_counter() - started


def gold_report_sentences(report: Report, item: EvalItem) -> list[Sentence]:
    """The report sentences that may state an item's facts: those carrying its gold endnotes,
    and those of its gold section that carry none (the report's own recommendations and
    arguments, which cite no source) but state one of its facts."""
    own = [s for s in report.sentences if not s.endnotes and s.section == item.gold_section]
    return [s for n in item.gold_endnotes for s in report.sentences_citing(n)] + [
        s for s in own if any(metrics.has_facts(s.text, [g]) for g in item.required_facts)
    ]


def evaluate_assistant(
    assistant: Any, items: Sequence[EvalItem], progress: Callable[[], None] = lambda: None
) -> list[ItemResult]:
    """Run every item through an Assistant and score it."""
    by_note = sentences_by_note(assistant.report)
    results = []
    for item in items:
        answer, seconds = ask_item(lambda q, h: assistant.ask(q, h), item)
        passages = [(e.text, e.endnotes) for e in answer.evidence]
        supporting = metrics.supporting_endnotes(answer.evidence, item.required_facts)
        scored = score_item(
            item,
            answer.text.removeprefix(safety_first(answer.safety)),  # the report's part
            [c.number for c in answer.citations],
            answer.abstained,
            passages,
            supporting,
            [s.text for s in gold_report_sentences(assistant.report, item)],
            seconds,
            by_note,
        )
        stages = evidence_stages(item, answer.evidence) if item.answerable else (None, None)
        results.append(
            replace(
                scored,
                index_version=answer.index_version,
                in_evidence=stages[0],
                naive_accurate=stages[1],
            )
        )
        progress()
    return results


def evidence_stages(item: EvalItem, evidence: Sequence[Evidence]) -> tuple[bool, bool]:
    """Whether the evidence holds every required fact (the ceiling any selection can reach),
    and whether a naive answer of its first NAIVE_SENTENCES sentences, in the order given,
    does (the floor a selection must beat)."""
    whole = " ".join(e.text for e in evidence)
    sentences = [s for e in evidence for s in (e.sentences or (e.text,))]
    naive = " ".join(sentences[:NAIVE_SENTENCES])
    return (
        metrics.has_facts(whole, item.required_facts),
        metrics.has_facts(naive, item.required_facts),
    )


def evaluate_baseline(
    report_text: str,
    report: Report,
    embedder: Any,
    items: Sequence[EvalItem],
    progress: Callable[[], None] = lambda: None,
) -> list[ItemResult]:
    """The LangChain-tutorial baseline: 1000/200 character chunks, dense top-4, top chunk."""
    results = []
    for result in baseline_results(report_text, report, embedder, items):
        results.append(result)
        progress()
    return results


def baseline_results(
    report_text: str, report: Report, embedder: Any, items: Sequence[EvalItem]
) -> Iterator[ItemResult]:
    """`evaluate_baseline`, one item's result at a time (its chunks are embedded on the
    first `next`); exhausting it drops the baseline's store."""
    import chromadb
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from opioid_assistant.index.store import EXACT_ENOUGH_HNSW

    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_text(
        report_text
    )
    client = chromadb.EphemeralClient(chromadb.Settings(anonymized_telemetry=False))
    collection = client.create_collection(
        f"baseline-{time.time_ns()}", configuration={"hnsw": EXACT_ENOUGH_HNSW}
    )
    collection.add(
        ids=[str(i) for i in range(len(chunks))],
        documents=chunks,
        embeddings=embedder.embed_documents(chunks),
    )
    for item in items:
        started = time.perf_counter()
        found = collection.query(
            query_embeddings=[embedder.embed_query(item.question)], n_results=BASELINE_K
        )
        top = (found["documents"] or [[]])[0]
        seconds = time.perf_counter() - started
        passages = [(t, ()) for t in top]
        yield score_item(
            item,
            top[0] if top else "",
            [],
            False,
            passages,
            set(),
            [s.text for s in gold_report_sentences(report, item)],
            seconds,
        )
    client.delete_collection(collection.name)


def summarize(results: Iterable[ItemResult]) -> dict[str, float | int | None]:
    """The headline metrics over a set of item results."""
    results = list(results)
    answerable = [r for r in results if r.category not in ANSWERABLE_EXCLUDED]
    refusable = [r for r in results if r.category in ANSWERABLE_EXCLUDED]
    seconds = [r.seconds for r in results]
    words = [float(r.words) for r in answerable]
    accuracy = metrics.mean(float(r.accurate) for r in answerable)
    ceiling = metrics.mean(
        None if r.in_evidence is None else float(r.in_evidence) for r in answerable
    )
    turns = [r for r in answerable if r.category in CONVERSATION]
    return {
        "items": len(results),
        "answer_accuracy": accuracy,
        "evidence_ceiling": ceiling,
        "selection_loss": None if ceiling is None or accuracy is None else ceiling - accuracy,
        "naive_accuracy": metrics.mean(
            None if r.naive_accurate is None else float(r.naive_accurate) for r in answerable
        ),
        "citation_precision": metrics.mean(r.precision for r in answerable),
        "citation_recall": metrics.mean(
            None if r.cited_gold is None else float(r.cited_gold) for r in answerable
        ),
        "sentence_citation_precision": metrics.mean(r.sentence_precision for r in answerable),
        "words_p50": metrics.percentile(words, 50),
        "words_p95": metrics.percentile(words, 95),
        "recall_at_5": metrics.mean(float(metrics.recall_at_k(r.hit_rank, 5)) for r in answerable),
        "mrr": metrics.mean(metrics.reciprocal_rank(r.hit_rank) for r in answerable),
        "correct_abstention": metrics.mean(float(r.abstained) for r in refusable),
        "false_refusal": metrics.mean(float(r.abstained) for r in answerable),
        "latency_p50_ms": metrics.percentile(seconds, 50) * 1000,
        "latency_p95_ms": metrics.percentile(seconds, 95) * 1000,
        # A conversation's answers by the turn asked: 1st, 2nd, 3rd and later.
        "turn_1": metrics.mean(float(r.accurate) for r in turns if r.turn == 1),
        "turn_2": metrics.mean(float(r.accurate) for r in turns if r.turn == 2),
        "turn_3plus": metrics.mean(float(r.accurate) for r in turns if r.turn >= 3),
    }


def by_category(results: Sequence[ItemResult]) -> dict[str, dict[str, float | int | None]]:
    """summarize() per category, in first-seen order."""
    categories = list(dict.fromkeys(r.category for r in results))
    return {c: summarize(r for r in results if r.category == c) for c in categories}


def results_json(system: str, results: Sequence[ItemResult]) -> dict[str, Any]:
    """A JSON-ready record of one system's run."""
    return {
        "system": system,
        "summary": summarize(results),
        "by_category": by_category(results),
        "items": [asdict(r) for r in results],
    }
