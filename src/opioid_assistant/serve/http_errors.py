"""HTTP errors of the API: one OpenAI-style error body for every failure, and the body limit.

Every error is `{"error": {"message": what to fix, "type": kind, "param": the field or null,
"code": null}}`, whether it comes from a bad request (400/422), an unknown section (422), a
missing token (401), an oversized body (413) or the assistant (400/503).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opioid_assistant.errors import AssistantError, InvalidQuestionError, UnknownSectionError

MAX_BODY_BYTES = 1 << 20  # questions are short; anything bigger is a mistake or an attack


class ApiError(Exception):
    """An error the API answers with `status` and an OpenAI-style error body."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param


class ErrorBody(BaseModel):
    """What failed and how to fix it, in OpenAI's shape."""

    message: str = Field(description="What failed, on which input, and how to fix it.")
    type: str = Field(description="The kind, e.g. 'invalid_request_error'.")
    param: str | None = Field(default=None, description="The request field at fault, if one.")
    code: str | None = Field(default=None, description="Always null (OpenAI's field).")


class ErrorResponse(BaseModel):
    """Every error: {"error": {"message", "type", "param", "code"}}."""

    error: ErrorBody


def error_response(
    status: int, message: str, kind: str = "invalid_request_error", param: str | None = None
) -> JSONResponse:
    """The JSON error body with `status` (a 401 also says which scheme to use)."""
    # nosniff: an error may quote the request (a section name with HTML in it); it is JSON.
    headers = {"X-Content-Type-Options": "nosniff"}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    body = {"message": message, "type": kind, "param": param, "code": None}
    return JSONResponse({"error": body}, status, headers=headers)


def validation_message(e: RequestValidationError) -> str:
    """Pydantic's errors as one line: 'field.path: what is wrong; ...'."""
    parts = []
    for err in e.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def add_error_handlers(app: FastAPI) -> None:
    """Answer ApiError, validation errors and assistant errors with the error body."""

    async def api_error(_: Request, e: Exception) -> JSONResponse:
        if isinstance(e, RequestValidationError):
            return error_response(422, validation_message(e))
        if isinstance(e, UnknownSectionError):  # a well-formed request naming no section
            return error_response(422, str(e), param="section")
        if isinstance(e, InvalidQuestionError):
            return error_response(400, str(e))
        if isinstance(e, ApiError):
            return error_response(e.status, e.message, e.kind, e.param)
        return error_response(503, str(e), "service_unavailable")  # index, store or backend

    for kind in (ApiError, RequestValidationError, AssistantError):
        app.add_exception_handler(kind, api_error)


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
            await error_response(413, text)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
