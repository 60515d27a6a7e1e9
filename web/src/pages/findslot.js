// "Find a slot": GPU type, how many, how long, optionally the earliest start and the latest
// end -> the next windows that fit (GET /api/v1/availability?count=5), each booked in one click.
import { h, clear, toast } from '../dom.js';
import { get, post, qs, gpuResources, gpuLabel, explain } from '../api.js';
import { HOUR, iso, showRange, showDuration, roundUp, tz } from '../time.js';
import { say } from '../messages.js';
import { whenInput } from '../when.js';

export function findSlotCard(ctx, getPool) {
  const pool = getPool();
  const gpus = gpuResources(pool);
  const rules = (pool && pool.session) || {};
  if (!gpus.length) return h('div');
  const type = h('select', { id: 'fs-type' }, gpus.map((g) => h('option', { value: g.name }, gpuLabel(g))));
  const count = h('input', { id: 'fs-count', type: 'number', min: '1', step: '1', value: '1', max: rules.max_gpus ? String(rules.max_gpus) : null });
  const hours = h('input', { id: 'fs-hours', type: 'number', min: '1', step: '1', value: '8', max: rules.max_hours ? String(rules.max_hours) : null });
  const earliest = whenInput('fs-earliest', 'Earliest start (optional)', null, { optional: true });
  const latest = whenInput('fs-latest', 'Latest end (optional)', null, { optional: true });
  const out = h('div', { id: 'fs-results', 'aria-live': 'polite' });
  const field = (label, input, hint) => h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hint ? h('span', { class: 'muted small' }, hint) : null);
  const form = h('form', { class: 'filters find-slot', id: 'find-slot' },
    field('GPU type', type), field('How many', count, rules.max_gpus ? `at most ${rules.max_gpus}` : null),
    field('Hours', hours, rules.max_hours ? `at most ${rules.max_hours}` : null),
    earliest.el, latest.el,
    h('button', { type: 'submit', class: 'primary' }, 'Find windows'));

  async function find() {
    clear(out);
    const n = parseInt(count.value, 10);
    const len = parseInt(hours.value, 10);
    const unit = 'GPUs or slices';
    if (!(n >= 1)) { out.append(h('p', { class: 'error-box', role: 'alert' }, say('tooFewUnits', { unit: 'GPU' }))); return; }
    if (rules.max_gpus && n > rules.max_gpus) { out.append(h('p', { class: 'error-box', role: 'alert' }, say('tooManyUnits', { max: rules.max_gpus, unit }))); return; }
    if (!(len >= 1) || (rules.max_hours && len > rules.max_hours)) { out.append(h('p', { class: 'error-box', role: 'alert' }, say('tooLong', { hours: rules.max_hours || '' }))); return; }
    const a = earliest.get(), b = latest.get();
    const bad = a.error ? a : b.error ? b : null;
    if (bad) { bad.input.setAttribute('aria-invalid', 'true'); out.append(h('p', { class: 'error-box', role: 'alert' }, bad.error)); return; }
    for (const x of [...earliest.inputs, ...latest.inputs]) x.removeAttribute('aria-invalid');
    const after = a.date || roundUp(Date.now(), HOUR / 4);
    const before = b.date;
    if (before && before - after < len * HOUR) { out.append(h('p', { class: 'error-box', role: 'alert' }, `There are fewer than ${len} hours between the earliest start and the latest end: move one of them.`)); return; }
    out.append(h('p', { class: 'muted' }, 'Looking…'));
    let ans;
    try {
      ans = await get('/availability' + qs({ gpu_type: type.value, gpu_count: n, duration_seconds: len * 3600, after: iso(roundUp(after, 60e3)), latest_end: before ? iso(before) : undefined, count: 5 }));
    } catch (e) {
      clear(out).append(h('p', { class: 'error-box', role: 'alert' }, e.status === 404 ? say('nothingFits') : explain(e, rules)));
      return;
    }
    const r = gpus.find((g) => g.name === type.value);
    clear(out).append(h('p', null, `The next windows for ${n} × ${gpuLabel(r)}, ${showDuration(len * HOUR)} each (times in ${tz}):`),
      h('ol', { class: 'windows' }, (ans.windows || [ans]).map((w, i) => h('li', null,
        h('span', null, showRange(w.starts_at, w.ends_at)), ' ',
        h('button', { type: 'button', class: 'primary small', 'data-window': String(i), onclick: (ev) => book(ev.currentTarget, w, n) }, 'Book this window')))));
  }

  async function book(btn, w, n) {
    btn.disabled = true;
    try {
      const r = await post('/reservations', { gpu_type: type.value, gpu_count: n, starts_at: w.starts_at, ends_at: w.ends_at });
      toast(`Booked #${r.id}: ${r.gpu_count} × ${gpuLabel(gpus.find((g) => g.name === r.gpu_type))}, ${showRange(r.starts_at, r.ends_at)}.`);
      ctx.go('calendar', { view: 'week', date: r.starts_at, highlight: r.id });
    } catch (e) {
      btn.disabled = false;
      out.prepend(h('p', { class: 'error-box', role: 'alert' }, e.status === 409 ? say('windowTaken') + ' Find windows again.' : explain(e, rules)));
    }
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); find(); });
  return h('div', { class: 'card', id: 'find-slot-card' }, h('h2', null, 'Find a slot'),
    h('p', { class: 'muted' }, 'Say what you need; the next free windows are listed, each bookable in one click with the default resources.'),
    form, out);
}
