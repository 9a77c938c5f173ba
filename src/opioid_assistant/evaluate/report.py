"""Write an evaluation run (JSON, a Markdown report and a bar chart, side by side with the
baseline) and compare two runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HEADLINE = (
    ("answer_accuracy", "answer accuracy"),
    ("evidence_ceiling", "evidence ceiling (every fact in the evidence)"),
    ("selection_loss", "selection loss (ceiling - accuracy)"),
    ("naive_accuracy", "naive first-six-sentences accuracy"),
    ("citation_precision", "citation precision"),
    ("citation_recall", "citation recall"),
    ("sentence_citation_precision", "per-sentence citation precision"),
    ("words_p50", "words per answer p50"),
    ("words_p95", "words per answer p95"),
    ("recall_at_5", "retrieval recall@5"),
    ("mrr", "retrieval MRR"),
    ("correct_abstention", "correct abstention"),
    ("false_refusal", "false refusals"),
    ("latency_p50_ms", "latency p50 (ms)"),
    ("latency_p95_ms", "latency p95 (ms)"),
    ("turn_1", "conversation turn 1 accuracy"),
    ("turn_2", "conversation turn 2 accuracy"),
    ("turn_3plus", "conversation turn 3+ accuracy"),
)


def fmt(value: float | int | None) -> str:
    """A metric for a table cell."""
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.0f}" if value > 1.5 else f"{value:.3f}"


def summary_table(runs: Sequence[Mapping[str, Any]]) -> str:
    """Markdown table: one row per headline metric, one column per system."""
    head = "| metric | " + " | ".join(r["system"] for r in runs) + " |"
    rule = "|---|" + "---|" * len(runs)
    rows = [
        f"| {label} | " + " | ".join(fmt(r["summary"][key]) for r in runs) + " |"
        for key, label in HEADLINE
    ]
    return "\n".join([head, rule, *rows])


def category_table(runs: Sequence[Mapping[str, Any]]) -> str:
    """Markdown table: per category, accuracy / evidence ceiling / naive first-six accuracy /
    citation precision / recall@5 / words p50 and p95 for every system."""
    systems = [r["system"] for r in runs]
    head = (
        "| category | items | "
        + " | ".join(
            f"accuracy ({s}) | ceiling ({s}) | naive ({s}) | cit. precision ({s}) | "
            f"recall@5 ({s}) | words p50/p95 ({s})"
            for s in systems
        )
        + " |"
    )
    rule = "|---|---|" + "---|" * 6 * len(runs)
    rows = []
    for category, stats in runs[0]["by_category"].items():
        cells = []
        for run in runs:
            c = run["by_category"][category]
            cells += [
                fmt(
                    c["answer_accuracy"]
                    if c["answer_accuracy"] is not None
                    else c["correct_abstention"]
                ),
                fmt(c.get("evidence_ceiling")),
                fmt(c.get("naive_accuracy")),
                fmt(c["citation_precision"]),
                fmt(c["recall_at_5"]),
                f"{fmt(c['words_p50'])}/{fmt(c['words_p95'])}",
            ]
        rows.append(f"| {category} | {stats['items']} | " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *rows])


def draw_chart(runs: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Bar chart of accuracy and citation precision per category, for every system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    categories = list(runs[0]["by_category"])
    series = []
    for run in runs:
        for key, label in (
            ("answer_accuracy", "accuracy"),
            ("citation_precision", "citation precision"),
        ):
            values = []
            for c in categories:
                stats = run["by_category"][c]
                value = stats[key]
                if key == "answer_accuracy" and value is None:
                    value = stats["correct_abstention"]  # refusal categories: refusing is accurate
                values.append(value or 0.0)
            series.append((f"{run['system']} {label}", values))
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series):
        ax.bar([x + i * width for x in range(len(categories))], values, width, label=label)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(categories))], categories, rotation=20)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4)
    ax.set_title("Accuracy and citation precision per category")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def failures(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Items with at least one failed check."""
    return [item for item in run["items"] if item["failed_checks"]]


def write_run(
    out_dir: Path, runs: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]
) -> dict[str, Path]:
    """Write run.json, report.md and chart.png under out_dir; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "run.json",
        "markdown": out_dir / "report.md",
        "chart": out_dir / "chart.png",
    }
    paths["json"].write_text(
        json.dumps({"meta": dict(meta), "runs": list(runs)}, indent=1), encoding="utf-8"
    )
    draw_chart(runs, paths["chart"])
    lines = [
        "# Evaluation report",
        "",
        ", ".join(f"{k}: {v}" for k, v in meta.items()),
        "",
        summary_table(runs),
        "",
        "## Per category",
        "",
        category_table(runs),
        "",
        "![accuracy and citation precision per category](chart.png)",
        "",
        f"## Failures ({runs[0]['system']})",
        "",
    ]
    for item in failures(runs[0]):
        lines.append(
            f"- `{item['id']}` {item['question']} — {', '.join(item['failed_checks'])}; cited {item['citations']}"
        )
    paths["markdown"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def passed(item: Mapping[str, Any]) -> bool:
    """An item passes when none of its checks failed."""
    return not item["failed_checks"]


def flips(run_a: Mapping[str, Any], run_b: Mapping[str, Any]) -> dict[str, list[str]]:
    """Item ids (of the first system of each run) whose pass/fail changed from a to b.

    Returns:
        {"fixed": ids that failed in a and pass in b, "broken": ids that passed in a and fail in b}.
    """
    before = {i["id"]: passed(i) for i in run_a["runs"][0]["items"]}
    after = {i["id"]: passed(i) for i in run_b["runs"][0]["items"]}
    common = [i for i in before if i in after]
    return {
        "fixed": [i for i in common if not before[i] and after[i]],
        "broken": [i for i in common if before[i] and not after[i]],
    }


def flips_markdown(
    name_a: str, name_b: str, run_a: Mapping[str, Any], run_b: Mapping[str, Any]
) -> str:
    """The flipped items of two runs as Markdown."""
    changed = flips(run_a, run_b)
    questions = {i["id"]: i["question"] for i in run_b["runs"][0]["items"]}
    lines = [
        f"**{name_a}** → **{name_b}**: {len(changed['fixed'])} fixed, "
        f"{len(changed['broken'])} broken."
    ]
    titles = {"fixed": "Now pass (failed before)", "broken": "Now fail (passed before)"}
    for key, title in titles.items():
        if changed[key]:
            lines += ["", f"#### {title}", ""]
            lines += [f"- `{i}` {questions[i]}" for i in changed[key]]
    return "\n".join(lines)
