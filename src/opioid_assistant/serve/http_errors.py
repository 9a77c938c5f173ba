"""HTTP errors of the API: one OpenAI-style error body for every failure.

Every error is `{"error": {"message": what to fix, "type": kind, "param": the field or null,
"code": null}}`, whether it comes from a bad request (400/415/422), an unknown section (422),
a missing token (401), a wrong method (405), an oversized body (413), the assistant
(400/503) or a bug (500, with the trace in the log only).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from opioid_assistant.errors import AssistantError, InvalidQuestionError, UnknownSectionError

logger = logging.getLogger(__name__)


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

    async def http_error(_: Request, e: Exception) -> JSONResponse:
        status = e.status_code if isinstance(e, HTTPException) else 500
        detail = e.detail if isinstance(e, HTTPException) else ""
        if status == 400:  # FastAPI's "There was an error parsing the body"
            return error_response(400, f"{detail}: send a JSON object")
        return error_response(status, str(detail))

    async def internal_error(request: Request, e: Exception) -> JSONResponse:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=e)
        return error_response(500, "internal error: the server log has the details", "server_error")

    for kind in (ApiError, RequestValidationError, AssistantError):
        app.add_exception_handler(kind, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)
