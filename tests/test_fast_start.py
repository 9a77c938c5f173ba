"""Nothing heavy on the serving path: fresh processes that answer, then list what they imported."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from helpers import CLI, cli_env, free_port
from opioid_assistant import Settings

QUESTION = "How much did pharmacy chains pay in the opioid settlement?"
HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn", "gradio")
REPORT = f"import json, sys; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"


def run_python(code: str, data_dir: Path) -> list[str]:
    """Run code in a fresh interpreter with OA_DATA_DIR set; return its last stdout line."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=cli_env(data_dir),
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()


def test_python_api_answers_without_torch_or_gradio(index_settings: Settings) -> None:
    code = (
        "from opioid_assistant import Assistant\n"
        f"answer = Assistant().ask({QUESTION!r})\n"
        "print(answer.citations[0].number if answer.citations else None)\n" + REPORT
    )
    *printed, imported = run_python(code, index_settings.data_dir)
    assert printed[-1] == "59"  # a real answer, citing the settlement's endnote
    assert json.loads(imported) == []


def test_cli_ask_answers_without_torch_or_gradio(index_settings: Settings) -> None:
    code = (
        f"from opioid_assistant.cli import main\nmain(['ask', '--json', {QUESTION!r}])\n" + REPORT
    )
    lines = run_python(code, index_settings.data_dir)
    answer = json.loads("\n".join(lines[:-1]))
    assert [c["number"] for c in answer["citations"]] == [59]
    assert json.loads(lines[-1]) == []


def test_http_api_module_imports_without_gradio(tmp_path: Path) -> None:
    code = "import opioid_assistant.serve.api, opioid_assistant.cli\n" + REPORT
    assert json.loads(run_python(code, tmp_path)[-1]) == []


@pytest.mark.slow
def test_serve_answers_without_torch(index_settings: Settings) -> None:
    port = free_port()
    code = f"""
import threading, time, httpx
from opioid_assistant.cli import main
threading.Thread(target=main, args=(['serve', '--port', '{port}'],), daemon=True).start()
base = 'http://127.0.0.1:{port}'
for _ in range(1200):
    try:
        if httpx.get(base + '/healthz', timeout=5).status_code == 200:
            break
    except httpx.HTTPError:
        time.sleep(0.1)
reply = httpx.post(base + '/v1/chat/completions', timeout=60,
                   json={{'messages': [{{'role': 'user', 'content': {QUESTION!r}}}]}})
print([c['number'] for c in reply.json()['citations']])
print(httpx.get(base + '/', timeout=30).status_code)
{REPORT}
"""
    *printed, imported = run_python(code, index_settings.data_dir)
    assert printed[-2:] == ["[59]", "200"]
    assert json.loads(imported) == ["gradio"]  # the page is served; nothing else heavy


def test_serve_no_ui_answers_over_http_without_gradio(
    index_settings: Settings, tmp_path: Path
) -> None:
    """`opioid-assistant serve --no-ui` as a real process: it answers /v1/ask, serves no page,
    and never imports Gradio (python -X importtime lists every module the process imports)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [CLI[0], "-X", "importtime", *CLI[1:], "serve", "--no-ui", "--port", str(port)]
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"  # files: a pipe would fill up
    with out.open("w") as stdout, err.open("w") as stderr:
        env = {**cli_env(index_settings.data_dir), "PYTHONUNBUFFERED": "1"}  # killed, not exited
        server = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
        try:
            deadline = time.monotonic() + 300  # an index build under load
            while True:
                assert server.poll() is None, err.read_text()[-2000:]
                assert time.monotonic() < deadline, "the --no-ui server did not start in 300 s"
                try:
                    if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            reply = httpx.post(f"{base}/v1/ask", json={"question": QUESTION}, timeout=60)
            assert reply.status_code == 200
            assert [c["number"] for c in reply.json()["citations"]] == [59]
            assert httpx.get(f"{base}/", timeout=10).status_code == 404
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert "Serving the API (/v1, /docs) on http://127.0.0.1:" in out.read_text()
    lines = err.read_text().splitlines()
    imported = {line.rpartition("|")[2].strip() for line in lines if "|" in line}
    assert "opioid_assistant.serve.api" in imported  # the list is real
    assert sorted(m for m in imported if m.split(".")[0] in HEAVY) == []


@pytest.mark.slow
def test_ingest_embeds_each_distinct_text_once_and_reuses_the_last_index(tmp_path: Path) -> None:
    from opioid_assistant import load_report
    from opioid_assistant.index import store
    from opioid_assistant.index.building import build_index, embedding_text
    from opioid_assistant.index.chunking import (
        chunk_report,
        endnote_chunks,
        front_matter_chunks,
        sentence_chunks,
    )

    bundled = Path(__file__).parents[1] / "src/opioid_assistant/data/cap-opioid-report-2023.txt"
    trimmed = tmp_path / "report.txt"
    cut = "An additional settlement of $13.8 billion with pharmacy chains followed.59 "
    trimmed.write_text(bundled.read_text(encoding="utf-8").replace(cut, ""), encoding="utf-8")

    def chunks(path: Path | None) -> list:  # type: ignore[type-arg]
        report = load_report(path)
        return (
            chunk_report(report, 800)
            + endnote_chunks(report)
            + sentence_chunks(report)
            + front_matter_chunks(report)
        )

    first = build_index(Settings(data_dir=tmp_path / "data", report_path=trimmed), False)
    old = chunks(trimmed)
    assert first.embedded == len({embedding_text(c) for c in old}) < len(old)

    settings = Settings(data_dir=tmp_path / "data")
    new = {embedding_text(c) for c in chunks(None)} - {embedding_text(c) for c in old}
    second = build_index(settings, progress=False)
    assert second.embedded == len(new)
    assert 0 < second.embedded <= 5  # the changed passage, the sentence, endnotes citing it
    assert "(" + str(second.embedded) + " distinct texts embedded)" in second.describe()
    collection = store.open_active_collection(store.connect(settings), settings)
    active = store.read_active(store.connect(settings), settings)
    assert active is not None and active.chunks == len(chunks(None))
    assert collection.count() == active.records == active.chunks + 4  # + the report snapshot
