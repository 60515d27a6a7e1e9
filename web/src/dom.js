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

let toastTimer = 0;
export function toast(msg, kind = 'ok') {
  const t = document.getElementById('toast');
  clear(t);
  t.append(h('div', { class: ['toast', kind] }, h('span', null, msg),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss message', onclick: () => clear(t) }, '×')));
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => clear(t), kind === 'error' ? 12000 : 6000);
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
