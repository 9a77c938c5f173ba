"""Schemathesis against the served OpenAPI schema of /v1/*: generated requests, valid and
not, each get a documented status, never a 500, and every error in the documented shape
(issue 25). Generated requests are also sent with a method the route does not take (405)
and with a lone surrogate in one of their strings (400: JSON can carry one, Unicode text
cannot). Bounded: 25 examples per operation and mode, derandomized, so CI is stable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers import free_port

EXAMPLES = 25
ROUTES = ["GET /v1/models", "GET /v1/sections", "POST /v1/ask", "POST /v1/chat/completions"]
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def base(assistant: Any) -> Iterator[str]:
    """The full server (page mounted, as `opioid-assistant serve` runs it) on loopback."""
    from opioid_assistant.serve.server import serve

    port = free_port()
    server = serve(assistant, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True


def error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every non-2xx answer is {"error": {"message", "type", "param", "code"}}."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return None


def operations(base: str) -> list[Any]:
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if op.path.startswith("/v1/")]


def operation(base: str, route: str) -> Any:
    method, path = route.split(" ")
    (found,) = [op for op in operations(base) if op.method.upper() == method and op.path == path]
    return found


def cases(found: Any) -> Any:
    """Generated requests: valid ones, and ones that break the schema."""
    from schemathesis import GenerationMode

    return st.one_of(
        found.as_strategy(GenerationMode.POSITIVE), found.as_strategy(GenerationMode.NEGATIVE)
    )


def test_the_schema_covers_every_v1_route(base: str) -> None:
    assert sorted(f"{op.method.upper()} {op.path}" for op in operations(base)) == ROUTES


@pytest.mark.parametrize("route", ROUTES)
def test_generated_requests_get_documented_answers(base: str, route: str) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        error_shape,
    ]

    @BOUNDED
    @given(case=cases(operation(base, route)))
    def call(case: Any) -> None:
        case.call_and_validate(base_url=base, checks=checks, timeout=60)

    call()


def with_a_lone_surrogate(value: Any, path: str = "") -> tuple[Any, str] | None:
    """`value` with its first string (depth first) given a lone surrogate, and that string's
    path ("messages.0.content"); None when it holds no string."""
    if isinstance(value, str):
        return value + "\ud800", path
    if not isinstance(value, (dict, list)):
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        found = with_a_lone_surrogate(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            copy: Any = dict(value) if isinstance(value, dict) else list(value)
            copy[key] = found[0]
            return copy, found[1]
    return None


@pytest.mark.parametrize("route", [r for r in ROUTES if r.startswith("POST")])
def test_a_lone_surrogate_anywhere_in_a_body_is_a_400(base: str, route: str) -> None:
    @settings(BOUNDED, max_examples=12)  # each needs a body with a string: fewer tries
    @given(case=operation(base, route).as_strategy())
    def call(case: Any) -> None:
        mutated = with_a_lone_surrogate(case.body)
        assume(mutated is not None)
        body, where = mutated  # type: ignore[misc]
        response = httpx.post(
            f"{base}{case.path}",
            content=json.dumps(body).encode(),  # "\ud800" escaped: valid JSON, not text
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert response.status_code == 400, response.text
        place = f" in {where[:80]}" if where else ""  # a string at the top has no path
        message = response.json()["error"]["message"]
        assert message == f"invalid Unicode{place}: a lone surrogate is not text; send UTF-8"

    call()


@pytest.mark.parametrize("route", ROUTES)
def test_a_method_the_route_does_not_take_is_a_405(base: str, route: str) -> None:
    method, path = route.split(" ")
    for wrong in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - {method}):
        response = httpx.request(wrong, f"{base}{path}", json={} if wrong != "GET" else None)
        assert response.status_code == 405, (wrong, response.text)
        assert response.headers["allow"] == method
        assert response.json()["error"]["message"] == (
            f"{wrong} is not allowed on {path}: use {method}"
        )
