"""The HTTP API: OpenAI-compatible chat completions, /v1/ask and /healthz, with the UI at "/".

`create_app(assistant)` builds one FastAPI app (the Gradio page mounted at "/"); `serve(...)`
runs it with uvicorn on one port. Like the UI, the API only formats: every answer comes from
`Assistant.stream_events`. Gradio (~4-7 s to import) is imported only to mount the page, so
importing this module stays light.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, field_validator, model_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opioid_assistant.errors import AssistantError, InvalidQuestionError
from opioid_assistant.serve.hosts import check_page_host, require_credentials
from opioid_assistant.types import Answer, Citation, Evidence

if TYPE_CHECKING:
    from opioid_assistant.answer.assistant import Assistant

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20  # questions are short; anything bigger is a mistake or an attack
MODEL_PREFIX = "opioid-assistant-"


class ApiError(Exception):
    """An error the API answers with `status` and an OpenAI-style error body."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


# Request and response models (they also make the OpenAPI schema at /docs).
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


class HistoryMessage(BaseModel):
    """An earlier turn of the conversation."""

    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    """A question about the report, with optional earlier turns."""

    question: str = Field(description="The question.", examples=["How much did CVS pay?"])
    history: list[HistoryMessage] = Field(default_factory=list, description="Earlier turns.")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty: type a question about the report")
        return value


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


class Health(BaseModel):
    """Whether the store answers; 503 when it does not."""

    status: Literal["ok", "degraded"]
    index: dict[str, Any] | None = Field(description="The collection answered from, or None.")
    store: str = Field(description="'ok', or why the store cannot be reached.")
    backend: str


class ErrorResponse(BaseModel):
    """Every error: {"error": {"message": what to fix, "type": kind}}."""

    error: dict[str, str]


class BodyLimit:
    """ASGI middleware: 413 for /v1 request bodies above `max_bytes` (declared or actual)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        too_big = declared.isdigit() and int(declared) > self.max_bytes
        body, more = b"", not too_big
        while more:  # read the body here (it is small) so an undeclared size is caught too
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False) and len(body) <= self.max_bytes
        if too_big or len(body) > self.max_bytes:
            text = f"request body over {self.max_bytes} bytes: send a shorter question"
            response = _error(413, text)
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"message": message, "type": kind}}, status, headers=headers)


def _validation_message(e: RequestValidationError) -> str:
    parts = []
    for err in e.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def model_ids(assistant: Assistant) -> list[str]:
    """The model ids the API serves: one per configured backend (today: the active one)."""
    return [MODEL_PREFIX + assistant.backend_name]


def _require_token(token: str | None) -> Any:
    bearer = HTTPBearer(auto_error=False, description="OA_API_TOKEN, when the server has one")

    def check(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        if token is None:
            return
        given = credentials.credentials if credentials else ""
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise ApiError(401, "missing or wrong bearer token: send 'Authorization: Bearer TOKEN'")

    return check


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


def health(assistant: Assistant) -> Health:
    """Check that the store answers (a count of the active collection)."""
    collection = assistant.retriever.collection
    try:
        index: dict[str, Any] | None = {"collection": collection.name, "chunks": collection.count()}
        state = "ok"
    except Exception as e:  # a dead server raises several chromadb/httpx types
        index, state = None, f"unreachable: {e}"
    status: Literal["ok", "degraded"] = "ok" if state == "ok" else "degraded"
    return Health(status=status, index=index, store=state, backend=assistant.backend_name)


def complete(assistant: Assistant, request: ChatCompletionRequest) -> Any:
    """Answer an OpenAI chat request: a ChatCompletion, or a stream of chunks."""
    available = model_ids(assistant)
    model = request.model or available[0]
    if model not in available:
        raise ApiError(404, f"unknown model {model!r}: use one of {available} (GET /v1/models)")
    turns = [m for m in request.messages if m.role in ("user", "assistant")]
    history = [{"role": m.role, "content": m.text()} for m in turns[:-1]]
    events = assistant.stream_events(turns[-1].text(), history)
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


def _add_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, e: Exception) -> JSONResponse:
        if isinstance(e, RequestValidationError):
            return _error(422, _validation_message(e))
        if isinstance(e, InvalidQuestionError):
            return _error(400, str(e))
        if isinstance(e, ApiError):
            return _error(e.status, e.message, e.kind)
        return _error(503, str(e), "service_unavailable")  # index, store or backend trouble

    for kind in (ApiError, RequestValidationError, AssistantError):
        app.add_exception_handler(kind, api_error)


def create_app(
    assistant: Assistant,
    *,
    api_token: str | None = None,
    ui_auth: tuple[str, str] | list[tuple[str, str]] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """Build the API for `assistant`, with the chat page mounted at "/".

    Args:
        assistant: The assistant that answers.
        api_token: Bearer token /v1/* require; default: the settings' `api_token` (None: open).
        ui_auth: (user, password) pair(s) the chat page requires.
        max_body_bytes: Largest /v1 request body; larger ones get 413.
    """
    token = api_token if api_token is not None else assistant.settings.api_token
    app = FastAPI(
        title="Opioid report assistant",
        description="Answers from CAP's 2023 opioid report, citing its endnotes.",
        version="1",
    )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    _add_error_handlers(app)
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 422, 503)
    }
    guard = [Depends(_require_token(token))]

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}})
    def healthz() -> JSONResponse:
        """Whether the store answers: 200 "ok", or 503 "degraded"."""
        body = health(assistant)
        return JSONResponse(body.model_dump(), 200 if body.status == "ok" else 503)

    @app.get("/v1/models", response_model=ModelList, dependencies=guard, responses=errors)
    def models() -> ModelList:
        """The model ids /v1/chat/completions accepts."""
        return ModelList(data=[ModelCard(id=m) for m in model_ids(assistant)])

    @app.post("/v1/ask", response_model=Answer, dependencies=guard, responses=errors)
    def ask(request: AskRequest) -> JSONResponse:
        """Answer a question; the body is exactly the Python API's `Answer.to_dict()`."""
        history = [m.model_dump() for m in request.history]
        return JSONResponse(assistant.ask(request.question, history).to_dict())

    sse = {"text/event-stream": {"schema": {"type": "string"}}}

    @app.post(
        "/v1/chat/completions",
        response_model=ChatCompletion,
        dependencies=guard,
        responses={**errors, 200: {"content": sse}},
    )
    def chat_completions(request: ChatCompletionRequest) -> Any:
        """OpenAI chat completion: the last user message is the question, earlier turns the
        history; `stream: true` answers with chat.completion.chunk events."""
        return complete(assistant, request)

    return _mount_ui(app, assistant, ui_auth)


def _mount_ui(
    app: FastAPI, assistant: Assistant, auth: tuple[str, str] | list[tuple[str, str]] | None
) -> FastAPI:
    import gradio as gr

    from opioid_assistant.serve.page import page_options, queued_app

    return gr.mount_gradio_app(
        app, queued_app(assistant), path="/", auth=auth, **page_options(assistant)
    )


def check_api_host(host: str, api_token: str | None, no_auth: bool) -> None:
    """Raise ValueError for a non-loopback host without an API token unless `no_auth` is set."""
    require_credentials(host, "the API", api_token, "a token", "Set OA_API_TOKEN", no_auth)


def serve(
    assistant: Assistant,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    ui_auth: tuple[str, str] | list[tuple[str, str]] | None = None,
    api_token: str | None = None,
    no_auth: bool = False,
    block: bool = True,
) -> uvicorn.Server:
    """Serve the API and the chat page on one port with uvicorn (loopback by default).

    Args:
        assistant: The assistant that answers.
        host: Interface to bind; beyond loopback needs `ui_auth` and an API token, or no_auth.
        port: TCP port.
        ui_auth: (user, password) pair(s) the chat page requires.
        api_token: Bearer token for /v1/*; default: the settings' `api_token`.
        no_auth: Allow a non-loopback host without auth (you take responsibility).
        block: Run until stopped; False returns once serving (stop: `server.should_exit = True`).

    Raises:
        ValueError: a non-loopback host without auth and without no_auth=True.
    """
    token = api_token if api_token is not None else assistant.settings.api_token
    check_page_host(host, ui_auth, no_auth)
    check_api_host(host, token, no_auth)
    app = create_app(assistant, api_token=token, ui_auth=ui_auth)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    if block:
        server.run()
        return server
    thread = threading.Thread(target=server.run, name=f"oa-api-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on {host}:{port} did not start (port in use?)")
        time.sleep(0.05)
    return server
