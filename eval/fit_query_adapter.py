"""Fit the query adapter: a linear map of the question's embedding toward the report sentences
that answer it, stored as data and applied with numpy (`query_adapter.adapted_query`).

    python eval/fit_query_adapter.py eval/evalset.jsonl eval/blind.jsonl ...  # fit, write
    python eval/fit_query_adapter.py --leave-one-out eval/evalset.jsonl ...   # check only
    python eval/fit_query_adapter.py --every-weight eval/evalset.jsonl ...    # the weights

The embedding model is general-purpose: "What's the yearly price tag?" lies far from "an
estimated $1 trillion in annual costs". For every answerable item (meta aside), its evidence's
candidate sentences are ranked as the answerer ranks them, after the turns before it; the
adapter W (384 x 384, starting from the identity and kept near it by an L2 penalty) is fitted
so that, of each item's candidates, those stating a required fact are the closest to W q
(a softmax over the candidates' cosine similarities, scaled by TEMPERATURE). The ranking then
weighs the adapted closeness as one more feature, `dense_fitted`. Its weight is fitted here too,
every other weight held, on out-of-fold closeness: each set's from the adapter fitted on the
other sets (in sample the adapter puts an answering sentence closest every time, 1.000, and
the weight fitted there overstates what it is worth on new questions), at the same default
regularisation as `eval/fit_selection.py` (--c 1).

With --every-weight (since stop 48), the shipped adapter stays, and every selection weight is
fitted on all the sets given, over out-of-fold closeness (each set's from the adapter fitted
on the other sets): the weights that were fitted on the main set alone, with only
`dense_fitted`'s refitted, learn from every regression set's questions.

With --leave-one-out, for each set: how often the candidate closest to the question states a
required fact, by the plain embedding and by the adapter fitted on the other sets.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fit_selection import OUT as WEIGHTS_OUT
from fit_selection import calibrated_bias, fit_listwise, ranked, shipped_weights

from opioid_assistant import Assistant, Settings
from opioid_assistant.answer.query_adapter import ADAPTER_FILE, adapted_query
from opioid_assistant.answer.ranking import FEATURES
from opioid_assistant.evaluate import metrics
from opioid_assistant.evaluate.conversation import history_of
from opioid_assistant.evaluate.runner import load_evalset

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src/opioid_assistant/data" / ADAPTER_FILE
L2 = 1.0  # pull toward the identity (the plain embedding)
TEMPERATURE = 20.0  # cosine similarities are close together: sharpen their softmax
ITERATIONS = 200


@dataclass(frozen=True)
class Example:
    """One item: the question's embedding, its candidates' embeddings, which state a fact."""

    query: np.ndarray
    sentences: np.ndarray
    states_fact: np.ndarray
    features: np.ndarray | None = None  # the candidates' ranking features (FEATURES)


def examples(assistant: Assistant, path: Path) -> list[Example]:
    """The set's answerable items whose candidates state a required fact somewhere."""
    found = []
    for item in load_evalset(path):
        if not item.answerable or item.category == "meta":
            continue
        state = assistant.retrieved(item.question, history_of(assistant.ask, item.turns[:-1]))
        candidates = [c for c in ranked(assistant, item) if c.text in state.signals.vectors]
        labels = [
            any(metrics.has_facts(c.text, [g]) for g in item.required_facts) for c in candidates
        ]
        if any(labels) and len(state.signals.query):
            vectors = [state.signals.vectors[c.text] for c in candidates]
            found.append(
                Example(
                    np.asarray(state.signals.query),
                    np.asarray(vectors),
                    np.asarray(labels),
                    np.asarray([c.features for c in candidates]),
                )
            )
    return found


def fit_adapter(data: list[Example], l2: float = L2) -> np.ndarray:
    """W such that each example's fact-stating candidates are closest to W q."""
    from scipy.optimize import minimize

    size = data[0].query.shape[0]
    identity = np.eye(size)

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat.reshape(size, size)
        total, grad = l2 * float(np.sum((w - identity) ** 2)), 2 * l2 * (w - identity)
        for e in data:
            z = TEMPERATURE * (e.sentences @ (w @ e.query))
            p = np.exp(z - z.max())
            p /= p.sum()
            q = np.where(e.states_fact, p, 0.0)
            total -= float(np.log(q.sum()))
            q /= q.sum()
            grad -= TEMPERATURE * np.outer(e.sentences.T @ (q - p), e.query)
        return total / len(data), grad.ravel() / len(data)

    found = minimize(
        loss, identity.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": ITERATIONS}
    )
    return found.x.reshape(size, size)


def closest_hit(data: list[Example], adapter: np.ndarray | None) -> float:
    """Share of examples whose candidate closest to the (adapted) question states a fact."""
    hits = []
    for e in data:
        query = e.query if adapter is None else adapter @ e.query
        hits.append(bool(e.states_fact[int(np.argmax(e.sentences @ query))]))
    return float(np.mean(hits)) if hits else 0.0


def adapted_features(e: Example, adapter: np.ndarray) -> np.ndarray:
    """The example's candidate features with `dense_fitted` computed by `adapter`, as the
    ranking computes it when serving (`query_adapter.adapted_query`)."""
    assert e.features is not None
    mapped = adapted_query(e.query, adapter)
    features = e.features.copy()
    features[:, FEATURES.index("dense_fitted")] = 0.0 if mapped is None else e.sentences @ mapped
    return features


def out_of_fold_rows(data: dict[str, list[Example]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every example's candidate features and labels, with `dense_fitted` from the adapter
    fitted on the other sets: in sample the adapter puts the answering sentence closest every
    time, and any weight fitted on that closeness would overstate it."""
    held_out = {
        name: [adapted_features(e, adapter) for e in found]
        for name, found in data.items()
        for adapter in [fit_adapter([e for o, f in data.items() if o != name for e in f])]
    }
    return [
        (features, e.states_fact)
        for name, found in data.items()
        for features, e in zip(held_out[name], found, strict=True)
    ]


def stacked(rows: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The rows' features as one matrix and their labels as one float vector."""
    x = np.vstack([features for features, _ in rows])
    return x, np.concatenate([labels for _, labels in rows]).astype(float)


def out_of_fold_weight(data: dict[str, list[Example]], c: float) -> tuple[float, float]:
    """The weight of `dense_fitted` and the recalibrated bias, fitted with every other weight
    held, on out-of-fold closeness (`out_of_fold_rows`)."""
    rows = out_of_fold_rows(data)
    _, weights = shipped_weights()
    fitted_position = FEATURES.index("dense_fitted")
    held = {i: float(weights[i + 1]) for i in range(len(FEATURES)) if i != fitted_position}
    fitted = fit_listwise(rows, l2=1.0 / c, held=held)
    return float(fitted[fitted_position + 1]), calibrated_bias(*stacked(rows), fitted[1:])


def out_of_fold_weights(data: dict[str, list[Example]], c: float) -> tuple[np.ndarray, int]:
    """Every selection weight (bias first) fitted on all the sets' out-of-fold closeness
    (`out_of_fold_rows`), the bias calibrated; and the number of rows."""
    rows = out_of_fold_rows(data)
    fitted = fit_listwise(rows, l2=1.0 / c)
    x, y = stacked(rows)
    fitted[0] = calibrated_bias(x, y, fitted[1:])
    return fitted, len(y)


def write_weight(weight: float, bias: float, names: list[str]) -> None:
    """Store the fitted weight and bias in the selection weights file, the rest unchanged."""
    shipped = json.loads(WEIGHTS_OUT.read_text(encoding="utf-8"))
    shipped["weights"][shipped["features"].index("dense_fitted")] = round(weight, 4)
    shipped["bias"] = round(bias, 4)
    shipped["refitted"] = {"features": ["dense_fitted"], "on": "+".join(names), "out_of_fold": True}
    WEIGHTS_OUT.write_text(json.dumps(shipped, indent=1) + "\n", encoding="utf-8")


def write_weights(fitted: np.ndarray, names: list[str], rows: int, c: float) -> None:
    """Store every fitted weight and the bias in the selection weights file."""
    shipped = {
        "features": list(FEATURES),
        "bias": round(float(fitted[0]), 4),
        "weights": [round(float(w), 4) for w in fitted[1:]],
        "fitted_on": "+".join(names),
        "rows": rows,
        "c": c,
        "out_of_fold": True,
    }
    WEIGHTS_OUT.write_text(json.dumps(shipped, indent=1) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="evaluation JSON-lines files")
    parser.add_argument("--leave-one-out", action="store_true", help="check only, write nothing")
    parser.add_argument(
        "--c", type=float, default=1.0, help="inverse regularisation of the feature's weight"
    )
    parser.add_argument(
        "--every-weight",
        action="store_true",
        help="keep the shipped adapter; fit every selection weight on out-of-fold closeness",
    )
    args = parser.parse_args()
    os.environ.setdefault("OA_FOLLOW_UPS", "0")
    assistant = Assistant(settings=Settings())
    data = {path.stem: examples(assistant, path) for path in args.paths}
    if args.leave_one_out:
        if len(data) < 2:
            parser.error("--leave-one-out needs two or more sets: one is held out of each fit")
        for name, held in data.items():
            adapter = fit_adapter(
                [e for other, found in data.items() if other != name for e in found]
            )
            print(
                f"{name:12s} {len(held):4d} items: closest sentence states a fact: "
                f"plain {closest_hit(held, None):.3f}, adapted {closest_hit(held, adapter):.3f}"
            )
        return 0
    names = [f"{name}.jsonl" for name in data]
    if args.every_weight:  # the shipped adapter stays; the weights are fitted around it
        if len(data) < 2:
            parser.error("--every-weight needs two or more sets: each is held out of a fold")
        fitted, rows = out_of_fold_weights(data, args.c)
        write_weights(fitted, names, rows, args.c)
        print(f"every weight fitted on {rows} rows (out of fold): wrote {WEIGHTS_OUT}")
        return 0
    pooled = [e for found in data.values() for e in found]
    adapter = fit_adapter(pooled)
    print(
        f"{len(pooled)} items: closest sentence states a fact: plain "
        f"{closest_hit(pooled, None):.3f}, adapted {closest_hit(pooled, adapter):.3f} (in sample)"
    )
    np.save(OUT, adapter.astype(np.float16))
    print(f"wrote {OUT}")
    if len(data) > 1:
        weight, bias = out_of_fold_weight(data, args.c)
        write_weight(weight, bias, names)
        print(
            f"dense_fitted weight {weight:.3f}, bias {bias:.3f} (out of fold): wrote {WEIGHTS_OUT}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
