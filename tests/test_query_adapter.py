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
from opioid_assistant.answer.ranking import FEATURES, QUERY_ADAPTER, WEIGHTS_FILE, adapted_query

sys.path.insert(0, str(Path(__file__).parents[1] / "eval"))
from fit_query_adapter import Example, closest_hit, fit_adapter

REGRESSION_SETS = (
    "evalset blind blind2 heldout blind3 blind4 blind5 blind6 blind7 positions blind8 blind9"
).split()

# Everyday wording far in meaning from the report's own, each with how its answer opens and
# what it cites. Without the adapter (its weight 0), the first opens with the American Rescue
# Plan's funding, and the second quotes no sentence on the overdose risk upon release [153].
EVERYDAY = {
    "what's the plan for china": (
        "From “Introduction and summary”: In addition to centering public health solutions",
        [20, 21, 24],
    ),
    "why is prison so dangerous for people on opioids": (
        "From “Invest in reentry programs for criminal…”: The Federal Bureau of Prisons (BOP)",
        [155, 153, 41, 42, 50],
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
    # Fitted out of fold (eval/fit_query_adapter.py): each set's closeness by the adapter
    # fitted without it.
    assert shipped["refitted"] == {
        "features": ["dense_fitted"],
        "on": "+".join(f"{name}.jsonl" for name in REGRESSION_SETS),
        "out_of_fold": True,
    }


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


@pytest.mark.parametrize("question", sorted(EVERYDAY))
def test_everyday_wording_reaches_the_report_sentence_that_answers_it(
    assistant,  # type: ignore[no-untyped-def]
    question: str,
) -> None:
    opening, cited = EVERYDAY[question]
    answer = assistant.ask(question)
    assert answer.text.startswith(opening)
    assert [c.number for c in answer.citations] == cited
