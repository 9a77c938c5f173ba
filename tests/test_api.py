"""The HTTP API over real HTTP on loopback: the official openai client, httpx and gradio_client."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import free_port
from opioid_assistant import Settings

PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"
MODEL = "opioid-assistant-extractive"
TOKEN = "s3cret-token"


def start(assistant: Any, **kwargs: Any) -> Iterator[str]:
    from opioid_assistant.serve.server import serve

    port = free_port()
    server = serve(assistant, "127.0.0.1", port, block=False, **kwargs)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True


@pytest.fixture(scope="module")
def base(assistant: Any) -> Iterator[str]:
    """An open server (no token) on a free loopback port."""
    yield from start(assistant)


@pytest.fixture(scope="module")
def guarded(assistant: Any) -> Iterator[str]:
    """A server whose /v1/* require a bearer token and whose page requires a login."""
    yield from start(assistant, api_token=TOKEN, ui_auth=("reader", "pw"))


@pytest.fixture(scope="module")
def api_only(assistant: Any) -> Iterator[str]:
    """An API-only server (what `serve --no-ui` starts): no page at "/"."""
    yield from start(assistant, ui=False)


@pytest.fixture(scope="module")
def expected(assistant: Any) -> dict[str, Any]:
    """The Python API's answer, as JSON would carry it."""
    return json.loads(json.dumps(assistant.ask(PHARMACY).to_dict()))


def openai_client(base: str, key: str = "x") -> Any:
    from openai import OpenAI

    return OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)


def numbers_and_urls(citations: list[dict[str, Any]]) -> list[tuple[int, str | None]]:
    return [(c["number"], c["url"]) for c in citations]


def completion(base: str) -> Any:
    return openai_client(base).chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "ignored"},
            {"role": "user", "content": PHARMACY},
        ],
    )


def streamed(base: str) -> tuple[str, dict[str, Any]]:
    """The streamed content, and the last chunk as a dict."""
    stream = openai_client(base).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": PHARMACY}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    return text, chunks[-1].to_dict()


def test_plain_completion_with_openai_client(base: str, expected: dict[str, Any]) -> None:
    result = completion(base)
    assert result.model == MODEL
    assert result.choices[0].message.role == "assistant"
    assert result.choices[0].message.content == expected["text"]
    assert "[59]" in result.choices[0].message.content
    extra = result.model_extra or {}
    assert [c["number"] for c in extra["citations"]] == [59]
    assert extra["citations"] == expected["citations"]
    assert extra["evidence"] == expected["evidence"]
    assert extra["abstained"] is False


def test_streamed_completion_with_openai_client(base: str, expected: dict[str, Any]) -> None:
    text, last = streamed(base)
    assert text == expected["text"]
    assert "[59]" in text
    assert [c["number"] for c in last["citations"]] == [59]
    assert last["citations"] == expected["citations"]
    assert last["evidence"] == expected["evidence"]
    assert last["abstained"] is False
    assert last["choices"][0]["finish_reason"] == "stop"


def test_stream_wire_format(base: str) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": PHARMACY}], "stream": True}
    response = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = response.text.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [("citations" in c) for c in chunks] == [False] * (len(chunks) - 1) + [True]


def test_ask_equals_python_api(base: str, expected: dict[str, Any]) -> None:
    response = httpx.post(f"{base}/v1/ask", json={"question": PHARMACY}, timeout=60)
    assert response.status_code == 200
    assert response.json() == expected


def test_ask_follow_up_uses_history(base: str, assistant: Any, expected: dict[str, Any]) -> None:
    history = [
        {"role": "user", "content": PHARMACY},
        {"role": "assistant", "content": expected["text"]},
    ]
    question = "And what did the distributors pay?"
    body = {"question": question, "history": history}
    response = httpx.post(f"{base}/v1/ask", json=body, timeout=60)
    assert response.json() == json.loads(json.dumps(assistant.ask(question, history).to_dict()))
    assert [c["number"] for c in response.json()["citations"]] == [58]


def test_models_and_health(base: str, assistant: Any) -> None:
    models = httpx.get(f"{base}/v1/models").json()
    assert models == {
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "opioid-assistant"}],
    }
    assert [m.id for m in openai_client(base).models.list()] == [MODEL]
    health = httpx.get(f"{base}/healthz")
    assert health.status_code == 200
    collection = assistant.retriever.collection
    assert health.json() == {
        "status": "ok",
        "index": {"collection": collection.name, "chunks": collection.count()},
        "store": "ok",
        "backend": "extractive",
    }


def test_openapi_describes_every_endpoint(base: str) -> None:
    schema = httpx.get(f"{base}/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/models", "/v1/ask", "/healthz"} <= set(schema["paths"])
    assert {"ChatCompletionRequest", "ChatCompletion", "AskRequest", "Answer", "Evidence"} <= set(
        schema["components"]["schemas"]
    )


@pytest.mark.parametrize(
    ("messages", "says"),
    [
        ([], "messages: List should have at least 1 item"),
        ([{"role": "system", "content": "hi"}], "messages has no 'user' message"),
        ([{"role": "tool", "content": "x"}], "messages.0.role: Input should be"),
        ([{"role": "user", "content": "  "}], "the question (the last user message) is empty"),
        (
            [{"role": "user", "content": PHARMACY}, {"role": "assistant", "content": "a"}],
            "the last user/assistant message must be the user's question",
        ),
    ],
)
def test_bad_chat_requests_say_what_to_fix(
    base: str, messages: list[dict[str, str]], says: str
) -> None:
    body = {"model": MODEL, "messages": messages}
    response = httpx.post(f"{base}/v1/chat/completions", json=body)
    assert response.status_code == 422
    assert says in response.json()["error"]["message"]


def test_bad_requests_get_clear_errors(base: str) -> None:
    from openai import NotFoundError, UnprocessableEntityError

    empty = httpx.post(f"{base}/v1/ask", json={"question": " "})
    assert empty.status_code == 422
    assert "the question is empty" in empty.json()["error"]["message"]
    role = httpx.post(
        f"{base}/v1/ask", json={"question": "q", "history": [{"role": "bot", "content": "x"}]}
    )
    assert role.status_code == 422 and "history.0.role" in role.json()["error"]["message"]
    with pytest.raises(UnprocessableEntityError, match="at least 1 item"):
        openai_client(base).chat.completions.create(model=MODEL, messages=[])
    with pytest.raises(NotFoundError, match="unknown model 'gpt-4o'"):
        openai_client(base).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": PHARMACY}]
        )


def test_oversized_body_is_413(base: str) -> None:
    big = {"question": "x" * 1_100_000}
    response = httpx.post(f"{base}/v1/ask", json=big)
    assert response.status_code == 413
    assert "request body over 1048576 bytes" in response.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the size is counted as it arrives
        yield b'{"question": "'
        for _ in range(12):
            yield b"x" * 100_000
        yield b'"}'

    chunked = httpx.post(f"{base}/v1/ask", content=chunks())
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413


def test_token_required_when_set(guarded: str) -> None:
    from openai import AuthenticationError

    assert httpx.get(f"{guarded}/v1/models").status_code == 401
    wrong = httpx.post(
        f"{guarded}/v1/ask", json={"question": PHARMACY}, headers={"Authorization": "Bearer no"}
    )
    assert wrong.status_code == 401
    assert "missing or wrong bearer token" in wrong.json()["error"]["message"]
    with pytest.raises(AuthenticationError):
        openai_client(guarded, key="wrong").models.list()
    assert [m.id for m in openai_client(guarded, key=TOKEN).models.list()] == [MODEL]
    assert httpx.get(f"{guarded}/healthz").status_code == 200  # probes need no token


def test_ui_login_when_ui_auth_is_set(guarded: str) -> None:
    from gradio_client import Client

    assert httpx.get(f"{guarded}/config").status_code == 401
    with pytest.raises(ValueError, match="credentials were not provided"):
        Client(f"{guarded}/", verbose=False)
    client = Client(f"{guarded}/", auth=("reader", "pw"), verbose=False)
    answer = client.predict(PHARMACY, None, api_name="/chat")
    assert [c["number"] for c in answer["citations"]] == [59]


def test_open_host_needs_a_token_and_ui_auth(assistant: Any) -> None:
    from opioid_assistant.serve.server import serve

    with pytest.raises(
        ValueError, match=r"refusing to serve the API on 0\.0\.0\.0 without a token"
    ):
        serve(assistant, "0.0.0.0", free_port(), ui_auth=("u", "p"), block=False)
    with pytest.raises(
        ValueError, match=r"refusing to serve the chat page on 0\.0\.0\.0 without auth"
    ):
        serve(assistant, "0.0.0.0", free_port(), api_token=TOKEN, block=False)


def test_store_down_is_503(index_settings: Settings, tmp_path: Path) -> None:
    from opioid_assistant import Assistant
    from opioid_assistant.serve.server import serve

    data = tmp_path / "copy"
    shutil.copytree(index_settings.data_dir, data)
    copy = Assistant(settings=index_settings.model_copy(update={"data_dir": data}))
    port = free_port()
    server = serve(copy, "127.0.0.1", port, block=False)
    try:
        collection = copy.retriever.collection
        collection._client.delete_collection(collection.name)  # the index vanishes under it
        # /healthz answers from the event loop with the status a side thread checked at most
        # a second before, so the first probe after the loss may still say "ok".
        deadline = time.monotonic() + 30
        health = httpx.get(f"http://127.0.0.1:{port}/healthz")
        while health.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            health = httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"
        assert health.json()["index"] is None
        assert health.json()["store"].startswith("unreachable: ")
    finally:
        server.should_exit = True


def test_five_paths_give_the_same_citations(
    base: str, assistant: Any, expected: dict[str, Any]
) -> None:
    from gradio_client import Client

    python = numbers_and_urls(expected["citations"])
    assert python[0][0] == 59 and str(python[0][1]).startswith("https://www.reuters.com/")
    ask = httpx.post(f"{base}/v1/ask", json={"question": PHARMACY}, timeout=60).json()
    plain = (completion(base).model_extra or {})["citations"]
    _, last = streamed(base)
    gradio = Client(f"{base}/", verbose=False).predict(PHARMACY, None, api_name="/chat")
    assert numbers_and_urls(ask["citations"]) == python
    assert numbers_and_urls(plain) == python
    assert numbers_and_urls(last["citations"]) == python
    assert numbers_and_urls(gradio["citations"]) == python
    assert gradio["answer"] == expected["text"]


THIRD_WAVE = "When did the third wave of the opioid epidemic begin?"
CDC_URL = "https://www.cdc.gov/opioids/basics/epidemic.html"


def test_a_chained_ibid_is_cited_as_its_original_source_on_every_path(base: str) -> None:
    # Endnote 45 is "Ibid." after 44 "Ibid.", after 43: the citation names 43, not 44.
    ask = httpx.post(f"{base}/v1/ask", json={"question": THIRD_WAVE}, timeout=60).json()
    assert ask["citations"][0] == {
        "number": 45,
        "source": (
            "Ibid. (= endnote 43: Centers for Disease Control and Prevention, “Understanding "
            f"the Epidemic,” available at {CDC_URL} (last accessed June 2023).)"
        ),
        "url": CDC_URL,
    }
    client = openai_client(base)
    messages = [{"role": "user", "content": THIRD_WAVE}]
    plain = client.chat.completions.create(model=MODEL, messages=messages)
    chunks = list(client.chat.completions.create(model=MODEL, messages=messages, stream=True))
    assert (plain.model_extra or {})["citations"] == ask["citations"]
    assert chunks[-1].to_dict()["citations"] == ask["citations"]
    assert "endnote 44" not in plain.choices[0].message.content


def test_api_only_server_answers_and_serves_no_page(
    api_only: str, expected: dict[str, Any]
) -> None:
    response = httpx.post(f"{api_only}/v1/ask", json={"question": PHARMACY}, timeout=60)
    assert response.status_code == 200
    assert response.json() == expected
    assert completion(api_only).choices[0].message.content == expected["text"]
    assert httpx.get(f"{api_only}/").status_code == 404
    assert httpx.get(f"{api_only}/config").status_code == 404
    assert httpx.get(f"{api_only}/healthz").json()["status"] == "ok"


def test_api_only_server_still_needs_a_token_off_loopback(assistant: Any) -> None:
    from opioid_assistant.serve.server import serve

    with pytest.raises(ValueError, match=r"refusing to serve the API on 0\.0\.0\.0"):
        serve(assistant, "0.0.0.0", free_port(), ui=False, block=False)


def test_chat_history_reaches_the_assistant_normalized(base: str, assistant: Any) -> None:
    """Content blocks, system messages and empty turns are normalized as the Python API does."""
    first = assistant.ask(PHARMACY)
    messages = [
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": [{"type": "text", "text": PHARMACY}]},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "And what did the distributors pay?"},
    ]
    result = openai_client(base).chat.completions.create(model=MODEL, messages=messages)
    history = [
        {"role": "user", "content": PHARMACY},
        {"role": "assistant", "content": first.text},
    ]
    follow = assistant.ask("And what did the distributors pay?", history)
    assert result.choices[0].message.content == follow.text
    assert [c["number"] for c in (result.model_extra or {})["citations"]] == [58]


BORDER = "Border security solutions"
SCANNING = "What scanning technology is used at ports of entry?"


def ask_json(base: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{base}/v1/ask", json=body, timeout=60)


def test_sections_lists_what_section_accepts(base: str, assistant: Any) -> None:
    sections = httpx.get(f"{base}/v1/sections").json()["sections"]
    assert sections == list(assistant.sections)
    assert BORDER in sections
    assert f"{BORDER} > Invest in scanning technologies at all ports of entry" in sections


def test_ask_scoped_to_a_section(base: str, assistant: Any) -> None:
    scoped = ask_json(base, question=SCANNING, section=BORDER)
    assert scoped.status_code == 200
    body = scoped.json()
    assert body == json.loads(json.dumps(assistant.ask(SCANNING, section=BORDER).to_dict()))
    assert body["section"] == BORDER
    assert body["evidence"]
    assert all(e["section"].startswith(BORDER) for e in body["evidence"])
    whole = ask_json(base, question=SCANNING).json()
    assert whole["section"] == ""
    assert not all(e["section"].startswith(BORDER) for e in whole["evidence"])  # e.g. takeaways


def test_scope_changes_the_answer_as_expected(base: str, expected: dict[str, Any]) -> None:
    """Settlements are in Public health solutions: scoped to Border security, it says so."""
    scoped = ask_json(base, question=PHARMACY, section=BORDER).json()
    assert scoped["abstained"] is True
    assert scoped["citations"] == []
    assert scoped["text"].startswith(f"The section “{BORDER}” does not answer that.")
    assert "Public health solutions > Expand access" in scoped["text"]
    assert all(e["section"].startswith(BORDER) for e in scoped["evidence"])
    unscoped = ask_json(base, question=PHARMACY, section="").json()  # '': the whole report
    assert unscoped == expected
    assert [c["number"] for c in unscoped["citations"]] == [59]


def test_follow_ups_over_http_equal_the_python_api(base: str, expected: dict[str, Any]) -> None:
    follow_ups = expected["follow_ups"]
    assert 2 <= len(follow_ups) <= 4
    assert ask_json(base, question=PHARMACY).json()["follow_ups"] == follow_ups
    extra = completion(base).model_extra or {}
    assert extra["follow_ups"] == follow_ups
    assert extra["index_version"] == expected["index_version"]
    _, last = streamed(base)
    assert last["follow_ups"] == follow_ups
    assert (last["section"], last["index_version"]) == ("", expected["index_version"])


def unknown_section(response: httpx.Response, shown: str) -> None:
    """A 422 in the error shape that quotes `shown` and lists the valid sections."""
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "section",
        None,
    )
    assert error["message"].startswith(f"the report has no section “{shown}”; choose one of: ")
    assert f"“{BORDER}”" in error["message"]
    assert len(error["message"]) < 3000  # the name is cut short, not echoed whole


@pytest.mark.parametrize(
    ("section", "shown"),
    [
        ("Border patrol", "Border patrol"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("A" * 10_000, "A" * 79 + "…"),
        (
            "<img src=x onerror=alert(1)>" + "x" * 10_000,
            "<img src=x onerror=alert(1)>" + "x" * 51 + "…",
        ),
        ("   ", ""),
    ],
)
def test_unknown_section_is_422_and_the_server_keeps_answering(
    base: str, expected: dict[str, Any], section: str, shown: str
) -> None:
    unknown_section(ask_json(base, question=PHARMACY, section=section), shown)
    body = {"model": MODEL, "messages": [{"role": "user", "content": PHARMACY}]}
    for stream in (False, True):  # a stream fails before its first byte, with the status
        chat = httpx.post(
            f"{base}/v1/chat/completions", json={**body, "section": section, "stream": stream}
        )
        unknown_section(chat, shown)
    assert ask_json(base, question=PHARMACY).json() == expected


def test_unknown_section_with_the_openai_client(base: str) -> None:
    from openai import UnprocessableEntityError

    with pytest.raises(UnprocessableEntityError, match="the report has no section “Nowhere”"):
        openai_client(base).chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": PHARMACY}],
            extra_body={"section": "Nowhere"},
        )


@pytest.mark.parametrize(
    ("question", "cited"),
    [
        (f"<script>alert('x')</script> {PHARMACY}", [59]),  # the markup is not a question
        ("<b>q</b><img src=x onerror=alert(1)>", []),
        ('"><script>document.cookie</script>', []),
    ],
)
def test_html_in_the_question_answers_or_abstains(
    base: str, assistant: Any, question: str, cited: list[int]
) -> None:
    response = ask_json(base, question=question)
    assert response.status_code == 200
    body = response.json()
    assert body == json.loads(json.dumps(assistant.ask(question).to_dict()))
    assert [c["number"] for c in body["citations"]] == cited
    assert body["abstained"] is (cited == [])
