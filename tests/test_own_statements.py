"""The report's own statements: its recommendations and arguments, which cite no source.

43% of the report's sentences carry no endnote, among them nearly every "should" it
recommends. They are answers now: quoted "in the report's own words" (or under their
section's name in an open answer) with no number, the best sentence that does cite a source
beside them, after cited sentences when the word budget is short, and never for a figure that
a cited sentence states too (a summary's restatement); a figure stated only there is the
report's own. The evaluation accepts such a sentence
as gold. The questions here are in no evaluation file
(checked against every eval/*.jsonl by `independence.near_copies`).
"""

from __future__ import annotations

import numpy as np
import pytest

from independence import near_copies
from opioid_assistant import load_report
from opioid_assistant.answer.composer import Pick, compose
from opioid_assistant.answer.question_shapes import Shape
from opioid_assistant.answer.ranking import FEATURES, idf_weights, rank_sentences, weights_for
from opioid_assistant.evaluate import metrics
from opioid_assistant.evaluate.runner import EvalItem, item_problems, summarize

SANCTIONS = "Which players in the fentanyl trade ought to get individualized sanctions?"
TARGETED = "Whom should individualized sanctions target, per the report?"
SCHEDULING = "What should any future scheduling of fentanyl-related substances allow for?"
POLICE = "What does the report urge local cops to focus on?"
COST = "Since 1971 what has America paid for its drug war?"
PRECURSORS = "What weight of precursor chemicals did the operation seize in its first weeks?"
QUESTIONS = (SANCTIONS, TARGETED, SCHEDULING, POLICE, COST, PRECURSORS)


def test_the_questions_here_are_in_no_evaluation_file() -> None:
    assert [str(c) for c in near_copies(QUESTIONS)] == []


def test_a_recommendation_with_no_endnote_is_quoted_in_the_reports_own_words(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask(TARGETED)
    assert answer.text == (
        "In the report's own words: Key market actors, especially in China and Mexico, should be "
        "subject to individualized sanctions and prosecution. Enforcement efforts need to be "
        "more focused on the relatively small number of brokers of precursor and pre-precursor "
        "chemicals in Mexico, as well as key suppliers in China, that largely fly under the "
        "radar but represent the closest thing to a choke point that exists in the fentanyl "
        "production and supply [107]."
    )
    assert [c.number for c in answer.citations] == [107]
    # A loss since stop 49's weights, which lean on the adapter's closeness more than on plain
    # closeness: asked which players, the answer is the cited sentence on finance flows [108]
    # alone (a little closer by the adapter), where the recommendation naming them led.
    lost = assistant.ask(SANCTIONS)
    assert lost.text == (
        "According to the report, resources must be dedicated to identifying and seizing "
        "illicit finance flows that are the lifeblood of the transnational criminal "
        "organizations at the heart of the fentanyl trade [108]."
    )
    assert [c.number for c in lost.citations] == [108]


def test_the_reports_own_statement_brings_the_best_sentence_that_cites_a_source(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask(SCHEDULING)
    own = (
        "Any efforts to permanently or automatically schedule FRSs should allow for proper "
        "testing of the substances and include a pathway for an FRS to be removed or "
        "rescheduled if it is shown there is no potential for abuse."
    )
    assert answer.text.startswith(f"In the report's own words: {own} In 2018, President Donald")
    assert answer.text.endswith("no therapeutic or medical value [139][140].")
    assert [c.number for c in answer.citations] == [139, 140]


def test_an_open_answer_quotes_the_reports_own_advice_beside_its_cited_evidence(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask(POLICE)
    # Since stop 48's refitted adapter, the section's lead on where police should focus (its
    # own words) in place of "To reverse this trend, law enforcement policies should focus on
    # improving community trust and emphasizing harm reduction."
    own = (
        "From “Criminal justice and racial equity solutions”: The role of law enforcement should "
        "focus on driving down drug-related violence while improving police-community relations."
    )
    # The best-scored sentence's section (by the open-question weights since stop 40, which
    # put its cited policies first); the report's own words carry no number.
    assert answer.text.startswith("From “Build trust between police and the…”: Limiting the use")
    assert answer.text.endswith(f"[134].\n\n{own}")
    assert [c.number for c in answer.citations] == [132, 133, 134]  # the best sentence first


def test_a_figure_with_no_endnote_is_never_a_candidate(assistant) -> None:  # type: ignore[no-untyped-def]
    state = assistant.retrieved(COST, [])
    sidebar = "The war on drugs: By the numbers: $1T"
    assert any(sidebar in e.text for e in state.evidence)  # retrieved, as the page shows it
    ranked = rank_sentences(
        state.question, state.evidence, state.signals, idf_weights(state.evidence)
    )
    assert [c.text for c in ranked if c.text.startswith(sidebar)] == []
    assert assistant.ask(COST).text == (
        "According to the report, since 1971, America has spent more than $1 trillion on the "
        "war on drugs, with robust investments in law enforcement and incarceration [115]."
    )


def test_a_figure_the_report_states_only_without_an_endnote_is_its_own_answer(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask(PRECURSORS)
    assert answer.text == (
        "In the report's own words: More than 5,000 pounds of fentanyl precursor chemicals have "
        "been detected and seized in just the first few weeks of the operation."
    )
    assert answer.citations == ()


def test_when_the_budget_is_short_cited_sentences_go_in_before_the_reports_own() -> None:
    report = load_report()
    section = (
        "Criminal justice and racial equity solutions > Implement pre-booking diversion programs"
    )
    indices = [i for i, s in enumerate(report.sentences) if s.section == section]
    assert [i for i in indices if report.sentences[i].endnotes] == [159, 162, 163]
    eye = np.eye(len(report.sentences))  # no two alike: diversity decides nothing here
    vectors = {report.sentences[i].text: eye[i].tolist() for i in indices}
    # The report's own sentences (157, 158, 160, 161) score higher than the cited ones.
    picks = [Pick(162, 1.0)] + [Pick(i, 0.9) for i in (157, 158, 160, 161)]
    picks += [Pick(159, 0.5), Pick(163, 0.5)]
    _, quoted = compose(Shape.COMPOSED, picks, report, vectors)
    # The best first, then the rest of its section from it, in report order: the cited 159
    # and 163 are in, and of the report's own only 157, in the words they leave.
    assert quoted == (162, 163, 157, 159)
    # A best sentence's turn ("Instead, officers can ...", 160, the report's own) goes before
    # any of them: (159, 162, 163, 157) before the turn came first.
    picks = [Pick(159, 1.0)] + [Pick(i, 0.9) for i in (157, 158, 160, 161)]
    picks += [Pick(162, 0.5), Pick(163, 0.5)]
    assert compose(Shape.COMPOSED, picks, report, vectors)[1] == (159, 160, 161, 162)
    # ... unless the previous answer just quoted it: a conversation moves on.
    said = f"From “Implement pre-booking …”: {report.sentences[160].text}"
    assert 160 not in compose(Shape.COMPOSED, picks, report, vectors, said=said)[1]


def test_an_evaluation_item_may_take_its_fact_from_a_sentence_with_no_endnote() -> None:
    report = load_report()
    section = (
        "Foreign policy solutions > Target key actors in fentanyl trade through "
        "individualized sanctions and prosecutions"
    )
    item = EvalItem("o", "position", "q", [["Key market actors"]], [], section)
    assert item_problems(report, item) == []
    elsewhere = EvalItem("o", "position", "q", [["Key market actors"]], [], "Conclusion")
    assert item_problems(report, elsewhere) == ["no gold sentence: endnotes [], 'Conclusion'"]
    assert metrics.citation_recall([107], []) is None  # nothing to cite: not a miss
    assert metrics.citation_recall([107], [108]) is False
    assert metrics.citation_recall([108], [108]) is True


def test_citation_recall_averages_only_the_items_with_an_endnote_to_cite() -> None:
    from opioid_assistant.evaluate.runner import score_item

    own = EvalItem("o", "position", "q", [["Key market actors"]], [], "x")
    cited = EvalItem("c", "fact", "q", [["$13.8 billion"]], [59], "x")
    results = [
        score_item(own, "Key market actors should ...", [], False, [], set(), [], 0.01),
        score_item(cited, "$13.8 billion [58].", [58], False, [], set(), [], 0.01),
    ]
    assert [r.cited_gold for r in results] == [None, False]
    assert summarize(results)["citation_recall"] == 0.0  # one item counted, and it missed


def test_a_feature_the_weights_file_lacks_weighs_nothing_until_fitted() -> None:
    data = {"features": list(FEATURES[:-1]), "weights": [1.0] * (len(FEATURES) - 1), "bias": -2}
    assert weights_for(data) == (-2.0, *[1.0] * (len(FEATURES) - 1), 0.0)
    other = {"features": [*FEATURES, "gone"], "weights": [0.0] * (len(FEATURES) + 1), "bias": 0}
    with pytest.raises(ValueError, match=r"^selection_weights\.json was fitted on other features"):
        weights_for(other)
    with pytest.raises(ValueError, match=r"^open_selection_weights\.json was fitted on other"):
        weights_for(other, "open_selection_weights.json")


def test_fitting_only_new_features_keeps_every_other_weight() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "eval"))
    from fit_selection import fit_listwise

    # Two items of three candidates over two features: the second feature marks the answer.
    data = [([[0.2, 1.0], [0.9, 0.0], [0.1, 0.0]], [1, 0, 0]), ([[0.5, 0.0], [0.4, 1.0]], [0, 1])]
    fitted = fit_listwise(data, l2=0.01, held={0: 0.7})
    assert fitted[1] == 0.7  # held as given
    assert fitted[2] > 1.0  # fitted: it puts the answers on top
