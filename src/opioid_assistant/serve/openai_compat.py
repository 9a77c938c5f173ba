"""The OpenAI-compatible part of the API: /v1/models and /v1/chat/completions.

Any OpenAI client can talk to the assistant: the last user message is the question, earlier
user/assistant messages the history, and `stream: true` answers with chat.completion.chunk
events. Responses carry `usage` (counted with the embedding model's tokenizer) and, as extra
fields, the answer's citations, evidence, abstained flag, follow-ups, section, index
version and help line (`safety`, also the first line of the message text). `n`, `temperature`, `max_tokens` and `stop` follow `completion_limits`.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, model_validator

from opioid_assistant.answer.turn import normalize_history
from opioid_assistant.errors import AssistantError
from opioid_assistant.serve.answer_threads import AnswerThreads
from opioid_assistant.serve.completion_limits import (
    CutAnswer,
    FinishReason,
    Limits,
    check_limits,
    cut_answer,
)
from opioid_assistant.serve.http_errors import ApiError
from opioid_assistant.serve.token_count import TokenCounter
from opioid_assistant.types import Answer, Citation, Evidence

if TYPE_CHECKING:
    from opioid_assistant.answer.assistant import Assistant

logger = logging.getLogger(__name__)

MODEL_PREFIX = "opioid-assistant-"
# The Answer fields every response adds to OpenAI's (the final chunk, when streaming).
EXTRAS = (
    "citations",
    "evidence",
    "abstained",
    "follow_ups",
    "section",
    "index_version",
    "safety",
    "notice",  # a cut or spell-corrected question says so, as on /v1/ask
    "corrected_question",
)


class TextPart(BaseModel):
    """A text block of an OpenAI message whose content is a list."""

    type: Literal["text"] = Field(description="Only text blocks are accepted.")
    text: str


class ChatMessage(BaseModel):
    """One message of an OpenAI chat; system/developer messages are ignored."""

    role: Literal["system", "developer", "user", "assistant"] = Field(
        description="'user' and 'assistant' messages form the conversation."
    )
    content: str | list[TextPart] | None = Field(default="", description="The message text.")

    def text(self) -> str:
        """The content as one string."""
        if isinstance(self.content, list):
            return " ".join(p.text for p in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    include_usage: bool = Field(
        default=False, description="End the stream with a chunk carrying `usage` (choices [])."
    )


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat completion request, plus `section`; other OpenAI options are ignored."""

    model: str | None = Field(default=None, description="A model id from /v1/models.")
    messages: list[ChatMessage] = Field(
        min_length=1, description="The conversation; the last user message is the question."
    )
    stream: bool = Field(default=False, description="Answer as server-sent events.")
    stream_options: StreamOptions | None = Field(default=None, description="Streaming options.")
    n: int | None = Field(default=None, description="Must be 1: the answer is deterministic.")
    temperature: float | None = Field(
        default=None, description="0 to 2; ignored: answers are deterministic."
    )
    max_tokens: int | None = Field(
        default=None, description="Cut the answer after the last whole sentence that fits."
    )
    max_completion_tokens: int | None = Field(
        default=None, description="As max_tokens; the smaller wins when both are set."
    )
    stop: str | list[str] | None = Field(
        default=None, description="Up to 4 sequences; the answer ends before the first."
    )
    section: str | None = Field(
        default=None,
        description="Not OpenAI's: answer from this report section and its sub-sections "
        "(GET /v1/sections lists them; unknown: 422). OpenAI clients send it as extra_body.",
        examples=["Border security solutions"],
    )

    def limits(self) -> Limits:
        """The request's n/temperature/max_tokens/stop checked (a 400 ApiError if bad)."""
        return check_limits(
            self.n, self.temperature, self.max_tokens, self.max_completion_tokens, self.stop
        )

    @model_validator(mode="after")
    def _ends_with_question(self) -> ChatCompletionRequest:
        turns = [m for m in self.messages if m.role in ("user", "assistant")]
        if not any(m.role == "user" for m in turns):
            raise ValueError("messages has no 'user' message: add the question as a user message")
        if turns[-1].role != "user":
            raise ValueError("the last user/assistant message must be the user's question")
        if not turns[-1].text().strip():
            raise ValueError("the question (the last user message) is empty: type a question")
        return self


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: FinishReason = Field(
        default="stop", description="'length' when max_tokens cut the answer."
    )


class Usage(BaseModel):
    """Token counts, with the embedding model's tokenizer (all-MiniLM-L6-v2)."""

    prompt_tokens: int = Field(description="Tokens of every request message's content.")
    completion_tokens: int = Field(description="Tokens of the answer text returned.")
    total_tokens: int


class ChatCompletion(BaseModel):
    """An OpenAI chat completion plus the answer's citations, evidence, abstained flag,
    follow-ups, section, index version, help line, notice and corrected question."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[Citation] = Field(description="Endnotes cited in the text returned.")
    evidence: list[Evidence]
    abstained: bool
    follow_ups: list[str] = Field(description="Suggested next questions, each checked.")
    section: str = Field(description="The section the answer is scoped to; '': the report.")
    index_version: str = Field(description="The index (report snapshot) that answered.")
    safety: str = Field(
        default="",
        description="The fixed help line (overdose or treatment) the message text opens with; "
        "'' when none.",
    )
    notice: str = Field(
        default="", description="Says how an over-long question was cut (no text echoed); ''."
    )
    corrected_question: str = Field(
        default="", description="The question as spell-corrected when that changed it; ''."
    )


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "opioid-assistant"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def model_ids(assistant: Assistant) -> list[str]:
    """The model ids the API serves: one per configured backend (today: the active one)."""
    return [MODEL_PREFIX + assistant.backend_name]


@dataclass(frozen=True)
class Reply:
    """What turns one request's answer into OpenAI's shape."""

    model: str
    limits: Limits
    counter: TokenCounter
    prompt_tokens: int
    include_usage: bool = False

    def cut(self, answer: Answer) -> CutAnswer:
        return cut_answer(answer, self.limits, self.counter)

    def usage(self, cut: CutAnswer) -> Usage:
        completion = self.counter.count([cut.text])
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=completion,
            total_tokens=self.prompt_tokens + completion,
        )

    def extras(self, answer: Answer, cut: CutAnswer) -> dict[str, Any]:
        """The Answer's fields OpenAI has not, as JSON data; citations: those in the cut."""
        data = answer.to_dict()
        return {**{k: data[k] for k in EXTRAS}, "citations": [asdict(c) for c in cut.citations]}


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _choice(delta: dict[str, str], finish: str | None = None) -> list[dict[str, Any]]:
    return [{"index": 0, "delta": delta, "finish_reason": finish}]


def _clip(pieces: list[str], text: str) -> list[str]:
    """The streamed pieces cut to `text` (a prefix of their join); else `text` whole."""
    if not "".join(pieces).startswith(text):
        return [text]
    clipped, left = [], len(text)
    for piece in pieces:
        if left <= 0:
            break
        clipped.append(piece[:left])
        left -= len(piece)
    return clipped


def _sse(events: Iterator[str | Answer], reply: Reply) -> Iterator[str]:
    """The answer as chat.completion.chunk events: the finishing chunk carries the answer's
    extras; with `include_usage`, a last chunk with no choices carries `usage` (OpenAI's
    rule). With max_tokens or stop, pieces wait for the whole answer, which the cut needs."""
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
        if reply.include_usage:
            extra.setdefault("usage", None)  # OpenAI: null on all chunks but the last
        head = {"id": cid, "object": "chat.completion.chunk", "created": created}
        return _event({**head, "model": reply.model, "choices": choices, **extra})

    yield chunk(_choice({"role": "assistant", "content": ""}))
    pieces: list[str] = []
    try:
        for event in events:
            if isinstance(event, Answer):
                cut = reply.cut(event)
                for piece in _clip(pieces, cut.text) if reply.limits.cuts else []:
                    yield chunk(_choice({"content": piece}))
                yield chunk(_choice({}, cut.finish_reason), **reply.extras(event, cut))
                if reply.include_usage:
                    yield chunk([], usage=reply.usage(cut).model_dump())
            elif event and reply.limits.cuts:
                pieces.append(event)
            elif event:
                yield chunk(_choice({"content": event}))
    except AssistantError as e:  # headers are sent: report in-band, as OpenAI does
        yield _event({"error": {"message": str(e), "type": "assistant_error"}})
    except Exception:
        logger.exception("streaming an answer failed")
        yield _event({"error": {"message": "internal error", "type": "server_error"}})
    yield "data: [DONE]\n\n"


def complete(
    assistant: Assistant, counter: TokenCounter, request: ChatCompletionRequest
) -> ChatCompletion | Iterator[str]:
    """Answer an OpenAI chat request: a ChatCompletion, or the chunks of a stream (its first
    piece already computed, so errors before it still get a status code).

    Raises:
        ApiError: an unknown model (404) or a bad n/temperature/max_tokens/stop (400).
        UnknownSectionError: `section` names no section of the report (the API's 422).
    """
    available = model_ids(assistant)
    model = request.model or available[0]
    if model not in available:
        raise ApiError(404, f"unknown model {model!r}: use one of {available} (GET /v1/models)")
    options = request.stream_options
    reply = Reply(
        model,
        request.limits(),
        counter,
        counter.count([m.text() for m in request.messages]),
        bool(request.stream and options and options.include_usage),
    )
    # The request's validator made the last user/assistant message a non-empty question.
    *history, question = normalize_history([m.model_dump() for m in request.messages])
    events = assistant.stream_events(question["content"], history, section=request.section)
    if request.stream:
        first = next(events)  # errors before the first piece still get a status code
        return _sse(itertools.chain([first], events), reply)
    answer = next(e for e in events if isinstance(e, Answer))
    cut = reply.cut(answer)
    return ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        created=int(time.time()),
        model=model,
        choices=[
            Choice(message=AssistantMessage(content=cut.text), finish_reason=cut.finish_reason)
        ],
        usage=reply.usage(cut),
        **reply.extras(answer, cut),
    )


def add_routes(
    app: FastAPI,
    assistant: Assistant,
    dependencies: Sequence[Any],
    responses: dict[int | str, dict[str, Any]],
    threads: AnswerThreads,
) -> None:
    """Add /v1/models and /v1/chat/completions to `app`.

    Args:
        app: The API app.
        assistant: The assistant that answers.
        dependencies: What every route declares (the bearer scheme, for the schema).
        responses: The error responses to document.
        threads: Where answers are computed (a few at a time).
    """
    guard = list(dependencies)
    counter = TokenCounter(assistant.settings.embedding_model)

    @app.get("/v1/models", response_model=ModelList, dependencies=guard, responses=responses)
    async def models() -> ModelList:
        """The model ids /v1/chat/completions accepts."""
        return ModelList(data=[ModelCard(id=m) for m in model_ids(assistant)])

    sse = {"text/event-stream": {"schema": {"type": "string"}}}

    @app.post(
        "/v1/chat/completions",
        response_model=ChatCompletion,
        dependencies=guard,
        responses={**responses, 200: {"content": sse}},
    )
    async def chat_completions(request: ChatCompletionRequest) -> Any:
        """OpenAI chat completion: the last user message is the question, earlier turns the
        history; `stream: true` answers with chat.completion.chunk events.

        Beyond OpenAI: `section` (send it as extra_body) scopes the answer to a report section
        and its sub-sections (GET /v1/sections; unknown: 422); responses add `citations`,
        `evidence`, `abstained`, `follow_ups`, `section`, `index_version` and `safety` (the
        help line the message text opens with; streaming: on the chunk with the
        finish_reason). `usage` is counted with the embedding model's
        tokenizer; streaming sends it when `stream_options.include_usage` is true.

        Options: `n` must be 1 (else 400: the answer is deterministic, n > 1 would repeat it);
        `temperature` 0-2 is accepted and ignored (else 400); `max_tokens` /
        `max_completion_tokens` cut the answer after the last whole sentence that fits
        (finish_reason "length"); `stop` (up to 4) ends it before the first stop sequence.
        A cut answer lists only the citations left in its text."""
        result = await threads.run(complete, assistant, counter, request)
        if isinstance(result, ChatCompletion):
            return result
        return StreamingResponse(
            threads.iterate(result),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
