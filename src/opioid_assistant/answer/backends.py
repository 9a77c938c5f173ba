"""LLM backends behind one narrow interface: messages in, text (or text pieces) out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Protocol, cast
from urllib.parse import urlparse

from opioid_assistant.errors import BackendError
from opioid_assistant.settings import Settings

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


class ChatBackend(Protocol):
    """A chat model: the only thing the answering chain needs from an LLM."""

    name: str

    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Yield the reply in pieces as it is generated."""
        ...


class OpenAIBackend:
    """Any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, LM Studio, llama.cpp server)."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        from langchain_openai import ChatOpenAI

        if not settings.openai_base_url:
            raise BackendError(
                "the openai backend needs OA_OPENAI_BASE_URL (e.g. http://127.0.0.1:11434/v1 "
                "for Ollama); or set OA_LLM_BACKEND=extractive"
            )
        self.base_url = settings.openai_base_url
        # ChatOpenAI sends only `max_completion_tokens`, which llama.cpp's server and other
        # OpenAI-compatible servers ignore; they read the older `max_tokens`.
        is_openai = urlparse(settings.openai_base_url).hostname == "api.openai.com"
        extra_body = None if is_openai else {"max_tokens": settings.llm_max_tokens}
        self.model = ChatOpenAI(
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            api_key=settings.openai_api_key,  # type: ignore[arg-type]
            timeout=settings.openai_timeout_s,
            max_retries=1,
            temperature=0,
            max_completion_tokens=settings.llm_max_tokens,
            extra_body=extra_body,
        )

    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Stream the reply; connection errors and timeouts become BackendError."""
        try:
            for chunk in self.model.stream([(m["role"], m["content"]) for m in messages]):
                if isinstance(chunk.content, str) and chunk.content:
                    yield chunk.content
        except Exception as e:  # openai raises APIConnectionError, APITimeoutError, ...
            raise BackendError(
                f"the OpenAI-compatible endpoint at {self.base_url} failed: {e}"
            ) from e


class LlamaCppBackend:
    """A local GGUF model run in-process by llama-cpp-python (optional extra)."""

    name = "llamacpp"

    def __init__(self, settings: Settings) -> None:
        path = settings.llamacpp_model_path
        if path is None or not path.is_file():
            raise BackendError(
                f"the llamacpp backend needs OA_LLAMACPP_MODEL_PATH to name a GGUF file "
                f"(got {path}); or set OA_LLM_BACKEND=extractive"
            )
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise BackendError(
                "llama-cpp-python is not installed: pip install 'opioid-assistant[llamacpp]'"
            ) from e
        self.max_tokens = settings.llm_max_tokens
        # One llama.cpp context is not safe to use from two threads; the chat page and the
        # API answer several questions at once, so generations take turns.
        self.lock = threading.Lock()
        try:
            self.llm = Llama(model_path=str(path), n_ctx=4096, verbose=False, seed=0)
        except (ValueError, RuntimeError) as e:  # llama.cpp rejects a corrupt or foreign file
            raise BackendError(f"cannot load the GGUF model {path}: {e}") from e

    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Stream the reply from the local model, one generation at a time; its errors become
        BackendError."""
        with self.lock:
            try:
                result: Any = self.llm.create_chat_completion(
                    messages=cast(Any, messages),
                    temperature=0,
                    max_tokens=self.max_tokens,
                    stream=True,
                )
                for part in result:
                    piece = part["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except Exception as e:  # e.g. ValueError when the prompt exceeds the context window
                raise BackendError(f"the local GGUF model failed: {e}") from e


def load_backend(settings: Settings) -> ChatBackend | None:
    """The LLM backend the settings name; None for the extractive answerer."""
    if settings.llm_backend == "openai":
        return OpenAIBackend(settings)
    if settings.llm_backend == "llamacpp":
        return LlamaCppBackend(settings)
    return None
