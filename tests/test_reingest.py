"""Re-ingest while serving (embedded store): no failed question, one index version per answer.

Real `serve --no-ui` processes on loopback, real `ingest` processes, the real report and a copy
with one word added to the pharmacy-settlement sentence.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from helpers import CLI, cli_env, run_cli
from opioid_assistant import Settings
from opioid_assistant.index import store
from opioid_assistant.index.snapshot import read_snapshot
from opioid_assistant.report.parsing import load_report
from opioid_assistant.report.serialising import report_fingerprint
from reingest_helpers import (
    NEW_SENTENCE,
    PHARMACY,
    QuestionLoop,
    changed_report,
    check_one_version,
    report_sentences,
    serving,
    switched_once,
    wait_for,
    wait_for_switch,
)


@pytest.fixture
def data_dir(index_settings: Settings, tmp_path: Path) -> Path:
    """A private copy of the session's index (of the bundled report)."""
    copy = tmp_path / "served"
    shutil.copytree(index_settings.data_dir, copy)
    return copy


def test_reingest_while_serving_fails_no_question(data_dir: Path, tmp_path: Path) -> None:
    changed = changed_report(tmp_path)
    settings = Settings(data_dir=data_dir)
    old = store.read_active(store.connect(settings), settings)
    assert old is not None
    with serving(data_dir) as served:
        loop = QuestionLoop(served.base).start()
        wait_for(lambda: len(loop.asked) >= 3, "three answers before the ingest")
        done = run_cli(
            "ingest", "--quiet", data_dir=data_dir, extra_env={"OA_REPORT_PATH": str(changed)}
        )
        ingest_ended = time.monotonic()
        assert done.returncode == 0, done.stderr
        new = store.read_active(store.connect(settings), settings)
        assert new is not None and new.fingerprint != old.fingerprint
        # How soon it switches is measured by eval/benchmark_reingest.py, not asserted here.
        wait_for_switch([loop], new.fingerprint, after=ingest_ended)
        asked = loop.finish()
        # /healthz answers from a status refreshed once a second (issue 25): poll for it.
        wait_for(
            lambda: (
                httpx.get(f"{served.base}/healthz", timeout=10).json()["index"]["collection"]
                == new.collection
            ),
            "/healthz to report the new index",
        )
        health = httpx.get(f"{served.base}/healthz", timeout=10).json()
    assert [a for a in asked if a.status != 200] == []
    versions = {old.fingerprint: report_sentences(None), new.fingerprint: report_sentences(changed)}
    for a in asked:
        check_one_version(a, versions)
    assert switched_once(asked, old.fingerprint, new.fingerprint)
    assert health["status"] == "ok"
    assert health["index"]["collection"] == new.collection


def test_ask_answers_from_the_index_not_from_its_own_report_file(
    data_dir: Path, tmp_path: Path
) -> None:
    from opioid_assistant import Assistant

    changed = changed_report(tmp_path)
    done = run_cli(
        "ingest", "--quiet", data_dir=data_dir, extra_env={"OA_REPORT_PATH": str(changed)}
    )
    assert done.returncode == 0, done.stderr
    # The default (bundled) report in the settings, but the index holds the changed one: the
    # answer and the assistant's report both come from the index's snapshot.
    assistant = Assistant(settings=Settings(data_dir=data_dir))
    answer = assistant.ask(PHARMACY)
    assert NEW_SENTENCE[1:-1] in answer.text
    assert NEW_SENTENCE in {s.text for s in assistant.report.sentences}
    assert answer.index_version == assistant.index_version
    assert answer.to_dict()["index_version"] == answer.index_version


def test_second_serve_with_another_report_leaves_the_first_alone(
    data_dir: Path, tmp_path: Path
) -> None:
    changed = changed_report(tmp_path)
    with serving(data_dir) as first:
        before = httpx.post(f"{first.base}/v1/ask", json={"question": PHARMACY}, timeout=60)
        with serving(data_dir, {"OA_REPORT_PATH": str(changed)}) as second:
            theirs = httpx.post(f"{second.base}/v1/ask", json={"question": PHARMACY}, timeout=60)
        time.sleep(1.5)  # past a pointer check: nothing to follow
        after = httpx.post(f"{first.base}/v1/ask", json={"question": PHARMACY}, timeout=60)
    version = before.json()["index_version"]
    assert after.json()["index_version"] == version == theirs.json()["index_version"]
    assert after.json()["text"] == before.json()["text"]
    assert NEW_SENTENCE[1:-1] not in after.json()["text"]
    bundled, edited = load_report(), load_report(changed)
    assert (
        f"was built from “{bundled.title}” (report {report_fingerprint(bundled)[:12]}), not "
        f"from {changed}, “{edited.title}” (report {report_fingerprint(edited)[:12]})"
    ) in second.output
    assert "serve --reindex" in second.output


def test_two_ingests_at_once_one_waits_and_the_registry_stays_valid(
    data_dir: Path, tmp_path: Path
) -> None:
    changed = changed_report(tmp_path)
    other = tmp_path / "other.txt"
    other.write_text(
        changed.read_text(encoding="utf-8").replace("large pharmacy", "big pharmacy"),
        encoding="utf-8",
    )
    ingests = [
        subprocess.Popen(
            [*CLI, "ingest", "--quiet"],
            env={**cli_env(data_dir), "OA_REPORT_PATH": str(report)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for report in (changed, other)
    ]
    results = [(p.wait(timeout=600), *p.communicate()) for p in ingests]
    assert [code for code, _, _ in results] == [0, 0], results
    waited = [err for _, _, err in results if "another ingest is building the index" in err]
    assert len(waited) == 1, results
    settings = Settings(data_dir=data_dir)
    client = store.connect(settings)
    active = store.read_active(client, settings)
    assert active is not None
    collection = store.open_active_collection(client, settings)
    assert collection.count() == active.records
    snapshot = read_snapshot(collection)
    assert report_fingerprint(snapshot) == active.report_fingerprint
    assert active.report_fingerprint in {
        report_fingerprint(load_report(changed)),
        report_fingerprint(load_report(other)),
    }
    names = {c.name for c in client.list_collections()}
    assert {active.collection, active.previous} <= names
