"""The HTTP API: /v1/ask, /healthz and the OpenAI-compatible routes, without any page.

`create_app(assistant)` builds the FastAPI app. Like the page, the API only formats: every
answer comes from the `Assistant`. This module never imports Gradio, so an API-only server
(`opioid-assistant serve --no-ui`) starts without it; `server.py` mounts the page beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field, field_validator
from starlette.routing import Match

from opioid_assistant.serve import openai_compat
from opioid_assistant.serve.answer_threads import AnswerThreads
from opioid_assistant.serve.health import Health, HealthMonitor
from opioid_assistant.serve.hosts import require_credentials
from opioid_assistant.serve.http_errors import ErrorResponse, add_error_handlers, error_response
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


# Documents the scheme in the OpenAPI schema; `access.AccessGate` checks the token, on every
# route, before any of them runs.
BEARER = HTTPBearer(auto_error=False, description="OA_API_TOKEN, when the server has one")


def create_app(assistant: Assistant) -> FastAPI:
    """Build the API for `assistant` (no page, no access checks: `server.create_server_app`
    adds the page, the body limit and the token gate around it).

    Args:
        assistant: The assistant that answers.
    """
    app = FastAPI(
        title="Opioid report assistant",
        description="Answers from CAP's 2023 opioid report, citing its endnotes.",
        version="1",
    )
    add_error_handlers(app)
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse} for code in (400, 401, 404, 405, 413, 415, 422, 429, 503)
    }
    guard = [Security(BEARER)]
    threads = AnswerThreads(assistant.settings.answer_threads)
    monitor = HealthMonitor(assistant)

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}})
    async def healthz() -> JSONResponse:
        """Whether the store answers: 200 "ok", or 503 "degraded" (checked at most a second
        ago, in a side thread: the probe never waits for an answer)."""
        body = monitor.status()
        return JSONResponse(body.model_dump(), 200 if body.status == "ok" else 503)

    @app.post("/v1/ask", response_model=Answer, dependencies=guard, responses=errors)
    async def ask(request: AskRequest) -> JSONResponse:
        """Answer a question; the body is exactly the Python API's `Answer.to_dict()`, with
        `follow_ups` (suggested next questions), `section`, `index_version` and `safety` (the
        fixed help line the text opens with, '' when none)."""
        history = [m.model_dump() for m in request.history]  # the Assistant normalizes it

        def answer() -> dict[str, Any]:
            return assistant.ask(request.question, history, section=request.section).to_dict()

        return JSONResponse(await threads.run(answer))

    @app.get("/v1/sections", response_model=Sections, dependencies=guard, responses=errors)
    async def sections() -> Sections:
        """The section paths `section` accepts (in /v1/ask and /v1/chat/completions)."""
        return Sections(sections=list(assistant.sections))

    openai_compat.add_routes(app, assistant, guard, errors, threads)
    add_fallback_route(app)
    return app


def add_fallback_route(app: FastAPI) -> None:
    """Answer what no /v1 route takes in the error shape: 405 (with Allow) for a known path
    and another method, 404 for an unknown path. Without it, the page mounted at "/" would
    take these requests and answer a bare 404."""
    routes = list(app.routes)

    @app.api_route(
        "/v1/{rest:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        include_in_schema=False,
    )
    async def fallback(request: Request, rest: str) -> JSONResponse:
        allowed: set[str] = set()
        for route in routes:
            match, _ = route.matches({**request.scope, "method": "__NONE__"})
            if match is Match.PARTIAL:
                allowed |= set(getattr(route, "methods", None) or ())
        if allowed:
            methods = ", ".join(sorted(allowed - {"HEAD"}))
            response = error_response(
                405, f"{request.method} is not allowed on {request.url.path}: use {methods}"
            )
            response.headers["Allow"] = methods
            return response
        return error_response(404, f"no route {request.url.path}: see /docs for the API")


def check_api_host(host: str, api_token: str | None, no_auth: bool) -> None:
    """Raise ValueError for a non-loopback host without an API token unless `no_auth` is set."""
    require_credentials(host, "the API", api_token, "a token", "Set OA_API_TOKEN", no_auth)
