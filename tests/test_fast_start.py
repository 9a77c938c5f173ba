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


def serve_ask_and_list_imports(
    data_dir: Path, tmp_path: Path, flags: list[str], path: str
) -> tuple[str, int, set[str]]:
    """Run `opioid-assistant serve FLAGS` as a real process (as a user would), ask QUESTION over
    HTTP, GET `path`, stop the server; return the reply's endpoint body, the page's status and
    the heavy top-level packages the process imported (python -X importtime lists every one)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [CLI[0], "-X", "importtime", *CLI[1:], "serve", *flags, "--port", str(port)]
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"  # files: a pipe would fill up
    with out.open("w") as stdout, err.open("w") as stderr:
        env = {**cli_env(data_dir), "PYTHONUNBUFFERED": "1"}  # killed, not exited
        server = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
        try:
            deadline = time.monotonic() + 300  # an index build under load
            while True:
                assert server.poll() is None, err.read_text()[-2000:]
                assert time.monotonic() < deadline, f"serve {flags} did not start in 300 s"
                try:
                    if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            reply = httpx.post(f"{base}/v1/ask", json={"question": QUESTION}, timeout=60)
            assert reply.status_code == 200
            cited = [c["number"] for c in reply.json()["citations"]]
            page_status = httpx.get(f"{base}{path}", timeout=30).status_code
        finally:
            server.terminate()
            server.wait(timeout=30)
    lines = err.read_text().splitlines()
    imported = {line.rpartition("|")[2].strip() for line in lines if "|" in line}
    assert "opioid_assistant.serve.api" in imported  # the list is real
    heavy = {m.split(".")[0] for m in imported if m.split(".")[0] in HEAVY}
    return out.read_text() + json.dumps(cited), page_status, heavy


@pytest.mark.slow
def test_serve_answers_without_torch(index_settings: Settings, tmp_path: Path) -> None:
    """The full server (page and API) as a real process: it answers, serves the page, and
    imports Gradio but nothing else heavy. (It used to run `serve` in a daemon thread of a
    `python -c` child, which now and then crashed with SIGSEGV while the interpreter shut
    down under the still-running server thread, after every check had passed.)"""
    printed, page_status, heavy = serve_ask_and_list_imports(
        index_settings.data_dir, tmp_path, [], "/"
    )
    assert "Serving the chat page and the API (/v1, /docs) on http://127.0.0.1:" in printed
    assert printed.endswith("[59]")
    assert page_status == 200
    assert heavy == {"gradio"}


def test_serve_no_ui_answers_over_http_without_gradio(
    index_settings: Settings, tmp_path: Path
) -> None:
    """`opioid-assistant serve --no-ui` as a real process: it answers /v1/ask, serves no page,
    and never imports Gradio."""
    printed, page_status, heavy = serve_ask_and_list_imports(
        index_settings.data_dir, tmp_path, ["--no-ui"], "/"
    )
    assert "Serving the API (/v1, /docs) on http://127.0.0.1:" in printed
    assert printed.endswith("[59]")
    assert page_status == 404
    assert heavy == set()
