"""OpenAI conformance over real HTTP on loopback: usage, n, temperature, max_tokens and stop,
checked with the official openai client and LangChain's ChatOpenAI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from helpers import free_port
from opioid_assistant.settings import default_embedding_model

PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"
BORDER = "What does the report say about border security solutions?"
MODEL = "opioid-assistant-extractive"
PHARMACY_NOTE = "[59]"


@pytest.fixture(scope="module")
def base(assistant: Any) -> Iterator[str]:
    """An open server on a free loopback port."""
    from opioid_assistant.serve.server import serve

    port = free_port()
    server = serve(assistant, "127.0.0.1", port, block=False, ui=False)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True


@pytest.fixture(scope="module")
def pharmacy(assistant: Any) -> Any:
    """The Python API's answer to the pharmacy question."""
    return assistant.ask(PHARMACY)


def tokens(text: str) -> int:
    """The text's tokens with the bundled MiniLM tokenizer, read here independently."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(f"{default_embedding_model()}/tokenizer.json")
    tokenizer.no_truncation()
    tokenizer.no_padding()  # the file pads to 128: a count would always be 128
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def client(base: str) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)


def ask(base: str, question: str = PHARMACY, **options: Any) -> Any:
    messages = [{"role": "user", "content": question}]
    return client(base).chat.completions.create(model=MODEL, messages=messages, **options)


def stream(base: str, question: str = PHARMACY, **options: Any) -> list[dict[str, Any]]:
    chunks = ask(base, question, stream=True, **options)
    return [c.to_dict() for c in chunks]


def streamed_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_plain_completion_carries_usage_and_extras(base: str, pharmacy: Any) -> None:
    result = ask(base)
    text = result.choices[0].message.content
    assert text == pharmacy.text
    assert result.choices[0].finish_reason == "stop"
    assert tokens(PHARMACY) == 13  # the counts below are real, not zero
    assert result.usage.prompt_tokens == tokens(PHARMACY)
    assert result.usage.completion_tokens == tokens(text) == 22
    assert result.usage.total_tokens == 35
    extra = result.model_extra or {}
    assert extra["follow_ups"] == list(pharmacy.follow_ups)
    assert extra["section"] == ""
    assert extra["index_version"] == pharmacy.index_version
    assert len(extra["index_version"]) == 64


def test_a_cut_or_corrected_question_is_reported(base: str) -> None:
    context = "States sued the companies that made, shipped and sold opioids, and many of those "
    paste = (context + "lawsuits were settled. ") * 47 + PHARMACY
    assert len(paste) == 4946
    extra = ask(base, paste).model_extra or {}
    assert extra["notice"] == (
        "Your question was 4,946 characters, over the limit of 2,000: the last question in "
        "it, with the context before it that fits, was used."
    )
    assert [c["number"] for c in extra["citations"]] == [58]
    corrected = ask(base, "Is Narcan OTC now?").model_extra or {}
    assert corrected["corrected_question"] == "Is Narcan over-the-counter now?"
    assert corrected["notice"] == "Showing results for “Is Narcan over-the-counter now?”."
    assert (ask(base).model_extra or {})["corrected_question"] == ""


def test_prompt_tokens_count_every_message(base: str, pharmacy: Any) -> None:
    messages = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": PHARMACY},
        {"role": "assistant", "content": pharmacy.text},
        {"role": "user", "content": "And what did the distributors pay?"},
    ]
    result = client(base).chat.completions.create(model=MODEL, messages=messages)
    expected = sum(tokens(m["content"]) for m in messages)
    assert result.usage.prompt_tokens == expected
    assert result.usage.completion_tokens == tokens(result.choices[0].message.content)


def test_streaming_sends_usage_only_when_asked(base: str, pharmacy: Any) -> None:
    chunks = stream(base, stream_options={"include_usage": True})
    assert streamed_text(chunks) == pharmacy.text
    last, finishing = chunks[-1], chunks[-2]
    assert last["choices"] == []
    assert last["usage"] == {"prompt_tokens": 13, "completion_tokens": 22, "total_tokens": 35}
    assert all(c.get("usage") is None for c in chunks[:-1])
    assert finishing["choices"][0]["finish_reason"] == "stop"
    assert finishing["follow_ups"] == list(pharmacy.follow_ups)
    assert finishing["index_version"] == pharmacy.index_version
    assert [c["number"] for c in finishing["citations"]] == [59]
    plain = stream(base)
    assert all("usage" not in c for c in plain)
    assert plain[-1]["choices"][0]["finish_reason"] == "stop"


def test_n_above_one_is_a_bad_request(base: str) -> None:
    from openai import BadRequestError

    with pytest.raises(BadRequestError, match="n must be 1: the answer is deterministic") as e:
        ask(base, n=2)
    assert e.value.body == {
        "message": "n must be 1: the answer is deterministic, so n=2 would repeat it",
        "type": "invalid_request_error",
        "param": "n",
        "code": None,
    }
    assert ask(base, n=1).choices[0].message.content.endswith(f"{PHARMACY_NOTE}.")


def test_temperature_is_checked_then_ignored(base: str, pharmacy: Any) -> None:
    from openai import BadRequestError

    assert ask(base, temperature=1.3).choices[0].message.content == pharmacy.text
    with pytest.raises(BadRequestError, match=r"temperature must be between 0 and 2, not 2\.5"):
        ask(base, temperature=2.5)


def test_max_tokens_cuts_at_whole_words_when_no_sentence_fits(base: str) -> None:
    result = ask(base, max_tokens=5)
    assert result.choices[0].finish_reason == "length"
    assert result.choices[0].message.content == "According to the report,"
    assert result.usage.completion_tokens == 5
    assert (result.model_extra or {})["citations"] == []  # [59] was cut off
    same = ask(base, max_completion_tokens=5)
    assert same.choices[0].message.content == "According to the report,"


def test_max_tokens_cuts_after_the_last_whole_sentence(base: str, assistant: Any) -> None:
    full = assistant.ask(BORDER)
    # the report's own words, then [78] and (since stop 48's refitted adapter) [80]
    first = "\n\n".join(full.text.split("\n\n")[:2])
    assert [c.number for c in full.citations] == [78, 80, 91]
    result = ask(base, BORDER, max_tokens=tokens(first) + 10)
    text = result.choices[0].message.content
    assert text == first
    assert text.endswith("[80].")
    assert result.choices[0].finish_reason == "length"
    assert [c["number"] for c in (result.model_extra or {})["citations"]] == [78, 80]
    assert result.usage.completion_tokens == tokens(first)
    untouched = ask(base, BORDER, max_tokens=tokens(full.text))
    assert untouched.choices[0].message.content == full.text
    assert untouched.choices[0].finish_reason == "stop"


def test_stop_ends_the_answer_before_the_first_stop_sequence(base: str) -> None:
    from openai import BadRequestError

    result = ask(base, stop=["pharmacy", "settlement"])
    assert result.choices[0].message.content == "According to the report, an additional "
    assert result.choices[0].finish_reason == "stop"
    assert (result.model_extra or {})["citations"] == []
    kept = ask(base, stop=" followed").choices[0]  # a string; the citation is cut off too
    assert kept.message.content == (
        "According to the report, an additional settlement of $13.8 billion with pharmacy chains"
    )
    with pytest.raises(BadRequestError, match="stop takes at most 4 sequences, not 5"):
        ask(base, stop=["a", "b", "c", "d", "e"])


def test_streamed_cut_equals_the_plain_cut(base: str) -> None:
    plain = ask(base, BORDER, max_tokens=40)
    chunks = stream(base, BORDER, max_tokens=40, stream_options={"include_usage": True})
    assert streamed_text(chunks) == plain.choices[0].message.content
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-2]["citations"] == (plain.model_extra or {})["citations"]
    assert chunks[-1]["usage"] == plain.usage.model_dump(exclude_none=True)


def test_bad_limits_are_400_in_openai_shape(base: str) -> None:
    import httpx

    for options, param in (({"max_tokens": 0}, "max_tokens"), ({"n": 0}, "n")):
        body = {"model": MODEL, "messages": [{"role": "user", "content": PHARMACY}], **options}
        response = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=60)
        assert response.status_code == 400
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        assert response.json()["error"]["param"] == param


def test_langchain_chat_openai_invoke(base: str, pharmacy: Any) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{base}/v1", api_key="x", model=MODEL, max_retries=0)
    message = llm.invoke(PHARMACY)
    assert message.content == pharmacy.text
    assert PHARMACY_NOTE in message.content
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.response_metadata["model_name"] == MODEL
    usage = message.response_metadata["token_usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        13,
        22,
        35,
    )
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] == 13
    assert message.usage_metadata["output_tokens"] == 22


def test_langchain_streams_usage_and_scopes_by_extra_body(base: str, pharmacy: Any) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        base_url=f"{base}/v1", api_key="x", model=MODEL, max_retries=0, stream_usage=True
    )
    pieces = list(llm.stream(PHARMACY))
    whole = pieces[0]
    for piece in pieces[1:]:
        whole += piece
    assert whole.content == pharmacy.text
    assert whole.usage_metadata is not None
    assert whole.usage_metadata["total_tokens"] == 35
    scoped = ChatOpenAI(
        base_url=f"{base}/v1",
        api_key="x",
        model=MODEL,
        max_retries=0,
        extra_body={"section": "Border security solutions"},
    ).invoke(PHARMACY)
    assert str(scoped.content).startswith("The section “Border security solutions” does not")
    assert PHARMACY_NOTE not in scoped.content


def test_openapi_documents_the_options(base: str) -> None:
    import httpx

    schema = httpx.get(f"{base}/openapi.json").json()
    request = schema["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    assert {"section", "n", "temperature", "max_tokens", "stop", "stream_options"} <= set(request)
    response = schema["components"]["schemas"]["ChatCompletion"]["properties"]
    assert {"usage", "follow_ups", "section", "index_version", "citations"} <= set(response)
    doc = schema["paths"]["/v1/chat/completions"]["post"]["description"]
    assert "`n` must be 1" in doc and "section" in doc
    assert json.dumps(schema)  # the schema itself serializes
