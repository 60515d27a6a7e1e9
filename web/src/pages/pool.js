// Pool: the nodes and their GPUs drawn as a picture (MIG slices, whole GPUs, time-sliced
// slots per unit), and every resource with configured vs advertised units.
import { h, errorBox, empty } from '../dom.js';
import { get, gpuResources, gpuLabel, explain } from '../api.js';

// A node's GPUs in a common shape: [{model, memory_gib, whole, slices: [{profile, count}]}].
function nodeGpus(n) {
  return (n.gpus || []).map((g) => {
    let slices = [];
    if (Array.isArray(g.slices)) slices = g.slices.map((x) => ({ profile: x.profile || x.name, count: x.count || 1 }));
    else if (Array.isArray(g.mig)) slices = g.mig.map((x) => ({ profile: x.profile || x.name, count: x.count || 1 }));
    else if (g.mig && typeof g.mig === 'object') slices = Object.entries(g.mig).map(([profile, count]) => ({ profile, count }));
    const whole = g.whole === true || slices.length === 0;
    return { model: g.model || g.product || 'GPU', memory_gib: g.memory_gib, whole, slices: whole ? [] : slices };
  });
}

// Without node details, draw the GPUs the resources imply (slices grouped per resource).
function impliedGpus(gpus) {
  const out = [];
  for (const r of gpus) {
    if (r.kind === 'mig') out.push({ model: 'MIG-partitioned GPU(s)', memory_gib: null, whole: false, slices: [{ profile: r.name.replace(/^.*\/mig-/, ''), count: r.physical }] });
    else for (let i = 0; i < r.physical; i++) out.push({ model: gpuLabel(r), memory_gib: r.memory_gib, whole: true, slices: [] });
  }
  return out;
}

function slotDots(n) {
  return h('span', { class: 'slots', role: 'img', 'aria-label': `${n} time-sliced slot${n > 1 ? 's' : ''}` },
    Array.from({ length: n }, () => h('i', { class: 'slot' })));
}

function gpuPicture(g, idx, byName) {
  if (g.whole) {
    const r = byName('nvidia.com/gpu') || {};
    const spu = r.slots_per_unit || 1;
    return h('figure', { class: 'gpu whole' },
      h('figcaption', null, h('strong', null, `GPU ${idx}`), ` · ${g.model}${g.memory_gib ? ' · ' + g.memory_gib + ' GiB' : ''}`),
      h('div', { class: 'gpu-body' },
        h('div', { class: 'unit whole-unit' }, h('span', { class: 'unit-name' }, 'Whole GPU'),
          h('span', { class: 'muted' }, `${spu} slot${spu > 1 ? 's' : ''} (time-sliced)`), slotDots(spu))));
  }
  const units = [];
  for (const sl of g.slices) {
    const r = byName('nvidia.com/mig-' + sl.profile) || {};
    const spu = r.slots_per_unit || 1;
    for (let k = 0; k < sl.count; k++) {
      units.push(h('div', { class: 'unit slice' }, h('span', { class: 'unit-name' }, `MIG ${sl.profile}`),
        h('span', { class: 'muted' }, `${r.memory_gib ? r.memory_gib + ' GiB · ' : ''}${spu} slot${spu > 1 ? 's' : ''}`), slotDots(spu)));
    }
  }
  const total = g.slices.reduce((a, x) => a + x.count, 0);
  return h('figure', { class: 'gpu mig' },
    h('figcaption', null, h('strong', null, `GPU ${idx}`), ` · ${g.model}${g.memory_gib ? ' · ' + g.memory_gib + ' GiB' : ''} · MIG, ${total} slice${total > 1 ? 's' : ''}`),
    h('div', { class: 'gpu-body' }, units));
}

export async function render() {
  const root = h('section', { class: 'page pool-page' }, h('h1', null, 'Pool'));
  let pool;
  try {
    pool = await get('/pool');
  } catch (e) {
    root.append(errorBox({ message: explain(e) }));
    return root;
  }
  // Advertised units come inline (resource.advertised) or as a map {name: units}.
  const advMap = pool.advertised && typeof pool.advertised === 'object' ? pool.advertised : {};
  const res = (pool.resources || []).map((r) => (typeof r.advertised !== 'number' && typeof advMap[r.name] === 'number' ? { ...r, advertised: advMap[r.name] } : r));
  const gpus = gpuResources(pool);
  const byName = (n) => res.find((r) => r.name === n);
  if (!res.length) {
    root.append(empty('The pool is empty: no nodes are configured.'));
    return root;
  }
  root.append(h('p', { class: 'muted' }, 'What you can book. A whole GPU or a MIG slice is one bookable unit; time-slicing lets several containers share each unit (its slots).'));

  const nodes = Array.isArray(pool.nodes) && pool.nodes.length ? pool.nodes : null;
  const nodeCards = nodes
    ? nodes.map((n) => h('div', { class: 'card node' },
      h('h2', null, `Node ${n.name || ''}`),
      h('p', { class: 'muted' }, [n.cpu != null ? `${n.cpu} cores` : null, n.memory_gib != null ? `${n.memory_gib} GiB RAM` : null, n.storage_gib != null ? `${n.storage_gib} GiB storage` : null].filter(Boolean).join(' · ')),
      h('div', { class: 'gpus' }, nodeGpus(n).map((g, i) => gpuPicture(g, i, byName)))))
    : [h('div', { class: 'card node' }, h('h2', null, 'GPUs'), h('div', { class: 'gpus' }, impliedGpus(gpus).map((g, i) => gpuPicture(g, i, byName))))];
  root.append(h('div', { class: 'nodes' }, nodeCards));

  const hasAdv = res.some((r) => typeof r.advertised === 'number');
  const unitName = (r) => ({ gpu: 'GPUs', mig: 'slices', cpu: 'cores', memory: 'GiB', storage: 'GiB' }[r.kind] || 'units');
  root.append(h('div', { class: 'card' }, h('h2', null, 'Resources'),
    h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Table, scrolls sideways' }, h('table', { class: 'table' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Resource'), h('th', { scope: 'col' }, 'Configured'),
        hasAdv ? h('th', { scope: 'col' }, 'Advertised by the cluster') : null,
        h('th', { scope: 'col' }, 'Slots per unit'), h('th', { scope: 'col' }, 'Schedulable slots'), h('th', { scope: 'col' }, 'Memory per unit'))),
      h('tbody', null, res.map((r) => {
        const gpu = r.kind === 'gpu' || r.kind === 'mig';
        const adv = typeof r.advertised === 'number' ? (r.advertised < 0 ? 'not observed yet' : `${r.advertised} ${unitName(r)}`) : null;
        const drift = typeof r.advertised === 'number' && r.advertised >= 0 && r.advertised !== r.physical;
        return h('tr', { class: drift ? 'drift' : null },
          h('th', { scope: 'row' }, gpu ? gpuLabel(r) : r.name, gpu ? h('div', { class: 'muted small' }, h('code', null, r.name)) : null),
          h('td', null, `${r.physical} ${unitName(r)}`),
          hasAdv ? h('td', null, adv ?? '–', drift ? h('span', { class: 'badge warn' }, 'differs') : null) : null,
          h('td', null, gpu ? r.slots_per_unit : '–'),
          h('td', null, gpu ? r.slots : '–'),
          h('td', null, gpu && r.memory_gib ? r.memory_gib + ' GiB' : '–'));
      }))))));

  // Admins only (the server sends the lists to admins): bookings admitted before the cluster
  // advertised less, which cannot all run as booked. They are kept; someone must move them.
  const flagged = res.filter((r) => Array.isArray(r.beyond_advertised) && r.beyond_advertised.length);
  if (flagged.length) {
    root.append(h('div', { class: 'card warn', role: 'alert', 'data-test': 'beyond-advertised' },
      h('h2', null, 'Bookings beyond what the cluster advertises'),
      h('p', null, 'The cluster now advertises fewer units than configured. These bookings were admitted before and cannot all run as booked; move or cancel some of them (Admin → bookings).'),
      h('ul', null, flagged.map((r) => h('li', null, `${gpuLabel(r)}: `,
        r.beyond_advertised.map((id, i) => [i ? ', ' : '', h('code', null, `#${id}`)]))))));
  }
  return root;
}
