// API tokens for the command line (`gpuaas reserve ...`): list, create (shown once), revoke.
import { h, clear, spinner, errorBox, toast, confirmDialog } from '../dom.js';
import { get, post, api, items, explain, token } from '../api.js';
import { showDateTime } from '../time.js';

export function tokensCard() {
  const list = h('div', null, spinner());
  const name = h('input', { id: 'token-name', required: true, maxlength: '63', placeholder: 'e.g. laptop CLI' });
  const ttl = h('select', { id: 'token-ttl' },
    [['1 day', 86400], ['7 days', 604800], ['30 days', 2592000], ['90 days', 7776000]].map(([t, v]) => h('option', { value: String(v), selected: v === 2592000 }, t)));
  const created = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'filters', id: 'token-form' },
    h('div', { class: 'field' }, h('label', { for: 'token-name' }, 'Name'), name),
    h('div', { class: 'field' }, h('label', { for: 'token-ttl' }, 'Valid for'), ttl),
    h('button', { type: 'submit', class: 'secondary' }, 'Create token'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(created);
    try {
      const t = await post('/tokens', { name: name.value.trim(), ttl_seconds: Number(ttl.value) });
      created.append(h('div', { class: 'notice' }, h('p', null, h('strong', null, 'Copy this token now; it is not shown again:')),
        h('p', null, h('code', { class: 'secret' }, t.token)), h('p', { class: 'muted' }, `Expires ${showDateTime(t.expires_at)}.`)));
      name.value = '';
      load();
    } catch (e) {
      created.append(h('p', { class: 'error-box', role: 'alert' }, explain(e)));
    }
  });
  async function load() {
    let rows;
    try {
      rows = items(await get('/tokens'), 'tokens');
    } catch (e) {
      clear(list).append(errorBox({ message: explain(e) }, load));
      return;
    }
    clear(list);
    // Browser sign-ins (tokens named "login", one per sign-in) are listed apart from the API
    // tokens a person created, and the one of this browser is named.
    const mineId = (/^gpa_(\d+)_/.exec(token.get() || '') || [])[1];
    const logins = rows.filter((t) => t.name === 'login');
    const apiRows = rows.filter((t) => t.name !== 'login');
    if (!apiRows.length) list.append(h('p', { class: 'muted' }, 'No API tokens. Create one to use the gpuaas command line.'));
    else list.append(h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Table, scrolls sideways' }, h('table', { class: 'table cards', id: 'tokens-table' },
      h('thead', null, h('tr', null, ['Name', 'Created', 'Expires', 'Action'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, apiRows.map((t) => h('tr', null, h('td', { 'data-label': 'Name' }, t.name || '–'),
        h('td', { 'data-label': 'Created' }, t.created_at ? showDateTime(t.created_at) : '–'), h('td', { 'data-label': 'Expires' }, t.expires_at ? showDateTime(t.expires_at) : '–'),
        h('td', null, h('button', { class: 'danger small', onclick: () => revoke(t) }, 'Revoke'))))))));
    if (logins.length) {
      list.append(h('details', { class: 'browser-sessions', id: 'browser-sessions' },
        h('summary', null, `Browser sign-ins (${logins.length})`),
        h('p', { class: 'muted' }, 'Each sign-in in a browser holds one of these until it expires. Signing out somewhere else ends that browser’s sign-in.'),
        h('ul', null, logins.map((t) => h('li', { 'data-this': String(t.id) === mineId ? 'true' : null },
          `Signed in ${t.created_at ? showDateTime(t.created_at) : ''}, valid until ${t.expires_at ? showDateTime(t.expires_at) : '–'} `,
          String(t.id) === mineId ? h('strong', null, '(this browser) ') : h('button', { class: 'secondary small', onclick: () => revoke(t, true) }, 'Sign out there'))))));
    }
  }
  async function revoke(t, browser = false) {
    const ok = await confirmDialog(browser
      ? { title: 'Sign out that browser?', body: h('p', null, 'The browser that signed in then has to sign in again.'), ok: 'Sign out there', cancel: 'Keep', danger: true }
      : { title: `Revoke token "${t.name || t.id}"?`, body: h('p', null, 'Anything using it stops working at once.'), ok: 'Revoke', cancel: 'Keep', danger: true });
    if (!ok) return;
    try { await api('DELETE', `/tokens/${t.id}`); toast('Token revoked.'); } catch (e) { toast(explain(e), 'error'); }
    load();
  }
  load();
  return h('div', { class: 'card', id: 'tokens' }, h('h2', null, 'API tokens'),
    h('p', { class: 'muted' }, 'For the command line and scripts: send it as "Authorization: Bearer <token>".'), list, form, created);
}
