"""Nothing heavy on the serving path: fresh processes that answer, then list what they imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli_env, free_port
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
    code = "import opioid_assistant.api, opioid_assistant.cli\n" + REPORT
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
