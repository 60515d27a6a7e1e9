// Admin: users (add, disable, reset password), all bookings with filters, the audit log,
// and utilization over a chosen range as a chart.
import { h, s, clear, spinner, errorBox, empty, toast, confirmDialog } from '../dom.js';
import { get, post, patch, qs, items, gpuLabel, explain } from '../api.js';
import { DAY, iso, startOfDay, addDays, showDateTime, showRange, showDay, tz } from '../time.js';
import { whenInput, dayInput, dayRange } from '../when.js';
import { say } from '../messages.js';

const TABS = [
  ['users', 'Users'],
  ['bookings', 'All bookings'],
  ['audit', 'Audit log'],
  ['utilization', 'Utilization'],
];

function typeLabel(name) {
  return gpuLabel({ name, kind: /\/mig-/.test(name || '') ? 'mig' : 'gpu' });
}

function randomPassword() {
  const a = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const b = crypto.getRandomValues(new Uint32Array(16));
  return Array.from(b, (x) => a[x % a.length]).join('');
}

export async function render(ctx) {
  const tab = TABS.some(([k]) => k === ctx.params.get('tab')) ? ctx.params.get('tab') : 'users';
  const root = h('section', { class: 'page admin-page' }, h('h1', null, 'Admin'));
  root.append(h('nav', { class: 'tabs', 'aria-label': 'Admin sections' },
    TABS.map(([k, t]) => h('a', { href: '#/admin?tab=' + k, class: k === tab ? 'tab on' : 'tab', 'aria-current': k === tab ? 'page' : null }, t))));
  const body = h('div', { class: 'tab-body' });
  root.append(body);
  await { users, bookings, audit, utilization }[tab](body, ctx);
  return root;
}

async function users(body, ctx) {
  const list = h('div', null, spinner());
  const uname = h('input', { id: 'new-username', required: true, autocomplete: 'off', maxlength: '63', pattern: '[A-Za-z0-9._\\-]+' });
  const upass = h('input', { id: 'new-password', required: true, autocomplete: 'new-password', value: randomPassword() });
  const urole = h('select', { id: 'new-role' }, h('option', { value: 'user' }, 'user'), h('option', { value: 'admin' }, 'admin'));
  const msg = h('div', { 'aria-live': 'polite' });
  const add = h('form', { class: 'card inline-form', id: 'add-user' },
    h('h2', null, 'Add a user'),
    h('div', { class: 'row3' },
      h('div', { class: 'field' }, h('label', { for: 'new-username' }, 'Username'), uname),
      h('div', { class: 'field' }, h('label', { for: 'new-password' }, 'Initial password'), upass),
      h('div', { class: 'field' }, h('label', { for: 'new-role' }, 'Role'), urole)),
    msg, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add user')));
  add.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(msg);
    try {
      await post('/users', { username: uname.value.trim(), password: upass.value, role: urole.value });
      toast(`User ${uname.value.trim()} added. Give them the initial password through a safe channel.`);
      uname.value = '';
      upass.value = randomPassword();
      load();
    } catch (e) {
      msg.append(h('p', { class: 'error-box', role: 'alert' }, explain(e)));
    }
  });
  body.append(h('div', { class: 'card' }, h('h2', null, 'Users'), list), add);

  async function load() {
    let rows;
    try {
      rows = items(await get('/users'), 'users');
    } catch (e) {
      clear(list).append(errorBox({ message: explain(e) }, load));
      return;
    }
    if (!rows.length) { clear(list).append(empty('No users yet.')); return; }
    clear(list).append(h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Table, scrolls sideways' }, h('table', { class: 'table', id: 'users-table' },
      h('thead', null, h('tr', null, ['Username', 'Role', 'Status', 'Created', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows.map((u) => h('tr', { 'data-user': u.username },
        h('th', { scope: 'row' }, u.username, u.id === ctx.me.id ? h('span', { class: 'muted' }, ' (you)') : null),
        h('td', null, u.role),
        h('td', null, u.disabled ? h('span', { class: 'badge st-canceled' }, 'disabled') : h('span', { class: 'badge st-active' }, 'active')),
        h('td', null, u.created_at ? showDateTime(u.created_at) : '–'),
        h('td', { class: 'row-actions' },
          u.id === ctx.me.id ? null : h('button', { class: 'secondary small', onclick: () => toggle(u) }, u.disabled ? 'Enable' : 'Disable'),
          h('button', { class: 'secondary small', onclick: () => reset(u) }, 'Reset password'))))))));
  }
  async function toggle(u) {
    const ok = await confirmDialog({
      title: `${u.disabled ? 'Enable' : 'Disable'} ${u.username}?`,
      body: h('p', null, u.disabled ? 'They can sign in again.' : 'They can no longer sign in or use their API tokens. Their bookings stay.'),
      ok: u.disabled ? 'Enable' : 'Disable', cancel: 'Cancel', danger: !u.disabled,
    });
    if (!ok) return;
    try { await patch(`/users/${u.id}`, { disabled: !u.disabled }); toast(`${u.username} ${u.disabled ? 'enabled' : 'disabled'}.`); } catch (e) { toast(explain(e), 'error'); }
    load();
  }
  async function reset(u) {
    const input = h('input', { id: 'reset-password', value: randomPassword(), autocomplete: 'new-password' });
    const ok = await confirmDialog({
      title: `Reset the password of ${u.username}`,
      body: [h('label', { for: 'reset-password' }, 'New password (copy it now; it is not shown again)'), input],
      ok: 'Set password', cancel: 'Cancel',
    });
    if (!ok) return;
    try { await patch(`/users/${u.id}`, { password: input.value }); toast(`Password of ${u.username} changed.`); } catch (e) { toast(explain(e), 'error'); }
  }
  await load();
}

const PAGE = 50;
const SORTS = {
  start: (a, b) => new Date(a.starts_at) - new Date(b.starts_at),
  user: (a, b) => String(a.user).localeCompare(String(b.user)),
  id: (a, b) => a.id - b.id,
  state: (a, b) => String(a.state).localeCompare(String(b.state)),
};

async function bookings(body, ctx) {
  const state = h('select', { id: 'f-state' }, h('option', { value: '' }, 'any'),
    ['APPROVED', 'ACTIVE', 'COMPLETED', 'CANCELED', 'FAILED'].map((x) => h('option', { value: x }, x)));
  const user = h('input', { id: 'f-user', placeholder: 'username' });
  const from = dayInput('f-from', 'From', addDays(new Date(), -7));
  const to = dayInput('f-to', 'To', addDays(new Date(), 30));
  const out = h('div', null);
  const more = h('button', { type: 'button', class: 'secondary', id: 'bookings-more', hidden: true }, 'Load more');
  const form = h('form', { class: 'filters', id: 'booking-filters' },
    h('div', { class: 'field' }, h('label', { for: 'f-state' }, 'State'), state),
    h('div', { class: 'field' }, h('label', { for: 'f-user' }, 'User'), user),
    from.el, to.el,
    h('button', { type: 'submit', class: 'primary' }, 'Filter'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  body.append(h('div', { class: 'card' }, h('h2', null, 'All bookings'), h('p', { class: 'muted' }, `Times in ${tz}. ${PAGE} at a time; sort by a column heading.`), form, out, h('div', { class: 'actions' }, more)));
  let rows = [];
  let cursor = null;
  let sort = 'start';
  let desc = false;
  const query = () => {
    const { f, t } = dayRange(from, to);
    return { state: state.value, user: user.value.trim(), from: f && iso(f), to: t && iso(t), limit: PAGE };
  };
  async function load(next = false) {
    const bad = dayRange(from, to).error;
    if (bad) { clear(out).append(h('p', { class: 'error-box', role: 'alert' }, bad)); return; }
    if (!next) { rows = []; cursor = null; clear(out).append(spinner()); }
    let ans;
    try {
      ans = await get('/reservations' + qs({ ...query(), cursor: next ? cursor : undefined }));
    } catch (e) {
      clear(out).append(errorBox({ message: explain(e) }, () => load()));
      return;
    }
    rows = rows.concat(items(ans));
    cursor = ans && ans.next_cursor;
    more.hidden = !cursor;
    draw();
  }
  more.addEventListener('click', () => load(true));
  function draw() {
    if (!rows.length) { clear(out).append(empty('No bookings match these filters.')); return; }
    const sorted = [...rows].sort(SORTS[sort]);
    if (desc) sorted.reverse();
    const th = (key, label) => h('th', { scope: 'col', 'aria-sort': sort === key ? (desc ? 'descending' : 'ascending') : null },
      h('button', { type: 'button', class: 'link sort', 'data-sort': key, onclick: () => { desc = sort === key ? !desc : false; sort = key; draw(); } }, label, sort === key ? (desc ? ' ↓' : ' ↑') : ''));
    clear(out).append(h('p', { class: 'muted', id: 'bookings-count' }, `${rows.length} booking${rows.length > 1 ? 's' : ''} loaded${cursor ? ', more to load' : ''}`),
      h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Table, scrolls sideways' }, h('table', { class: 'table cards', id: 'bookings-table' },
        h('thead', null, h('tr', null, th('id', '#'), th('user', 'User'), h('th', { scope: 'col' }, 'GPUs'), h('th', { scope: 'col' }, 'Mode'),
          th('start', 'When'), th('state', 'State'), h('th', { scope: 'col' }, 'Namespace'), h('th', { scope: 'col' }, 'Purpose'), h('th', { scope: 'col' }, 'Actions'))),
        h('tbody', null, sorted.map((r) => h('tr', { 'data-id': String(r.id) },
          h('td', { 'data-label': '#' }, r.id), h('td', { 'data-label': 'User' }, r.user || '–'), h('td', { 'data-label': 'GPUs' }, `${r.gpu_count} × ${typeLabel(r.gpu_type)}`),
          h('td', { 'data-label': 'Mode' }, r.mode), h('td', { 'data-label': 'When' }, showRange(r.starts_at, r.ends_at)),
          h('td', { 'data-label': 'State' }, h('span', { class: 'badge st-' + String(r.state).toLowerCase() }, r.state),
            r.state === 'FAILED' && r.session && r.session.message ? h('div', { class: 'muted small' }, r.session.message) : null,
            r.admin_note ? h('div', { class: 'muted small' }, 'Changed: ' + r.admin_note) : null),
          h('td', { 'data-label': 'Namespace' }, r.session && r.session.namespace ? h('code', null, r.session.namespace) : '–'),
          h('td', { 'data-label': 'Purpose' }, r.purpose || ''),
          h('td', { class: 'row-actions' },
            h('a', { class: 'small trail', href: `#/admin?tab=audit&target=${encodeURIComponent('reservation/' + r.id)}` }, 'Audit trail'),
            r.state === 'APPROVED' || r.state === 'ACTIVE' ? h('button', { class: 'secondary small change', onclick: () => change(r) }, 'Change…') : null,
            r.state === 'APPROVED' || r.state === 'ACTIVE' ? h('button', { class: 'danger small', onclick: () => cancel(r) }, 'Cancel') : null)))))));
  }
  async function change(r) {
    const approved = r.state === 'APPROVED';
    const start = whenInput('chg-start', `Start (${tz})`, r.starts_at, { disabled: !approved });
    const end = whenInput('chg-end', `End (${tz})`, r.ends_at);
    const owner = h('input', { id: 'chg-user', value: r.user || '', disabled: !approved, autocomplete: 'off' });
    const reason = h('input', { id: 'chg-reason', maxlength: '255', placeholder: 'e.g. node maintenance that morning' });
    const ok = await confirmDialog({
      title: `Change booking #${r.id} of ${r.user}`,
      body: [h('p', { class: 'muted' }, approved ? 'Move it, shorten or lengthen it, or give it to someone else. The owner reads the reason.' : 'It is running: only its end can move. The owner reads the reason.'),
        start.el, end.el,
        h('label', { for: 'chg-user' }, 'Owner (username)'), owner, h('label', { for: 'chg-reason' }, 'Reason (shown to the owner)'), reason],
      ok: 'Change booking', cancel: 'Keep as is',
    });
    if (!ok) return;
    const body = { reason: reason.value.trim() };
    const a = approved ? start.get() : { date: null }, b = end.get();
    if (a.error || b.error) { toast(a.error || b.error, 'error'); return; }
    const s = a.date, e = b.date;
    if (approved && s && s.getTime() !== new Date(r.starts_at).getTime()) body.starts_at = iso(s);
    if (e && e.getTime() !== new Date(r.ends_at).getTime()) body.ends_at = iso(e);
    if (body.starts_at && !body.ends_at) body.ends_at = iso(new Date(r.ends_at).getTime() + (s - new Date(r.starts_at)));
    if (approved && owner.value.trim() && owner.value.trim() !== r.user) body.user = owner.value.trim();
    if (body.reason.length < 3) { toast(say('reasonNeeded'), 'error'); return; }
    if (!body.starts_at && !body.ends_at && !body.user) { toast('Nothing changed: pick a new time or owner.', 'error'); return; }
    try {
      await post(`/reservations/${r.id}/change`, body);
      toast(`Booking #${r.id} changed; ${body.user || r.user} sees the reason.`);
    } catch (err) {
      toast(err.status === 409 && err.code === 'capacity_conflict' ? 'The new time does not fit: other bookings hold those units then. Pick another time.' : explain(err), 'error');
    }
    load();
  }
  async function cancel(r) {
    const ok = await confirmDialog({ title: `Cancel booking #${r.id} of ${r.user}?`, body: h('p', null, 'The owner loses the booking; a running session is torn down.'), ok: 'Cancel booking', cancel: 'Keep', danger: true });
    if (!ok) return;
    try { await post(`/reservations/${r.id}/cancel`); toast(`Booking #${r.id} canceled.`); } catch (e) { toast(explain(e), 'error'); }
    load();
  }
  void ctx;
  await load();
}

const ACTIONS = [
  ['', 'any change'], ['reservation.', 'bookings (all)'], ['reservation.create', 'booked'], ['reservation.change', 'changed by an admin'],
  ['reservation.cancel', 'canceled'], ['reservation.extend', 'end moved'], ['reservation.release', 'released'],
  ['user.', 'users'], ['token.', 'API tokens'], ['auth.login', 'sign-ins'],
];
const ACTION_WORDS = Object.fromEntries(ACTIONS.filter(([k]) => k && !k.endsWith('.')));

// "reservation.create" detail "nvidia.com/gpu x1 interactive 2026-..Z..2026-..Z" -> words.
function readable(a) {
  const d = String(a.detail || '');
  const times = d.match(/\d{4}-\d\d-\d\dT[\d:]+Z/g) || [];
  if (a.action === 'reservation.create') {
    const m = /^(\S+) x(\d+) (\S+)/.exec(d);
    return m ? `${m[2]} × ${typeLabel(m[1])}, ${m[3]}, ${times.length === 2 ? showRange(times[0], times[1]) : ''}` : d;
  }
  if (a.action === 'reservation.change') {
    const u = /user=(\S+)/.exec(d), r = /reason=(.*)$/.exec(d);
    return `${times.length === 2 ? showRange(times[0], times[1]) : ''}${u ? ', owner ' + u[1] : ''}${r ? ' — “' + r[1] + '”' : ''}`;
  }
  if (a.action === 'reservation.extend' || a.action === 'reservation.release') return times.length ? 'ends ' + showDateTime(times[0]) : d;
  if (a.action === 'reservation.cancel') return d ? `was ${d}` : '';
  return d.replace(/\b(\w+)=/g, '$1: ');
}

async function audit(body, ctx) {
  const tbody = h('tbody');
  const more = h('button', { class: 'secondary', id: 'audit-more' }, 'Older entries');
  const status = h('div');
  const actor = h('input', { id: 'a-actor', placeholder: 'username', autocomplete: 'off' });
  const action = h('select', { id: 'a-action' }, ACTIONS.map(([k, t]) => h('option', { value: k }, t)));
  const from = dayInput('a-from', 'From (day)');
  const to = dayInput('a-to', 'To (day)');
  const logins = h('input', { id: 'a-logins', type: 'checkbox' });
  const target = ctx && ctx.params.get('target');
  const form = h('form', { class: 'filters', id: 'audit-filters' },
    h('div', { class: 'field' }, h('label', { for: 'a-actor' }, 'Who'), actor),
    h('div', { class: 'field' }, h('label', { for: 'a-action' }, 'What'), action),
    from.el, to.el,
    h('div', { class: 'field check' }, h('label', { for: 'a-logins' }, logins, ' Show sign-ins')),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'));
  let cursor = null;
  body.append(h('div', { class: 'card' }, h('h2', null, target ? `Audit trail of ${target.replace('reservation/', 'booking #')}` : 'Audit log'),
    h('p', { class: 'muted' }, `Every change, newest first. Times in ${tz}. `, target ? h('a', { href: '#/admin?tab=audit' }, 'Show all entries.') : 'Sign-ins are left out unless you ask for them.'),
    form,
    h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Table, scrolls sideways' }, h('table', { class: 'table cards', id: 'audit-table' },
      h('thead', null, h('tr', null, ['When', 'Who', 'What', 'About', 'Details'].map((c) => h('th', { scope: 'col' }, c)))), tbody)),
    status, h('div', { class: 'actions' }, more)));
  async function load(next = false) {
    const { f, t, error } = dayRange(from, to);
    if (error) { clear(status).append(h('p', { class: 'error-box', role: 'alert' }, error)); return; }
    if (!next) { clear(tbody); cursor = null; }
    clear(status).append(spinner());
    more.disabled = true;
    let ans;
    try {
      ans = await get('/audit' + qs({ limit: 50, cursor: next ? cursor : undefined, actor: actor.value.trim(), action: action.value, target: target || undefined,
        from: f && iso(f), to: t && iso(t), logins: logins.checked || action.value === 'auth.login' || target ? undefined : 'exclude' }));
    } catch (e) {
      clear(status).append(errorBox({ message: explain(e) }, () => load(next)));
      return;
    }
    const rows = items(ans, 'entries');
    clear(status);
    for (const a of rows) {
      const about = /^reservation\/(\d+)$/.exec(a.target || '');
      tbody.append(h('tr', null, h('td', { 'data-label': 'When' }, a.at ? showDateTime(a.at) : '–'), h('td', { 'data-label': 'Who' }, a.actor),
        h('td', { 'data-label': 'What' }, ACTION_WORDS[a.action] || a.action),
        h('td', { 'data-label': 'About' }, about ? h('a', { href: `#/admin?tab=audit&target=${encodeURIComponent(a.target)}` }, `booking #${about[1]}`) : (a.target || '')),
        h('td', { class: 'detail', 'data-label': 'Details' }, readable(a))));
    }
    if (!rows.length && !next) status.append(empty('No entries match.'));
    cursor = ans && ans.next_cursor;
    more.disabled = !cursor;
    more.hidden = !cursor;
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  more.addEventListener('click', () => load(true));
  await load();
}

// Pulls the per-resource rows out of a utilization answer, tolerating field spellings.
function utilRows(resp) {
  const list = items(resp, 'resources', 'series', 'utilization');
  return list.map((r) => {
    const booked = Number(r.booked_unit_hours ?? r.booked_hours ?? r.booked ?? 0);
    const avail = Number(r.available_unit_hours ?? r.available_hours ?? r.available ?? 0);
    const ratio = r.ratio != null ? Number(r.ratio) : avail > 0 ? booked / avail : 0;
    const busy = r.busy_fraction != null ? Number(r.busy_fraction) : null;
    return { resource: r.resource || r.name, booked, avail, ratio, busy };
  });
}

async function utilization(body) {
  const from = dayInput('u-from', 'From (day)', addDays(startOfDay(new Date()), -6));
  const to = dayInput('u-to', 'To (day, inclusive)', addDays(startOfDay(new Date()), 7));
  const out = h('div', null);
  const form = h('form', { class: 'filters', id: 'util-range' },
    from.el, to.el,
    h('button', { type: 'submit', class: 'primary' }, 'Show'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  body.append(h('div', { class: 'card' }, h('h2', null, 'Utilization'), h('p', { class: 'muted' }, 'Booked unit-hours over available unit-hours, for GPU resources; "busy" is how much of the measured booked time the GPUs were computing, where the platform measures GPU activity.'), form, out));
  async function load() {
    const { f, t, error } = dayRange(from, to);
    if (error) { clear(out).append(h('p', { class: 'error-box', role: 'alert' }, error)); return; }
    if (!f || !t || t <= f) { clear(out).append(h('p', { class: 'error-box' }, 'Pick a start day on or before the end day.')); return; }
    const days = Math.round((t - f) / DAY);
    if (days > 92) { clear(out).append(h('p', { class: 'error-box' }, 'Pick at most 92 days.')); return; }
    clear(out).append(spinner());
    let total, perDay;
    try {
      const dayStarts = Array.from({ length: days }, (_, i) => addDays(f, i));
      [total, ...perDay] = await Promise.all([
        get('/utilization' + qs({ from: iso(f), to: iso(t) })),
        ...dayStarts.map((d) => get('/utilization' + qs({ from: iso(d), to: iso(addDays(d, 1)) }))),
      ]);
      perDay = perDay.map((r, i) => ({ day: dayStarts[i], rows: utilRows(r) }));
    } catch (e) {
      clear(out).append(errorBox({ message: explain(e) }, load));
      return;
    }
    const isGpu = (n) => /^nvidia\.com\//.test(n || '');
    const rows = utilRows(total).filter((r) => isGpu(r.resource));
    if (!rows.length) { clear(out).append(empty('No GPU resources to report.')); return; }
    clear(out).append(
      h('h3', null, `Whole range: ${showRange(f, t)}`),
      h('div', { class: 'bars', id: 'util-bars' }, rows.map((r, k) => h('div', { class: 'bar-row' },
        h('span', { class: 'bar-label' }, typeLabel(r.resource)),
        h('span', { class: 'bar', role: 'img', 'aria-label': `${Math.round(r.ratio * 100)} percent booked` }, h('span', { class: 'fill c' + (k % COLORS.length), style: { width: Math.min(100, r.ratio * 100) + '%' } })),
        h('span', { class: 'bar-value' }, `${Math.round(r.ratio * 100)} % · ${r.booked.toFixed(1)} of ${r.avail.toFixed(1)} unit-h` + (r.busy != null ? ` · busy ${Math.round(r.busy * 100)} %` : ''))))),
      h('h3', null, 'Per day'),
      dayChart(perDay, rows.map((r) => r.resource)));
  }
  await load();
}

const COLORS = ['#2a5bd7', '#e07b00', '#1c9a5b', '#a23dbd', '#c23b3b'];

function dayChart(perDay, resources) {
  const W = 760, H = 220, L = 40, B = 28, T = 10;
  const n = perDay.length;
  const groupW = (W - L - 10) / n;
  const barW = Math.max(2, (groupW - 4) / resources.length);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': 'Booked share per day and GPU type' });
  for (const p of [0, 25, 50, 75, 100]) {
    const y = T + (H - T - B) * (1 - p / 100);
    svg.append(s('line', { x1: L, x2: W - 10, y1: y, y2: y, class: 'gridline' }), s('text', { x: L - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' }, p + '%'));
  }
  perDay.forEach((d, i) => {
    resources.forEach((name, k) => {
      const r = d.rows.find((x) => x.resource === name);
      const v = r ? Math.min(1, r.ratio) : 0;
      const hgt = (H - T - B) * v;
      svg.append(s('rect', { x: L + i * groupW + 2 + k * barW, y: H - B - hgt, width: barW - 1, height: hgt, fill: COLORS[k % COLORS.length] },
        s('title', null, `${showDay(d.day)} · ${typeLabel(name)}: ${Math.round(v * 100)} %`)));
    });
    const every = Math.ceil(n / 10);
    if (i % every === 0) svg.append(s('text', { x: L + i * groupW + groupW / 2, y: H - 8, class: 'axis', 'text-anchor': 'middle' }, showDay(d.day)));
  });
  return h('figure', { class: 'chart-wrap' }, svg,
    h('figcaption', { class: 'legend' }, resources.map((name, k) => h('span', null, h('i', { class: 'sw c' + (k % COLORS.length) }), typeLabel(name)))));
}


