"""The OpenAI-compatible part of the API: /v1/models and /v1/chat/completions.

Any OpenAI client can talk to the assistant: the last user message is the question, earlier
user/assistant messages the history, and `stream: true` answers with chat.completion.chunk
events. Responses carry the answer's citations, evidence and abstained flag as extra fields.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, model_validator

from opioid_assistant.answer.history import normalize_history
from opioid_assistant.errors import AssistantError
from opioid_assistant.serve.http_errors import ApiError
from opioid_assistant.types import Answer, Citation, Evidence

if TYPE_CHECKING:
    from opioid_assistant.answer.assistant import Assistant

logger = logging.getLogger(__name__)

MODEL_PREFIX = "opioid-assistant-"


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


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat completion request; sampling options are accepted and ignored."""

    model: str | None = Field(default=None, description="A model id from /v1/models.")
    messages: list[ChatMessage] = Field(
        min_length=1, description="The conversation; the last user message is the question."
    )
    stream: bool = Field(default=False, description="Answer as server-sent events.")

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
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    """An OpenAI chat completion plus the answer's citations, evidence and abstained flag."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    citations: list[Citation]
    evidence: list[Evidence]
    abstained: bool


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


def _chunk(cid: str, created: int, model: str, delta: dict[str, str], **extra: Any) -> str:
    finish = "stop" if extra else None
    data = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _sse(events: Iterator[str | Answer], model: str) -> Iterator[str]:
    """The answer as chat.completion.chunk events; the last carries the answer's extras."""
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    yield _chunk(cid, created, model, {"role": "assistant", "content": ""})
    try:
        for event in events:
            if isinstance(event, Answer):
                data = event.to_dict()
                extras = {k: data[k] for k in ("citations", "evidence", "abstained")}
                yield _chunk(cid, created, model, {}, **extras)
            elif event:
                yield _chunk(cid, created, model, {"content": event})
    except AssistantError as e:  # headers are sent: report in-band, as OpenAI does
        yield f"data: {json.dumps({'error': {'message': str(e), 'type': 'assistant_error'}})}\n\n"
    except Exception:
        logger.exception("streaming an answer failed")
        yield 'data: {"error": {"message": "internal error", "type": "server_error"}}\n\n'
    yield "data: [DONE]\n\n"


def complete(assistant: Assistant, request: ChatCompletionRequest) -> Any:
    """Answer an OpenAI chat request: a ChatCompletion, or a stream of chunks."""
    available = model_ids(assistant)
    model = request.model or available[0]
    if model not in available:
        raise ApiError(404, f"unknown model {model!r}: use one of {available} (GET /v1/models)")
    # The request's validator made the last user/assistant message a non-empty question.
    *history, question = normalize_history([m.model_dump() for m in request.messages])
    events = assistant.stream_events(question["content"], history)
    if request.stream:
        first = next(events)  # errors before the first piece still get a status code
        return StreamingResponse(
            _sse(itertools.chain([first], events), model),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = next(e for e in events if isinstance(e, Answer))
    data = answer.to_dict()
    return ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        created=int(time.time()),
        model=model,
        choices=[Choice(message=AssistantMessage(content=answer.text))],
        citations=data["citations"],
        evidence=data["evidence"],
        abstained=answer.abstained,
    )


def add_routes(
    app: FastAPI,
    assistant: Assistant,
    dependencies: Sequence[Any],
    responses: dict[int | str, dict[str, Any]],
) -> None:
    """Add /v1/models and /v1/chat/completions to `app`.

    Args:
        app: The API app.
        assistant: The assistant that answers.
        dependencies: Checks every route runs first (the bearer token).
        responses: The error responses to document.
    """
    guard = list(dependencies)

    @app.get("/v1/models", response_model=ModelList, dependencies=guard, responses=responses)
    def models() -> ModelList:
        """The model ids /v1/chat/completions accepts."""
        return ModelList(data=[ModelCard(id=m) for m in model_ids(assistant)])

    sse = {"text/event-stream": {"schema": {"type": "string"}}}

    @app.post(
        "/v1/chat/completions",
        response_model=ChatCompletion,
        dependencies=guard,
        responses={**responses, 200: {"content": sse}},
    )
    def chat_completions(request: ChatCompletionRequest) -> Any:
        """OpenAI chat completion: the last user message is the question, earlier turns the
        history; `stream: true` answers with chat.completion.chunk events."""
        return complete(assistant, request)
