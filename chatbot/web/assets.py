"""The chat page's stylesheet and its one script (clicks on citations open the passage).

The script is the client half of the citation round trip described in `chatbot.ui`: it reads
the ref of a clicked `[n]` or source card, hands it to the server through a hidden textbox and
button, then scrolls the highlighted passage into view inside the document pane.
"""

from __future__ import annotations

CSS = """
/* Colours come from Gradio's theme variables, which switch with its dark mode (the class `dark`
   on <body>); the few colours of our own have a dark twin below. Contrast meets WCAG AA in both
   (axe-core checks it): Gradio's own "subdued" grey and its 0.8 opacity on chat text do not. */
:root { --cb-muted: #4b5563; }
.dark { --cb-muted: #d1d5db; --color-accent: #f97316; }
#chat .message-content .prose { opacity: 1; }
.msg-a .cite-ref { color: #1e40af; font-weight: 600; cursor: pointer; text-decoration: none;
  padding: 0 1px; border-radius: 3px; }
.msg-a .cite-ref:hover, .msg-a .cite-ref:focus-visible { background: var(--color-accent-soft); text-decoration: underline; }
.msg-a .cite-ref:focus-visible, .copy-answer:focus-visible, .example-q:focus-visible, .docview-close:focus-visible {
  outline: 2px solid var(--color-accent); outline-offset: 1px; }
.msg-sources { margin-top: 6px; font-size: 0.9em; }
.msg-sources .cite-chip { margin-right: 8px; }
.msg-meta { display: block; margin-top: 4px; color: var(--cb-muted); font-size: 0.8em; }
.copy-answer { font-size: 0.8em; color: var(--cb-muted); cursor: pointer; text-decoration: underline; }
.copy-text { display: none; }
.msg-notice { margin-top: 6px; color: #92400e; }
.msg-a.refusal { border-left: 4px solid #dc2626; padding-left: 8px; color: var(--body-text-color); }
.refusal-label { color: #991b1b; background: #fee2e2; font-weight: 700; padding: 1px 8px; border-radius: 4px;
  display: inline-block; margin-bottom: 4px; }
.msg-a.error { color: #b91c1c; }
.cite { border-left: 4px solid #2563eb; padding: 4px 10px; margin: 8px 0; cursor: pointer; color: var(--body-text-color); }
.cite:hover { background: var(--background-fill-secondary); }
.cite.related { border-left: 4px dashed #9ca3af; color: var(--cb-muted); background: var(--background-fill-secondary); }
.related-head { color: var(--cb-muted); }
.cite blockquote { margin: 4px 0; white-space: pre-wrap; color: inherit; }
.cite .span, .meta, .docview-head .span { color: var(--cb-muted); font-size: 0.85em; }
.mode-badge { background: var(--background-fill-secondary); color: var(--body-text-color); padding: 4px 8px;
  border-radius: 6px; display: inline-block; border: 1px solid var(--border-color-primary); }
.lang-label { font-size: 0.75em; font-weight: 600; padding: 0 6px; border-radius: 8px; margin-left: 4px;
  background: #ede9fe; color: #5b21b6; }
.gloss { border-bottom: 1px dotted currentColor; position: relative; cursor: help; }
.gloss:hover::after, .gloss:focus::after { content: attr(data-gloss); position: absolute; left: 0; top: 1.6em; z-index: 20;
  width: max-content; max-width: 18em; white-space: normal; background: var(--background-fill-primary);
  color: var(--body-text-color); border: 1px solid var(--border-color-primary); padding: 2px 6px; border-radius: 4px;
  font-size: 0.85rem; font-weight: normal; box-shadow: 0 2px 6px rgba(0,0,0,0.2); }
#docview .doc-text { white-space: pre-wrap; max-height: 55vh; overflow-y: auto; padding: 8px; color: var(--body-text-color);
  border: 1px solid var(--border-color-primary); border-radius: 6px; font-size: 0.92em; line-height: 1.5; }
#docview mark.source-mark { background: #fde047; color: #111827; padding: 1px 0; }
#docview mark.related-mark { background: #e5e7eb; color: #111827; outline: 1px dashed #6b7280; }
.docview-close { display: none; }
#upload-status.stale { display: none; }
#corpus { font-size: 0.92em; }
body:has(#chat .msg-q) #corpus { display: none !important; }  /* the first screen, until the first question */
#corpus .corpus-docs { margin: 4px 0 8px 1.2em; padding: 0; color: var(--body-text-color); }
.example-q { display: inline-block; margin: 4px 6px 4px 0; padding: 6px 10px; border-radius: 16px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  color: var(--body-text-color); font: inherit; text-align: left; }
.example-q:hover { border-color: var(--color-accent); }
#scope-line { font-size: 0.9em; color: var(--body-text-color); }
#scope-line .scope-on { background: #dbeafe; color: #1e3a8a; padding: 1px 8px; border-radius: 4px; }
/* dark twins of our own colours */
.dark .msg-a .cite-ref { color: #93c5fd; }
.dark .msg-notice { color: #fcd34d; }
.dark .msg-a.refusal { border-left-color: #f87171; }
.dark .refusal-label { color: #fecaca; background: #7f1d1d; }
.dark .msg-a.error { color: #fca5a5; }
.dark .cite { border-left-color: #60a5fa; }
.dark .lang-label { background: #4c1d95; color: #ede9fe; }
.dark #docview mark.source-mark { background: #854d0e; color: #fefce8; }
.dark #docview mark.related-mark { background: #374151; color: #f9fafb; outline-color: #9ca3af; }
.dark #scope-line .scope-on { background: #1e3a8a; color: #dbeafe; }
/* a phone (the script sets `narrow` on <body> below 720 px; Gradio scopes rules inside @media
   to its container, where <body> is not): the document opens over the chat, with a button back */
/* (!important: Gradio's scoped copy of every rule is more specific than these body-level ones) */
body.narrow.doc-open #docview { position: fixed !important; inset: 0; z-index: 1000; overflow-y: auto !important; padding: 12px;
  margin: 0; background: var(--background-fill-primary); }
body.narrow.doc-open #docview .doc-text { max-height: none !important; }
body.narrow.doc-open #docview .docview-head { position: sticky; top: -12px; z-index: 1; padding: 8px 0;
  background: var(--background-fill-primary); }
body.narrow.doc-open #docview .docview-close { display: block !important; margin-bottom: 8px; }
body.narrow:not(.doc-open) #docview { display: none !important; }
.docview-close { padding: 6px 12px; border-radius: 6px; border: 1px solid var(--border-color-primary);
  background: var(--button-secondary-background-fill); color: var(--button-secondary-text-color); cursor: pointer; }
"""

# Runs once on page load: clicks on anything with data-ref open that passage; the copy button,
# the example questions and the phone's document overlay.
PAGE_JS = r"""
() => {
  if (window.__citeHandler) return;
  window.__citeHandler = true;
  const narrow = () => window.matchMedia('(max-width: 720px)').matches;
  const mark = () => document.body.classList.toggle('narrow', narrow());
  mark();
  window.addEventListener('resize', mark);
  let from = null;  // the [n] or source card that opened the document: the close button returns to it
  const open = (ref) => {
    const box = document.querySelector('#cite-target textarea, #cite-target input');
    const btn = document.querySelector('#cite-open');
    if (!box || !btn) return;
    box.value = ref;
    box.dispatchEvent(new Event('input', { bubbles: true }));
    setTimeout(() => btn.click(), 30);
    if (narrow()) document.body.classList.add('doc-open');
    let tries = 0;
    const scroll = () => {
      const marks = document.querySelectorAll('#docview mark.focus');
      const mark = Array.from(marks).find((m) => m.dataset.for === ref);
      if (mark) {
        // centre the passage inside the document pane; move the window only if the pane is off screen
        const pane = narrow() ? document.querySelector('#docview') : mark.closest('.doc-text');
        if (pane) pane.scrollTop += mark.getBoundingClientRect().top - pane.getBoundingClientRect().top
          - pane.clientHeight / 2 + mark.getBoundingClientRect().height / 2;
        const r = mark.getBoundingClientRect();
        if (!narrow() && (r.top < 0 || r.bottom > window.innerHeight)) mark.scrollIntoView({ block: 'center' });
        const close = document.querySelector('#docview .docview-close');
        if (narrow() && close) close.focus({ preventScroll: true });
        return;
      }
      if (++tries < 100) setTimeout(scroll, 50);
    };
    setTimeout(scroll, 60);
  };
  const closeDoc = () => {
    document.body.classList.remove('doc-open');
    if (from && from.isConnected) {
      from.scrollIntoView({ block: 'center' });
      from.focus({ preventScroll: true });
    }
  };
  const refOf = (ev) => {
    const el = (ev.target && ev.target.closest) ? ev.target.closest('[data-ref], .cite-ref') : null;
    if (!el) return null;
    if (el.dataset.ref) return el.dataset.ref;
    const cls = Array.from(el.classList).find((c) => /^cref-\d+-[cr]-\d+$/.test(c));
    return cls ? cls.slice(5).replace(/-/g, ':') : null;
  };
  const plain = (el) => {  // the hidden plain text of an answer: <br> back to newlines, entities decoded
    const html = el.innerHTML.replace(/<br\s*\/?>/gi, '\n');
    return new DOMParser().parseFromString(html, 'text/html').documentElement.textContent;
  };
  const copy = async (link) => {
    const src = link.closest('.msg-a') && link.closest('.msg-a').querySelector('.copy-text');
    if (!src) return;
    const text = plain(src);
    try { await navigator.clipboard.writeText(text); } catch (e) {
      const area = document.createElement('textarea');
      area.value = text; document.body.appendChild(area); area.select();
      document.execCommand('copy'); area.remove();
    }
    window.__copied = text;
    link.textContent = 'Copied';
    setTimeout(() => { link.textContent = 'Copy'; }, 1500);
  };
  const ask = (q) => {
    const box = document.querySelector('#question textarea');
    if (!box) return;
    box.value = q;
    box.dispatchEvent(new Event('input', { bubbles: true }));
    setTimeout(() => document.querySelector('#ask').click(), 50);
  };
  document.addEventListener('click', (ev) => {
    const t = ev.target && ev.target.closest ? ev.target : null;
    if (!t) return;
    const close = t.closest('.docview-close');
    const cp = t.closest('.copy-answer');
    const ex = t.closest('.example-q');
    if (close || cp || ex) {
      ev.preventDefault();
      ev.stopPropagation();
      if (close) closeDoc();
      else if (cp) copy(cp);
      else ask(ex.dataset.q || ex.textContent);
      return;
    }
    const ref = refOf(ev);
    if (!ref) return;
    ev.preventDefault();
    ev.stopPropagation();
    from = t.closest('[data-ref], .cite-ref');
    open(ref);
  }, true);
  // a new choice of files: the last upload's status line goes (Gradio refuses some files in the
  // browser, with a toast, and never calls the server; the old line would stay), and comes back
  // with the server's next word on the upload
  document.addEventListener('change', (ev) => {
    if (!ev.target.closest || !ev.target.closest('#upload')) return;
    const status = document.querySelector('#upload-status');
    if (!status) return;
    status.classList.add('stale');
    if (!status.__watched) {
      status.__watched = true;
      new MutationObserver(() => status.classList.remove('stale'))
        .observe(status, { subtree: true, childList: true, characterData: true });
    }
  }, true);
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && document.body.classList.contains('doc-open')) { closeDoc(); return; }
    const ref = refOf(ev);
    if (ref && (ev.key === 'Enter' || ev.key === ' ')) {
      ev.preventDefault();
      from = ev.target.closest('[data-ref], .cite-ref');
      open(ref);
    }
  }, true);
}
"""
