// Admin: users (add, disable, reset password), all bookings with filters, the audit log,
// and utilization over a chosen range as a chart.
import { h, s, clear, spinner, errorBox, empty, toast, confirmDialog } from '../dom.js';
import { get, post, patch, qs, items, gpuLabel, explain } from '../api.js';
import { DAY, iso, startOfDay, addDays, showDateTime, showRange, showDay, toLocalInput } from '../time.js';

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
    clear(list).append(h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'users-table' },
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

async function bookings(body) {
  const state = h('select', { id: 'f-state' }, h('option', { value: '' }, 'any'),
    ['APPROVED', 'ACTIVE', 'COMPLETED', 'CANCELED', 'FAILED'].map((x) => h('option', { value: x }, x)));
  const user = h('input', { id: 'f-user', placeholder: 'username' });
  const from = h('input', { id: 'f-from', type: 'date', value: toLocalInput(addDays(new Date(), -7)).slice(0, 10) });
  const to = h('input', { id: 'f-to', type: 'date', value: toLocalInput(addDays(new Date(), 30)).slice(0, 10) });
  const out = h('div', null);
  const form = h('form', { class: 'filters', id: 'booking-filters' },
    h('div', { class: 'field' }, h('label', { for: 'f-state' }, 'State'), state),
    h('div', { class: 'field' }, h('label', { for: 'f-user' }, 'User'), user),
    h('div', { class: 'field' }, h('label', { for: 'f-from' }, 'From'), from),
    h('div', { class: 'field' }, h('label', { for: 'f-to' }, 'To'), to),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  body.append(h('div', { class: 'card' }, h('h2', null, 'All bookings'), form, out));
  async function load() {
    clear(out).append(spinner());
    const f = from.value ? new Date(from.value + 'T00:00') : null;
    const t = to.value ? addDays(new Date(to.value + 'T00:00'), 1) : null;
    let rows;
    try {
      rows = items(await get('/reservations' + qs({ state: state.value, user: user.value.trim(), from: f && iso(f), to: t && iso(t) })));
    } catch (e) {
      clear(out).append(errorBox({ message: explain(e) }, load));
      return;
    }
    rows.sort((a, b) => new Date(b.starts_at) - new Date(a.starts_at));
    if (!rows.length) { clear(out).append(empty('No bookings match these filters.')); return; }
    clear(out).append(h('p', { class: 'muted' }, `${rows.length} booking${rows.length > 1 ? 's' : ''}`),
      h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'bookings-table' },
        h('thead', null, h('tr', null, ['#', 'User', 'GPUs', 'Mode', 'When', 'State', 'Namespace', 'Purpose', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, rows.map((r) => h('tr', null,
          h('td', null, r.id), h('td', null, r.user || '–'), h('td', null, `${r.gpu_count} × ${typeLabel(r.gpu_type)}`),
          h('td', null, r.mode), h('td', null, showRange(r.starts_at, r.ends_at)),
          h('td', null, h('span', { class: 'badge st-' + String(r.state).toLowerCase() }, r.state),
            r.state === 'FAILED' && r.session && r.session.message ? h('div', { class: 'muted small' }, r.session.message) : null),
          h('td', null, r.session && r.session.namespace ? h('code', null, r.session.namespace) : '–'),
          h('td', null, r.purpose || ''),
          h('td', null, r.state === 'APPROVED' || r.state === 'ACTIVE' ? h('button', { class: 'danger small', onclick: () => cancel(r) }, 'Cancel') : null)))))));
  }
  async function cancel(r) {
    const ok = await confirmDialog({ title: `Cancel booking #${r.id} of ${r.user}?`, body: h('p', null, 'The owner loses the booking; a running session is torn down.'), ok: 'Cancel booking', cancel: 'Keep', danger: true });
    if (!ok) return;
    try { await post(`/reservations/${r.id}/cancel`); toast(`Booking #${r.id} canceled.`); } catch (e) { toast(explain(e), 'error'); }
    load();
  }
  await load();
}

async function audit(body) {
  const tbody = h('tbody');
  const more = h('button', { class: 'secondary', id: 'audit-more' }, 'Older entries');
  const status = h('div');
  let before = 0;
  body.append(h('div', { class: 'card' }, h('h2', null, 'Audit log'), h('p', { class: 'muted' }, 'Every change, newest first.'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'audit-table' },
      h('thead', null, h('tr', null, ['When', 'Who', 'Action', 'Target', 'Detail'].map((c) => h('th', { scope: 'col' }, c)))), tbody)),
    status, h('div', { class: 'actions' }, more)));
  async function load() {
    clear(status).append(spinner());
    more.disabled = true;
    let rows;
    try {
      rows = items(await get('/audit' + qs({ limit: 50, before: before || undefined })), 'entries');
    } catch (e) {
      clear(status).append(errorBox({ message: explain(e) }, load));
      return;
    }
    clear(status);
    for (const a of rows) {
      tbody.append(h('tr', null, h('td', null, a.at ? showDateTime(a.at) : '–'), h('td', null, a.actor), h('td', null, h('code', null, a.action)),
        h('td', null, a.target || ''), h('td', { class: 'detail' }, typeof a.detail === 'string' ? a.detail : JSON.stringify(a.detail || ''))));
    }
    if (!rows.length && !before) status.append(empty('The audit log is empty.'));
    if (rows.length) before = rows[rows.length - 1].id;
    more.disabled = rows.length < 50;
    more.hidden = rows.length < 50;
  }
  more.addEventListener('click', load);
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
  const from = h('input', { id: 'u-from', type: 'date', value: toLocalInput(addDays(startOfDay(new Date()), -6)).slice(0, 10) });
  const to = h('input', { id: 'u-to', type: 'date', value: toLocalInput(addDays(startOfDay(new Date()), 7)).slice(0, 10) });
  const out = h('div', null);
  const form = h('form', { class: 'filters', id: 'util-range' },
    h('div', { class: 'field' }, h('label', { for: 'u-from' }, 'From (day)'), from),
    h('div', { class: 'field' }, h('label', { for: 'u-to' }, 'To (day, inclusive)'), to),
    h('button', { type: 'submit', class: 'primary' }, 'Show'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  body.append(h('div', { class: 'card' }, h('h2', null, 'Utilization'), h('p', { class: 'muted' }, 'Booked unit-hours over available unit-hours, for GPU resources; "busy" is how much of the measured booked time the GPUs were computing, where the platform measures GPU activity.'), form, out));
  async function load() {
    const f = from.value ? new Date(from.value + 'T00:00') : null;
    const t = to.value ? addDays(new Date(to.value + 'T00:00'), 1) : null;
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


