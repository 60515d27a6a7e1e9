// Booking form: GPU type, count, mode, window, resources, purpose; a live fit check while
// editing; on a 409 the reason and the next available window, bookable in one click.
import { h, clear, spinner, errorBox, toast } from '../dom.js';
import { get, post, qs, gpuResources, gpuLabel, explain, ApiError } from '../api.js';
import { HOUR, iso, showRange, showDuration, showDateTime, roundUp, tz } from '../time.js';
import { say } from '../messages.js';
import { whenInput } from '../when.js';

function modeSentence(mode, r, count) {
  const spu = (r && r.slots_per_unit) || 1;
  const slots = spu * count;
  const unit = r && r.kind === 'mig' ? 'MIG slice' : 'GPU';
  const per = `${count} ${unit}${count > 1 ? 's' : ''} × ${spu} time-sliced slot${spu > 1 ? 's' : ''} = ${slots} GPU container${slots > 1 ? 's' : ''} at once`;
  return mode === 'interactive'
    ? `Your workspace (code-server/JupyterLab) gets one GPU slot; ${per} in total, so ${slots - 1} more for your own containers.`
    : `The workspace has no GPU; all ${per} run your own containers (e.g. model servers).`;
}

export async function render(ctx) {
  const root = h('section', { class: 'page book-page' }, h('h1', null, 'Book GPUs'));
  let pool;
  try {
    pool = await get('/pool');
  } catch (e) {
    root.append(errorBox({ message: explain(e) }));
    return root;
  }
  const gpus = gpuResources(pool);
  if (!gpus.length) {
    root.append(h('p', { class: 'empty' }, 'The pool has no GPUs to book yet.'));
    return root;
  }
  // The defaults and limits every booking obeys (config session.*, from GET /pool).
  const rules = pool.session || {};
  const maxGpus = Number(rules.max_gpus) || Infinity;
  const ruleVars = () => ({ ...rules, nowText: showDateTime(roundUp(Date.now(), 60e3)) });
  const p = ctx.params;
  const byName = (n) => gpus.find((g) => g.name === n);
  let start = p.get('starts_at') ? new Date(p.get('starts_at')) : roundUp(Date.now() + 5 * 60e3, HOUR / 2);
  let end = p.get('ends_at') ? new Date(p.get('ends_at')) : new Date(start.getTime() + 2 * HOUR);
  if (Number.isNaN(start.getTime())) start = roundUp(Date.now(), HOUR / 2);
  if (Number.isNaN(end.getTime()) || end <= start) end = new Date(start.getTime() + 2 * HOUR);

  const f = {
    type: h('select', { id: 'gpu_type', name: 'gpu_type' },
      gpus.map((g) => h('option', { value: g.name, selected: g.name === p.get('gpu_type') },
        `${gpuLabel(g)} — ${g.memory_gib || '?'} GiB each, ${g.physical} in the pool`))),
    count: h('input', { id: 'gpu_count', name: 'gpu_count', type: 'number', min: '1', step: '1', max: Number.isFinite(maxGpus) ? String(maxGpus) : null, value: p.get('gpu_count') || '1', required: true, 'aria-describedby': 'count-info limits' }),
    start: whenInput('starts_at', 'Starts', start),
    end: whenInput('ends_at', 'Ends', end),
    cpu: h('input', { id: 'cpu', name: 'cpu', type: 'number', min: '1', step: '1', value: p.get('cpu') || '', placeholder: rules.cpu ? `default ${rules.cpu}` : 'default' }),
    mem: h('input', { id: 'memory_gib', name: 'memory_gib', type: 'number', min: '1', step: '1', value: p.get('memory_gib') || '', placeholder: rules.memory_gib ? `default ${rules.memory_gib}` : 'default' }),
    disk: h('input', { id: 'storage_gib', name: 'storage_gib', type: 'number', min: '1', step: '1', value: p.get('storage_gib') || '', placeholder: rules.storage_gib ? `default ${rules.storage_gib}` : 'default' }),
    purpose: h('input', { id: 'purpose', name: 'purpose', maxlength: '255', placeholder: 'e.g. fine-tune 7B', value: p.get('purpose') || '' }),
  };
  const modeText = { interactive: h('span', { class: 'mode-text' }), inference: h('span', { class: 'mode-text' }) };
  const modeRadio = (m, title) => h('label', { class: 'radio-card' },
    h('input', { type: 'radio', name: 'mode', value: m, checked: (p.get('mode') || 'interactive') === m }),
    h('span', null, h('strong', null, title), modeText[m]));
  const memInfo = h('span', { class: 'muted', id: 'type-info' });
  const countInfo = h('span', { class: 'muted', id: 'count-info' });
  const durInfo = h('span', { class: 'muted', id: 'dur-info' });
  const fit = h('div', { class: 'fit', id: 'fit', 'aria-live': 'polite' });
  const formErr = h('div', { id: 'form-error', 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'submit-booking' }, 'Book');

  const quick = [1, 2, 4, 8, 24].map((hrs) => h('button', {
    type: 'button', class: 'chip',
    onclick: () => {
      const s = f.start.value() || new Date();
      f.end.set(new Date(s.getTime() + hrs * HOUR));
      update();
    },
  }, hrs < 24 ? `${hrs} h` : '1 day'));

  const field = (label, input, extra) => h('div', { class: 'field' }, h('label', { for: input.id }, label), input, extra || null);
  const limits = h('p', { class: 'notice', id: 'limits' },
    'Rules for every booking: ',
    Number.isFinite(maxGpus) ? `at most ${maxGpus} GPUs or slices, ` : '',
    rules.max_hours ? `at most ${rules.max_hours} hours long, ` : '',
    rules.max_advance_days ? `ending within ${rules.max_advance_days} days from now. ` : '',
    rules.cpu ? `Without your own numbers a booking gets ${rules.cpu} CPU cores, ${rules.memory_gib} GiB memory and ${rules.storage_gib} GiB storage.` : '');
  const form = h('form', { class: 'card book-form', novalidate: true },
    limits,
    h('fieldset', null, h('legend', null, 'What'),
      field('GPU type', f.type, memInfo),
      field('How many', f.count, countInfo),
      h('div', { class: 'field', role: 'radiogroup', 'aria-label': 'Mode' }, h('span', { class: 'label' }, 'Mode'),
        modeRadio('interactive', 'Interactive ML'), modeRadio('inference', 'Inference containers'))),
    h('fieldset', null, h('legend', null, `When (your time zone: ${tz})`),
      h('div', { class: 'row2' }, f.start.el, f.end.el),
      h('div', { class: 'chips', 'aria-label': 'Quick durations' }, h('span', { class: 'muted' }, 'Length:'), quick), durInfo),
    h('fieldset', null, h('legend', null, 'Workspace resources'),
      h('div', { class: 'row3' }, field('CPU cores', f.cpu), field('Memory (GiB)', f.mem), field('Storage (GiB)', f.disk)),
      h('p', { class: 'muted', id: 'defaults' }, rules.cpu
        ? `Leave empty for the defaults: ${rules.cpu} CPU cores, ${rules.memory_gib} GiB memory, ${rules.storage_gib} GiB storage.`
        : 'Leave empty for the platform defaults.'),
      field('Purpose', f.purpose)),
    fit, formErr,
    h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: '#/calendar' }, 'Back to calendar'), submit));
  root.append(form);

  const mode = () => (form.querySelector('input[name=mode]:checked') || {}).value || 'interactive';
  let seq = 0;
  let fitTimer = 0;

  function readWindow() {
    const a = f.start.get();
    const b = f.end.get();
    const s = a.date || null, e = b.date || null;
    const bad = a.error ? a : b.error ? b : null;
    return { s, e, ok: s && e && e > s, error: bad && bad.error, input: bad && bad.input };
  }

  // what the booking shares with other bookings (GET /pool isolation, docs/security.md)
  function isolationText(r) {
    if (r.isolation === 'time-sliced')
      return 'Isolation: time-sliced — other bookings may run on the same physical device, with no memory or fault isolation.';
    if (r.isolation === 'mig') return 'Isolation: MIG — memory and faults isolated by the hardware.';
    if (r.isolation === 'exclusive') return 'Isolation: exclusive — the GPU runs only your pods.';
    return '';
  }

  function update() {
    const r = byName(f.type.value);
    const count = Math.max(1, parseInt(f.count.value, 10) || 1);
    memInfo.textContent = r ? `${r.memory_gib || '?'} GiB GPU memory per ${r.kind === 'mig' ? 'slice' : 'GPU'}; ${r.slots_per_unit || 1} time-sliced slots each. ${isolationText(r)}` : '';
    modeText.interactive.textContent = modeSentence('interactive', r, count);
    modeText.inference.textContent = modeSentence('inference', r, count);
    const { s, e, ok, error } = readWindow();
    durInfo.textContent = ok ? `${showDuration(e - s)}: ${showRange(s, e)}` : error || say('endBeforeStart');
    clearTimeout(fitTimer);
    fitTimer = setTimeout(checkFit, 250);
  }

  async function checkFit() {
    const my = ++seq;
    const r = byName(f.type.value);
    const count = Math.max(1, parseInt(f.count.value, 10) || 1);
    const { s, e, ok, error } = readWindow();
    const physMax = Math.min(r.physical, maxGpus);
    f.count.max = String(physMax);
    if (!ok) { clear(fit).append(h('p', { class: 'warn' }, error || say('endBeforeStart'))); return; }
    const pre = precheck(count, s, e);
    if (pre) { clear(fit).append(h('p', { class: 'warn', id: 'fit-rule' }, pre)); return; }
    clear(fit).append(h('p', { class: 'muted' }, 'Checking availability…'));
    try {
      const step = Math.max(60, Math.ceil((e - s) / 1000));
      const cap = await get('/capacity' + qs({ from: iso(s), to: iso(e), step }));
      if (my !== seq) return;
      const series = ((cap && cap.series) || []).find((x) => x.resource === r.name);
      const freeMin = series && series.free && series.free.length ? Math.min(...series.free) : r.physical;
      countInfo.textContent = freeMin > 0 ? `Up to ${Math.min(freeMin, physMax)} free for the whole window (of ${r.physical}).` : `None free for the whole window (${r.physical} in the pool).`;
      if (count <= freeMin) {
        clear(fit).append(h('p', { class: 'ok', id: 'fit-ok' }, `✓ Fits: ${count} × ${gpuLabel(r)} is free for the whole window.`));
      } else {
        const unit = r.kind === 'mig' ? 'MIG slices' : 'GPUs';
        const box = h('div', { class: 'warn', id: 'fit-no' },
          h('p', null, freeMin > 0 ? say('notEnoughFree', { free: freeMin, want: count, unit }) : say('noneFree', { unit })),
          freeMin > 0 ? h('p', null, h('button', { type: 'button', class: 'secondary small', id: 'use-fewer', onclick: () => { f.count.value = String(freeMin); update(); } }, `Book ${freeMin} instead`)) : null);
        clear(fit).append(box);
        try {
          const nx = await get('/availability' + qs({ gpu_type: r.name, gpu_count: count, duration_seconds: Math.round((e - s) / 1000), after: iso(s) }));
          if (my !== seq) return;
          if (nx && nx.starts_at) box.append(offer(nx, 'Use the next free window'));
        } catch { /* the fit message stands without a suggestion */ }
      }
    } catch (err) {
      if (my !== seq) return;
      clear(fit).append(h('p', { class: 'muted' }, 'Availability could not be checked right now. ' + explain(err, ruleVars())));
    }
  }

  // The rules checked before anything is sent: a sentence with the fix, or null.
  function precheck(count, s, e) {
    const unit = 'GPUs or slices';
    if (!(count >= 1)) return say('tooFewUnits', { unit: 'GPU' });
    if (count > maxGpus) return say('tooManyUnits', { max: maxGpus, unit });
    const grace = (rules.start_grace_seconds || 0) * 1000;
    if (s.getTime() < Date.now() - grace) return say('startPast', ruleVars());
    if (rules.max_hours && e - s > rules.max_hours * HOUR) return say('tooLong', { hours: rules.max_hours });
    if (rules.max_advance_days && e.getTime() > Date.now() + rules.max_advance_days * 24 * HOUR) return say('tooFarAhead', { days: rules.max_advance_days });
    return null;
  }

  function offer(nx, text, submitNow = false) {
    return h('p', null, `${text}: `, h('strong', null, showRange(nx.starts_at, nx.ends_at)), ' ',
      h('button', {
        type: 'button', class: submitNow ? 'primary small' : 'secondary small', id: submitNow ? 'book-next' : 'use-next',
        onclick: () => {
          f.start.set(nx.starts_at);
          f.end.set(nx.ends_at);
          update();
          if (submitNow) send(nx);
        },
      }, submitNow ? 'Book this window' : 'Use it'));
  }

  async function send(exact) {
    clear(formErr);
    form.querySelectorAll('[aria-invalid]').forEach((x) => x.removeAttribute('aria-invalid'));
    const { s, e, ok, error, input } = readWindow();
    if (!ok) {
      formErr.append(h('p', { class: 'error-box', role: 'alert', id: 'invalid' }, error || say('endBeforeStart')));
      const bad = input || f.end.date;
      bad.setAttribute('aria-invalid', 'true');
      bad.focus();
      return;
    }
    const wanted = parseInt(f.count.value, 10);
    const pre = exact ? null : precheck(wanted, s, e);
    if (pre) {
      formErr.append(h('p', { class: 'error-box', role: 'alert', id: 'invalid' }, pre));
      const bad = !(wanted >= 1) || wanted > maxGpus ? f.count : s.getTime() < Date.now() ? f.start.date : f.end.date;
      bad.setAttribute('aria-invalid', 'true');
      bad.focus();
      return;
    }
    const body = {
      gpu_type: f.type.value,
      gpu_count: parseInt(f.count.value, 10) || 1,
      mode: mode(),
      starts_at: exact ? exact.starts_at : iso(s),
      ends_at: exact ? exact.ends_at : iso(e),
    };
    for (const [k, el] of [['cpu', f.cpu], ['memory_gib', f.mem], ['storage_gib', f.disk]]) if (el.value !== '') body[k] = parseInt(el.value, 10);
    if (f.purpose.value.trim()) body.purpose = f.purpose.value.trim();
    submit.disabled = true;
    submit.textContent = 'Booking…';
    try {
      const r = await post('/reservations', body);
      toast(`Booked #${r.id}: ${r.gpu_count} × ${gpuLabel(byName(r.gpu_type))}, ${showRange(r.starts_at, r.ends_at)}.`);
      ctx.go('calendar', { view: 'week', date: r.starts_at, highlight: r.id });
    } catch (err) {
      submit.disabled = false;
      submit.textContent = 'Book';
      const box = h('div', { class: 'error-box', role: 'alert', id: err.status === 409 ? 'conflict' : 'invalid' });
      if (err instanceof ApiError && err.status === 409) {
        box.append(h('p', null, h('strong', null, say('windowTaken'))));
        if (err.nextAvailable && err.nextAvailable.starts_at && err.nextAvailable.ends_at) box.append(offer(err.nextAvailable, 'Next available', true));
        else box.append(h('p', null, say('nothingFits')));
      } else {
        box.append(h('p', null, explain(err, ruleVars())));
        const map = { gpu_type: f.type, gpu_count: f.count, starts_at: f.start.date, ends_at: f.end.date, cpu: f.cpu, memory_gib: f.mem, storage_gib: f.disk, purpose: f.purpose };
        if (err.field && map[err.field]) { map[err.field].setAttribute('aria-invalid', 'true'); map[err.field].focus(); }
      }
      formErr.append(box);
    }
  }

  form.addEventListener('input', (ev) => {
    // editing a date or time: its old refusal no longer applies
    if (ev.target === f.start.date || ev.target === f.start.time || ev.target === f.end.date || ev.target === f.end.time) {
      ev.target.removeAttribute('aria-invalid');
      clear(formErr);
    }
    update();
  });
  form.addEventListener('change', update);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); send(null); });
  ctx.onCleanup(() => { clearTimeout(fitTimer); seq++; });
  update();
  return root;
}
