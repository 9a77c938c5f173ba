"""The same index and answers through a real Chroma server (`chroma run`) on loopback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers import free_port, run_cli
from opioid_assistant import Settings
from opioid_assistant.errors import StoreUnavailableError
from opioid_assistant.index.building import build_index

PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"


class ChromaServer:
    """A real `chroma run` process on loopback that tests can stop and start again."""

    def __init__(self, path: Path) -> None:
        self.path, self.port = path, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
        assert chroma, "the chroma CLI comes with chromadb"
        self.process = subprocess.Popen(
            [
                chroma,
                "run",
                "--path",
                str(self.path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120  # a bound on a hang, not a speed check
        while time.monotonic() < deadline:
            try:
                if (
                    httpx.get(
                        f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1
                    ).status_code
                    == 200
                ):
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("chroma run did not become ready in 120 s")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    srv = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def server_settings(server: ChromaServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("server-data"),
        chroma_host="127.0.0.1",
        chroma_port=server.port,
    )
    build_index(settings, progress=False)
    return settings


@pytest.fixture(params=["embedded", "server"])
def mode_settings(request: pytest.FixtureRequest, index_settings: Settings) -> Settings:
    if request.param == "embedded":
        return index_settings
    return request.getfixturevalue("server_settings")


def test_ingest_reuses_the_index_in_both_modes(mode_settings: Settings) -> None:
    again = build_index(mode_settings, progress=False)
    assert again.reused is True
    assert (again.sentences, again.endnotes_linked) == (191, 159)


def test_answers_are_identical_in_both_modes(
    mode_settings: Settings, index_settings: Settings
) -> None:
    from opioid_assistant import Assistant

    answer = Assistant(settings=mode_settings).ask(PHARMACY)
    embedded = Assistant(settings=index_settings).ask(PHARMACY)
    assert [c.number for c in answer.citations] == [59]
    assert answer.text == embedded.text
    assert [e.chunk_id for e in answer.evidence] == [e.chunk_id for e in embedded.evidence]


def test_two_app_processes_share_one_server(server_settings: Settings) -> None:
    code = (
        "from opioid_assistant import Assistant, Settings;"
        f"a=Assistant(Settings(data_dir={str(server_settings.data_dir)!r}, chroma_host='127.0.0.1', "
        f"chroma_port={server_settings.chroma_port}));"
        f"print([c.number for c in a.ask({PHARMACY!r}).citations])"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0].strip().splitlines()[-1] for p in procs]
    assert outputs == ["[59]", "[59]"]


def test_server_down_at_start_is_a_clear_error(tmp_path: Path) -> None:
    from opioid_assistant import Assistant

    settings = Settings(data_dir=tmp_path, chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(
        StoreUnavailableError,
        match=r"cannot open the Chroma server at 127\.0\.0\.1:\d+.*chroma run",
    ):
        Assistant(settings=settings)


def test_server_killed_mid_session_then_recovers(
    server: ChromaServer, server_settings: Settings
) -> None:
    from opioid_assistant import Assistant

    assistant = Assistant(settings=server_settings)
    assert [c.number for c in assistant.ask(PHARMACY).citations] == [59]
    server.stop()
    try:
        with pytest.raises(StoreUnavailableError, match="did not answer the search"):
            assistant.ask(PHARMACY)
    finally:
        server.start()
    assert [c.number for c in assistant.ask(PHARMACY).citations] == [59]


def test_two_app_processes_follow_a_reingest_without_failing(
    server_settings: Settings, tmp_path: Path
) -> None:
    from opioid_assistant.index import store
    from reingest_helpers import (
        QuestionLoop,
        changed_report,
        check_one_version,
        report_sentences,
        serving,
        switched_once,
        wait_for,
        wait_for_switch,
    )

    data = server_settings.data_dir  # holds the embedding model's export; the index is remote
    env = {"OA_CHROMA_HOST": "127.0.0.1", "OA_CHROMA_PORT": str(server_settings.chroma_port)}
    changed = changed_report(tmp_path)
    client = store.connect(server_settings)
    old = store.read_active(client, server_settings)
    assert old is not None
    try:
        with serving(data, env) as first, serving(data, env) as second:
            loops = [QuestionLoop(first.base).start(), QuestionLoop(second.base).start()]
            wait_for(lambda: all(len(loop.asked) >= 3 for loop in loops), "three answers from each")
            done = run_cli(
                "ingest",
                "--quiet",
                data_dir=data,
                extra_env={**env, "OA_REPORT_PATH": str(changed)},
            )
            ended = time.monotonic()
            assert done.returncode == 0, done.stderr
            new = store.read_active(client, server_settings)
            assert new is not None and new.fingerprint != old.fingerprint
            # How soon they switch is measured by `eval/benchmark_reingest.py --chroma-server`.
            wait_for_switch(loops, new.fingerprint, after=ended)
            asked = [loop.finish() for loop in loops]
        versions = {
            old.fingerprint: report_sentences(None),
            new.fingerprint: report_sentences(changed),
        }
        for answers in asked:
            assert [a for a in answers if a.status != 200] == []
            for a in answers:
                check_one_version(a, versions)
            assert switched_once(answers, old.fingerprint, new.fingerprint)
    finally:  # the module's other tests expect the bundled report's index
        build_index(server_settings, progress=False)
