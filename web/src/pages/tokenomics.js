// Tokenomics: what a token costs on our hardware, when on-prem beats a cloud API, and what
// the demand needs. Every edit recomputes through POST /api/v1/tokenomics (the same model
// as `gpuaas tokenomics`) and redraws the chart. Formulas: docs/tokenomics.md.
import { h, clear, errorBox } from '../dom.js';
import { post, explain } from '../api.js';

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
    h('table', { class: 'table' },
      h('thead', null, h('tr', null, ['Workload', 'Cloud price', '$ / 1M (same request shape)', 'On-prem cheaper above'].map((t) => h('th', null, t)))),
      h('tbody', null, (res.break_even || []).map((b) => h('tr', null,
        h('td', null, b.workload), h('td', null, b.price), h('td', null, money(b.equivalent_price_per_million)),
        h('td', null, b.status === 'reachable' ? pct(b.utilization) : b.status === 'never' ? 'never' : `${pct(b.utilization)} (not reachable at this peak-to-average)`))))),
    (res.sizing || []).length ? [
      h('h2', null, 'Sizing for the demand'),
      h('table', { class: 'table' },
        h('thead', null, h('tr', null, ['Workload', 'GPUs required', 'Installed', 'Utilization', 'Verdict'].map((t) => h('th', null, t)))),
        h('tbody', null, res.sizing.map((z) => h('tr', null,
          h('td', null, z.workload), h('td', null, z.gpus_required), h('td', null, Number(z.gpus_installed).toFixed(1)),
          h('td', null, pct(z.utilization_implied)), h('td', null, h('span', { class: 'badge' }, z.verdict), ' ', h('span', { class: 'muted' }, z.detail)))))),
      h('p', null, 'Servers required: ', (res.fleet.servers_required || []).map((x) => `${x.count} × ${x.name}`).join(', ') || '—',
        ` · ${money(res.fleet.annual_cost_required)} per year · ${money(res.fleet.cost_per_million_required)} per 1M tokens`),
    ] : null,
  ];
}

export async function render() {
  const out = h('div', { class: 'tok-results', 'aria-live': 'polite' });
  const status = h('p', { class: 'muted' }, 'Edit any input: the figures and the chart follow.');
  const util = h('input', { type: 'range', min: 5, max: 100, step: 5, value: 40, id: 'tok-util' });
  const utilOut = h('output', { for: 'tok-util' }, '40 %');
  const inputs = {};
  const fields = FIELDS.map(([path, label, def, step]) => {
    const id = 'tok-' + path.replace(/\./g, '-');
    inputs[path] = h('input', { id, type: 'number', value: def, step, min: 0 });
    return h('label', { for: id }, h('span', null, label), inputs[path]);
  });
  const workloads = h('textarea', { id: 'tok-workloads', rows: 12, spellcheck: 'false' }, JSON.stringify(EXAMPLE_WORKLOADS, null, 2));
  let timer = 0, seq = 0;

  async function recompute() {
    const body = { servers: [{ name: 'server' }], utilization: Number(util.value) / 100 };
    for (const [path] of FIELDS) setPath(body, path, Number(inputs[path].value));
    try {
      body.workloads = JSON.parse(workloads.value);
    } catch (e) {
      clear(out).append(errorBox(new Error('Workloads: not valid JSON (' + e.message + ')')));
      return;
    }
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
      if (path && inputs[path]) inputs[path].setAttribute('aria-invalid', 'true');
      clear(out).append(errorBox(new Error(explain(err))));
      status.textContent = 'Fix the highlighted input.';
    }
  }
  const schedule = () => { clearTimeout(timer); timer = setTimeout(recompute, 250); };
  util.addEventListener('input', () => { utilOut.textContent = util.value + ' %'; schedule(); });
  for (const el of Object.values(inputs)) el.addEventListener('input', schedule);
  workloads.addEventListener('input', schedule);

  const page = h('section', { class: 'page tokenomics-page' },
    h('h1', null, 'Tokenomics'),
    h('p', null, 'What a token costs on our own GPUs at a given utilization, when that beats a cloud API, and what the demand needs. The model and its formulas: docs/tokenomics.md.'),
    h('div', { class: 'tok-layout' },
      h('form', { class: 'card tok-form', onsubmit: (e) => { e.preventDefault(); recompute(); } },
        h('label', { for: 'tok-util' }, h('span', null, 'Utilization (tokens served ÷ capacity)'), util, utilOut),
        fields,
        h('label', { for: 'tok-workloads' }, h('span', null, 'Workloads (JSON: throughput per GPU at the latency target, demand or share, cloud prices)'), workloads),
        h('button', { type: 'submit', class: 'btn primary' }, 'Recompute'),
        status),
      out));
  recompute();
  return page;
}
