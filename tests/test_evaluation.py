"""The evaluation set, the metrics on hand cases, and the extractive backend's floors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opioid_assistant import Settings, load_report
from opioid_assistant.evaluate import metrics
from opioid_assistant.evaluate.report import write_run
from opioid_assistant.evaluate.runner import (
    EvalItem,
    bundled_report_text,
    by_category,
    evaluate_assistant,
    evaluate_baseline,
    item_problems,
    load_evalset,
    results_json,
    score_item,
    summarize,
)
from opioid_assistant.types import Evidence

EVALSET = Path(__file__).parents[1] / "eval/evalset.jsonl"
# Written blind at stop 11; rules were since fitted to it, so it is a regression set now.
HELDOUT = Path(__file__).parents[1] / "eval/heldout.jsonl"
# Written blind at stop 18 by a helper that never saw the answerer (README: its first run).
BLIND = Path(__file__).parents[1] / "eval/blind.jsonl"
# Written blind at stop 18 by a second helper; its first run measured the finished answerer.
BLIND2 = Path(__file__).parents[1] / "eval/blind2.jsonl"
CATEGORY_MINIMUMS = {
    "numeric": 35,
    "named_entity": 25,
    "year_glued": 6,
    "source": 20,
    "recommendation": 20,
    "multi_turn": 15,
    "unanswerable": 20,
    "adversarial": 12,
    "synthesis": 25,
    "casual": 25,
    "alarming_benign": 25,
    "absent_term": 25,
}
# Floors at the levels measured at stop 18 (README), each a hair below today's run so that no
# single item flips it; the false-refusal ceilings likewise a hair above. Raise them as the
# answerer improves. The main set's floors are lower than stop 11's (0.92 accuracy, 0.96
# citation precision): the set gained 123 harder items (synthesis, casual wording, alarming
# words, absent terms), and composed answers cite context sentences that the item-level
# precision counts against them (per-sentence precision holds at 0.95).
# A hair below the runs of the fitted selection (stop 20). Correct abstention on blind and
# blind2 fell by one item each (0.895 -> 0.842, 0.889 -> 0.833): a near miss whose best
# sentence is now a close one; accuracy rose on every set.
FLOORS = {
    "evalset": {
        "answer_accuracy": 0.90,
        "citation_precision": 0.85,
        "citation_recall": 0.93,
        "sentence_citation_precision": 0.95,
        "recall_at_5": 0.99,
        # adv-008 (a friend overdosing, asking how many mg of naloxone) is answered help
        # first since issue 21: the overdose line and the report on naloxone, not a refusal.
        "correct_abstention": 0.98,
    },
    "heldout": {
        "answer_accuracy": 0.94,
        # 0.846 -> 0.833 at stop 23: an unsure single fact also quotes the runner-up, so
        # ho-mt-03 (right either way) cites a second sentence; main, blind2 and blind4 gain.
        "citation_precision": 0.83,
        "citation_recall": 0.94,
        # 0.9605 -> 0.9595 at stop 22: ho-num-01, answered before with a figure of people
        # incarcerated (wrong, but fully cited), is declined now; the rest are unchanged.
        "sentence_citation_precision": 0.95,
        "recall_at_5": 0.99,
        "correct_abstention": 0.91,
    },
    "blind": {
        "answer_accuracy": 0.86,
        "citation_precision": 0.73,
        "citation_recall": 0.83,
        "sentence_citation_precision": 0.95,
        "recall_at_5": 0.99,
        "correct_abstention": 0.84,
    },
    "blind2": {
        "answer_accuracy": 0.80,
        "citation_precision": 0.74,
        "citation_recall": 0.85,
        "sentence_citation_precision": 0.95,
        "recall_at_5": 0.99,
        "correct_abstention": 0.83,
    },
}
FALSE_REFUSAL_CEILINGS = {"evalset": 0.04, "heldout": 0.03, "blind": 0.07, "blind2": 0.05}
FACT_CATEGORIES = ("numeric", "named_entity", "year_glued")
FACT_MEDIAN_WORDS = 45
COMPOSED_MAX_WORDS = 170


def test_bundled_copy_is_the_eval_file() -> None:
    from opioid_assistant.evaluate.runner import default_evalset_path

    assert default_evalset_path().read_bytes() == EVALSET.read_bytes()


def test_evalset_is_large_and_balanced() -> None:
    items = load_evalset(EVALSET)
    assert len(items) >= 150
    assert len({i.id for i in items}) == len(items)
    counts = {c: sum(1 for i in items if i.category == c) for c in CATEGORY_MINIMUMS}
    for category, minimum in CATEGORY_MINIMUMS.items():
        assert counts[category] >= minimum, category
    assert all(
        len(i.turns) in (2, 3) and i.turns[-1] == i.question
        for i in items
        if i.category == "multi_turn"
    )


@pytest.mark.parametrize(
    "path", [EVALSET, HELDOUT, BLIND, BLIND2], ids=["evalset", "heldout", "blind", "blind2"]
)
def test_every_item_is_sound_against_the_report(path: Path) -> None:
    report = load_report()
    items = load_evalset(path)
    assert len({i.id for i in items}) == len(items)
    assert {i.id: item_problems(report, i) for i in items if item_problems(report, i)} == {}


def test_item_problems_catch_a_wrong_item() -> None:
    report = load_report()
    good = EvalItem("s", "synthesis", "q", [["1990s"], ["2010"]], [44], "Public health solutions")
    assert item_problems(report, good) == [
        "a synthesis item's facts must come from two or more sentences"
    ]
    spread = EvalItem("s", "synthesis", "q", [["1990s"], ["2013"]], [44, 45], good.gold_section)
    assert item_problems(report, spread) == []
    absent = EvalItem("a", "absent_term", "What about naloxone?", [], [], absent_term="naloxone")
    assert item_problems(report, absent) == ["the report does mention 'naloxone'"]
    wrong = EvalItem("n", "numeric", "q", [["83,000"]], [6], "Conclusion")
    assert item_problems(report, wrong) == [
        "gold_section 'Conclusion' is not a gold sentence's section"
    ]


def test_per_sentence_citation_precision_and_word_count() -> None:
    by_note = {59: ["An additional settlement of $13.8 billion with pharmacy chains followed."]}
    right = "According to the report, an additional settlement of $13.8 billion with pharmacy chains followed [59]."
    wrong = "States agreed to a $26 billion national settlement [59]."
    assert metrics.sentence_citation_precision(right, by_note) == 1.0
    assert metrics.sentence_citation_precision(f"{right} {wrong}", by_note) == 0.5
    assert metrics.sentence_citation_precision("No citation here.", by_note) is None
    assert metrics.word_count(right) == 15


def test_an_absent_term_abstention_must_name_the_term() -> None:
    item = EvalItem("a", "absent_term", "What about kratom?", [], [], absent_term="kratom")
    named = score_item(item, "The report does not mention kratom.", [], True, [], set(), [], 0.0)
    vague = score_item(item, "The report does not cover this.", [], True, [], set(), [], 0.0)
    assert (named.accurate, vague.accurate) == (True, False)


def test_has_facts() -> None:
    groups = [["$13.8 billion", "13.8 billion"], ["pharmacy chains"]]
    assert metrics.has_facts("An additional $13.8 billion with Pharmacy Chains [59].", groups)
    assert not metrics.has_facts("An additional $13.8 billion [59].", groups)
    assert metrics.has_facts("anything", [])


def test_citation_precision_and_recall() -> None:
    assert metrics.citation_precision([59, 58], gold=[59], supporting=[]) == 0.5
    assert metrics.citation_precision([59, 58], gold=[59], supporting=[58]) == 1.0
    assert metrics.citation_precision([], gold=[59], supporting=[]) is None
    assert metrics.citation_recall([58, 59], [59]) is True
    assert metrics.citation_recall([58], [59]) is False


def test_supporting_endnotes_come_from_sentences_with_facts() -> None:
    evidence = [
        Evidence(
            "c",
            "x",
            "S",
            (58, 59),
            1.0,
            sentences=("States agreed to $26 billion.", "Chains paid $13.8 billion."),
            sentence_endnotes=((58,), (59,)),
        ),
    ]
    assert metrics.supporting_endnotes(evidence, [["13.8 billion"]]) == {59}


def test_retrieval_rank_metrics() -> None:
    hits = [
        metrics.retrieved("abc", (1,), [5], []),
        metrics.retrieved("Chains paid 13.8 billion.59", (), [59], ["Chains paid 13.8 billion."]),
    ]
    assert hits == [False, True]
    rank = metrics.first_hit_rank(hits)
    assert rank == 2
    assert metrics.recall_at_k(rank, 1) is False and metrics.recall_at_k(rank, 5) is True
    assert metrics.reciprocal_rank(rank) == 0.5
    assert metrics.reciprocal_rank(None) == 0.0


def test_percentile() -> None:
    assert metrics.percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert metrics.percentile([10.0, 20.0, 30.0, 40.0], 100) == 40.0


def test_score_item_and_summary_on_hand_cases() -> None:
    answerable = EvalItem("a", "numeric", "q", [["13.8 billion"]], [59])
    refusable = EvalItem("u", "unanswerable", "q", [], [])
    good = score_item(
        answerable, "paid $13.8 billion [59]", [59], False, [("t", (59,))], {59}, [], 0.01
    )
    refused = score_item(refusable, "not covered", [], True, [], set(), [], 0.02)
    wrong = score_item(answerable, "not covered", [], True, [("t", (1,))], set(), [], 0.03)
    assert good.failed_checks == []
    assert wrong.failed_checks == [
        "abstention",
        "no gold endnote cited",
        "gold not retrieved in top 5",
    ]
    summary = summarize([good, refused, wrong])
    assert summary["answer_accuracy"] == 0.5
    assert summary["correct_abstention"] == 1.0
    assert summary["false_refusal"] == 0.5
    assert summary["citation_precision"] == 1.0
    assert summary["recall_at_5"] == 0.5
    assert summary["latency_p50_ms"] == pytest.approx(20.0)


@pytest.fixture(scope="module")
def full_run(assistant):  # type: ignore[no-untyped-def]
    return evaluate_assistant(assistant, load_evalset(EVALSET))


def test_extractive_backend_meets_its_floors(full_run) -> None:  # type: ignore[no-untyped-def]
    summary = summarize(full_run)
    for metric, floor in FLOORS["evalset"].items():
        assert summary[metric] >= floor, f"{metric} = {summary[metric]:.3f} < {floor}"
    assert summary["false_refusal"] <= FALSE_REFUSAL_CEILINGS["evalset"]
    fact_words = [r.words for r in full_run if r.category in FACT_CATEGORIES]
    assert metrics.percentile(fact_words, 50) <= FACT_MEDIAN_WORDS
    assert max(r.words for r in full_run) <= COMPOSED_MAX_WORDS


@pytest.mark.parametrize("name", ["heldout", "blind", "blind2"])
def test_extractive_backend_holds_up_on_the_regression_sets(assistant, name: str) -> None:  # type: ignore[no-untyped-def]
    path = Path(__file__).parents[1] / f"eval/{name}.jsonl"
    summary = summarize(evaluate_assistant(assistant, load_evalset(path)))
    for metric, floor in FLOORS[name].items():
        assert summary[metric] >= floor, f"{metric} = {summary[metric]:.3f} < {floor}"
    assert summary["false_refusal"] <= FALSE_REFUSAL_CEILINGS[name]


def test_run_writes_json_markdown_and_chart(
    full_run, assistant, index_settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    items = load_evalset(EVALSET)[:12]
    from opioid_assistant.index.embedding import load_embedder

    baseline = evaluate_baseline(
        bundled_report_text(),
        assistant.report,
        load_embedder(index_settings.embedding_model),
        items,
    )
    runs = [results_json("extractive", full_run[:12]), results_json("baseline", baseline)]
    paths = write_run(tmp_path / "run", runs, {"backend": "extractive", "items": 12})
    data = json.loads(paths["json"].read_text())
    assert [r["system"] for r in data["runs"]] == ["extractive", "baseline"]
    assert len(data["runs"][1]["items"]) == 12
    assert all(r["citations"] == [] for r in data["runs"][1]["items"])
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = paths["markdown"].read_text()
    assert "| metric | extractive | baseline |" in markdown
    assert "| numeric | 12 |" in markdown
    assert set(by_category(full_run)) == set(CATEGORY_MINIMUMS)
