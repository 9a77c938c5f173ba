"""Fit the sentence-selection weights on the main set's gold sentences; check them on others.

    python eval/fit_selection.py                       # fit on eval/evalset.jsonl, write weights
    python eval/fit_selection.py --train eval/evalset.jsonl eval/blind.jsonl  # fit on several
    python eval/fit_selection.py --check eval/blind.jsonl eval/blind2.jsonl
    python eval/fit_selection.py --only uncited stance  # fit new features, keep the rest
    python eval/fit_selection.py --leave-one-out --train eval/evalset.jsonl eval/blind.jsonl ...
        # fit on all sets but one, check on that one, for each; the weights file is not written
    python eval/fit_selection.py --open --c 10 --train eval/evalset.jsonl eval/blind.jsonl ...
        # the weights an open question's sentences are chosen by (open_selection_weights.json):
        # fitted on the items the answerer composes an answer of several sentences for

Each candidate sentence of an answerable item's evidence is one row: its FEATURES (general
properties of the sentence, the question and the retrieval, never their wording) and whether
it states a required fact. A logistic regression (scikit-learn, here only) gives the weights;
the serving path scores with numpy (answer/ranking.py). Printed: how often the top-scored
sentence states a required fact, per set, before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from opioid_assistant import Assistant, Settings
from opioid_assistant.answer import extractive
from opioid_assistant.answer.question_shapes import Shape, question_shape
from opioid_assistant.answer.ranking import (
    FEATURES,
    OPEN_WEIGHTS_FILE,
    WEIGHTS,
    WEIGHTS_FILE,
    Candidate,
    idf_weights,
    rank_sentences,
)
from opioid_assistant.evaluate import metrics
from opioid_assistant.evaluate.conversation import history_of
from opioid_assistant.evaluate.runner import EvalItem, load_evalset

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src/opioid_assistant/data"
OUT = DATA / WEIGHTS_FILE


Rows = list[tuple[list[list[float]], list[int]]]  # per item: candidates' features, labels


def ranked(assistant: Assistant, item: EvalItem, open_only: bool = False) -> list[Candidate]:
    """The item's evidence sentences as the answerer ranks them, after its earlier turns;
    with `open_only`, none unless the answerer composes its answer of several sentences."""
    state = assistant.retrieved(item.question, history_of(assistant.ask, item.turns[:-1]))
    if open_only and question_shape(state.question.text) is not Shape.COMPOSED:
        return []
    return rank_sentences(
        state.question, state.evidence, state.signals, idf_weights(state.evidence)
    )


def rows(assistant: Assistant, items: list[EvalItem], open_only: bool = False) -> Rows:
    """Per answerable item: its candidates' features and labels (1: states a required fact);
    with `open_only`, only the items whose answer is composed of several sentences."""
    found = []
    for item in items:
        if not item.answerable or item.category == "meta":
            continue
        candidates = ranked(assistant, item, open_only)
        labels = [
            int(any(metrics.has_facts(c.text, [g]) for g in item.required_facts))
            for c in candidates
        ]
        if any(labels):
            found.append(([list(c.features) for c in candidates], labels))
    return found


def shipped_weights(path: Path = OUT) -> tuple[dict[str, Any], np.ndarray]:
    """The weights file as read, and its bias and weights in FEATURES order (0 for a feature
    it was not fitted on)."""
    shipped = json.loads(path.read_text())
    kept = dict(zip(shipped["features"], shipped["weights"], strict=True))
    return shipped, np.asarray([shipped["bias"], *(kept.get(name, 0.0) for name in FEATURES)])


def fit_listwise(
    data: Rows,
    l2: float,
    held: Mapping[int, float] | None = None,
) -> np.ndarray:
    """Weights that put a fact-stating sentence on top: a conditional logit per item (the
    softmax over its candidates of the fact-stating ones), L2-regularised, by L-BFGS.
    `held` maps feature positions to weights kept as they are (only the others are fitted)."""
    from scipy.optimize import minimize

    lists = [(np.asarray(x), np.asarray(labels, dtype=bool)) for x, labels in data]
    width = lists[0][0].shape[1]
    held = held or {}
    start = np.zeros(width)
    bounds = [(None, None)] * width
    for position, weight in held.items():
        start[position] = weight
        bounds[position] = (weight, weight)
    free = np.asarray([i not in held for i in range(width)], dtype=float)  # regularised

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = l2 * float((w * free) @ w), 2 * l2 * w * free
        for x, positive in lists:
            z = x @ w
            z -= z.max()
            p = np.exp(z) / np.exp(z).sum()
            q = np.where(positive, p, 0.0)
            q /= q.sum()
            total -= float(np.log(np.exp(z[positive]).sum() / np.exp(z).sum()))
            grad -= x.T @ (q - p)
        return total / len(lists), grad / len(lists)

    found = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return np.concatenate([[0.0], found.x])


def calibrated_bias(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """The intercept of a one-feature logistic fit of the labels on the ranking score: where
    the mean predicted probability equals the share of positive rows (the fit's first-order
    condition, monotone in the intercept, so found exactly by bracketing)."""
    from scipy.optimize import brentq
    from scipy.special import expit

    z = x @ w
    share = float(np.mean(y))
    if not 0.0 < share < 1.0:
        raise ValueError("calibrating needs both positive and negative rows")
    return float(brentq(lambda b: float(np.mean(expit(z + b))) - share, -1e4, 1e4, xtol=1e-9))


def top_hit(data: Rows, weights: np.ndarray) -> float:
    """Share of items whose best-scored candidate states a required fact."""
    hits = [labels[int(np.argmax(np.asarray(x) @ weights[1:] + weights[0]))] for x, labels in data]
    return float(np.mean(hits)) if hits else 0.0


def leave_one_out(
    data: Mapping[str, Rows], shipped: np.ndarray, l2: float
) -> dict[str, tuple[float, float]]:
    """Per set: how often the top-scored sentence states a fact under the `shipped` weights
    (bias first) and under weights fitted on the other sets only: whether refitting on more
    data would carry to a set it has not seen."""
    hits = {}
    for name, held_out in data.items():
        others = [row for other, found in data.items() if other != name for row in found]
        hits[name] = (top_hit(held_out, shipped), top_hit(held_out, fit_listwise(others, l2)))
    return hits


def _print_leave_one_out(
    assistant: Assistant, paths: list[Path], l2: float, open_only: bool = False
) -> int:
    data = {path.name: rows(assistant, load_evalset(path), open_only) for path in paths}
    weights = shipped_weights(DATA / OPEN_WEIGHTS_FILE if open_only else OUT)[1]
    totals = np.zeros(2)
    for name, hits in leave_one_out(data, weights, l2).items():
        totals += np.asarray(hits) * len(data[name])
        print(
            f"{name:18s} {len(data[name]):4d} items: shipped {hits[0]:.3f}, refitted {hits[1]:.3f}"
        )
    count = sum(len(found) for found in data.values())
    print(
        f"{'all':18s} {count:4d} items: shipped {totals[0] / count:.3f}, refitted {totals[1] / count:.3f}"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, nargs="+", default=[ROOT / "eval/evalset.jsonl"])
    parser.add_argument("--check", type=Path, nargs="*", default=[])
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--dry-run", action="store_true", help="do not write the weights")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=FEATURES,
        help="fit only these features' weights; keep the others as the weights file has them",
    )
    parser.add_argument(
        "--leave-one-out",
        action="store_true",
        help="for each --train set: fit on the others, check on it (nothing is written)",
    )
    parser.add_argument(
        "--open",
        action="store_true",
        help=f"fit {OPEN_WEIGHTS_FILE} on the items answered with several sentences",
    )
    args = parser.parse_args()
    out = DATA / OPEN_WEIGHTS_FILE if args.open else OUT
    if args.open:  # earlier turns answered as before any open weights: a refit reproduces
        extractive.OPEN_WEIGHTS = WEIGHTS
    if args.leave_one_out and len(args.train) < 2:
        parser.error("--leave-one-out needs two or more --train sets: one is held out of each fit")
    os.environ.setdefault("OA_FOLLOW_UPS", "0")
    assistant = Assistant(settings=Settings())
    if args.leave_one_out:
        return _print_leave_one_out(assistant, args.train, 1.0 / args.c, args.open)
    train = [row for path in args.train for row in rows(assistant, load_evalset(path), args.open)]
    x = np.asarray([f for features, _ in train for f in features])
    y = np.asarray([label for _, labels in train for label in labels])
    old, before = shipped_weights(out) if out.exists() else ({}, np.zeros(len(FEATURES) + 1))
    held = {
        i: float(before[i + 1])
        for i, name in enumerate(FEATURES)
        if args.only and name not in args.only
    }
    fitted = fit_listwise(train, l2=1.0 / args.c, held=held)
    # The bias does not change a ranking; set it so the scores are calibrated probabilities
    # of a sentence stating a fact (mean score = share of positive rows).
    # With --only too: a refitted weight moves every score, so the bias is calibrated again.
    fitted[0] = calibrated_bias(x, y, fitted[1:])
    names = "+".join(path.name for path in args.train)
    print(f"train {names}: {len(train)} items, {len(y)} rows, {int(y.sum())} positive")
    print(
        f"  top sentence states a fact: before {top_hit(train, before):.3f}, fitted {top_hit(train, fitted):.3f}"
    )
    for path in args.check:
        data = rows(assistant, load_evalset(path), args.open)
        print(
            f"check {path.name}: {len(data)} items: before {top_hit(data, before):.3f}, fitted {top_hit(data, fitted):.3f}"
        )
    for name, w in zip(FEATURES, fitted[1:], strict=True):
        print(f"  {name:16s} {w:+.3f}")
    if not args.dry_run:
        out.write_text(
            json.dumps(
                {
                    "features": list(FEATURES),
                    "bias": round(float(fitted[0]), 4),
                    "weights": [round(float(w), 4) for w in fitted[1:]],
                    "fitted_on": old["fitted_on"] if args.only else names,
                    "rows": old["rows"] if args.only else len(y),
                    "c": args.c,
                }
                | ({"refitted": {"features": args.only, "on": names}} if args.only else {}),
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
