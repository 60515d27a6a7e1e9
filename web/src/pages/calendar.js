// Calendar (home): opens at now (the next 7 days from today, or one day), one lane per GPU
// type with the free units written as numbers, bookings as blocks (other people's open a
// popover), "find a slot" below. A mouse drags across a lane to book; on a touch screen a
// swipe scrolls and a long press books (the form opens for that hour).
import { h, append, clear, spinner, errorBox, empty } from '../dom.js';
import { get, qs, items, gpuResources, gpuLabel, explain } from '../api.js';
import { HOUR, iso, startOfDay, addDays, showDay, showTime, showRange, showLongDay, tz } from '../time.js';
import { findSlotCard } from './findslot.js';

const VIEWS = {
  week: { days: 7, step: 3600, snap: HOUR, minWidth: 1120 },
  day: { days: 1, step: 900, snap: 15 * 60e3, minWidth: 0 },
};
const ROW = 26; // px per unit row
const FREE_STRIP = 20; // px for the free-units numbers under the rows
const LONG_PRESS_MS = 450;
const fmtHour = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });

function rangeOf(view, anchor) {
  const from = startOfDay(anchor);
  return { from, to: addDays(from, VIEWS[view].days) };
}

// Packs bookings into unit rows, never more rows than `units`: each takes gpu_count adjacent
// free rows when there are, else any free rows (drawn as one piece per row run); a booking
// beyond the units (only when the cluster advertises fewer than were booked) goes on the
// last rows, overlapping, and is marked.
export function pack(blocks, units) {
  const rows = Array.from({ length: units }, () => []);
  const placed = [];
  const sorted = [...blocks].sort((a, b) => a.s - b.s || b.count - a.count);
  for (const b of sorted) {
    const n = Math.min(units, Math.max(1, b.count));
    const free = (i) => !rows[i].some(([s, e]) => s < b.e && b.s < e);
    let pick = null;
    for (let r = 0; r + n <= units && !pick; r++) {
      let ok = true;
      for (let k = 0; k < n; k++) if (!free(r + k)) { ok = false; break; }
      if (ok) pick = Array.from({ length: n }, (_, k) => r + k);
    }
    let over = false;
    if (!pick) {
      const f = [];
      for (let r = 0; r < units; r++) if (free(r)) f.push(r);
      if (f.length >= n) pick = f.slice(0, n);
      else { pick = Array.from({ length: n }, (_, k) => units - n + k); over = true; }
    }
    for (const r of pick) rows[r].push([b.s, b.e]);
    // runs of adjacent rows: one drawn piece each
    const runs = [];
    for (const r of pick) {
      const last = runs[runs.length - 1];
      if (last && last.row + last.rows === r) last.rows++;
      else runs.push({ row: r, rows: 1 });
    }
    placed.push({ ...b, runs, over });
  }
  return placed;
}

export async function render(ctx) {
  const view = VIEWS[ctx.params.get('view')] ? ctx.params.get('view') : 'week';
  const anchorParam = ctx.params.get('date');
  const anchor = anchorParam && !Number.isNaN(new Date(anchorParam).getTime()) ? new Date(anchorParam) : new Date();
  const { from, to } = rangeOf(view, anchor);
  const span = to - from;
  const nav = (v, d) => ctx.go('calendar', { view: v, date: iso(d) });

  const root = h('section', { class: 'page calendar-page' });
  const days = VIEWS[view].days;
  const label = view === 'week' ? `${showDay(from)} – ${showDay(addDays(to, -1))}` : showLongDay(from);
  const highlight = ctx.params.get('highlight');

  root.append(
    h('div', { class: 'toolbar' },
      h('h1', null, 'Calendar'),
      h('div', { class: 'group', role: 'group', 'aria-label': 'Move in time' },
        h('button', { class: 'secondary', onclick: () => nav(view, addDays(from, -days)), 'aria-label': view === 'week' ? 'Previous 7 days' : 'Previous day' }, '‹'),
        h('button', { class: 'secondary', onclick: () => nav(view, new Date()) }, 'Today'),
        h('button', { class: 'secondary', onclick: () => nav(view, addDays(from, days)), 'aria-label': view === 'week' ? 'Next 7 days' : 'Next day' }, '›')),
      h('span', { class: 'range-label', id: 'range-label', 'aria-live': 'polite' }, label),
      h('div', { class: 'group', role: 'group', 'aria-label': 'View' },
        ['week', 'day'].map((v) => h('button', {
          class: v === view ? 'toggle on' : 'toggle', 'aria-pressed': v === view ? 'true' : 'false',
          onclick: () => nav(v, from < new Date() && new Date() < to ? new Date() : from),
        }, v === 'week' ? '7 days' : 'Day'))),
      h('button', { class: 'primary', id: 'book-btn', onclick: () => ctx.go('book') }, 'Book')),
    h('p', { class: 'muted hint' }, `Times in ${tz}. The numbers in each lane are the units free for that whole stretch. `,
      'With a mouse, drag across a lane to book; on a touch screen, press and hold; or press Book.'));

  const body = h('div', { class: 'cal-body' }, spinner());
  root.append(body);
  let pool = null;
  let scroller = null;
  let observer = null;

  const load = async (refresh = false) => {
    if (!refresh) clear(body).append(spinner());
    let cap, cal;
    try {
      const range = { from: iso(from), to: iso(to) };
      [pool, cap, cal] = await Promise.all([
        get('/pool'),
        get('/capacity' + qs({ ...range, step: VIEWS[view].step })),
        get('/calendar' + qs(range)),
      ]);
    } catch (e) {
      if (!refresh) clear(body).append(errorBox({ message: explain(e) }, () => load()));
      return;
    }
    const lanes = gpuResources(pool);
    if (!lanes.length) {
      clear(body).append(empty('The pool has no GPUs configured yet. An administrator adds them in the configuration.'));
      return;
    }
    const keepScroll = refresh && scroller ? scroller.scrollLeft : null;
    const series = new Map(((cap && cap.series) || []).map((s) => [s.resource, s.free || []]));
    const stepMs = ((cap && cap.step) || VIEWS[view].step) * 1000;
    const capFrom = cap && cap.from ? new Date(cap.from).getTime() : from.getTime();
    const blocks = items(cal, 'blocks', 'bookings', 'busy');
    const now = Date.now();
    const pct = (t) => ((Math.min(Math.max(t, from.getTime()), to.getTime()) - from.getTime()) / span) * 100;

    const grid = h('div', { class: 'cal-grid', role: 'grid', 'aria-label': 'Bookings and free units by GPU type', style: { minWidth: VIEWS[view].minWidth ? VIEWS[view].minWidth + 'px' : null } });
    const head = h('div', { class: 'cal-row cal-head', role: 'row' }, h('div', { class: 'lane-label', role: 'columnheader' }, 'GPU type'));
    const scale = h('div', { class: 'lane-track scale', role: 'columnheader', 'aria-label': 'Time axis' });
    head.append(scale);
    grid.append(head);
    const freeRows = [];

    for (const r of lanes) {
      const free = series.get(r.name) || [];
      const units = Math.max(1, typeof r.bookable === 'number' ? Math.max(r.bookable, r.physical) : r.physical);
      const mine = blocks.filter((b) => b.gpu_type === r.name);
      const placed = pack(mine.map((b) => ({ b, s: new Date(b.starts_at).getTime(), e: new Date(b.ends_at).getTime(), count: b.gpu_count || 1 })), units);
      const track = h('div', {
        class: 'lane-track', 'data-resource': r.name, 'data-units': String(units), role: 'gridcell',
        style: { height: units * ROW + 6 + FREE_STRIP + 'px' },
        tabindex: '0',
        onkeydown: (ev) => {
          if (ev.target !== ev.currentTarget || (ev.key !== 'Enter' && ev.key !== ' ')) return;
          ev.preventDefault();
          ctx.go('book', { gpu_type: r.name });
        },
      });
      track.append(h('span', { class: 'sr-only' }, `${gpuLabel(r)}, ${units} units; press Enter to book this type. `));
      // Capacity shading per capacity step.
      free.forEach((f, i) => {
        const s0 = capFrom + i * stepMs;
        if (s0 >= to.getTime()) return;
        track.append(h('div', { class: 'cap ' + capClass(f, units), style: { left: pct(s0) + '%', width: pct(s0 + stepMs) - pct(s0) + '%' } }));
      });
      if (view === 'week') for (let d = 1; d < 7; d++) track.append(h('div', { class: 'daysep', style: { left: pct(addDays(from, d).getTime()) + '%' } }));
      if (now > from.getTime()) track.append(h('div', { class: 'past', style: { width: pct(now) + '%' } }));
      if (now > from.getTime() && now < to.getTime()) track.append(h('div', { class: 'nowline', style: { left: pct(now) + '%' } }));
      const strip = h('div', { class: 'free-strip' });
      track.append(strip);
      freeRows.push({ strip, free, units, r });
      // Bookings.
      let pop = 0;
      for (const p of placed) {
        const b = p.b;
        const state = b.state ? String(b.state) : '';
        const who = b.mine ? 'Your booking' : b.user ? `Booked by ${b.user}` : 'Booked by someone else';
        const what = `${b.gpu_count} × ${gpuLabel(r)}`;
        const when = showRange(b.starts_at, b.ends_at);
        const text = b.mine ? `#${b.id} ${stateWord(state)} · ${b.gpu_count}×` : `Busy · ${b.gpu_count}×`;
        p.runs.forEach((run, k) => {
          const style = { left: pct(p.s) + '%', width: Math.max(0.4, pct(p.e) - pct(p.s)) + '%', top: 3 + run.row * ROW + 'px', height: run.rows * ROW - 4 + 'px' };
          const cls = ['booking', b.mine ? 'mine' : 'other', state ? 'st-' + state.toLowerCase() : null, p.over ? 'over' : null,
            highlight && b.id && String(b.id) === highlight ? 'highlight' : null];
          const data = { 'data-id': b.id || null, 'data-row': String(run.row), 'data-rows': String(run.rows), 'data-piece': String(k) };
          if (b.mine) {
            track.append(h('a', { class: cls, href: '#/sessions?id=' + b.id, style, ...data, 'aria-label': `${text} — ${who}: ${what}, ${when}. Open it in My sessions.` }, h('span', null, text)));
          } else {
            const id = `pop-${r.name.replace(/\W/g, '')}-${pop++}-${k}`;
            track.append(h('button', { type: 'button', class: cls, style, ...data, popovertarget: id, 'aria-label': `${text} — ${who}: ${what}, ${when}. Show details.` }, h('span', null, text)),
              h('div', { popover: 'auto', id, class: 'popover', role: 'dialog', 'aria-label': 'Booking details' },
                h('strong', null, who), h('p', null, what), h('p', null, when),
                b.purpose ? h('p', null, b.purpose) : null,
                h('p', { class: 'muted' }, b.user ? '' : 'Who booked it is visible only to them and to administrators.')));
          }
        });
      }
      attachBooking(track, r, from, to, VIEWS[view].snap, ctx);
      grid.append(h('div', { class: 'cal-row', role: 'row' },
        h('div', { class: 'lane-label', role: 'rowheader' },
          h('strong', null, gpuLabel(r)),
          h('span', { class: 'muted' }, `${units} × ${r.memory_gib || '?'} GiB`),
          h('button', { class: 'link small', onclick: () => ctx.go('book', { gpu_type: r.name }), 'aria-label': 'Book this: ' + gpuLabel(r) }, 'Book this')),
        track));
    }
    const legend = h('div', { class: 'legend', role: 'list', 'aria-label': 'Legend' },
      [['cap-4', 'all units free'], ['cap-3', 'most free'], ['cap-2', 'about half free'], ['cap-1', 'few free'], ['cap-0', 'none free'],
        ['mine', 'my booking (approved)'], ['mine st-active', 'my session, running'], ['mine st-failed', 'my booking, failed'],
        ['other', 'someone else'], ['sw-past', 'in the past']].map(([c, t]) => h('span', { role: 'listitem' }, h('i', { class: 'sw ' + c, 'aria-hidden': 'true' }), t)));
    const myCount = blocks.filter((b) => b.mine).length;
    scroller = h('div', { class: 'cal-scroll', id: 'cal-scroll' }, grid);
    append(clear(body), [scroller, legend,
      blocks.length ? null : h('p', { class: 'muted' }, 'No bookings in this range: everything is free.'),
      myCount ? h('p', { class: 'muted' }, `You have ${myCount} booking${myCount > 1 ? 's' : ''} in this range. `, h('a', { href: '#/sessions' }, 'See my sessions.')) : null]);

    // Axis labels and free numbers depend on the drawn width: laid out after layout, again
    // on resize; labels never overlap (the interval grows until they fit).
    // The first layout waits until the grid is in the page and has a width (the observer
    // fires then, and again whenever the width changes).
    let first = true;
    if (observer) observer.disconnect();
    observer = new ResizeObserver(() => {
      if (!scale.clientWidth) return;
      layoutAxis(view, scale, freeRows, from, to, capFrom, stepMs, pct);
      if (!first) return;
      first = false;
      if (keepScroll !== null) scroller.scrollLeft = keepScroll;
      else if (now > from.getTime() && now < to.getTime()) {
        const track = grid.querySelector('.lane-track[data-resource]');
        scroller.scrollLeft = Math.max(0, (track ? track.clientWidth : 0) * (pct(now) / 100) - 40);
      }
    });
    observer.observe(scale);
  };
  await load();
  const timer = setInterval(() => { if (document.visibilityState === 'visible' && !dragging) load(true); }, 60e3);
  ctx.onCleanup(() => { clearInterval(timer); if (observer) observer.disconnect(); });
  root.append(findSlotCard(ctx, () => pool));
  return root;
}

function stateWord(state) {
  return { APPROVED: 'approved', ACTIVE: 'running', FAILED: 'failed', COMPLETED: 'finished', CANCELED: 'canceled' }[state] || 'booked';
}

function capClass(f, units) {
  const ratio = units ? f / units : 0;
  return f <= 0 ? 'cap-0' : ratio < 0.34 ? 'cap-1' : ratio < 0.67 ? 'cap-2' : ratio < 1 ? 'cap-3' : 'cap-4';
}

function overlaps(els) {
  let last = -Infinity;
  for (const el of els) {
    const r = el.getBoundingClientRect();
    if (r.left < last + 4) return true;
    last = r.right;
  }
  return false;
}

// Hour labels at the smallest interval whose labels do not overlap; day labels in the
// 7-day view; the free numbers per stretch of the same interval (min over the stretch).
function layoutAxis(view, scale, freeRows, from, to, capFrom, stepMs, pct) {
  const hours = view === 'week' ? [6, 12, 24] : [1, 2, 3, 4, 6, 12];
  let chosen = hours[hours.length - 1];
  for (const every of hours) {
    clear(scale);
    const labels = [];
    for (let t = from.getTime(); t < to.getTime(); t += HOUR) {
      const d = new Date(t);
      const isDay = d.getHours() === 0;
      if (d.getHours() % every !== 0 && !(view === 'week' && isDay)) continue;
      const text = view === 'week' ? (isDay ? showDay(d) : fmtHour.format(d)) : fmtHour.format(d);
      if (view === 'week' && !isDay && every >= 24) continue;
      const tick = h('div', { class: ['tick', view === 'week' && isDay ? 'day' : 'minor'], style: { left: pct(t) + '%' } }, h('span', { class: 'tick-label' }, text));
      scale.append(tick);
      labels.push(tick.firstChild);
    }
    const minor = labels.filter((l) => l.parentNode.classList.contains('minor'));
    const day = labels.filter((l) => l.parentNode.classList.contains('day'));
    if (!overlaps(minor) && !overlaps(day)) { chosen = every; break; }
  }
  scale.dataset.every = String(chosen);
  // free numbers: one cell per stretch of the fewest hours whose cell is at least 28 px wide
  const pxPerHour = scale.clientWidth / ((to - from) / HOUR);
  const groupH = [1, 2, 3, 6, 12, 24].find((g) => g * pxPerHour >= 28) || 24;
  const groupMs = groupH * HOUR;
  for (const { strip, free, units, r } of freeRows) {
    clear(strip);
    for (let t = from.getTime(); t < to.getTime(); t += groupMs) {
      const e = Math.min(t + groupMs, to.getTime());
      let min = Infinity;
      free.forEach((f, i) => {
        const s0 = capFrom + i * stepMs;
        if (s0 < e && s0 + stepMs > t) min = Math.min(min, f);
      });
      if (min === Infinity) continue;
      strip.append(h('div', {
        class: ['free-cell', min <= 0 ? 'none' : null],
        style: { left: pct(t) + '%', width: pct(e) - pct(t) + '%' },
        'data-free': String(min), 'data-from': iso(t), 'data-to': iso(e),
      }, h('span', { class: 'num' }, String(min)), h('span', { class: 'sr-only' }, ` of ${units} ${gpuLabel(r)} free, ${showRange(t, e)}`)));
    }
  }
}

let dragging = false;

// Mouse or pen: drag across the lane (a click books two hours). Touch: a swipe scrolls (the
// browser's pan, touch-action pan-x pan-y); a long press without moving opens the form for
// two hours from the pressed time.
function attachBooking(track, r, from, to, snap, ctx) {
  let startX = null;
  let sel = null;
  let press = null;
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
  const book = (a, b) => ctx.go('book', { gpu_type: r.name, starts_at: iso(a), ends_at: iso(b) });
  track.addEventListener('contextmenu', (ev) => { if (press !== null || ev.pointerType === 'touch') ev.preventDefault(); });
  track.addEventListener('pointerdown', (ev) => {
    if (ev.target.closest('.booking, .popover')) return;
    if (ev.pointerType === 'touch') {
      const x0 = ev.clientX, y0 = ev.clientY;
      const cancel = () => { clearTimeout(press); press = null; track.removeEventListener('pointermove', moved); track.removeEventListener('pointerup', cancel); track.removeEventListener('pointercancel', cancel); };
      const moved = (e) => { if (Math.abs(e.clientX - x0) > 8 || Math.abs(e.clientY - y0) > 8) cancel(); };
      press = setTimeout(() => {
        cancel();
        const [a] = window_(x0, x0);
        book(a, a + Math.max(snap, 2 * HOUR));
      }, LONG_PRESS_MS);
      track.addEventListener('pointermove', moved);
      track.addEventListener('pointerup', cancel);
      track.addEventListener('pointercancel', cancel);
      return;
    }
    if (ev.button !== 0) return;
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
    if (commit) book(a, b);
  };
  track.addEventListener('pointerup', (ev) => finish(ev, true));
  track.addEventListener('pointercancel', (ev) => finish(ev, false));
}
