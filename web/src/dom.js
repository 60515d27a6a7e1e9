// Tiny DOM builder: h('div', {class: 'x', onclick: fn}, child, ...). No innerHTML anywhere,
// so text from the API is never parsed as markup, and nothing inline trips the CSP.
const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'tabIndex', 'htmlFor', 'open']);

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
      else if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (k === 'for') el.htmlFor = v;
      else if (PROPS.has(k)) el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// SVG elements (for charts and the pool picture).
export function s(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

// Messages after an action live in the #toast region, which sits in the page flow between the
// top bar and the page (index.html): it pushes the page down instead of lying over it, so it
// never covers a button, link or input. It is a live region (polite; assertive for errors),
// has a close button, and stays until closed, replaced, or the page after the one it was
// shown for is left (a booking's toast survives the move to the calendar it causes).
let toastPages = 0;
export function toast(msg, kind = 'ok') {
  const t = document.getElementById('toast');
  clear(t);
  t.setAttribute('aria-live', kind === 'error' ? 'assertive' : 'polite');
  t.append(h('div', { class: ['toast', kind] }, h('span', { class: 'toast-text' }, msg),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss message', onclick: () => clear(t) }, '×')));
  toastPages = 0;
  const box = t.getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) t.scrollIntoView({ block: 'nearest' });
}

// Called by the router on every page change: a toast outlives one change, not two.
export function toastPageChanged() {
  if (++toastPages > 1) clear(document.getElementById('toast'));
}

// A modal confirmation; resolves true when confirmed. `body` may hold form fields.
export function confirmDialog({ title, body, ok = 'Confirm', cancel = 'Keep', danger = false }) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dlg-title' }, title),
        body ? h('div', { class: 'dlg-body' }, body) : null,
        h('div', { class: 'actions' },
          h('button', { value: 'cancel', type: 'submit', class: 'secondary' }, cancel),
          h('button', { value: 'ok', type: 'submit', class: danger ? 'danger' : 'primary' }, ok))));
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'ok');
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

export function spinner(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

export function errorBox(err, retry) {
  return h('div', { class: 'error-box', role: 'alert' },
    h('strong', null, 'Something went wrong. '), err && err.message ? err.message : String(err),
    retry ? h('button', { class: 'secondary small', onclick: retry }, 'Try again') : null);
}

export function empty(text, action) {
  return h('div', { class: 'empty' }, h('p', null, text), action || null);
}
