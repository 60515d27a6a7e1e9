// My sessions: each booking with state, a live countdown, the workspace link when ACTIVE,
// the namespace, the failure reason; cancel / extend / release with confirmation.
import { h, append, clear, spinner, errorBox, empty, toast, confirmDialog } from '../dom.js';
import { get, post, qs, items, gpuLabel, explain } from '../api.js';
import { tokensCard } from './tokens.js';
import { HOUR, showRange, showDuration, showDateTime, iso, tz } from '../time.js';
import { whenInput } from '../when.js';
import { say } from '../messages.js';

const END_WARNING_MS = 30 * 60e3; // the end banner shows in the last 30 minutes

const LIVE = new Set(['APPROVED', 'ACTIVE']);

function typeLabel(name) {
  return gpuLabel({ name, kind: /\/mig-/.test(name) ? 'mig' : 'gpu' });
}

function countdown(r, now) {
  const s = new Date(r.starts_at).getTime();
  const e = new Date(r.ends_at).getTime();
  if (r.state === 'APPROVED') return now < s ? `starts in ${showDuration(s - now)}` : 'starting now…';
  if (r.state === 'ACTIVE') return now < e ? `${showDuration(e - now)} left` : 'ending…';
  return '';
}

// The workspace's sign-in proxy lets a browser in with a single-use link from
// POST .../workspace-ticket (no second password); the tab opens at once (a popup opened after
// an await would be blocked) and goes to the link when it arrives.
async function openWorkspace(ev, r) {
  ev.preventDefault();
  const w = window.open('', '_blank');
  try {
    const t = await post(`/reservations/${r.id}/workspace-ticket`);
    if (w) { w.opener = null; w.location.href = t.url; } else location.assign(t.url);
  } catch (e) {
    if (w) w.close();
    toast(explain(e), 'error');
  }
}

// The "Open workspace" link of a running session: the one place that builds it (a sign-in
// step in front of the workspace changes only this function). On a simulated cluster there
// is no workspace: a plain sentence instead.
export function workspaceLink(r) {
  const s = r.session || {};
  if (s.simulated) {
    return h('p', { class: 'notice sim-note' }, 'This cluster is a simulation: your booking is real, but no workspace runs, so there is nothing to open.');
  }
  if (!s.url) return h('p', { class: 'muted' }, 'The workspace is being prepared; its link appears here when it is ready.');
  return h('p', { class: 'workspace-row' },
    h('a', { class: 'button primary workspace', href: s.url, target: '_blank', rel: 'noopener noreferrer', onclick: (ev) => openWorkspace(ev, r) }, 'Open workspace ↗'), ' ',
    h('code', { class: 'url' }, s.url), ' ',
    h('button', { type: 'button', class: 'secondary small copy-url', onclick: async () => {
      try { await navigator.clipboard.writeText(s.url); toast('Workspace address copied.'); } catch { toast('Copy failed: select the address and copy it by hand.', 'error'); }
    } }, 'Copy address'));
}

// How far a booking can be extended: to the earlier of its longest length and the first
// time its units are no longer all free after its end (GET /capacity, 15-minute steps).
async function extendLimit(r, rules) {
  const start = new Date(r.starts_at).getTime();
  const end = new Date(r.ends_at).getTime();
  const longest = start + (rules.max_hours || 168) * HOUR;
  if (longest <= end) return end;
  try {
    const cap = await get('/capacity' + qs({ from: iso(end), to: iso(longest), step: 900 }));
    const series = ((cap && cap.series) || []).find((x) => x.resource === r.gpu_type);
    if (!series) return end;
    for (let i = 0; i < series.free.length; i++) if (series.free[i] < r.gpu_count) return end + i * 900e3;
  } catch { return null; }
  return longest;
}

export async function render(ctx) {
  const root = h('section', { class: 'page sessions-page' },
    h('div', { class: 'toolbar' }, h('h1', null, 'My sessions'),
      h('button', { class: 'primary', onclick: () => ctx.go('book') }, 'Book GPUs')));
  const list = h('div', { class: 'sessions' }, spinner());
  root.append(h('p', { class: 'muted hint' }, `Times in ${tz}. At the end of a session its namespace is deleted with the home and model-cache volumes: copy results out before then. `,
    'The user guide (docs/user-guide.md in the gpuaas repository) explains what is kept.'), list);
  let rules = {};
  let simulated = false;
  try {
    const pool = await get('/pool');
    rules = pool.session || {};
    simulated = !!(pool.cluster && pool.cluster.simulated);
  } catch { /* the cards work without the rules */ }
  void simulated;
  const usage = new Map();
  const clocks = [];
  const tick = () => { const now = Date.now(); for (const [el, r] of clocks) el.textContent = countdown(r, now); };
  const timer = setInterval(tick, 1000);
  const poll = setInterval(() => { if (document.visibilityState === 'visible') load(); }, 30e3);
  ctx.onCleanup(() => { clearInterval(timer); clearInterval(poll); });

  async function act(r, what) {
    let body;
    let ok;
    let limit = null;
    if (what === 'extend') {
      limit = await extendLimit(r, rules);
      const endMs = new Date(r.ends_at).getTime();
      const proposal = limit && limit > endMs ? Math.min(limit, endMs + HOUR) : endMs + HOUR;
      const input = whenInput('extend-to', `New end (${tz})`, new Date(proposal));
      ok = await confirmDialog({
        title: `Extend booking #${r.id}`,
        body: [h('p', null, `Now ends ${showRange(r.starts_at, r.ends_at)}.`),
          h('p', { id: 'extend-limit' }, limit && limit > endMs ? `It can be extended until ${showDateTime(limit)} at the latest.` : say('extendNothing')),
          input.el],
        ok: 'Extend', cancel: 'Cancel',
      });
      const got = input.get();
      const d = got.date;
      if (ok && !d) { toast(got.error || say('noEndTime'), 'error'); return; }
      body = { ends_at: d && iso(d) };
    } else {
      const texts = {
        cancel: [`Cancel booking #${r.id}?`, r.state === 'ACTIVE' ? 'The running workspace and everything in its namespace will be deleted.' : 'The GPUs go back to the pool.', 'Cancel booking'],
        release: [`Release session #${r.id} now?`, 'The workspace and its namespace are deleted and the GPUs are freed for others right away.', 'Release now'],
      }[what];
      ok = await confirmDialog({ title: texts[0], body: h('p', null, texts[1]), ok: texts[2], cancel: 'Keep it', danger: true });
    }
    if (!ok) return;
    try {
      await post(`/reservations/${r.id}/${what}`, body);
      toast({ cancel: `Booking #${r.id} canceled.`, release: `Session #${r.id} released.`, extend: `Booking #${r.id} extended.` }[what]);
    } catch (e) {
      if (what === 'extend' && e.status === 409 && limit) toast(say('extendTooFar', { until: showDateTime(limit) }), 'error');
      else if (what === 'extend' && e.status === 400 && e.field === 'ends_at' && limit) toast(say('extendTooFar', { until: showDateTime(limit) }), 'error');
      else toast(explain(e, rules), 'error');
    }
    load();
  }

  function endBanner(r) {
    const end = new Date(r.ends_at).getTime();
    if (r.state !== 'ACTIVE' || end - Date.now() > END_WARNING_MS || end <= Date.now()) return null;
    return h('div', { class: 'end-banner', role: 'status', 'data-test': 'end-banner' },
      h('strong', null, `This session ends in ${showDuration(end - Date.now())}. `),
      'Then its namespace, home and model-cache volumes are deleted: copy out what you want to keep, or extend it. ',
      h('button', { type: 'button', class: 'primary small', onclick: () => act(r, 'extend') }, 'Extend…'),
      h('span', { class: 'extend-hint muted' }));
  }

  function card(r) {
    const clock = h('span', { class: 'countdown' });
    clocks.push([clock, r]);
    const s = r.session || {};
    const st = String(r.state || '');
    const banner = endBanner(r);
    if (banner) {
      extendLimit(r, rules).then((limit) => {
        const hint = banner.querySelector('.extend-hint');
        if (hint) hint.textContent = limit && limit > new Date(r.ends_at).getTime() ? ` It can run until ${showDateTime(limit)} at the latest.` : ' It cannot be extended: the GPUs are booked right after it.';
      });
    }
    const use = usage.get(r.id);
    return h('article', { class: ['session', 'st-' + st.toLowerCase(), ctx.params.get('id') === String(r.id) ? 'highlight' : null], id: 'res-' + r.id, 'data-id': r.id },
      h('header', null,
        h('span', { class: 'badge state st-' + st.toLowerCase() }, st),
        h('h2', null, `#${r.id} · ${r.gpu_count} × ${typeLabel(r.gpu_type)}`),
        clock),
      banner,
      r.admin_note ? h('p', { class: 'notice admin-note' }, h('strong', null, 'Changed by an administrator: '), r.admin_note) : null,
      h('dl', null,
        h('dt', null, 'When'), h('dd', null, showRange(r.starts_at, r.ends_at)),
        h('dt', null, 'Mode'), h('dd', null, r.mode === 'inference' ? 'Inference containers' : 'Interactive ML'),
        h('dt', null, 'Resources'), h('dd', null, `${r.cpu ?? '–'} CPU · ${r.memory_gib ?? '–'} GiB memory · ${r.storage_gib ?? '–'} GiB storage`),
        r.purpose ? [h('dt', null, 'Purpose'), h('dd', null, r.purpose)] : null,
        s.namespace ? [h('dt', null, 'Namespace'), h('dd', null, h('code', { class: 'namespace' }, s.namespace))] : null,
        s.phase ? [h('dt', null, 'Phase'), h('dd', null, s.phase)] : null,
        use && use.busy_fraction != null ? [h('dt', null, 'GPU activity'), h('dd', { class: 'gpu-activity' }, `busy ${Math.round(use.busy_fraction * 100)} % of the measured ${use.measured_hours.toFixed(1)} h`)] : null,
        LIVE.has(st) ? [h('dt', null, 'At the end'), h('dd', null, 'Kept: nothing in the session. Deleted: the namespace with its home (/home/workspace) and model-cache (/cache) volumes. Read-only /models stays on the node.')] : null),
      st === 'ACTIVE' ? workspaceLink(r) : null,
      st === 'ACTIVE' && !s.simulated ? h('details', { class: 'connect' }, h('summary', null, 'How to connect and what is inside'),
        h('p', null, 'The workspace opens in the browser (code-server or JupyterLab). Inside it, ', h('code', null, 'kubectl'),
          ' works with your rights in your namespace (', h('code', null, 'kubectl get pods'), '); models staged by the platform are read-only under ', h('code', null, '/models'), '.')) : null,
      st === 'FAILED' ? h('p', { class: 'error-box failure' }, h('strong', null, 'Failed: '), s.message || 'provisioning failed; an administrator can see details in the audit log.') : null,
      st !== 'FAILED' && s.message ? h('p', { class: 'notice' }, s.message) : null,
      LIVE.has(st) ? h('div', { class: 'actions' },
        h('button', { class: 'secondary', onclick: () => act(r, 'extend') }, 'Extend…'),
        st === 'ACTIVE' ? h('button', { class: 'secondary', onclick: () => act(r, 'release') }, 'Release now…') : null,
        h('button', { class: 'danger', onclick: () => act(r, 'cancel') }, 'Cancel booking…'))
        : h('div', { class: 'actions' }, h('button', {
          class: 'secondary book-again', onclick: () => ctx.go('book', { gpu_type: r.gpu_type, gpu_count: r.gpu_count, mode: r.mode, purpose: r.purpose || '' }),
        }, 'Book again…')));
  }

  async function load() {
    let rows;
    try {
      const resp = await get('/reservations' + qs({ user: ctx.me.role === 'admin' ? ctx.me.username : undefined }));
      rows = items(resp).filter((r) => !r.user || r.user === ctx.me.username);
    } catch (e) {
      clear(list).append(errorBox({ message: explain(e) }, load));
      return;
    }
    clocks.length = 0;
    try {
      const now = Date.now();
      const u = await get('/utilization' + qs({ from: iso(now - 7 * 24 * HOUR), to: iso(now + HOUR) }));
      usage.clear();
      for (const x of (u && u.sessions) || []) usage.set(x.id, x);
    } catch { /* activity is extra */ }
    clear(list);
    const live = rows.filter((r) => LIVE.has(r.state)).sort((a, b) => new Date(a.starts_at) - new Date(b.starts_at));
    const past = rows.filter((r) => !LIVE.has(r.state)).sort((a, b) => new Date(b.starts_at) - new Date(a.starts_at));
    if (!rows.length) {
      list.append(empty('You have no bookings yet.', h('a', { class: 'button primary', href: '#/calendar' }, 'Find a free slot on the calendar')));
      return;
    }
    list.append(h('h2', { class: 'section' }, `Upcoming and running (${live.length})`));
    append(list, [live.length ? live.map(card) : h('p', { class: 'muted' }, 'Nothing upcoming.')]);
    if (past.length) {
      list.append(h('details', { class: 'past-sessions', open: live.length === 0 },
        h('summary', null, `Finished, canceled and failed (${past.length})`), past.map(card)));
    }
    tick();
    const hl = ctx.params.get('id') && document.getElementById('res-' + ctx.params.get('id'));
    if (hl) hl.scrollIntoView({ block: 'center' });
  }
  await load();
  root.append(tokensCard());
  return root;
}
