"""The query adapter held out by set, end to end: what it gains and loses on questions that
neither it nor its weight was fitted on.

    python eval/adapter_folds.py --out /tmp/adapter-folds eval/evalset.jsonl eval/blind.jsonl ...

For each set: the adapter is fitted on the other sets (eval/fit_query_adapter.py), and its
weight on their out-of-fold closeness (each of them by the adapter fitted without it and
without the held set). A copy of the package with that adapter and weight answers the held
set with `opioid-assistant eval`; a second copy, the same but with the adapter the identity,
its weight 0 and the bias calibrated again (the ranking as it was before it), answers it too. Printed per set: the two
accuracies and the items gained and lost; run.json of each under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from fit_query_adapter import Example, adapted_features, examples, fit_adapter, out_of_fold_weight
from fit_selection import calibrated_bias, shipped_weights

from opioid_assistant import Assistant, Settings
from opioid_assistant.answer.query_adapter import ADAPTER_FILE
from opioid_assistant.answer.ranking import FEATURES, WEIGHTS_FILE

PACKAGE = Path(__file__).resolve().parents[1] / "src/opioid_assistant"


def package_copy(root: Path, adapter: np.ndarray, weight: float, bias: float) -> Path:
    """A copy of the package under root/src with this adapter, weight and bias."""
    target = root / "src/opioid_assistant"
    shutil.rmtree(root / "src", ignore_errors=True)
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    np.save(target / "data" / ADAPTER_FILE, adapter.astype(np.float16))
    weights = json.loads((target / "data" / WEIGHTS_FILE).read_text(encoding="utf-8"))
    weights["weights"][weights["features"].index("dense_fitted")] = weight
    weights["bias"] = bias
    (target / "data" / WEIGHTS_FILE).write_text(json.dumps(weights, indent=1), encoding="utf-8")
    return root / "src"


def plain_bias(data: list[Example]) -> float:
    """The bias calibrated with the adapter's weight 0 (the other weights as shipped)."""
    _, weights = shipped_weights()
    weights[1 + FEATURES.index("dense_fitted")] = 0.0
    identity = np.eye(data[0].query.shape[0])
    x = np.vstack([adapted_features(e, identity) for e in data])
    y = np.concatenate([e.states_fact for e in data]).astype(float)
    return calibrated_bias(x, y, weights[1:])


def answered(path: Path, source: Path, out: Path) -> tuple[float, dict[str, bool]]:
    """The answer accuracy (as `opioid-assistant eval` reports it) and each item's, when the
    package at `source` answers the set at `path`."""
    env = os.environ | {"PYTHONPATH": str(source), "OA_FOLLOW_UPS": "0"}
    command = [
        str(Path(sys.executable).parent / "opioid-assistant"),
        "eval",
        "--set",
        str(path),
        "--out",
        str(out),
        "--no-baseline",
    ]
    subprocess.run(command, env=env, check=True, capture_output=True)
    return read_run(out / "run.json")


def read_run(path: Path) -> tuple[float, dict[str, bool]]:
    run = json.loads(path.read_text(encoding="utf-8"))["runs"][0]
    items = {item["id"]: item["accurate"] for item in run["items"]}
    return run["summary"]["answer_accuracy"], items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="evaluation JSON-lines files")
    parser.add_argument("--out", type=Path, required=True, help="where the copies and runs go")
    parser.add_argument("--c", type=float, default=1.0, help="as eval/fit_query_adapter.py")
    args = parser.parse_args()
    if len(args.paths) < 3:
        parser.error("needs three or more sets: one held out, and two to fit out of fold")
    os.environ.setdefault("OA_FOLLOW_UPS", "0")
    assistant = Assistant(settings=Settings())
    data = {path.stem: examples(assistant, path) for path in args.paths}
    totals = [0, 0]
    for path in args.paths:
        others = {name: found for name, found in data.items() if name != path.stem}
        adapter = fit_adapter([e for found in others.values() for e in found])
        weight, bias = out_of_fold_weight(others, args.c)
        pooled = [e for found in others.values() for e in found]
        root = args.out / path.stem
        accuracy, fitted = answered(
            path, package_copy(root / "adapter", adapter, weight, bias), root / "a"
        )
        identity = np.eye(adapter.shape[0])
        plain_source = package_copy(root / "plain", identity, 0.0, plain_bias(pooled))
        plain_accuracy, plain = answered(path, plain_source, root / "p")
        gained = sorted(i for i in fitted if fitted[i] and not plain[i])
        lost = sorted(i for i in fitted if plain[i] and not fitted[i])
        totals[0] += len(gained)
        totals[1] += len(lost)
        print(
            f"{path.stem:10s} weight {weight:6.3f}: plain {plain_accuracy:.3f}, "
            f"adapter {accuracy:.3f} (+{len(gained)} -{len(lost)}) "
            f"{' '.join(gained)} | {' '.join(lost)}",
            flush=True,
        )
    print(f"over {len(args.paths)} sets: +{totals[0]} -{totals[1]} items")
    return 0


if __name__ == "__main__":
    sys.exit(main())
