"""The feedback form under each answer: thumbs, an optional comment that can be added or
changed after the click, and the confirmation beside the thumbs.

The page script builds the form beside each final answer's rendered HTML (outside it: Gradio's
sanitizer would drop a textarea, and re-renders the HTML whenever the chat changes, which
would lose what was typed). A click or "Save comment" hands `{"index", "rating", "comment"}`
to the hidden `#oa-feedback-send` event (`ChatUI.on_feedback`), whose JSON reply lands in
`window.oaFeedback.done`, which shows it beside the thumbs.
"""

from __future__ import annotations

import json

FEEDBACK_CSS = """
.oa-feedback { margin: .5em 0 .2em 0; font-size: .9em; }
/* One line: the confirmation wraps inside its own box, beside the thumbs, on a phone too. */
.oa-fb-row { display: flex; align-items: center; gap: .4em; }
.oa-fb-ask { font-weight: 600; }
button.oa-thumb { border: 1px solid var(--border-color-primary); border-radius: 8px;
  background: var(--background-fill-secondary); color: inherit; font: inherit;
  padding: .25em .55em; cursor: pointer; line-height: 0; }
button.oa-thumb[aria-pressed="true"] { border-color: var(--color-accent, #f97316);
  background: var(--color-accent-soft, #ffedd5); }
.oa-fb-ask, button.oa-thumb { flex: none; }
.oa-fb-status { flex: 1 1 auto; min-width: 0; }
.oa-fb-status.oa-fb-saved { color: #15803d; }
.oa-fb-comment { display: flex; flex-wrap: wrap; gap: .4em; align-items: flex-end;
  margin-top: .4em; }
.oa-fb-comment[hidden] { display: none; }
.oa-fb-comment textarea { flex: 1 1 14em; min-width: 0; font: inherit; color: inherit;
  background: var(--input-background-fill, transparent); padding: .3em .5em; resize: vertical;
  border: 1px solid var(--border-color-primary); border-radius: 8px; }
button.oa-fb-save { border: 1px solid var(--border-color-primary); border-radius: 8px;
  background: var(--background-fill-secondary); color: inherit; font: inherit;
  padding: .3em .65em; cursor: pointer; white-space: nowrap; }
.dark .oa-fb-status.oa-fb-saved { color: #86efac; }
.dark button.oa-thumb[aria-pressed="true"] { background: #7c2d12; }
"""

FEEDBACK_JS = """
() => {
  const MAX = __MAX_CHARS__;
  // Thumbs drawn as SVG (Feather's icons): the page loads no font, and not every system
  // has one with emoji.
  const UP = 'M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3z' +
    'M7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3';
  const DOWN = 'M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3z' +
    'M17 2h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17';
  const icon = (path) => '<svg viewBox="0 0 24 24" width="16" height="16" fill="none" ' +
    'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" ' +
    'aria-hidden="true"><path d="' + path + '"/></svg>';
  const pending = [];
  const messages = () => [...document.querySelectorAll(
    '#oa-chat [data-testid="user"], #oa-chat [data-testid="bot"]')];
  // The chat index of a form's answer: its place among the chat's messages.
  const indexOf = (form) => messages().indexOf(form.closest('[data-testid="bot"]'));
  const formAt = (index) => {
    const message = messages()[index];
    return message ? message.querySelector('.oa-feedback') : null;
  };
  const send = (form, rating) => {
    const comment = form.querySelector('textarea').value;
    const status = form.querySelector('.oa-fb-status');
    status.classList.remove('oa-fb-saved');
    status.textContent = 'Saving…';
    form.oaSending = (form.oaSending || 0) + 1;
    form.oaSent = comment;
    pending.push(JSON.stringify({index: indexOf(form), rating: rating, comment: comment}));
    document.querySelector('#oa-feedback-send').click();
  };
  window.oaFeedback = {
    take: () => pending.shift() || '',
    done: (reply) => {
      let data;
      try { data = JSON.parse(reply); } catch (e) { return; }
      const form = formAt(data.index);
      if (!form) return;
      form.oaSending = Math.max(0, (form.oaSending || 0) - 1);
      if (form.oaSending > 0) return;  // a later send is on its way: its reply tells
      const status = form.querySelector('.oa-fb-status');
      status.textContent = data.status;
      status.classList.toggle('oa-fb-saved', Boolean(data.saved));
      // The comment as saved (trimmed, cut), unless the reader typed on meanwhile.
      const box = form.querySelector('textarea');
      if (data.saved && box.value === form.oaSent) box.value = data.comment;
    },
  };
  // What tells answers apart: their text and sources, not the footer ("Copy link" changes
  // to "Link copied" for a moment) nor the follow-ups.
  const key = (answer) => [...answer.children]
    .filter((part) => !part.matches('.oa-meta, .oa-follow-ups')).map((part) => part.textContent)
    .join('\\n');
  const build = (answer) => {
    const form = document.createElement('div');
    form.className = 'oa-feedback';
    form.setAttribute('role', 'group');
    form.setAttribute('aria-label', 'Feedback on this answer');
    form.innerHTML =
      '<div class="oa-fb-row"><span class="oa-fb-ask">Helpful?</span>' +
      '<button type="button" class="oa-thumb" data-rating="up" aria-pressed="false" ' +
      'aria-label="Helpful" title="Helpful">' + icon(UP) + '</button>' +
      '<button type="button" class="oa-thumb" data-rating="down" aria-pressed="false" ' +
      'aria-label="Not helpful" title="Not helpful">' + icon(DOWN) + '</button>' +
      '<span class="oa-fb-status" role="status" aria-live="polite"></span></div>' +
      '<div class="oa-fb-comment" hidden><textarea rows="2" aria-label="Comment on this answer" ' +
      'placeholder="Add a comment (optional)"></textarea>' +
      '<button type="button" class="oa-fb-save">Save comment</button></div>';
    form.querySelector('textarea').maxLength = MAX;
    form.oaAnswer = key(answer);
    // Keys typed in the comment are the comment's, not the chat message's.
    form.addEventListener('keydown', (e) => e.stopPropagation());
    return form;
  };
  // A form beside every final answer (not one still streaming, nor an error); a message
  // that now shows another answer (a loaded conversation) gets a fresh form.
  const sync = () => {
    for (const message of document.querySelectorAll('#oa-chat [data-testid="bot"]')) {
      const answer = message.querySelector('.oa-answer:not(.oa-streaming):not(.oa-error)');
      let form = message.querySelector('.oa-feedback');
      if (form && (!answer || form.oaAnswer !== key(answer))) { form.remove(); form = null; }
      if (!answer || form || !answer.querySelector('.oa-meta')) continue;
      const rendered = answer.closest('.md') || answer;
      rendered.after(build(answer));
    }
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; sync(); });
  }).observe(document.body, {childList: true, subtree: true});
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest(
      '.oa-feedback button.oa-thumb, .oa-feedback button.oa-fb-save');
    if (!button) return;
    // Ours alone: the chat's own click handler would also select the message.
    event.preventDefault();
    event.stopPropagation();
    const form = button.closest('.oa-feedback');
    if (button.matches('.oa-thumb')) {
      form.querySelectorAll('.oa-thumb').forEach((b) =>
        b.setAttribute('aria-pressed', String(b === button)));
      form.querySelector('.oa-fb-comment').hidden = false;
      send(form, button.dataset.rating);
    } else {
      const pressed = form.querySelector('.oa-thumb[aria-pressed="true"]');
      if (pressed) send(form, pressed.dataset.rating);
    }
  }, true);
}
"""

# The hidden event's preprocessing: the next feedback the form queued, and the session.
TAKE_JS = "(sent, session) => [window.oaFeedback ? window.oaFeedback.take() : '', session]"
DONE_JS = "(reply) => { if (window.oaFeedback) window.oaFeedback.done(reply); }"


def feedback_js(max_chars: int) -> str:
    """The form's page script, its comment box limited to `max_chars` characters."""
    return FEEDBACK_JS.replace("__MAX_CHARS__", json.dumps(int(max_chars)))
