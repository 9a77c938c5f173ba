"""The query adapter: a fitted linear map of the question's embedding toward the sentences
that answer it (eval/fit_query_adapter.py), weighed by the ranking as `dense_fitted`.
The questions asked of the assistant here are in no evaluation file (`independence`)."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from independence import near_copies
from opioid_assistant.answer.query_adapter import QUERY_ADAPTER, adapted_query
from opioid_assistant.answer.ranking import FEATURES, WEIGHTS_FILE

sys.path.insert(0, str(Path(__file__).parents[1] / "eval"))
from fit_query_adapter import Example, closest_hit, fit_adapter, out_of_fold_weight
from fit_selection import calibrated_bias

# The sets the adapter is fitted on: since stop 48 every regression set (blind13-23 too:
# their failures were read), not blind24, the blind set it is measured on.
REGRESSION_SETS = (
    "evalset blind heldout blind2 blind3 blind4 blind5 blind6 blind7 positions blind8 blind9 "
    "blind10 blind11 blind12 blind13 blind14 blind15 blind16 blind17 blind18 blind19 blind20 "
    "blind21 blind22 blind23"
).split()

# Everyday wording far in meaning from the report's own, each with how its answer opens and
# what it cites. Without the adapter (its weight 0), the first opens with the American Rescue
# Plan's funding, and the second quotes no sentence on the overdose risk upon release [153].
# Fitted on fifteen sets (stop 37), the first no longer quotes that funding [24] second: China
# and Mexico's part in producing fentanyl [106] takes its place. Since stop 40 an open question's
# sentences are chosen by the weights fitted for open questions: the first opens on what the
# Justice Department should do about China's brokers, the second on why release is dangerous
# (a tolerance lost, [152]) where it opened on a treatment trial's lower reoffending.
EVERYDAY = {
    "what's the plan for china": (
        "From “Key takeaways”: The U.S. Department of Justice (DOJ) should target the brokers",
        # refitted on every regression set (stop 48): the brokers in Mexico and China as the
        # choke point [107] in place of the introduction's summary of the same plan [20][21]
        [107],
    ),
    "why is prison so dangerous for people on opioids": (
        "From “Invest in reentry programs for criminal…”: Many incarcerated individuals with "
        "untreated opioid addictions experience a reduced tolerance",
        # not the waves of the epidemic [47]-[50] (stop 42); the paragraph read on, and the
        # disrupted care [151] of the section's first paragraph (stop 44); since "corrections
        # systems" are prisons (stop 46), the scarce care behind bars [154] and in most
        # corrections systems [146], in place of the recidivism trial [155]
        [152, 153, 154, 146, 151],
    ),
}


def test_the_questions_here_are_in_no_evaluation_file() -> None:
    assert [str(c) for c in near_copies(EVERYDAY)] == []


def test_the_shipped_adapter_maps_a_question_to_a_unit_vector() -> None:
    assert QUERY_ADAPTER.shape == (384, 384)
    query = np.zeros(384)
    query[0] = 1.0
    mapped = adapted_query(query)
    assert mapped is not None
    assert mapped.shape == (384,)
    assert float(np.linalg.norm(mapped)) == pytest.approx(1.0)
    # Another model's embedding is not mapped: its feature is the plain closeness.
    assert np.allclose(adapted_query([3.0, 4.0]), [0.6, 0.8])
    assert adapted_query([]) is None


def test_the_adapted_closeness_is_a_fitted_feature() -> None:
    shipped = json.loads(
        resources.files("opioid_assistant.data").joinpath(WEIGHTS_FILE).read_text("utf-8")
    )
    weights = dict(zip(shipped["features"], shipped["weights"], strict=True))
    assert FEATURES[-1] == "dense_fitted"
    assert weights["dense_fitted"] > 0
    # Every weight fitted on every regression set, out of fold (eval/fit_query_adapter.py
    # --every-weight): each set's closeness by the adapter fitted without it.
    assert shipped["fitted_on"] == "+".join(f"{name}.jsonl" for name in REGRESSION_SETS)
    assert shipped["out_of_fold"] is True and "refitted" not in shipped


def test_fitting_moves_a_question_toward_the_sentence_that_answers_it() -> None:
    # The plain embedding puts the wrong sentence nearer; one fitted example corrects that.
    example = Example(
        query=np.asarray([1.0, 0.0, 0.0]),
        sentences=np.asarray([[0.8, 0.6, 0.0], [0.6, 0.8, 0.0]]),
        states_fact=np.asarray([False, True]),
    )
    assert closest_hit([example], None) == 0.0
    adapter = fit_adapter([example], l2=0.01)
    assert closest_hit([example], adapter) == 1.0
    assert np.allclose(adapter[2], [0.0, 0.0, 1.0])  # no example moves the third axis


def _examples(answering: int, count: int = 40) -> list[Example]:
    """Examples whose candidate at `answering` (0 or 1) states the fact; the plain embedding
    puts candidate 0 closer. Every feature but the adapted closeness is 0."""
    features = np.zeros((2, len(FEATURES)))
    return [
        Example(
            query=np.asarray([1.0, 0.0, 0.0]),
            sentences=np.asarray([[0.8, 0.6, 0.0], [0.6, 0.8, 0.0]]),
            states_fact=np.asarray([answering == 0, answering == 1]),
            features=features,
        )
        for _ in range(count)
    ]


def test_the_weight_is_what_the_adapter_is_worth_on_a_set_it_was_not_fitted_on() -> None:
    # What the adapter learns on two sets carries to the third: its closeness earns weight.
    carries, _ = out_of_fold_weight({name: _examples(1) for name in "abc"}, c=1.0)
    # Each set's answers go the other way from the rest's: in sample the adapter would put
    # every answer closest, but fitted without a set it points that set the wrong way.
    split = {"a": _examples(1), "b": _examples(0), "c": _examples(1), "d": _examples(0)}
    does_not, _ = out_of_fold_weight(split, c=1.0)
    assert carries > 1.0
    assert does_not < 0.0


def test_the_bias_makes_the_mean_probability_the_share_of_positive_rows() -> None:
    # Half the rows positive, scores 0.8 x 3.9 and 0.6 x 3.9: the bias puts the mean
    # probability at one half (a search over a wide interval once stopped at its bound, 300).
    x = np.asarray([[0.8], [0.6], [0.8], [0.6]])
    y = np.asarray([0.0, 1.0, 0.0, 1.0])
    bias = calibrated_bias(x, y, np.asarray([3.9]))
    assert bias == pytest.approx(-2.73, abs=1e-6)
    assert float(np.mean(1 / (1 + np.exp(-(x[:, 0] * 3.9 + bias))))) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="both positive and negative"):
        calibrated_bias(x, np.ones(4), np.asarray([3.9]))


@pytest.mark.parametrize("question", sorted(EVERYDAY))
def test_everyday_wording_reaches_the_report_sentence_that_answers_it(
    assistant,  # type: ignore[no-untyped-def]
    question: str,
) -> None:
    opening, cited = EVERYDAY[question]
    answer = assistant.ask(question)
    assert answer.text.startswith(opening)
    assert [c.number for c in answer.citations] == cited
