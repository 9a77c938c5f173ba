"""The page as a reader uses it: where the view lands after an answer, what copy puts on the
clipboard, what a screen reader hears, and the dark colours.

Kept apart from `assets` (the citation, follow-up and reader handlers) so each concern reads
on its own; `page_options` serves both. Everything here runs in the browser on Gradio's own
markup (its chat messages, copy buttons and labels), read from the rendered page because
Gradio's sanitizer drops data-* attributes.
"""

from __future__ import annotations

READING_CSS = """
/* The chat's "Conversation" label takes its own line instead of floating over the first
   message (on a phone it covered the first line of the chat). */
#oa-chat .wrapper { display: flex; flex-direction: column; }
#oa-chat label[data-testid="block-label"] { position: static; flex: none;
  align-self: flex-start; }
#oa-chat .panel-wrap { flex: 1 1 auto; min-height: 0; }
/* A long paste scrolls inside its own bubble, so the answer below it stays in reach. */
#oa-chat .oa-question p { max-height: 9em; overflow-y: auto; }
#oa-chat button.oa-copied { color: #15803d !important; }
"""

# Dark mode (Gradio adds .dark when the browser prefers it). Each pair is WCAG AA (4.5:1 or
# more) against the background it sits on; tests/test_reading_browser.py computes the ratios.
DARK_CSS = """
.dark .oa-evidence mark.oa-cited { background: #713f12; color: #fef9c3; }
.dark .oa-evidence mark.oa-active { background: #7c2d12; color: #ffedd5; outline-color: #fb923c; }
.dark .oa-reader .oa-hl { background: #713f12; color: #fef9c3; outline-color: #f59e0b; }
.dark .oa-answer a.cite, .dark .oa-meta a, .dark a.oa-show, .dark .oa-evidence a,
.dark .oa-sources a, .dark .oa-popover a { color: #93c5fd; }
.dark .oa-label { color: #fbbf24; }
.dark button.oa-follow-up { color: #f3f4f6; background: #1f2937; border-color: #4b5563; }
.dark #oa-ask { background: #c2410c; color: #ffffff; }
.dark .oa-notice, .dark .oa-meta, .dark .oa-section, .dark .oa-empty { opacity: 1; }
"""

READING_JS = """
() => {
  // Plain text (Markdown) of one chat message: citations stay "[59]", the Sources list
  // becomes lines, and the page's own controls (follow-ups, "Copy link") are left out.
  const plain = (message) => {
    const root = message.querySelector('.oa-answer, .oa-question');
    if (!root) return message.innerText.trim();
    const out = [];
    for (const part of root.children) {
      if (part.matches('.oa-meta, .oa-follow-ups, .oa-feedback')) continue;
      if (part.matches('.oa-sources')) {
        out.push('Sources:');
        part.querySelectorAll('li').forEach((li) => {
          out.push('- ' + li.textContent.replace(/\\s+/g, ' ').trim());
        });
        continue;
      }
      const text = part.innerText.replace(/[ \\t]+/g, ' ').trim();
      if (text) out.push(part.matches('.oa-notice') ? '_' + text + '_' : text);
    }
    return out.join('\\n\\n').replace(/\\nSources:\\n\\n/g, '\\nSources:\\n');
  };
  const messages = () => [...document.querySelectorAll(
    '#oa-chat [data-testid="user"], #oa-chat [data-testid="bot"]')];
  const conversation = () => messages().map((m) =>
    (m.dataset.testid === 'user' ? '**Q:** ' : '') + plain(m)).join('\\n\\n');
  window.oaPlainText = {plain, conversation};

  // Screen readers hear the message's text, not Gradio's label of its HTML.
  const label = () => {
    for (const m of messages()) {
      const who = m.dataset.testid === 'user' ? 'Your question: ' : 'Answer: ';
      const text = who + plain(m);
      if (m.getAttribute('aria-label') !== text) m.setAttribute('aria-label', text);
    }
  };

  // A new answer: show its first line (its question at the top of the chat), not its end.
  const toTop = (message) => {
    const row = message.closest('.message-row');
    const question = row && row.previousElementSibling &&
      row.previousElementSibling.querySelector('[data-testid="user"]');
    const target = question || message;
    const wrap = message.closest('.panel-wrap');
    if (wrap) {
      const offset = target.getBoundingClientRect().top - wrap.getBoundingClientRect().top;
      wrap.scrollTop += offset - 4;
    }
    const top = message.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight - 80) window.scrollBy(0, top - 60);
  };
  let seen = 0;
  let waiting = null;  // the new answer, until it is final
  const watch = () => {
    const bots = document.querySelectorAll('#oa-chat [data-testid="bot"]');
    if (bots.length < seen) seen = bots.length;  // cleared
    if (bots.length > seen) {
      seen = bots.length;
      waiting = bots.length - 1;
      toTop(bots[waiting]);
    }
    const last = waiting === null ? null : bots[waiting];
    if (last && last.querySelector('.oa-meta, .oa-error')) {
      toTop(last);
      waiting = null;
    }
    label();
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; watch(); });
  }).observe(document.body, {childList: true, subtree: true, characterData: true});

  // Copy gives plain text: the message's, or the whole conversation's.
  const flash = (button) => {
    button.classList.add('oa-copied');
    setTimeout(() => button.classList.remove('oa-copied'), 1500);
  };
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest(
      '#oa-chat button[aria-label="Copy message"], #oa-chat button[aria-label="Copy conversation"]');
    if (!button) return;
    event.preventDefault();
    event.stopPropagation();
    let text = conversation();
    if (button.getAttribute('aria-label') === 'Copy message') {
      const row = button.closest('.message-row');
      const message = row && row.querySelector('[data-testid="bot"], [data-testid="user"]');
      if (message) text = plain(message);
    }
    if (navigator.clipboard) navigator.clipboard.writeText(text).then(() => flash(button));
  }, true);
}
"""

# The question being typed survives a reload: kept in local storage until it is asked. A
# question asked is kept too until its answer is final: if the page reloads first (the
# reader's reload, or Gradio's after a lost connection), it is put back in the box, with a
# line that says why.
DRAFT_JS = """
() => {
  const KEY = 'oa-draft', ASKING = 'oa-asking';
  const isBox = (el) => el && el.matches && el.matches('#oa-question textarea');
  const unanswered = localStorage.getItem(ASKING);  // read before this page's answers show
  localStorage.removeItem(ASKING);
  const restore = (tries) => {
    const box = document.querySelector('#oa-question textarea');
    if (!box) { if (tries > 0) setTimeout(() => restore(tries - 1), 200); return; }
    // Read before the input event below, which the draft's own listener may already hear
    // (when the box came late): the note depends on what was kept, not on that timing.
    const typed = localStorage.getItem(KEY);
    const draft = typed || unanswered;
    if (draft && !box.value) {
      box.value = draft;
      box.dispatchEvent(new Event('input', {bubbles: true}));
      localStorage.setItem(KEY, draft);  // a second reload keeps it too
    }
    if (unanswered && !typed) {
      const note = document.createElement('p');
      note.className = 'oa-interrupted';
      note.setAttribute('role', 'status');
      note.textContent = 'Your last question was not answered: the page reloaded or lost ' +
        'its connection first. It is back in the box: press Enter to ask it again.';
      (box.closest('.row') || box.closest('#oa-question')).after(note);  // under box and Ask
    }
  };
  restore(50);
  document.addEventListener('input', (e) => {
    if (isBox(e.target)) localStorage.setItem(KEY, e.target.value);
  }, true);
  const asked = () => {
    const box = document.querySelector('#oa-question textarea');
    if (box && box.value.trim()) localStorage.setItem(ASKING, box.value);
    localStorage.removeItem(KEY);
    document.querySelectorAll('.oa-interrupted').forEach((n) => n.remove());
  };
  document.addEventListener('keydown', (e) => {
    if (isBox(e.target) && e.key === 'Enter' && !e.shiftKey) asked();
  }, true);
  document.addEventListener('click', (e) => {
    if (e.target.closest && e.target.closest('#oa-ask')) asked();
    if (e.target.closest && e.target.closest('#oa-clear')) {
      localStorage.removeItem(KEY);
      localStorage.removeItem(ASKING);
    }
  }, true);
  // Every question in the chat has its final answer (or its error): nothing is in flight.
  new MutationObserver(() => {
    if (!localStorage.getItem(ASKING)) return;
    const chat = document.querySelector('#oa-chat');
    if (!chat) return;
    const questions = chat.querySelectorAll('[data-testid="user"]').length;
    const done = chat.querySelectorAll(
      '[data-testid="bot"] .oa-meta, [data-testid="bot"] .oa-error').length;
    if (questions && done >= questions) localStorage.removeItem(ASKING);
  }).observe(document.body, {childList: true, subtree: true});
}
"""


def combined_js(*scripts: str) -> str:
    """One page-load function that runs each `() => {...}` script in turn (Gradio takes one)."""
    calls = "".join(f"({script.strip()})();\n" for script in scripts)
    return f"() => {{\n{calls}}}"
