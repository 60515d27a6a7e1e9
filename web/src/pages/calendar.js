// Calendar (home): week and day views, one lane per GPU resource type, shaded by free
// capacity, bookings as busy blocks. Drag across a lane (or press Book) to book.
import { h, append, clear, spinner, errorBox, empty } from '../dom.js';
import { get, qs, items, gpuResources, gpuLabel, explain } from '../api.js';
import { HOUR, iso, startOfDay, startOfWeek, addDays, showDay, showTime, showRange, showLongDay, tz } from '../time.js';

const VIEWS = {
  week: { days: 7, step: 3600, snap: HOUR, ticks: 6 * HOUR },
  day: { days: 1, step: 900, snap: 15 * 60e3, ticks: HOUR },
};

function rangeOf(view, anchor) {
  const from = view === 'week' ? startOfWeek(anchor) : startOfDay(anchor);
  return { from, to: addDays(from, VIEWS[view].days) };
}

// Pack bookings into unit rows: each takes gpu_count adjacent rows free over its window.
function pack(blocks) {
  const rows = []; // rows[i] = list of [start, end]
  const placed = [];
  const sorted = [...blocks].sort((a, b) => a.s - b.s || b.count - a.count);
  for (const b of sorted) {
    const n = Math.max(1, b.count);
    const free = (i) => !(rows[i] || []).some(([s, e]) => s < b.e && b.s < e);
    let row = 0;
    for (;; row++) {
      let ok = true;
      for (let k = 0; k < n; k++) if (!free(row + k)) { ok = false; break; }
      if (ok) break;
    }
    for (let k = 0; k < n; k++) (rows[row + k] = rows[row + k] || []).push([b.s, b.e]);
    placed.push({ ...b, row, rows: n });
  }
  return { placed, height: rows.length };
}

export async function render(ctx) {
  const view = VIEWS[ctx.params.get('view')] ? ctx.params.get('view') : 'week';
  const anchorParam = ctx.params.get('date');
  const anchor = anchorParam && !Number.isNaN(new Date(anchorParam).getTime()) ? new Date(anchorParam) : new Date();
  const { from, to } = rangeOf(view, anchor);
  const span = to - from;
  const nav = (v, d) => ctx.go('calendar', { view: v, date: iso(d) });

  const root = h('section', { class: 'page calendar-page' });
  const prevDate = view === 'week' ? addDays(from, -7) : addDays(from, -1);
  const nextDate = view === 'week' ? addDays(from, 7) : addDays(from, 1);
  const label = view === 'week' ? `${showDay(from)} – ${showDay(addDays(to, -1))}` : showLongDay(from);
  const highlight = ctx.params.get('highlight');

  root.append(
    h('div', { class: 'toolbar' },
      h('h1', null, 'Calendar'),
      h('div', { class: 'group', role: 'group', 'aria-label': 'Move in time' },
        h('button', { class: 'secondary', onclick: () => nav(view, prevDate), 'aria-label': 'Previous ' + view }, '‹'),
        h('button', { class: 'secondary', onclick: () => nav(view, new Date()) }, 'Today'),
        h('button', { class: 'secondary', onclick: () => nav(view, nextDate), 'aria-label': 'Next ' + view }, '›')),
      h('span', { class: 'range-label', 'aria-live': 'polite' }, label),
      h('div', { class: 'group', role: 'group', 'aria-label': 'View' },
        ['week', 'day'].map((v) => h('button', {
          class: v === view ? 'toggle on' : 'toggle', 'aria-pressed': v === view ? 'true' : 'false',
          onclick: () => nav(v, view === 'week' && v === 'day' && from < new Date() && new Date() < to ? new Date() : from),
        }, v === 'week' ? 'Week' : 'Day'))),
      h('button', { class: 'primary', id: 'book-btn', onclick: () => ctx.go('book') }, 'Book')),
    h('p', { class: 'muted hint' }, `Times in ${tz}. Drag across a lane to book that window, or press Book.`));

  const body = h('div', { class: 'cal-body' }, spinner());
  root.append(body);

  const load = async () => {
    clear(body).append(spinner());
    let pool, cap, cal;
    try {
      const range = { from: iso(from), to: iso(to) };
      [pool, cap, cal] = await Promise.all([
        get('/pool'),
        get('/capacity' + qs({ ...range, step: VIEWS[view].step })),
        get('/calendar' + qs(range)),
      ]);
    } catch (e) {
      clear(body).append(errorBox({ message: explain(e) }, load));
      return;
    }
    const lanes = gpuResources(pool);
    if (!lanes.length) {
      clear(body).append(empty('The pool has no GPUs configured yet. An administrator adds them in the configuration.'));
      return;
    }
    const series = new Map(((cap && cap.series) || []).map((s) => [s.resource, s.free || []]));
    const stepMs = ((cap && cap.step) || VIEWS[view].step) * 1000;
    const capFrom = cap && cap.from ? new Date(cap.from).getTime() : from.getTime();
    const blocks = items(cal, 'blocks', 'bookings', 'busy');
    const now = Date.now();
    const pct = (t) => ((Math.min(Math.max(t, from.getTime()), to.getTime()) - from.getTime()) / span) * 100;

    const grid = h('div', { class: 'cal-grid', role: 'grid', 'aria-label': 'Bookings by GPU type' });
    // Header: days (and hours in day view).
    const head = h('div', { class: 'cal-row cal-head', role: 'row' }, h('div', { class: 'lane-label', role: 'columnheader' }, 'GPU type'));
    const scale = h('div', { class: 'lane-track scale', role: 'columnheader' });
    for (let t = from.getTime(); t < to.getTime(); t += VIEWS[view].ticks) {
      const d = new Date(t);
      const isDay = view === 'week' ? d.getHours() === 0 : true;
      const tick = h('div', { class: view === 'week' ? (isDay ? 'tick day' : 'tick minor') : 'tick', style: { left: pct(t) + '%' } },
        view === 'week' ? (d.getHours() === 0 ? showDay(d) : '') : showTime(d));
      if (view === 'week' && sameLocalDay(d, now)) tick.classList.add('today');
      scale.append(tick);
    }
    head.append(scale);
    grid.append(head);

    for (const r of lanes) {
      const free = series.get(r.name) || [];
      const mine = blocks.filter((b) => b.gpu_type === r.name);
      const packed = pack(mine.map((b) => ({ b, s: new Date(b.starts_at).getTime(), e: new Date(b.ends_at).getTime(), count: b.gpu_count || 1 })));
      const units = Math.max(r.physical || 1, packed.height, 1);
      const track = h('div', {
        class: 'lane-track', 'data-resource': r.name, style: { minHeight: Math.max(44, units * 26 + 8) + 'px' },
        title: 'Drag to book ' + gpuLabel(r), tabindex: '0',
        'aria-label': `${gpuLabel(r)} lane: press Enter to book this GPU type, or drag across a free area`,
        onkeydown: (ev) => {
          if (ev.target !== ev.currentTarget || (ev.key !== 'Enter' && ev.key !== ' ')) return;
          ev.preventDefault();
          ctx.go('book', { gpu_type: r.name });
        },
      });
      // Capacity shading.
      free.forEach((f, i) => {
        const s0 = capFrom + i * stepMs;
        if (s0 >= to.getTime()) return;
        const ratio = r.physical ? f / r.physical : 0;
        const cls = f <= 0 ? 'cap cap-0' : ratio < 0.34 ? 'cap cap-1' : ratio < 0.67 ? 'cap cap-2' : ratio < 1 ? 'cap cap-3' : 'cap cap-4';
        track.append(h('div', { class: cls, style: { left: pct(s0) + '%', width: pct(s0 + stepMs) - pct(s0) + '%' }, title: `${f} of ${r.physical} free` }));
      });
      // Day separators and the past.
      if (view === 'week') for (let d = 1; d < 7; d++) track.append(h('div', { class: 'daysep', style: { left: pct(addDays(from, d).getTime()) + '%' } }));
      if (now > from.getTime()) track.append(h('div', { class: 'past', style: { width: pct(now) + '%' }, title: 'In the past' }));
      if (now > from.getTime() && now < to.getTime()) track.append(h('div', { class: 'nowline', style: { left: pct(now) + '%' }, title: 'Now' }));
      // Bookings.
      for (const p of packed.placed) {
        const b = p.b;
        const state = b.state ? String(b.state) : '';
        const who = b.mine ? 'Mine' : b.user ? b.user : 'Busy';
        const text = b.mine ? `${b.id ? '#' + b.id + ' ' : ''}${state || 'mine'} · ${b.gpu_count}×` : `${who} · ${b.gpu_count}×`;
        const cls = ['booking', b.mine ? 'mine' : 'other', state ? 'st-' + state.toLowerCase() : null,
          highlight && b.id && String(b.id) === highlight ? 'highlight' : null];
        const el = h(b.mine ? 'a' : 'div', {
          class: cls,
          href: b.mine ? '#/sessions' + (b.id ? '?id=' + b.id : '') : null,
          style: { left: pct(p.s) + '%', width: Math.max(0.4, pct(p.e) - pct(p.s)) + '%', top: 4 + p.row * 26 + 'px', height: p.rows * 26 - 4 + 'px' },
          title: `${b.mine ? 'My booking' : who} — ${b.gpu_count} × ${gpuLabel(r)}, ${showRange(b.starts_at, b.ends_at)}${state ? ', ' + state : ''}`,
          'data-id': b.id || null,
        }, h('span', null, text));
        track.append(el);
      }
      attachDrag(track, r, from, to, VIEWS[view].snap, ctx);
      grid.append(h('div', { class: 'cal-row', role: 'row' },
        h('div', { class: 'lane-label', role: 'rowheader' },
          h('strong', null, gpuLabel(r)),
          h('span', { class: 'muted' }, `${r.physical} × ${r.memory_gib || '?'} GiB · ${r.slots_per_unit || 1} slots each`),
          h('button', { class: 'link small', onclick: () => ctx.go('book', { gpu_type: r.name }), 'aria-label': 'Book ' + gpuLabel(r) }, 'Book this')),
        track));
    }
    const legend = h('div', { class: 'legend', 'aria-label': 'Legend' },
      h('span', null, h('i', { class: 'sw cap-4' }), 'all free'),
      h('span', null, h('i', { class: 'sw cap-2' }), 'partly booked'),
      h('span', null, h('i', { class: 'sw cap-0' }), 'full'),
      h('span', null, h('i', { class: 'sw mine' }), 'my booking'),
      h('span', null, h('i', { class: 'sw other' }), 'someone else'));
    const myCount = blocks.filter((b) => b.mine).length;
    append(clear(body), [h('div', { class: 'cal-scroll' }, grid), legend,
      blocks.length ? null : h('p', { class: 'muted' }, 'No bookings in this range: everything is free.'),
      myCount ? h('p', { class: 'muted' }, `You have ${myCount} booking${myCount > 1 ? 's' : ''} in this range. `, h('a', { href: '#/sessions' }, 'See my sessions.')) : null]);
  };
  await load();
  const timer = setInterval(() => { if (document.visibilityState === 'visible' && !dragging) load(); }, 60e3);
  ctx.onCleanup(() => clearInterval(timer));
  return root;
}

function sameLocalDay(d, t) {
  return startOfDay(d).getTime() === startOfDay(new Date(t)).getTime();
}

let dragging = false;

function attachDrag(track, r, from, to, snap, ctx) {
  let startX = null;
  let sel = null;
  const timeAt = (clientX) => {
    const rect = track.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
    return from.getTime() + f * (to - from);
  };
  const window_ = (x0, x1) => {
    let a = Math.floor(Math.min(timeAt(x0), timeAt(x1)) / snap) * snap;
    let b = Math.ceil(Math.max(timeAt(x0), timeAt(x1)) / snap) * snap;
    if (b - a < snap) b = a + snap;
    const nowSnap = Math.ceil(Date.now() / snap) * snap;
    if (a < nowSnap) { const d = nowSnap - a; a += d; b = Math.max(b, a + snap); }
    return [a, Math.min(b, Math.max(to.getTime(), a + snap))];
  };
  const draw = (a, b) => {
    const span = to - from;
    if (!sel) { sel = h('div', { class: 'selection' }); track.append(sel); }
    sel.style.left = ((a - from) / span) * 100 + '%';
    sel.style.width = ((b - a) / span) * 100 + '%';
    sel.textContent = `${showTime(a)} – ${showTime(b)}`;
  };
  track.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0 || ev.target.closest('.booking')) return;
    startX = ev.clientX;
    dragging = true;
    track.setPointerCapture(ev.pointerId);
    const [a, b] = window_(startX, startX);
    draw(a, b);
    ev.preventDefault();
  });
  track.addEventListener('pointermove', (ev) => {
    if (startX === null) return;
    const [a, b] = window_(startX, ev.clientX);
    draw(a, b);
  });
  const finish = (ev, commit) => {
    if (startX === null) return;
    let [a, b] = window_(startX, ev.clientX);
    if (Math.abs(ev.clientX - startX) < 4) b = a + Math.max(snap, 2 * HOUR); // a click: two hours
    startX = null;
    dragging = false;
    if (sel) { sel.remove(); sel = null; }
    if (commit) ctx.go('book', { gpu_type: r.name, starts_at: iso(a), ends_at: iso(b) });
  };
  track.addEventListener('pointerup', (ev) => finish(ev, true));
  track.addEventListener('pointercancel', (ev) => finish(ev, false));
}


