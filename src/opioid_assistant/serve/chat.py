"""The chat tab's handlers: stream an answer, record feedback, export the conversation.

`ChatUI` holds what the page's events call; each handler can be called directly (tests do).
It only formats: every answer comes from `Assistant.stream_events`, and every string a user
or the model wrote is escaped before it reaches the page (see `formatting`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from opioid_assistant.answer.history import normalize_history
from opioid_assistant.errors import AssistantError
from opioid_assistant.serve.feedback import append_feedback, feedback_path, now_iso
from opioid_assistant.serve.formatting import (
    EMPTY_EVIDENCE,
    citations_data,
    conversation_markdown,
    render_answer,
    render_error,
    render_evidence,
    render_question,
    render_streaming,
)
from opioid_assistant.types import Answer

if TYPE_CHECKING:
    from opioid_assistant.answer.assistant import Assistant

logger = logging.getLogger(__name__)

Turn = dict[str, Any]
Session = dict[str, Any]  # {"id": str, "turns": [Turn, ...]}


class ChatUI:
    """The handlers behind the page; each can be called directly (tests do)."""

    def __init__(self, assistant: Assistant):
        """Wrap `assistant`; feedback and exports go under its settings' data dir."""
        self.assistant = assistant
        self.data_dir = Path(assistant.settings.data_dir)
        self.feedback_file = feedback_path(self.data_dir)
        self.export_dir = self.data_dir / "exports"

    def respond(
        self, message: str, chat: list[Any] | None, session: Session | None
    ) -> Iterator[tuple[list[Any], str, str, Session, str | None]]:
        """Stream an answer into the chat.

        Yields:
            (chat messages, textbox value, evidence HTML, session, export file path or None).
        """
        session = _session(session)
        chat = list(chat or [])
        question = message or ""
        if question.strip():
            chat.append({"role": "user", "content": render_question(question)})
        chat.append({"role": "assistant", "content": render_streaming("")})
        evidence = EMPTY_EVIDENCE
        yield chat, "", evidence, session, self._export_path(session)
        pieces: list[str] = []
        history = normalize_history(session["turns"])  # plain text, never the rendered HTML
        try:
            for event in self.assistant.stream_events(question, history):
                if isinstance(event, Answer):
                    chat[-1] = {"role": "assistant", "content": render_answer(event)}
                    evidence = render_evidence(event)
                    self._record(session, event, len(chat) - 1, evidence)
                else:
                    pieces.append(event)
                    chat[-1] = {"role": "assistant", "content": render_streaming("".join(pieces))}
                yield chat, "", evidence, session, self._export_path(session)
        except AssistantError as e:
            chat[-1] = {"role": "assistant", "content": render_error(str(e))}
            yield chat, "", evidence, session, self._export_path(session)
        except Exception:  # the page must survive any failure; the log keeps the trace
            logger.exception("answering %r failed", question)
            chat[-1] = {
                "role": "assistant",
                "content": render_error("an internal error occurred; please try again."),
            }
            yield chat, "", evidence, session, self._export_path(session)

    def _record(self, session: Session, answer: Answer, index: int, evidence: str) -> None:
        session["turns"].append(
            {
                "index": index,
                "question": answer.question,
                "answer": answer.text,
                "citations": citations_data(answer.citations),
                "abstained": answer.abstained,
                "backend": answer.backend,
                "evidence_html": evidence,
            }
        )
        self.export(session)

    def export(self, session: Session | None) -> str | None:
        """Write the conversation as Markdown under data_dir/exports; return its path."""
        session = _session(session)
        if not session["turns"]:
            return None
        self.export_dir.mkdir(parents=True, exist_ok=True)
        path = self.export_dir / f"conversation-{session['id']}.md"
        path.write_text(
            conversation_markdown(self.assistant.report.title, session["turns"]), encoding="utf-8"
        )
        return str(path)

    def _export_path(self, session: Session) -> str | None:
        path = self.export_dir / f"conversation-{session['id']}.md"
        return str(path) if session["turns"] and path.exists() else None

    def feedback(
        self, index: int, liked: bool | str | None, comment: str, session: Session | None
    ) -> tuple[str, str]:
        """Log a thumbs up/down (with the optional comment) on the answer at chat `index`.

        Returns:
            (status text, new comment box value).
        """
        turn = next((t for t in _session(session)["turns"] if t["index"] == index), None)
        if turn is None:
            return "Feedback can only be given on an answer.", comment
        if liked is None or liked == "":
            return "Feedback removed from the screen (the log keeps what was sent).", comment
        rating = "up" if liked is True or str(liked).lower() in ("like", "true") else "down"
        append_feedback(
            self.feedback_file,
            {
                "question": turn["question"],
                "answer": turn["answer"],
                "citations": turn["citations"],
                "abstained": turn["abstained"],
                "backend": turn["backend"],
                "rating": rating,
                "comment": (comment or "").strip(),
                "timestamp": now_iso(),
            },
        )
        return f"Thanks: your feedback ({rating}) was saved.", ""

    def on_like(self, data: gr.LikeData, comment: str, session: Session | None) -> tuple[str, str]:
        """Chatbot .like listener."""
        index = data.index if isinstance(data.index, int) else data.index[0]
        return self.feedback(index, data.liked, comment, session)

    def on_select(self, data: gr.SelectData, session: Session | None) -> str:
        """Show the evidence of the answer the user clicked in the chat."""
        index = data.index if isinstance(data.index, int) else data.index[0]
        for turn in _session(session)["turns"]:
            if turn["index"] in (index, index + 1):
                return str(turn["evidence_html"])
        return gr.skip()

    def clear(self) -> tuple[list[Any], str, str, Session, None, str]:
        """Start a new conversation."""
        return [], "", EMPTY_EVIDENCE, _session(None), None, ""

    def chat_api(self, message: str, history: str | list[Any] | None = None) -> dict[str, Any]:
        """Answer one question for API clients.

        Args:
            message: The question.
            history: Earlier turns as a list (or JSON string) of {"role", "content"} messages.

        Returns:
            {"answer": text, "citations": [{"number", "source", "url"}], "abstained": bool}.
        """
        try:
            answer = self.assistant.ask(message, normalize_history(history))
        except AssistantError as e:  # a bad history or question, or the index is down
            raise gr.Error(str(e)) from e
        return {
            "answer": answer.text,
            "citations": citations_data(answer.citations),
            "abstained": answer.abstained,
        }


def _session(session: Session | None) -> Session:
    return session if session else {"id": uuid.uuid4().hex, "turns": []}
