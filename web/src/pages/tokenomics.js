// Tokenomics: what a token costs on our hardware, when on-prem beats a cloud API, and what
// the demand needs. Every edit recomputes through POST /api/v1/tokenomics (the same model
// as `gpuaas tokenomics`) and redraws the chart. Formulas: docs/tokenomics.md.
import { h, clear, errorBox } from '../dom.js';
import { get, post, explain } from '../api.js';
import { say, speaksApi } from '../messages.js';

const EXAMPLE_WORKLOADS = [
  { name: '7B-class', tokens_per_second_per_gpu: 4588.8, min_replicas: 2, demand_tokens_per_year: 200e9, installed_gpus: 4,
    cloud_prices: [{ name: 'Bedrock', input_per_million: 0.22, output_per_million: 0.22 },
      { name: 'Groq', input_per_million: 0.05, output_per_million: 0.08 }] },
  { name: '14B-class', tokens_per_second_per_gpu: 2640, min_replicas: 2, demand_tokens_per_year: 100e9, installed_gpus: 4,
    cloud_prices: [{ name: 'GPT-4o-mini', input_per_million: 0.15, output_per_million: 0.6 }] },
  { name: '70B-class', tokens_per_second_per_gpu: 1072.2, min_replicas: 2, demand_tokens_per_year: 150e9, installed_gpus: 6,
    cloud_prices: [{ name: 'Groq', input_per_million: 0.59, output_per_million: 0.79 },
      { name: 'DeepInfra Turbo', input_per_million: 0.13, output_per_million: 0.4 }] },
];

// [field path, label with unit, default, step]
const FIELDS = [
  ['servers.0.count', 'Servers (active)', 7, 1],
  ['servers.0.standby', 'Standby servers', 0, 1],
  ['servers.0.capex', 'Capex per server ($)', 45000, 1000],
  ['servers.0.gpus', 'GPUs per server', 2, 1],
  ['servers.0.overhead_fraction', 'Network/rack/storage (fraction of capex)', 0.15, 0.01],
  ['servers.0.power_load_kw', 'Power at load (kW per server)', 1.8, 0.1],
  ['servers.0.power_idle_kw', 'Power idle (kW per server)', 0.5, 0.1],
  ['finance.life_years', 'Life (years)', 4, 1],
  ['finance.cost_of_capital', 'Cost of capital (annual rate)', 0, 0.01],
  ['finance.maintenance_fraction', 'Maintenance (fraction of capex per year)', 0.08, 0.01],
  ['finance.ops_per_year', 'Operations ($ per year)', 0, 1000],
  ['facility.pue', 'PUE', 1.5, 0.05],
  ['facility.electricity_per_kwh', 'Electricity ($ per kWh)', 0.1, 0.01],
  ['planning.target_utilization', 'Target utilization (0–1)', 0.7, 0.05],
  ['planning.peak_to_average', 'Peak-to-average demand', 2, 0.1],
  ['planning.budget_per_year', 'Budget ($ per year, 0 = none)', 0, 1000],
];

function setPath(obj, path, value) {
  const keys = path.split('.');
  let o = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = /^\d+$/.test(keys[i]) ? Number(keys[i]) : keys[i];
    if (o[k] === undefined) o[k] = /^\d+$/.test(keys[i + 1]) ? [] : {};
    o = o[k];
  }
  o[keys[keys.length - 1]] = value;
}

const money = (x) => (x == null ? '—' : '$' + Number(x).toLocaleString(undefined, { maximumFractionDigits: x < 10 ? 3 : 0 }));
const pct = (x) => (x == null ? '—' : Math.round(x * 100) + ' %');

function chart(svgText) {
  const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
  const svg = doc.documentElement;
  if (!svg || svg.nodeName !== 'svg') return h('p', { class: 'muted' }, 'No chart.');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Cost per million tokens against utilization, with cloud prices and break-even points');
  svg.removeAttribute('width');
  svg.removeAttribute('height');
  svg.setAttribute('class', 'tok-chart');
  return document.importNode(svg, true);
}

function results(res) {
  const ac = res.annual_cost || {};
  return [
    h('div', { class: 'tok-headline' },
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Cost per million tokens'), h('strong', { 'data-testid': 'tok-cpm' }, money(res.cost_per_million_tokens))),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Annual cost'), h('strong', null, money(ac.total))),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Tokens per year'), h('strong', null, Number(res.tokens_per_year).toExponential(2))),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Energy share of cost'), h('strong', null, pct(ac.energy_fraction)))),
    h('figure', { class: 'card' }, chart(res.svg || '')),
    h('h2', null, 'Break-even against cloud prices'),
    h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Break-even table, scrolls sideways' }, h('table', { class: 'table' },
      h('thead', null, h('tr', null, ['Workload', 'Cloud price', '$ / 1M (same request shape)', 'On-prem cheaper above'].map((t) => h('th', null, t)))),
      h('tbody', null, (res.break_even || []).map((b) => h('tr', null,
        h('td', null, b.workload), h('td', null, b.price), h('td', null, money(b.equivalent_price_per_million)),
        h('td', null, b.status === 'reachable' ? pct(b.utilization) : b.status === 'never' ? 'never' : `${pct(b.utilization)} (not reachable at this peak-to-average)`)))))),
    (res.sizing || []).length ? [
      h('h2', null, 'Sizing for the demand'),
      h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Sizing table, scrolls sideways' }, h('table', { class: 'table' },
        h('thead', null, h('tr', null, ['Workload', 'GPUs required', 'Installed', 'Utilization', 'Verdict'].map((t) => h('th', null, t)))),
        h('tbody', null, res.sizing.map((z) => h('tr', null,
          h('td', null, z.workload), h('td', null, z.gpus_required), h('td', null, Number(z.gpus_installed).toFixed(1)),
          h('td', null, pct(z.utilization_implied)), h('td', null, h('span', { class: 'badge' }, z.verdict), ' ', h('span', { class: 'muted' }, z.detail))))))),
      h('p', null, 'Servers required: ', (res.fleet.servers_required || []).map((x) => `${x.count} × ${x.name}`).join(', ') || '—',
        ` · ${money(res.fleet.annual_cost_required)} per year · ${money(res.fleet.cost_per_million_required)} per 1M tokens`),
    ] : null,
  ];
}

// The workloads as rows (name, throughput, replicas, demand, installed GPUs) with their cloud
// prices as sub-rows; add and remove buttons. Returns {el, read(), onChange(fn)}.
const WL_FIELDS = [
  ['name', 'Name', 'text'], ['tokens_per_second_per_gpu', 'Tokens/s per GPU', 'number'], ['min_replicas', 'Min. replicas', 'number'],
  ['demand_tokens_per_year', 'Demand (tokens/year)', 'number'], ['installed_gpus', 'Installed GPUs', 'number'],
];
const PRICE_FIELDS = [['name', 'Cloud offer', 'text'], ['input_per_million', 'Input $/1M', 'number'], ['output_per_million', 'Output $/1M', 'number']];

function workloadEditor(initial, canEdit) {
  const box = h('div', { class: 'wl-rows', id: 'tok-workloads' });
  let changed = () => {};
  const rows = [];
  const cell = (label, type, value, id) => h('label', { for: id, class: 'wl-cell' }, h('span', null, label),
    h('input', { id, type, value: value ?? '', step: 'any', min: type === 'number' ? '0' : null, readonly: !canEdit, placeholder: id.endsWith('installed-gpus') ? 'its share' : null, oninput: () => changed() }));
  function addPrice(wrap, pr, wi) {
    const pi = wrap.children.length;
    const line = h('div', { class: 'wl-price' },
      PRICE_FIELDS.map(([k, l, t]) => cell(l, t, pr[k], `tok-wl-${wi}-price-${pi}-${k.replace(/_/g, '-')}`)),
      canEdit ? h('button', { type: 'button', class: 'secondary small', onclick: () => { line.remove(); changed(); } }, 'Remove offer') : null);
    line.dataset.kind = 'price';
    wrap.append(line);
  }
  function addWorkload(w) {
    const wi = rows.length;
    const prices = h('div', { class: 'wl-prices' });
    const row = h('fieldset', { class: 'wl-row' }, h('legend', null, `Workload ${wi + 1}`),
      h('div', { class: 'wl-fields' }, WL_FIELDS.map(([k, l, t]) => cell(l, t, w[k], `tok-wl-${wi}-${k.replace(/_/g, '-')}`))),
      prices,
      !canEdit ? null : h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary small', onclick: () => { addPrice(prices, { name: '', input_per_million: '', output_per_million: '' }, wi); changed(); } }, 'Add a cloud offer'),
        h('button', { type: 'button', class: 'danger small', onclick: () => { row.remove(); rows.splice(rows.indexOf(row), 1); changed(); } }, 'Remove workload')));
    for (const pr of w.cloud_prices || []) addPrice(prices, pr, wi);
    rows.push(row);
    box.append(row);
  }
  for (const w of initial) addWorkload(w);
  const add = h('button', { type: 'button', class: 'secondary', id: 'tok-add-workload', onclick: () => { addWorkload({ name: `workload ${rows.length + 1}`, tokens_per_second_per_gpu: 1000, min_replicas: 1, demand_tokens_per_year: 50e9, installed_gpus: 2 }); changed(); } }, 'Add a workload');
  const read = () => rows.map((row) => {
    const w = {};
    row.querySelectorAll('.wl-fields input').forEach((inp, i) => {
      const [k, , t] = WL_FIELDS[i];
      if (inp.value === '') return;
      w[k] = t === 'number' ? Number(inp.value) : inp.value;
    });
    w.cloud_prices = [...row.querySelectorAll('.wl-price')].map((line) => {
      const pr = {};
      line.querySelectorAll('input').forEach((inp, i) => {
        const [k, , t] = PRICE_FIELDS[i];
        if (inp.value !== '') pr[k] = t === 'number' ? Number(inp.value) : inp.value;
      });
      return pr;
    });
    return w;
  });
  return { el: h('div', null, box, canEdit ? add : null), read, onChange: (fn) => { changed = fn; } };
}

// Who the page serves (the API's two roles): admins plan the fleet, so they edit every input
// and may use the measured utilization (POST /tokenomics refuses "measured" to others, 403).
// Users see the same figures for this pool read-only: the inputs as read-only fields, no
// add/remove/recompute controls. The computation itself changes nothing on the server.
export async function render(ctx) {
  const canEdit = !!(ctx && ctx.me && ctx.me.role === 'admin');
  const out = h('div', { class: 'tok-results', 'aria-live': 'polite' });
  const status = h('p', { class: 'muted' }, 'Edit any input: the figures and the chart follow.');
  const util = h('input', { type: 'range', min: 5, max: 100, step: 5, value: 40, id: 'tok-util', disabled: !canEdit });
  const utilOut = h('output', { for: 'tok-util' }, '40 %');
  const inputs = {};
  const fields = FIELDS.map(([path, label, def, step]) => {
    const id = 'tok-' + path.replace(/\./g, '-');
    inputs[path] = h('input', { id, type: 'number', value: def, step, min: 0, readonly: !canEdit });
    return h('label', { for: id }, h('span', null, label), inputs[path]);
  });
  let timer = 0, seq = 0;
  // Defaults from the real pool: one server per node, its GPUs per server, and each example
  // workload's installed GPUs left to the model (its share of those servers' GPUs).
  let poolNote = null;
  let examples = EXAMPLE_WORKLOADS;
  try {
    const pool = await get('/pool');
    const nodes = (pool && pool.nodes) || [];
    if (nodes.length) {
      const gpus = Math.max(...nodes.map((n) => (n.gpus || []).length)) || 1;
      const models = [...new Set(nodes.flatMap((n) => (n.gpus || []).map((g) => g.model)).filter(Boolean))];
      inputs['servers.0.count'].value = String(nodes.length);
      inputs['servers.0.gpus'].value = String(gpus);
      examples = EXAMPLE_WORKLOADS.map((w) => ({ ...w, installed_gpus: undefined }));
      poolNote = h('p', { class: 'muted', id: 'tok-pool-note' }, `Servers and GPUs per server start from this platform's pool: ${nodes.length} node${nodes.length > 1 ? 's' : ''} with up to ${gpus} GPU${gpus > 1 ? 's' : ''} each`,
        models.length ? ` (${models.join(', ')})` : '', '; each workload\'s installed GPUs default to its share of them.');
    }
  } catch { /* the example figures stand */ }
  const workloads = workloadEditor(examples, canEdit);
  const labels = Object.fromEntries(FIELDS.map(([path, label]) => [path, label]));

  async function recompute() {
    const body = { servers: [{ name: 'server' }], utilization: Number(util.value) / 100 };
    for (const [path] of FIELDS) setPath(body, path, Number(inputs[path].value));
    body.workloads = workloads.read();
    const mine = ++seq;
    status.textContent = 'Computing…';
    try {
      const res = await post('/tokenomics', body);
      if (mine !== seq) return;
      for (const el of Object.values(inputs)) el.removeAttribute('aria-invalid');
      clear(out);
      for (const x of results(res).flat()) if (x) out.append(x);
      status.textContent = 'Up to date.';
    } catch (err) {
      if (mine !== seq) return;
      const path = err.field && err.field.replace(/\[(\d+)\]/g, '.$1');
      const wl = path && /^workloads\.(\d+)\.(?:cloud_prices\.(\d+)\.)?(\w+)$/.exec(path);
      const wlId = wl && (wl[2] !== undefined ? `tok-wl-${wl[1]}-price-${wl[2]}-${wl[3].replace(/_/g, '-')}` : `tok-wl-${wl[1]}-${wl[3].replace(/_/g, '-')}`);
      const el = (path && inputs[path]) || (wlId && document.getElementById(wlId));
      if (el) el.setAttribute('aria-invalid', 'true');
      // the server names the field by its path: say it with the label the page shows
      const label = (path && labels[path]) || (el && el.closest('label') && el.closest('label').querySelector('span').textContent);
      let msg = err.status === 400 && err.field && label ? String(err.message).split(err.field).join(`"${label}"`) : explain(err);
      if (err.field === 'workloads') msg = say('workloadDemand');
      if (speaksApi(msg) || /\w+\[\d+\]/.test(msg)) msg = say('generic', { what: label ? `"${label}"` : 'input' });
      clear(out).append(errorBox(new Error(msg)));
      status.textContent = 'Fix the highlighted input.';
    }
  }
  const schedule = () => { clearTimeout(timer); timer = setTimeout(recompute, 250); };
  util.addEventListener('input', () => { utilOut.textContent = util.value + ' %'; schedule(); });
  for (const el of Object.values(inputs)) el.addEventListener('input', schedule);
  workloads.onChange(schedule);

  const page = h('section', { class: 'page tokenomics-page' },
    h('h1', null, 'Tokenomics'),
    h('p', null, 'What a token costs on our own GPUs at a given utilization, when that beats a cloud API, and what the demand needs. The model and its formulas: docs/tokenomics.md.'),
    canEdit ? null : h('p', { class: 'notice', id: 'tok-readonly' }, 'You see what a token costs on this platform\'s pool under the standard assumptions; only admins change the inputs here. To try your own numbers, run "gpuaas tokenomics" with an input file (docs/tokenomics.md).'),
    h('div', { class: 'tok-layout' },
      h('form', { class: 'card tok-form', onsubmit: (e) => { e.preventDefault(); recompute(); } },
        h('label', { for: 'tok-util' }, h('span', null, 'Utilization (tokens served ÷ capacity)'), util, utilOut),
        fields,
        poolNote,
        h('h2', null, 'Workloads'),
        h('p', { class: 'muted' }, 'Throughput per GPU at the latency target, the demand, and the cloud offers to compare with.'),
        workloads.el,
        canEdit ? h('button', { type: 'submit', class: 'btn primary' }, 'Recompute') : null,
        status),
      out));
  recompute();
  return page;
}
