// My sessions: each booking with state, a live countdown, the workspace link when ACTIVE,
// the namespace, the failure reason; cancel / extend / release with confirmation.
import { h, append, clear, spinner, errorBox, empty, toast, confirmDialog } from '../dom.js';
import { get, post, qs, items, gpuLabel, explain } from '../api.js';
import { tokensCard } from './tokens.js';
import { HOUR, showRange, showDuration, toLocalInput, fromLocalInput, iso } from '../time.js';

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

export async function render(ctx) {
  const root = h('section', { class: 'page sessions-page' },
    h('div', { class: 'toolbar' }, h('h1', null, 'My sessions'),
      h('button', { class: 'primary', onclick: () => ctx.go('book') }, 'Book GPUs')));
  const list = h('div', { class: 'sessions' }, spinner());
  root.append(list);
  const clocks = [];
  const tick = () => { const now = Date.now(); for (const [el, r] of clocks) el.textContent = countdown(r, now); };
  const timer = setInterval(tick, 1000);
  const poll = setInterval(() => { if (document.visibilityState === 'visible') load(); }, 30e3);
  ctx.onCleanup(() => { clearInterval(timer); clearInterval(poll); });

  async function act(r, what) {
    let body;
    let ok;
    if (what === 'extend') {
      const input = h('input', { type: 'datetime-local', id: 'extend-to', value: toLocalInput(new Date(new Date(r.ends_at).getTime() + HOUR)) });
      ok = await confirmDialog({
        title: `Extend booking #${r.id}`,
        body: [h('p', null, `Now ends ${showRange(r.starts_at, r.ends_at)}. New end (your time):`), h('label', { for: 'extend-to', class: 'sr-only' }, 'New end'), input],
        ok: 'Extend', cancel: 'Cancel',
      });
      const d = fromLocalInput(input.value);
      if (ok && !d) { toast('Pick a valid end time.', 'error'); return; }
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
      toast(explain(e), 'error');
    }
    load();
  }

  function card(r) {
    const clock = h('span', { class: 'countdown' });
    clocks.push([clock, r]);
    const s = r.session || {};
    const st = String(r.state || '');
    return h('article', { class: ['session', 'st-' + st.toLowerCase(), ctx.params.get('id') === String(r.id) ? 'highlight' : null], id: 'res-' + r.id, 'data-id': r.id },
      h('header', null,
        h('span', { class: 'badge state st-' + st.toLowerCase() }, st),
        h('h2', null, `#${r.id} · ${r.gpu_count} × ${typeLabel(r.gpu_type)}`),
        clock),
      h('dl', null,
        h('dt', null, 'When'), h('dd', null, showRange(r.starts_at, r.ends_at)),
        h('dt', null, 'Mode'), h('dd', null, r.mode === 'inference' ? 'Inference containers' : 'Interactive ML'),
        h('dt', null, 'Resources'), h('dd', null, `${r.cpu ?? '–'} CPU · ${r.memory_gib ?? '–'} GiB memory · ${r.storage_gib ?? '–'} GiB storage`),
        r.purpose ? [h('dt', null, 'Purpose'), h('dd', null, r.purpose)] : null,
        s.namespace ? [h('dt', null, 'Namespace'), h('dd', null, h('code', { class: 'namespace' }, s.namespace))] : null,
        s.phase ? [h('dt', null, 'Phase'), h('dd', null, s.phase)] : null),
      st === 'ACTIVE' && s.url ? h('p', null, h('a', { class: 'button primary workspace', href: s.url, target: '_blank', rel: 'noopener noreferrer', onclick: (ev) => openWorkspace(ev, r) }, 'Open workspace ↗'), ' ', h('span', { class: 'muted' }, s.url)) : null,
      st === 'ACTIVE' && !s.url ? h('p', { class: 'muted' }, 'The workspace is being prepared; its link appears here when it is ready.') : null,
      st === 'FAILED' ? h('p', { class: 'error-box failure' }, h('strong', null, 'Failed: '), s.message || 'provisioning failed; an administrator can see details in the audit log.') : null,
      st !== 'FAILED' && s.message ? h('p', { class: 'notice' }, s.message) : null,
      LIVE.has(st) ? h('div', { class: 'actions' },
        h('button', { class: 'secondary', onclick: () => act(r, 'extend') }, 'Extend…'),
        st === 'ACTIVE' ? h('button', { class: 'secondary', onclick: () => act(r, 'release') }, 'Release now…') : null,
        h('button', { class: 'danger', onclick: () => act(r, 'cancel') }, 'Cancel booking…')) : null);
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
