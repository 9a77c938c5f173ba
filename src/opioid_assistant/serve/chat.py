"""The chat tab's handlers: stream an answer (scoped to a section or not), record feedback,
export the conversation (Markdown, JSON) and load a JSON one back, answer a shared link.

`ChatUI` holds what the page's events call; each handler can be called directly (tests do).
It only formats: every answer comes from `Assistant.stream_events`, and every string a user
or the model wrote is escaped before it reaches the page (see `formatting`).

What a visitor can make the server keep is bounded: an export is written only when asked
(the newest `keep_exports` are kept), a loaded file is read only from Gradio's upload folder
and deleted once read, and feedback comments are cut to `feedback_max_chars`, at most
`feedback_per_minute` records per client address.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from opioid_assistant.answer.turn import normalize_history
from opioid_assistant.errors import AssistantError
from opioid_assistant.report.sections import canonical_section, section_choices
from opioid_assistant.serve.conversation import conversation_json, load_conversation, turn_data
from opioid_assistant.serve.feedback import append_feedback, feedback_path, feedback_record
from opioid_assistant.serve.formatting import (
    EMPTY_EVIDENCE,
    WHOLE_REPORT,
    citations_data,
    conversation_markdown,
    render_answer,
    render_error,
    render_evidence,
    render_question,
    render_streaming,
)
from opioid_assistant.serve.reader import reader_html, sentence_anchor
from opioid_assistant.serve.retention import keep_newest
from opioid_assistant.serve.throttle import RateWindow
from opioid_assistant.serve.uploads import discard_upload, uploaded_file
from opioid_assistant.types import Answer

if TYPE_CHECKING:
    from opioid_assistant.answer.assistant import Assistant

logger = logging.getLogger(__name__)

Turn = dict[str, Any]
Session = dict[str, Any]  # {"id": str, "turns": [Turn, ...]}
EMPTY_HINT = "Type a question about the report first, then press Ask."
MAX_SHARED_QUESTION = 2000  # characters of a link's ?q= that are asked; the rest is dropped
NOT_UPLOADED = "Could not load that file: choose a conversation exported from this page."


class ChatUI:
    """The handlers behind the page; each can be called directly (tests do)."""

    def __init__(self, assistant: Assistant):
        """Wrap `assistant`; feedback and exports go under its settings' data dir."""
        self.assistant = assistant
        self.data_dir = Path(assistant.settings.data_dir)
        self.feedback_file = feedback_path(self.data_dir)
        self.export_dir = self.data_dir / "exports"
        settings = assistant.settings
        self.keep_exports = settings.keep_exports
        self.comment_chars = settings.feedback_max_chars
        self.feedback_rate = RateWindow(settings.feedback_per_minute, 60.0)
        self._reader: tuple[str, str] = ("", "")  # (index version, reader HTML)

    def scopes(self) -> list[tuple[str, str]]:
        """The scope dropdown's (label, section path) choices: the whole report, then every
        section in reading order, a summary of another section labelled as one."""
        return [(WHOLE_REPORT, WHOLE_REPORT), *section_choices(self.assistant.report)]

    def reader(self) -> str:
        """The Report tab's HTML for the current index snapshot (rendered once per snapshot)."""
        version = self.assistant.index_version
        if self._reader[0] != version:
            self._reader = (version, reader_html(self.assistant.report))
        return self._reader[1]

    def anchor(self, sentence: str, section: str) -> str | None:
        """The Report tab's element id of an evidence sentence (None when it has none)."""
        return sentence_anchor(self.assistant.report, sentence, section)

    def respond(
        self,
        message: str,
        chat: list[Any] | None,
        session: Session | None,
        scope: str | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream an answer into the chat (an empty question only shows a hint).

        Args:
            message: The question.
            chat: The chat's messages so far.
            session: The conversation's recorded turns.
            scope: A section to answer from (one of `Assistant.sections`); None or
                `WHOLE_REPORT` for the whole report.

        Yields:
            (chat messages, textbox value, evidence HTML, session). The textbox is cleared
            once, when the question is taken; later updates skip it, so a next question typed
            while this answer streams (or before its event ends) is kept.
        """
        if not (message or "").strip():  # nothing to answer: a hint, no message in the chat
            gr.Info(EMPTY_HINT)
            yield chat or [], "", gr.skip(), gr.skip()
            return
        section = None if not scope or scope == WHOLE_REPORT else scope
        session = _session(session)
        chat = list(chat or [])
        question = message or ""
        if question.strip():
            chat.append({"role": "user", "content": render_question(question)})
        chat.append({"role": "assistant", "content": render_streaming("")})
        evidence = EMPTY_EVIDENCE
        yield chat, "", evidence, session
        kept = gr.skip()  # the textbox from here on: whatever the reader types next
        pieces: list[str] = []
        history = normalize_history(session["turns"])  # plain text, never the rendered HTML
        offered = [q for t in session["turns"] for q in _follow_ups(t)]  # none offered twice
        try:
            events = self.assistant.stream_events(
                question, history, section=section, offered=offered
            )
            for event in events:
                if isinstance(event, Answer):
                    chat[-1] = {"role": "assistant", "content": render_answer(event)}
                    evidence = render_evidence(event, self.anchor)
                    self._record(session, event, len(chat) - 1, evidence)
                else:
                    pieces.append(event)
                    chat[-1] = {"role": "assistant", "content": render_streaming("".join(pieces))}
                yield chat, kept, evidence, session
        except AssistantError as e:
            chat[-1] = {"role": "assistant", "content": render_error(str(e))}
            yield chat, kept, evidence, session
        except Exception:  # the page must survive any failure; the log keeps the trace
            logger.exception("answering %r failed", question)
            chat[-1] = {
                "role": "assistant",
                "content": render_error("an internal error occurred; please try again."),
            }
            yield chat, kept, evidence, session

    def _record(self, session: Session, answer: Answer, index: int, evidence: str) -> None:
        session["turns"].append(
            {
                "index": index,
                "question": answer.question,
                "answer": answer.text,
                "citations": citations_data(answer.citations),
                "abstained": answer.abstained,
                "safety": answer.safety,
                "backend": answer.backend,
                "evidence_html": evidence,
                "data": turn_data(answer),
            }
        )

    def on_load(
        self, chat: list[Any] | None, session: Session | None, request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
        """Ask the question of a shared link (`?q=...&section=...`) when the page opens.

        Yields:
            `respond`'s outputs, then the scope dropdown's value; skips without `q`.
        """
        params = request.query_params if request is not None else {}
        question = str(params.get("q") or "")[:MAX_SHARED_QUESTION]
        if not question.strip():  # an ordinary visit: leave every output as it is
            yield tuple(gr.skip() for _ in range(5))
            return
        section = canonical_section(self.assistant.report, str(params.get("section") or ""))
        shown = section if section in self.assistant.sections else WHOLE_REPORT
        for outputs in self.respond(question, chat, session, section or None):
            yield (*outputs, shown)

    def restore(self, session: Session | None) -> tuple[Any, ...]:
        """Show the conversation the browser kept (a reload or a server restart) again.

        Each turn is rebuilt from its answer data, checked as a loaded file is, never from
        the stored HTML.

        Returns:
            (chat, evidence HTML, session); nothing kept leaves all as is. Nothing is
            exported: exports are written only when asked for.
        """
        turns = session.get("turns") if isinstance(session, dict) else None
        if not turns or not isinstance(turns, list):
            return gr.skip(), gr.skip(), gr.skip()
        try:
            data = [turn["data"] for turn in turns]
            answers = load_conversation(conversation_json(self.assistant.report.title, data))
        except (KeyError, TypeError, ValueError) as e:
            logger.warning("the conversation kept in the browser was not restored: %s", e)
            return [], EMPTY_EVIDENCE, _session(None)
        return self._rebuilt(answers)

    def export_json(self, session: Session | None) -> str | None:
        """Write the conversation as JSON under data_dir/exports (it loads back); its path."""
        session = _session(session)
        if not session["turns"]:
            return None
        answers = [turn["data"] for turn in session["turns"]]
        text = conversation_json(self.assistant.report.title, answers)
        return self._write_export(f"conversation-{session['id']}.json", text)

    def _write_export(self, name: str, text: str) -> str:
        """Write one export (asked for by a click) and keep only the newest ones."""
        self.export_dir.mkdir(parents=True, exist_ok=True)
        path = self.export_dir / name
        path.write_text(text, encoding="utf-8")
        keep_newest(self.export_dir, self.keep_exports, "conversation-*")
        return str(path)

    def load_json(self, file: str | None) -> tuple[Any, ...]:
        """Load a conversation file (from `export_json`) into the page to continue it.

        Only a file in Gradio's upload folder is read (the path an upload returned), and it
        is deleted once read; any other path gets the same answer whether it exists or not.

        Returns:
            (chat, textbox, evidence HTML, session, status text); a file that is not a
            conversation leaves the page as it is and says why.
        """
        skip = gr.skip()
        if not file:
            return skip, skip, skip, skip, skip
        path = uploaded_file(file)
        if path is None:
            return skip, skip, skip, skip, NOT_UPLOADED
        try:
            answers = load_conversation(path.read_bytes())
        except (OSError, ValueError) as e:
            return skip, skip, skip, skip, f"Could not load {path.name}: {e}"
        finally:
            discard_upload(path)
        chat, evidence, session = self._rebuilt(answers)
        status = f"Loaded {len(answers)} answers; ask on to continue the conversation."
        return chat, "", evidence, session, status

    def _rebuilt(self, answers: list[Answer]) -> tuple[list[Any], str, Session]:
        """The chat, the last answer's evidence and a new session holding `answers` (a
        conversation restored from the browser or loaded from a file)."""
        session = _session(None)
        chat: list[Any] = []
        evidence = EMPTY_EVIDENCE
        for answer in answers:
            chat.append({"role": "user", "content": render_question(answer.question)})
            chat.append({"role": "assistant", "content": render_answer(answer)})
            evidence = render_evidence(answer, self.anchor)
            self._record(session, answer, len(chat) - 1, evidence)
        return chat, evidence, session

    def export(self, session: Session | None) -> str | None:
        """Write the conversation as Markdown under data_dir/exports; return its path."""
        session = _session(session)
        if not session["turns"]:
            return None
        text = conversation_markdown(self.assistant.report.title, session["turns"])
        return self._write_export(f"conversation-{session['id']}.md", text)

    def feedback(
        self,
        index: int,
        liked: bool | str,
        comment: str,
        session: Session | None,
        client: str = "",
    ) -> tuple[str, str]:
        """Log a thumbs up/down, with the optional comment, on the answer at chat `index`.

        Every call on the same answer of a conversation logs the same `id`: a comment added
        or changed after the thumbs, or the other thumb, is a new line that replaces the
        earlier ones (`current_feedback` reads the log so).

        Args:
            index: The answer's position in the chat.
            liked: The rating (True, "up" or "Like" is up).
            comment: The comment; cut to `feedback_max_chars`.
            session: The conversation's recorded turns.
            client: The sender's address, for the per-minute limit.

        Returns:
            (status text, the comment as saved, or as sent when nothing was saved).
        """
        session = _session(session)
        turn = next((t for t in session["turns"] if t["index"] == index), None)
        if turn is None:
            return "Feedback can only be given on an answer.", comment
        if not self.feedback_rate.allow(client):
            limit = self.feedback_rate.limit
            return f"Feedback was not saved: at most {limit} a minute. Try again shortly.", comment
        comment = (comment or "").strip()
        cut = len(comment) > self.comment_chars
        comment = comment[: self.comment_chars]
        up = liked is True or str(liked).lower() in ("up", "like", "true")
        rating = "up" if up else "down"
        record = feedback_record(turn, rating, comment, f"{session['id']}:{index}")
        append_feedback(self.feedback_file, record)
        saved = f"your feedback ({rating}) " + ("and your comment were" if comment else "was")
        note = f" (the comment was cut to {self.comment_chars:,} characters)" if cut else ""
        return f"Thanks: {saved} saved{note}.", comment

    def on_feedback(
        self, sent: str, session: Session | None, request: gr.Request | None = None
    ) -> str:
        """The feedback form under an answer: `sent` is the page script's JSON
        {"index", "rating", "comment"}; the reply, JSON too, is shown beside the thumbs:
        {"index", "status", "saved", "comment"}."""
        try:
            data = json.loads(sent)
            index, rating, comment = int(data["index"]), str(data["rating"]), data["comment"]
            if not isinstance(comment, str):
                raise TypeError("the comment is not text")
        except (ValueError, TypeError, KeyError) as e:
            logger.warning("feedback not understood: %s", e)
            return json.dumps({"index": -1, "status": "Feedback not understood.", "saved": False})
        client = request.client.host if request is not None and request.client else ""
        status, saved = self.feedback(index, rating, comment, session, client)
        reply = {"index": index, "status": status, "saved": status.startswith("Thanks")}
        return json.dumps({**reply, "comment": saved})

    def on_select(self, data: gr.SelectData, session: Session | None) -> str:
        """Show the evidence of the answer the user clicked in the chat."""
        index = data.index if isinstance(data.index, int) else data.index[0]
        for turn in _session(session)["turns"]:
            if turn["index"] in (index, index + 1):
                return str(turn["evidence_html"])
        return gr.skip()

    def clear(self) -> tuple[list[Any], str, str, Session, str]:
        """Start a new conversation."""
        return [], "", EMPTY_EVIDENCE, _session(None), ""

    def chat_api(self, message: str, history: str | list[Any] | None = None) -> dict[str, Any]:
        """Answer one question for API clients.

        Args:
            message: The question.
            history: Earlier turns as a list (or JSON string) of {"role", "content"} messages.

        Returns:
            {"answer": text, "citations": [{"number", "source", "url"}], "abstained": bool,
            "safety": the help line the answer opens with, or ''}.
        """
        try:
            answer = self.assistant.ask(message, normalize_history(history))
        except AssistantError as e:  # a bad history or question, or the index is down
            raise gr.Error(str(e)) from e
        return {
            "answer": answer.text,
            "citations": citations_data(answer.citations),
            "abstained": answer.abstained,
            "safety": answer.safety,
        }


def _session(session: Session | None) -> Session:
    return session if session else {"id": uuid.uuid4().hex, "turns": []}


def _follow_ups(turn: Any) -> list[str]:
    """The follow-ups a kept turn offered (none for a turn of another shape)."""
    data = turn.get("data") if isinstance(turn, dict) else None
    found = data.get("follow_ups") if isinstance(data, dict) else None
    return [q for q in found if isinstance(q, str)] if isinstance(found, list) else []
