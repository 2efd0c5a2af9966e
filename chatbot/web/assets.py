"""The chat page's stylesheet and its one script (clicks on citations open the passage).

The script is the client half of the citation round trip described in `chatbot.ui`: it reads
the ref of a clicked `[n]` or source card, hands it to the server through a hidden textbox and
button, then scrolls the highlighted passage into view inside the document pane.
"""

from __future__ import annotations

CSS = """
.msg-a .cite-ref { color: #1d4ed8; font-weight: 600; cursor: pointer; text-decoration: none;
  padding: 0 1px; border-radius: 3px; }
.msg-a .cite-ref:hover { background: #dbeafe; }
.msg-sources { margin-top: 6px; font-size: 0.9em; }
.msg-sources .cite-chip { margin-right: 8px; }
.msg-meta { display: block; margin-top: 4px; color: #6b7280; font-size: 0.8em; }
.msg-notice { margin-top: 6px; color: #92400e; }
.msg-a.refusal { border-left: 4px solid #dc2626; padding-left: 8px; color: #374151; }
.refusal-label { color: #991b1b; background: #fee2e2; font-weight: 700; padding: 1px 8px; border-radius: 4px;
  display: inline-block; margin-bottom: 4px; }
.msg-a.error { color: #b91c1c; }
.cite { border-left: 4px solid #2563eb; padding: 4px 10px; margin: 8px 0; cursor: pointer; }
.cite:hover { background: #eff6ff; }
.cite.related { border-left: 4px dashed #9ca3af; color: #4b5563; background: #f9fafb; }
.related-head { color: #6b7280; }
.cite blockquote { margin: 4px 0; white-space: pre-wrap; }
.cite .span, .meta, .docview-head .span { color: #6b7280; font-size: 0.85em; }
.mode-badge { background: #eef2ff; padding: 4px 8px; border-radius: 6px; display: inline-block; }
#docview .doc-text { white-space: pre-wrap; max-height: 55vh; overflow-y: auto; padding: 8px;
  border: 1px solid #e5e7eb; border-radius: 6px; font-size: 0.92em; line-height: 1.5; }
#docview mark.source-mark { background: #fde047; padding: 1px 0; }
#docview mark.related-mark { background: #e5e7eb; outline: 1px dashed #6b7280; }
"""

# Runs once on page load: clicks on anything with data-ref open that passage.
PAGE_JS = r"""
() => {
  if (window.__citeHandler) return;
  window.__citeHandler = true;
  const open = (ref) => {
    const box = document.querySelector('#cite-target textarea, #cite-target input');
    const btn = document.querySelector('#cite-open');
    if (!box || !btn) return;
    box.value = ref;
    box.dispatchEvent(new Event('input', { bubbles: true }));
    setTimeout(() => btn.click(), 30);
    let tries = 0;
    const scroll = () => {
      const marks = document.querySelectorAll('#docview mark.focus');
      const mark = Array.from(marks).find((m) => m.dataset.for === ref);
      if (mark) {
        // centre the passage inside the document pane; move the window only if the pane is off screen
        const pane = mark.closest('.doc-text');
        if (pane) pane.scrollTop += mark.getBoundingClientRect().top - pane.getBoundingClientRect().top
          - pane.clientHeight / 2 + mark.getBoundingClientRect().height / 2;
        const r = mark.getBoundingClientRect();
        if (r.top < 0 || r.bottom > window.innerHeight) mark.scrollIntoView({ block: 'center' });
        return;
      }
      if (++tries < 100) setTimeout(scroll, 50);
    };
    setTimeout(scroll, 60);
  };
  const refOf = (ev) => {
    const el = (ev.target && ev.target.closest) ? ev.target.closest('[data-ref], .cite-ref') : null;
    if (!el) return null;
    if (el.dataset.ref) return el.dataset.ref;
    const cls = Array.from(el.classList).find((c) => /^cref-\d+-[cr]-\d+$/.test(c));
    return cls ? cls.slice(5).replace(/-/g, ':') : null;
  };
  document.addEventListener('click', (ev) => {
    const ref = refOf(ev);
    if (!ref) return;
    ev.preventDefault();
    ev.stopPropagation();
    open(ref);
  }, true);
  document.addEventListener('keydown', (ev) => {
    const ref = refOf(ev);
    if (ref && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); open(ref); }
  }, true);
}
"""
