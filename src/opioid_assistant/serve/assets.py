"""The page's look and its one script: CSS for chat, evidence and reader, and the click
handlers that need the browser (citations, follow-ups, copy link, show in report).

Gradio's sanitizer drops data-* attributes from chat messages, so the script reads what it
needs from text and hrefs.
"""

from __future__ import annotations

CSS = """
.oa-answer p, .oa-question p { margin: 0 0 .4em 0; }
.oa-answer a.cite { font-weight: 600; text-decoration: none; padding: 0 1px;
  color: var(--link-text-color, #2563eb); }
.oa-answer a.cite:hover { text-decoration: underline; }
.oa-abstained { border-left: 4px solid #d97706; padding-left: .6em; }
.oa-label { font-weight: 700; color: #b45309; }
.oa-safety { font-weight: 700; border-left: 4px solid #dc2626; padding: .3em .6em;
  background: rgba(220, 38, 38, .08); }
.oa-error { border-left: 4px solid #dc2626; padding-left: .6em; }
.oa-notice { font-style: italic; opacity: .8; }
.oa-sources { margin-top: .5em; font-size: .9em; }
.oa-sources-title { font-weight: 700; margin-bottom: .2em !important; }
.oa-sources ul { list-style: none; padding-left: 0; margin: 0; }
.oa-sources li { margin: .2em 0; overflow-wrap: anywhere; }
.oa-num { font-weight: 600; }
#oa-evidence { max-height: 620px; overflow-y: auto; }
.oa-evidence { font-size: .92em; line-height: 1.45; }
.oa-passage { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: .5em .7em; margin: .5em 0; }
.oa-section { font-size: .85em; font-weight: 600; opacity: .75; margin: 0 0 .3em 0; }
.oa-evidence mark.oa-cited { background: #fef08a; color: inherit; padding: 0 2px; }
.oa-evidence mark.oa-active { background: #fed7aa; outline: 2px solid #f97316; }
.oa-evidence sup { font-size: .7em; opacity: .7; }
.oa-empty, .oa-wait { opacity: .7; }
.oa-ev-question { font-weight: 600; }
#oa-feedback-status p { margin: 0; font-size: .9em; }
.oa-interrupted { margin: .4em 0 0 0; font-size: .9em; }
#oa-chat .oa-answer, #oa-chat .oa-question { font-size: var(--text-md); }
.oa-meta { font-size: .85em; opacity: .85; margin: .5em 0 0 0 !important; }
.oa-meta a.oa-share { font-weight: 600; }
.oa-hidden { display: none !important; }
.oa-follow-ups { display: flex; flex-wrap: wrap; gap: .35em; margin-top: .5em;
  align-items: center; }
.oa-fu-title { font-size: .85em; font-weight: 700; margin: 0 !important; width: 100%; }
button.oa-follow-up { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: .3em .65em; background: var(--background-fill-secondary); color: inherit;
  font: inherit; font-size: .9em; text-align: left; cursor: pointer; max-width: 100%; }
button.oa-follow-up:hover { border-color: var(--color-accent); }
a.oa-show { font-weight: 600; white-space: nowrap; margin-left: .4em; }
#oa-reader { max-height: 78vh; overflow-y: auto; }
#oa-reader sup, #oa-reader sup a { margin: 0 !important; padding: 0 0 0 1px !important; }
.oa-reader .oa-hl { background: #fde047; outline: 2px solid #f59e0b; border-radius: 2px; }
.oa-popover { position: absolute; z-index: 1000; box-sizing: border-box; padding: .6em .8em;
  background: var(--background-fill-primary, #fff); color: var(--body-text-color, #111);
  border: 1px solid var(--border-color-primary, #d1d5db); border-radius: 8px;
  box-shadow: 0 6px 24px rgba(0, 0, 0, .18); font-size: .9em; line-height: 1.45;
  overflow-wrap: anywhere; }
.oa-popover p { margin: 0 0 .4em 0; }
.oa-pop-title { font-weight: 700; }
.oa-pop-actions { display: flex; gap: 1em; align-items: center; margin: 0 !important; }
.oa-pop-show { font-weight: 600; }
.oa-pop-close { margin-left: auto; border: 1px solid var(--border-color-primary, #d1d5db);
  border-radius: 6px; background: transparent; color: inherit; font: inherit; padding: .1em .6em;
  cursor: pointer; }
@media (max-width: 640px) {
  #oa-evidence { max-height: 420px; }
  #oa-reader { max-height: 70vh; }
  .oa-reader { padding: 0 .25em; }
  .oa-reader aside { padding-left: .4em; margin-left: 0; }
  button.oa-follow-up { font-size: .85em; padding: .2em .5em; }
}
"""
# A click on a citation opens its endnote in place and shows the passage it cites.
JS = """
() => {
  // Highlight a Report tab element once the tab shows it (the tab renders on first open).
  const reveal = (id, tries, block) => {
    const el = document.getElementById(id);
    if (!el || !el.closest('.oa-reader') || el.offsetParent === null) {
      if (tries > 0) setTimeout(() => reveal(id, tries - 1, block), 150);
      return;
    }
    document.querySelectorAll('.oa-reader .oa-hl').forEach((e) => e.classList.remove('oa-hl'));
    if (el.tagName === 'SPAN' || el.tagName === 'LI') el.classList.add('oa-hl');
    el.scrollIntoView({block: block});
  };
  const openReport = () => {
    const tab = [...document.querySelectorAll('button[role="tab"]')]
      .find((b) => b.textContent.trim() === 'Report');
    if (tab) tab.click();
  };
  const ask = (question) => {
    const box = document.querySelector('#oa-question textarea');
    box.value = question;
    box.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => document.querySelector('#oa-ask').click(), 50);
  };
  const copy = (link) => {
    const url = new URL(link.getAttribute('href'), window.location.href).href;
    const done = () => {
      link.textContent = 'Link copied';
      setTimeout(() => { link.textContent = 'Copy link'; }, 2000);
    };
    if (navigator.clipboard) navigator.clipboard.writeText(url).then(done, () => prompt('Link:', url));
    else prompt('Link:', url);
  };
  // An endnote in place: its source (the answer's Sources entry, URL linked once), and
  // "Show in report", which opens the reader at that endnote.
  let popover = null;
  const closePopover = () => { if (popover) { popover.remove(); popover = null; } };
  const openPopover = (link, n) => {
    closePopover();
    const answer = link.closest('.oa-answer');
    const item = answer && [...answer.querySelectorAll('.oa-sources li')]
      .find((li) => (li.querySelector('.oa-num') || {}).textContent === '[' + n + ']');
    popover = document.createElement('div');
    popover.className = 'oa-popover';
    popover.setAttribute('role', 'dialog');
    popover.setAttribute('aria-label', 'Endnote ' + n);
    const title = document.createElement('p');
    title.className = 'oa-pop-title';
    title.textContent = 'Endnote ' + n;
    const source = document.createElement('p');
    source.className = 'oa-pop-source';
    if (item) {
      const copy = item.cloneNode(true);
      copy.querySelectorAll('.oa-num').forEach((e) => e.remove());
      source.append(...copy.childNodes);
    } else source.textContent = link.getAttribute('title') || '';
    const actions = document.createElement('p');
    actions.className = 'oa-pop-actions';
    actions.innerHTML = '<a class="oa-pop-show" href="#rn-' + Number(n) + '">Show in report</a>' +
      '<button type="button" class="oa-pop-close" aria-label="Close">Close</button>';
    popover.append(title, source, actions);
    document.body.append(popover);
    const at = link.getBoundingClientRect();
    const width = Math.min(448, window.innerWidth - 16);
    popover.style.width = width + 'px';
    const left = Math.max(8, Math.min(at.left, window.innerWidth - width - 8));
    popover.style.left = (left + window.scrollX) + 'px';
    const below = at.bottom + 6;
    const high = popover.offsetHeight;
    const top = below + high > window.innerHeight && at.top - high - 6 > 0 ? at.top - high - 6 : below;
    popover.style.top = (top + window.scrollY) + 'px';
    popover.querySelector('a.oa-pop-show').focus({preventScroll: true});
  };
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') closePopover(); });
  document.addEventListener('click', (event) => {
    const t = event.target;
    if (!t.closest) return;
    const own = t.closest('button.oa-follow-up, a.oa-share, a.oa-show, .oa-reader a[href^="#"]');
    if (own) {
      // Ours alone: the chat's own click handler would also select the message.
      event.preventDefault();
      event.stopPropagation();
      if (own.matches('button.oa-follow-up')) ask(own.textContent);
      else if (own.matches('a.oa-share')) copy(own);
      else {
        const id = own.getAttribute('href').slice(1);
        if (own.matches('a.oa-show')) { openReport(); reveal(id, 30, 'center'); }
        else reveal(id, 0, id.startsWith('sec-') ? 'start' : 'center');
      }
      return;
    }
    if (popover && popover.contains(t)) {
      const inReport = t.closest('a.oa-pop-show');
      if (inReport || t.closest('button.oa-pop-close')) {
        event.preventDefault();
        event.stopPropagation();
        closePopover();
        if (inReport) { openReport(); reveal(inReport.getAttribute('href').slice(1), 30, 'center'); }
      }
      return;  // the source's own link opens as links do
    }
    const link = t.closest('a.cite');
    if (!link) { closePopover(); return; }
    // The endnote opens in place; the click still reaches the chat (it selects the answer).
    event.preventDefault();
    // Gradio's sanitizer drops data-* attributes, so the number comes from the text "[59]".
    const n = link.getAttribute('data-endnote') || link.textContent.replace(/[^0-9]/g, '');
    openPopover(link, n);
    // The chat's select event may re-render the panel just after the click: show late, twice.
    const show = (tries) => {
      const anchor = document.getElementById('endnote-' + n);
      if (!anchor) { if (tries > 0) setTimeout(() => show(tries - 1), 200); return; }
      document.querySelectorAll('.oa-evidence mark.oa-active')
        .forEach((m) => m.classList.remove('oa-active'));
      const details = anchor.closest('details');
      if (details) details.open = true;
      let mark = anchor.nextElementSibling;  // past the anchors of the sentence's other notes
      while (mark && mark.matches('span.oa-anchor')) mark = mark.nextElementSibling;
      if (mark && mark.tagName === 'MARK') mark.classList.add('oa-active');
      // Only the panel scrolls: the page stays at the popover the reader opened.
      const panel = anchor.closest('#oa-evidence');
      if (panel) {
        const offset = anchor.getBoundingClientRect().top - panel.getBoundingClientRect().top;
        panel.scrollTop += offset - panel.clientHeight / 3;
      }
    };
    setTimeout(() => show(10), 150);
    setTimeout(() => show(0), 900);
  }, true);
}
"""
