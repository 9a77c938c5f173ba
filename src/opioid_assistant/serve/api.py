"""The HTTP API: /v1/ask, /healthz and the OpenAI-compatible routes, without any page.

`create_app(assistant)` builds the FastAPI app. Like the page, the API only formats: every
answer comes from the `Assistant`. This module never imports Gradio, so an API-only server
(`opioid-assistant serve --no-ui`) starts without it; `server.py` mounts the page beside it.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, field_validator

from opioid_assistant.serve import openai_compat
from opioid_assistant.serve.hosts import require_credentials
from opioid_assistant.serve.http_errors import (
    MAX_BODY_BYTES,
    ApiError,
    BodyLimit,
    ErrorResponse,
    add_error_handlers,
)
from opioid_assistant.types import Answer

if TYPE_CHECKING:
    from opioid_assistant.answer.assistant import Assistant


class HistoryMessage(BaseModel):
    """An earlier turn of the conversation."""

    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    """A question about the report, with optional earlier turns and section scope."""

    question: str = Field(description="The question.", examples=["How much did CVS pay?"])
    history: list[HistoryMessage] = Field(default_factory=list, description="Earlier turns.")
    section: str | None = Field(
        default=None,
        description="Answer from this section and its sub-sections only (a path from "
        "GET /v1/sections, e.g. 'Border security solutions'); unset or '': the whole report. "
        "An unknown section is a 422 whose message lists the valid ones.",
        examples=["Border security solutions"],
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty: type a question about the report")
        return value


class Sections(BaseModel):
    """The sections a question may be scoped to."""

    sections: list[str] = Field(description="Section paths ('Section > Sub-section').")


class Health(BaseModel):
    """Whether the store answers; 503 when it does not."""

    status: Literal["ok", "degraded"]
    index: dict[str, Any] | None = Field(description="The collection answered from, or None.")
    store: str = Field(description="'ok', or why the store cannot be reached.")
    backend: str


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


def _require_token(token: str | None) -> Any:
    bearer = HTTPBearer(auto_error=False, description="OA_API_TOKEN, when the server has one")

    def check(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        if token is None:
            return
        given = credentials.credentials if credentials else ""
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise ApiError(401, "missing or wrong bearer token: send 'Authorization: Bearer TOKEN'")

    return check


def create_app(
    assistant: Assistant,
    *,
    api_token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """Build the API for `assistant` (no page; `server.create_server_app` adds it).

    Args:
        assistant: The assistant that answers.
        api_token: Bearer token /v1/* require; default: the settings' `api_token` (None: open).
        max_body_bytes: Largest /v1 request body; larger ones get 413.
    """
    token = api_token if api_token is not None else assistant.settings.api_token
    app = FastAPI(
        title="Opioid report assistant",
        description="Answers from CAP's 2023 opioid report, citing its endnotes.",
        version="1",
    )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    add_error_handlers(app)
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 422, 503)
    }
    guard = [Depends(_require_token(token))]

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}})
    def healthz() -> JSONResponse:
        """Whether the store answers: 200 "ok", or 503 "degraded"."""
        body = health(assistant)
        return JSONResponse(body.model_dump(), 200 if body.status == "ok" else 503)

    @app.post("/v1/ask", response_model=Answer, dependencies=guard, responses=errors)
    def ask(request: AskRequest) -> JSONResponse:
        """Answer a question; the body is exactly the Python API's `Answer.to_dict()`, with
        `follow_ups` (suggested next questions), `section`, `index_version` and `safety` (the
        fixed help line the text opens with, '' when none)."""
        history = [m.model_dump() for m in request.history]  # the Assistant normalizes it
        answer = assistant.ask(request.question, history, section=request.section)
        return JSONResponse(answer.to_dict())

    @app.get("/v1/sections", response_model=Sections, dependencies=guard, responses=errors)
    def sections() -> Sections:
        """The section paths `section` accepts (in /v1/ask and /v1/chat/completions)."""
        return Sections(sections=list(assistant.sections))

    openai_compat.add_routes(app, assistant, guard, errors)
    return app


def check_api_host(host: str, api_token: str | None, no_auth: bool) -> None:
    """Raise ValueError for a non-loopback host without an API token unless `no_auth` is set."""
    require_credentials(host, "the API", api_token, "a token", "Set OA_API_TOKEN", no_auth)
