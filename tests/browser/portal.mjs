// End-to-end tests of the portal in headless Chromium against a running gpuaas server
// (GPUAAS_URL; started by tests/scripts/web-test.sh on a temporary SQLite database).
// Every page gets a screenshot under $GPUAAS_TEST_OUTPUT/screenshots. Any console error,
// uncaught exception or CSP violation fails the test that caused it; the only tolerated
// console lines are Chromium's network notes for answers a test provokes on purpose
// (401 on a wrong password or the no-token /me probe, 409 on a conflicting booking, 400 on a
// deliberately invalid tokenomics input).
import { createRequire } from 'node:module';
import { apiClient, assert, testRunner } from '../lib/browser.mjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(path.join(root, 'web/package.json'));
const { chromium } = require('playwright-core');

const BASE = process.env.GPUAAS_URL;
const ADMIN_PW = process.env.GPUAAS_ADMIN_PASSWORD;
const DB = process.env.GPUAAS_TEST_DB;
const OUT = path.join(process.env.GPUAAS_TEST_OUTPUT || path.join(root, 'test-output'), 'screenshots');
if (!BASE || !ADMIN_PW) {
  console.log('portal: GPUAAS_URL and GPUAAS_ADMIN_PASSWORD must be set (run tests/scripts/web-test.sh)');
  console.log('RESULT passed=0 failed=1');
  process.exit(1);
}
fs.mkdirSync(OUT, { recursive: true });
const TZ = 'Europe/Berlin'; // the node process runs with TZ=Europe/Berlin too
const SIM_URL = process.env.GPUAAS_SIM_URL;
const SIM_DB = process.env.GPUAAS_SIM_DB;
// The two sizes every page is checked and photographed at, each in its own language and time
// zone: a desktop in New York in US English (12-hour clock) and a touch phone in Tokyo in German.
const SIZES = {
  desktop: { viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'America/New_York' },
  phone: { viewport: { width: 390, height: 844 }, locale: 'de-DE', timezoneId: 'Asia/Tokyo', hasTouch: true, isMobile: true, deviceScaleFactor: 2 },
};
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const ALLOWED_CONSOLE = /Failed to load resource: the server responded with a status of (400|401|409)\b/;

const consoleErrors = [];
const { test, finish } = testRunner(consoleErrors);
const { apiCall, apiLogin } = apiClient(BASE);




// `days` from today at hour:00 local time (of the node process: TZ above).
function localAt(days, hour) {
  const d = new Date();
  d.setDate(d.getDate() + days);
  d.setHours(hour, 0, 0, 0);
  return { date: d };
}


async function newPage(browser, label, viewport = { width: 1280, height: 800 }, opts = {}) {
  const ctx = await browser.newContext({ viewport, timezoneId: TZ, locale: 'en-GB', ...opts });
  const page = await ctx.newPage();
  page.setDefaultTimeout(10000);
  page.on('console', (m) => {
    if (m.type() === 'error' && !ALLOWED_CONSOLE.test(m.text())) consoleErrors.push(`[${label}] ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`[${label}] uncaught: ${e.message}`));
  return page;
}

async function shot(page, name) {
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(OUT, name + '.png'), fullPage: true });
}

async function signIn(page, username, password) {
  await page.goto(BASE + '/');
  await page.waitForSelector('#username');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.press('#password', 'Enter');
  await page.waitForSelector('.cal-grid');
}

function sql(query) {
  return execFileSync('sqlite3', ['-cmd', '.timeout 5000', DB, query], { encoding: 'utf8' }).trim();
}


// A page at one of SIZES (its viewport, language, time zone and touch).
async function sizedPage(browser, label, size) {
  const o = SIZES[size];
  return newPage(browser, `${label}-${size}`, o.viewport, {
    locale: o.locale, timezoneId: o.timezoneId, hasTouch: !!o.hasTouch, isMobile: !!o.isMobile, deviceScaleFactor: o.deviceScaleFactor || 1,
  });
}

// The text a person types into a date-and-time pair (web/src/when.js) for the instant `d`,
// built from the format the form shows (its placeholders: "MM/DD/YYYY", "DD.MM.YYYY",
// "hh:mm AM/PM", "HH:MM") and the page's time zone: what a person reading the hint would type.
async function whenText(page, id, d) {
  const f = await page.evaluate((i) => ({
    date: document.getElementById(i).placeholder, time: document.getElementById(i + '-time').placeholder,
    tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
  }), id);
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: f.tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .formatToParts(d).map((x) => [x.type, x.value]));
  assert(/YYYY/.test(f.date) && /DD/.test(f.date) && /MM/.test(f.date), 'no date format shown: ' + f.date);
  const date = f.date.replace('YYYY', p.year).replace('DD', p.day).replace('MM', p.month);
  let time;
  if (/^hh:mm /.test(f.time)) {
    const [am, pm] = f.time.slice(6).split('/');
    const hh = Number(p.hour);
    time = `${hh % 12 || 12}:${p.minute} ${hh < 12 ? am : pm}`;
  } else {
    assert(f.time === 'HH:MM', 'no time format shown: ' + f.time);
    time = `${p.hour}:${p.minute}`;
  }
  return { date, time };
}
async function fillWhen(page, id, d) {
  const t = await whenText(page, id, d);
  await page.fill('#' + id, t.date);
  await page.fill('#' + id + '-time', t.time);
}

// axe-core over the whole page: no serious or critical violation.
async function axeCheck(page, name) {
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert(!bad.length, `${name}: accessibility violations ${JSON.stringify(bad)}`);
  return found.length;
}

// Every message shown to people that a test saw, checked at the end for API field names.
const seen = [];
async function collectMessages(page, where) {
  const texts = await page.evaluate(() => [...document.querySelectorAll(
    '.error-box, .warn, .toast, .form-error, [role=alert], .notice, .end-banner, .sim-banner, #fit, #fs-results, dialog[open]')]
    .map((e) => e.innerText.trim()).filter(Boolean));
  for (const t of texts) seen.push({ where, text: t });
}

// Field and parameter names of the OpenAPI document that no plain sentence would use (those
// with an underscore), and the configuration sections.
async function apiFieldNames() {
  const doc = (await apiCall('GET', '/openapi.json')).body;
  const names = new Set();
  const walk = (o) => {
    if (!o || typeof o !== 'object') return;
    if (o.properties && typeof o.properties === 'object') for (const k of Object.keys(o.properties)) names.add(k);
    if (Array.isArray(o.parameters)) for (const p of o.parameters) if (p && p.name) names.add(p.name);
    for (const v of Object.values(o)) walk(v);
  };
  walk(doc);
  return [...names].filter((n) => n.includes('_'));
}
function namesIn(text, names) {
  const hits = names.filter((n) => new RegExp(`(^|[^A-Za-z0-9_])${n}([^A-Za-z0-9_]|$)`).test(text));
  if (/\b(session|cluster|reconciler|server)\.[a-z_]+/.test(text)) hits.push('configuration key');
  return hits;
}

// Sign in through the form and wait for the calendar.
async function signInAt(page, base, username, password) {
  await page.goto(base + '/');
  await page.waitForSelector('#username');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.press('#password', 'Enter');
  await page.waitForSelector('.cal-grid');
}

function sqlAt(db, query) {
  return execFileSync('sqlite3', ['-cmd', '.timeout 5000', db, query], { encoding: 'utf8' }).trim();
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
});

const ALICE = { username: 'alice', password: 'alice-password-1' };
const BOB = { username: 'bob', password: 'bob-password-12' };
let adminTok;
const slot = { start: localAt(2, 10), end: localAt(2, 12) };
let firstId;
let secondId;

try {
  await test('setup: admin signs in through the API and creates two users', async () => {
    adminTok = await apiLogin('admin', ADMIN_PW);
    for (const u of [ALICE, BOB]) {
      const r = await apiCall('POST', '/users', { ...u, role: 'user' }, adminTok);
      assert(r.status === 201, `create ${u.username}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    }
  });

  const page = await newPage(browser, 'alice');

  await test('sign in: wrong password is explained, right one (keyboard only) opens the calendar', async () => {
    await page.goto(BASE + '/');
    await page.waitForSelector('#username');
    await shot(page, '01-signin');
    await page.fill('#username', ALICE.username);
    await page.fill('#password', 'wrong-password');
    await page.press('#password', 'Enter');
    await page.waitForSelector('.form-error:has-text("Wrong username or password")');
    await page.fill('#password', ALICE.password);
    await page.keyboard.press('Enter');
    await page.waitForSelector('.cal-grid');
    const lanes = await page.locator('.lane-track[data-resource]').count();
    assert(lanes === 2, `expected 2 GPU lanes (whole GPU + MIG 1g.24gb), got ${lanes}`);
    assert(await page.locator('nav a:has-text("Admin")').count() === 0, 'a user sees the Admin nav entry');
    assert(await page.evaluate(() => !!sessionStorage.getItem('gpuaas.token')), 'token is not in sessionStorage');
    await shot(page, '02-calendar-week');
  });

  await test('book through the form and see it on the calendar', async () => {
    await page.click('#book-btn');
    await page.waitForSelector('#gpu_type');
    await page.selectOption('#gpu_type', 'nvidia.com/gpu');
    await fillWhen(page, 'starts_at', slot.start.date);
    await fillWhen(page, 'ends_at', slot.end.date);
    await page.fill('#purpose', 'browser test booking');
    await page.waitForSelector('#fit-ok');
    const modeText = await page.locator('.radio-card').first().innerText();
    assert(/4 GPU containers at once/.test(modeText), 'mode sentence does not give 1 × 4 slots: ' + modeText);
    await shot(page, '03-book-form');
    await page.click('#submit-booking');
    const block = page.locator('.booking.mine').first();
    await block.waitFor();
    firstId = await block.getAttribute('data-id');
    assert(firstId, 'my booking on the calendar has no id');
    const lane = await block.evaluate((el) => el.closest('.lane-track').dataset.resource);
    assert(lane === 'nvidia.com/gpu', 'booking drawn in lane ' + lane);
    const text = await block.innerText();
    assert(/approved/i.test(text), 'my booking is not labelled with its state: ' + text);
    const r = await apiCall('GET', '/reservations/' + firstId, undefined, await apiLogin(ALICE.username, ALICE.password));
    assert(r.status === 200 && Date.parse(r.body.starts_at) === slot.start.date.getTime(), 'stored start differs: ' + JSON.stringify(r.body));
    await shot(page, '04-calendar-with-booking');
  });

  await test('a conflicting booking shows the next available window, and booking it works', async () => {
    await page.goto(BASE + '/#/book?gpu_type=nvidia.com%2Fgpu');
    await page.waitForSelector('#gpu_type');
    await fillWhen(page, 'starts_at', slot.start.date);
    await fillWhen(page, 'ends_at', slot.end.date);
    await page.waitForSelector('#fit-no');
    await page.click('#submit-booking');
    await page.waitForSelector('#conflict #book-next');
    const txt = await page.locator('#conflict').innerText();
    assert(/Next available/.test(txt), 'no next available window offered: ' + txt);
    await shot(page, '05-book-conflict');
    await page.click('#book-next');
    await page.waitForSelector('.booking.mine.highlight');
    secondId = await page.locator('.booking.mine.highlight').getAttribute('data-id');
    assert(secondId && secondId !== firstId, 'second booking not highlighted');
    const r = await apiCall('GET', '/reservations/' + secondId, undefined, await apiLogin(ALICE.username, ALICE.password));
    assert(r.status === 200, 'second booking not readable');
    assert(Date.parse(r.body.starts_at) >= slot.end.date.getTime(), 'next window overlaps the first: ' + r.body.starts_at);
    assert(await page.locator('.booking.mine').count() >= 2, 'both bookings should be on the calendar');
  });

  await test('day view shows the booking in its lane', async () => {
    await page.goto(BASE + `/#/calendar?view=day&date=${encodeURIComponent(slot.start.date.toISOString())}`);
    await page.waitForSelector('.cal-grid .booking.mine');
    await shot(page, '06-calendar-day');
  });

  await test('cancel a booking with confirmation', async () => {
    await page.goto(BASE + '/#/sessions');
    const card = page.locator(`#res-${secondId}`);
    await card.waitFor();
    await card.locator('button:has-text("Cancel booking")').click();
    await page.waitForSelector('dialog[open]');
    await shot(page, '07-sessions-cancel-confirm');
    await page.click('dialog[open] button[value=ok]');
    await page.waitForSelector(`#res-${secondId} .badge:has-text("CANCELED")`, { state: 'attached' });
    const r = await apiCall('GET', '/reservations/' + secondId, undefined, await apiLogin(ALICE.username, ALICE.password));
    assert(r.body.state === 'CANCELED', 'state after cancel: ' + r.body.state);
  });

  await test('an ACTIVE booking shows its workspace link and namespace', async () => {
    assert(DB, 'GPUAAS_TEST_DB is not set');
    const cols = sql("SELECT name FROM pragma_table_info('reservations')").split('\n');
    const col = (re) => cols.find((c) => re.test(c));
    const ns = col(/namespace/), url = col(/url/), phase = col(/phase/);
    assert(ns && url, 'reservations table has no namespace/url columns: ' + cols.join(','));
    const stateType = sql(`SELECT typeof(state) FROM reservations WHERE id = ${Number(firstId)}`);
    const active = stateType === 'integer' ? '1' : "'ACTIVE'";
    const link = `https://gpuaas-alice-${firstId}.apps.sno.example.com/`;
    sql(`UPDATE reservations SET state = ${active}, ${ns} = 'gpuaas-alice-${firstId}', ${url} = '${link}'` +
      (phase ? `, ${phase} = 'Ready'` : '') + ` WHERE id = ${Number(firstId)}`);
    await page.goto(BASE + `/#/sessions?id=${firstId}`);
    const a = page.locator(`#res-${firstId} a.workspace`);
    await a.waitFor();
    assert((await a.getAttribute('href')) === link, 'workspace link differs');
    const card = await page.locator(`#res-${firstId}`).innerText();
    assert(card.includes(`gpuaas-alice-${firstId}`), 'namespace not shown');
    assert(/ACTIVE/.test(card), 'state not shown');
    assert(await page.locator(`#res-${firstId} button:has-text("Release now")`).count() === 1, 'no release action on an ACTIVE session');
    await shot(page, '08-sessions-active');
  });

  await test('an API token can be created (shown once) and revoked', async () => {
    await page.goto(BASE + '/#/sessions');
    await page.waitForSelector('#token-form');
    await page.fill('#token-name', 'browser-test');
    await page.click('#token-form button[type=submit]');
    const secret = await page.locator('#tokens code.secret').innerText();
    const r = await apiCall('GET', '/me', undefined, secret.trim());
    assert(r.status === 200 && r.body.username === ALICE.username, 'new token does not authenticate: HTTP ' + r.status);
    const row = page.locator('#tokens-table tr:has-text("browser-test")');
    await row.waitFor();
    await row.locator('button:has-text("Revoke")').click();
    await page.click('dialog[open] button[value=ok]');
    await row.waitFor({ state: 'detached' });
    const after = await apiCall('GET', '/me', undefined, secret.trim());
    assert(after.status === 401, 'revoked token still works: HTTP ' + after.status);
    // browser sign-ins are listed apart, this browser's named and not revocable from here
    assert(!/\blogin\b/.test(await page.locator('#tokens').locator('#tokens-table').innerText().catch(() => '')), 'sign-ins listed among the API tokens');
    await page.click('#browser-sessions summary');
    const mine = page.locator('#browser-sessions li[data-this="true"]');
    assert(await mine.count() === 1, 'this browser\'s sign-in is not named');
    assert(/this browser/.test(await mine.innerText()) && await mine.locator('button').count() === 0, 'this browser can sign itself out from the list');
    assert(await page.locator('#browser-sessions li:not([data-this]) button:has-text("Sign out there")').count() >= 1, 'other sign-ins cannot be ended');
  });

  await test('pool page draws the MIG GPU as four slices and the whole GPU with its slots', async () => {
    await page.goto(BASE + '/#/pool');
    await page.waitForSelector('.gpu');
    const slices = await page.locator('.gpu.mig .unit.slice').count();
    const whole = await page.locator('.gpu.whole').count();
    assert(slices === 4, 'MIG slices drawn: ' + slices);
    assert(whole === 1, 'whole GPUs drawn: ' + whole);
    const dots = await page.locator('.gpu.whole .slot').count();
    assert(dots === 4, 'time-sliced slots on the whole GPU: ' + dots);
    await shot(page, '09-pool');
  });

  await test('tokenomics (admin) computes and redraws the chart while inputs change', async () => {
    // admins plan the fleet: they edit (a user's read-only view is the next test)
    const page = await newPage(browser, 'tok-admin');
    await signIn(page, 'admin', ADMIN_PW);
    await page.goto(BASE + '/#/tokenomics');
    const cpm = page.locator('[data-testid="tok-cpm"]');
    await cpm.waitFor();
    const first = await cpm.innerText();
    assert(/^\$\d/.test(first), 'cost per million shown: ' + first);
    assert(await page.locator('svg.tok-chart polyline.series').count() === 3, 'one cost curve per workload');
    assert(await page.locator('svg.tok-chart circle.break-even').count() >= 1, 'break-even points marked');
    await page.locator('#tok-util').fill('80');
    await page.waitForFunction((old) => {
      const el = document.querySelector('[data-testid="tok-cpm"]');
      return el && el.textContent !== old;
    }, first);
    const second = await cpm.innerText();
    const a = Number(first.replace(/[$,]/g, '')), b = Number(second.replace(/[$,]/g, ''));
    assert(b < a * 0.6 && b > a * 0.4, `doubling utilization roughly halves the cost: ${first} -> ${second}`);
    await page.locator('#tok-servers-0-capex').fill('-5');
    await page.waitForSelector('#tok-servers-0-capex[aria-invalid="true"]');
    const refusal = await page.locator('.tok-results .error-box').innerText();
    assert(/Capex per server/.test(refusal) && !/servers\[0\]|capex\b/.test(refusal.replace(/Capex/g, '')), 'the refusal names the field by its path: ' + refusal);
    await collectMessages(page, 'tokenomics invalid');
    await shot(page, '19-tokenomics-invalid');
    await page.locator('#tok-servers-0-capex').fill('45000');
    await page.waitForSelector('[data-testid="tok-cpm"]');
    // the defaults come from the pool (one node with two GPUs), the workloads are rows
    assert((await page.inputValue('#tok-servers-0-count')) === '1' && (await page.inputValue('#tok-servers-0-gpus')) === '2', 'servers not from the pool');
    assert(await page.locator('#tok-pool-note').count() === 1, 'no note that the figures come from the pool');
    assert(await page.locator('.wl-row').count() === 3, 'the example workloads are not rows');
    const before = await cpm.innerText();
    await page.click('#tok-add-workload');
    await page.waitForFunction(() => document.querySelectorAll('svg.tok-chart polyline.series').length === 4);
    await page.locator('.wl-row').nth(3).locator('button:has-text("Remove workload")').click();
    await page.waitForFunction(() => document.querySelectorAll('svg.tok-chart polyline.series').length === 3);
    await page.fill('#tok-wl-0-tokens-per-second-per-gpu', '-1');
    await page.waitForSelector('#tok-wl-0-tokens-per-second-per-gpu[aria-invalid="true"]');
    await collectMessages(page, 'tokenomics workload invalid');
    await page.fill('#tok-wl-0-tokens-per-second-per-gpu', '4588.8');
    await page.waitForFunction((old) => document.querySelector('[data-testid="tok-cpm"]') && document.querySelector('[data-testid="tok-cpm"]').textContent === old, before);
    // installed GPUs default to each workload's share of the pool's servers (left to the model)
    assert((await page.inputValue('#tok-wl-0-installed-gpus')) === '', 'installed GPUs not left to the pool-derived fleet');
    assert(/NVIDIA|RTX|H100|A100|GPU/i.test(await page.locator('#tok-pool-note').innerText()), 'the pool note does not name the GPU model');
    await shot(page, '18-tokenomics');
    await page.context().close();
  });

  await test('tokenomics for a user: in the navigation, the same figures, read-only', async () => {
    for (const size of ['desktop', 'phone']) {
      const pg = await sizedPage(browser, 'tok-user', size);
      await signIn(pg, ALICE.username, ALICE.password);
      if (size === 'phone') await pg.click('#menu-toggle');
      await pg.click('nav a:has-text("Tokenomics")');
      const cpm = pg.locator('[data-testid="tok-cpm"]');
      await cpm.waitFor();
      assert(/^\$\d/.test(await cpm.innerText()), 'a user does not see the cost per million');
      await pg.waitForSelector('#tok-readonly');
      assert(await pg.locator('.tok-form button').count() === 0, 'a user gets edit buttons: ' + await pg.locator('.tok-form button').allInnerTexts());
      const editable = await pg.locator('.tok-form input:not([readonly]):not([disabled])').count();
      assert(editable === 0, `${editable} inputs a user can edit`);
      const before = await pg.inputValue('#tok-servers-0-capex');
      await pg.locator('#tok-servers-0-capex').click();
      await pg.keyboard.type('99');
      assert((await pg.inputValue('#tok-servers-0-capex')) === before, 'a read-only input changed');
      assert((await pg.inputValue('#tok-servers-0-count')) === '1' && (await pg.inputValue('#tok-servers-0-gpus')) === '2', 'a user\'s figures are not from the pool');
      await axeCheck(pg, 'tokenomics read-only ' + size);
      await shot(pg, `32-tokenomics-readonly-${size}`);
      await pg.context().close();
    }
    // the API agrees: the measured utilization (the platform's booked share) is for admins
    const tok = await apiLogin(ALICE.username, ALICE.password);
    const body = { servers: [{ name: 's', count: 1, capex: 45000, gpus: 2, power_load_kw: 1.8, power_idle_kw: 0.5 }],
      workloads: [{ name: 'w', tokens_per_second_per_gpu: 1072.2, share: 1 }], utilization: 'measured' };
    const r = await apiCall('POST', '/tokenomics', body, tok);
    assert(r.status === 403, 'a user got the measured utilization: HTTP ' + r.status + ' ' + JSON.stringify(r.body));
    const ra = await apiCall('POST', '/tokenomics', body, adminTok);
    assert(ra.status !== 403, 'the same request is refused to an admin too: the refusal is not about the role');
  });

  await test('a non-admin cannot see the admin page or other users\' details', async () => {
    const bob = await newPage(browser, 'bob');
    await signIn(bob, BOB.username, BOB.password);
    assert(await bob.locator('nav a:has-text("Admin")').count() === 0, 'bob sees the Admin nav entry');
    await bob.goto(BASE + `/#/calendar?date=${encodeURIComponent(slot.start.date.toISOString())}`);
    await bob.waitForSelector('.booking.other');
    const other = bob.locator('.booking.other').first();
    const text = (await other.innerText()) + ' ' + (await other.getAttribute('title'));
    assert(!/alice|browser test booking/i.test(text), 'alice\'s details leak to bob: ' + text);
    assert(await bob.locator('.booking.mine').count() === 0, 'alice\'s booking shown as bob\'s');
    await shot(bob, '10-calendar-other-user');
    await bob.goto(BASE + '/#/admin');
    await bob.waitForSelector('h1:has-text("Admins only")');
    await shot(bob, '11-admin-denied');
    await bob.goto(BASE + '/#/sessions');
    await bob.waitForSelector('.empty');
    const bobTok = await apiLogin(BOB.username, BOB.password);
    const r = await apiCall('GET', '/reservations/' + firstId, undefined, bobTok);
    assert(r.status === 404, 'bob reads alice\'s reservation: HTTP ' + r.status);
    const users = await apiCall('GET', '/users', undefined, bobTok);
    assert(users.status === 403, 'bob lists users: HTTP ' + users.status);
    await bob.click('#signout');
    await bob.waitForSelector('#username');
    assert(await bob.evaluate(() => !sessionStorage.getItem('gpuaas.token')), 'token kept after sign out');
    await bob.context().close();
  });

  await test('admin: users, all bookings, audit log and utilization', async () => {
    const adm = await newPage(browser, 'admin');
    await signIn(adm, 'admin', ADMIN_PW);
    await adm.click('nav a:has-text("Admin")');
    await adm.waitForSelector('#users-table tr[data-user="alice"]');
    await adm.fill('#new-username', 'carol');
    await adm.click('#add-user button[type=submit]');
    await adm.waitForSelector('#users-table tr[data-user="carol"]');
    await adm.locator('#users-table tr[data-user="carol"] button:has-text("Disable")').click();
    await adm.click('dialog[open] button[value=ok]');
    await adm.waitForSelector('#users-table tr[data-user="carol"] .badge:has-text("disabled")');
    await shot(adm, '12-admin-users');
    await adm.click('a.tab:has-text("All bookings")');
    await adm.waitForSelector('#bookings-table');
    const rows = await adm.locator('#bookings-table tbody').innerText();
    assert(/alice/.test(rows), 'alice\'s bookings are not listed for the admin');
    await adm.selectOption('#f-state', 'CANCELED');
    await adm.click('#booking-filters button[type=submit]');
    await adm.waitForFunction(() => {
      const rs = [...document.querySelectorAll('#bookings-table tbody tr')];
      return rs.length > 0 && rs.every((r) => r.innerText.includes('CANCELED'));
    });
    await shot(adm, '13-admin-bookings');
    await adm.click('a.tab:has-text("Audit log")');
    await adm.waitForSelector('#audit-table tbody tr');
    await shot(adm, '14-admin-audit');
    await adm.click('a.tab:has-text("Utilization")');
    await adm.waitForSelector('#util-bars .bar-row');
    await adm.waitForSelector('svg.chart rect', { state: 'attached' });
    await shot(adm, '15-admin-utilization');
    await adm.context().close();
  });

  await test('narrow window: calendar and booking form fit without page-wide horizontal scrolling', async () => {
    const narrow = await newPage(browser, 'narrow', { width: 720, height: 800 });
    await signIn(narrow, ALICE.username, ALICE.password);
    const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, 'page overflows by ' + overflow + 'px');
    await shot(narrow, '16-narrow-calendar');
    await narrow.click('#book-btn');
    await narrow.waitForSelector('#gpu_type');
    const overflow2 = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow2 <= 0, 'booking form overflows by ' + overflow2 + 'px');
    await shot(narrow, '17-narrow-book');
    await narrow.context().close();
  });

  await test('drag across a free area opens the form with that window', async () => {
    await page.goto(BASE + `/#/calendar?view=day&date=${encodeURIComponent(localAt(3, 0).date.toISOString())}`);
    const lane = page.locator('.lane-track[data-resource="nvidia.com/mig-1g.24gb"]');
    await lane.waitFor();
    const box = await lane.boundingBox();
    const x = (h) => box.x + (box.width * h) / 24;
    await page.mouse.move(x(9.1), box.y + 10);
    await page.mouse.down();
    await page.mouse.move(x(10.5), box.y + 10, { steps: 5 });
    await page.mouse.move(x(11.9), box.y + 10, { steps: 5 });
    await page.mouse.up();
    await page.waitForSelector('#gpu_type');
    assert((await page.inputValue('#gpu_type')) === 'nvidia.com/mig-1g.24gb', 'lane type not carried over');
    const s = [await page.inputValue('#starts_at'), await page.inputValue('#starts_at-time')];
    const e = [await page.inputValue('#ends_at'), await page.inputValue('#ends_at-time')];
    const ws = await whenText(page, 'starts_at', localAt(3, 9).date), we = await whenText(page, 'ends_at', localAt(3, 12).date);
    // the form writes 09:00 as "09:00" where a person may type "9:00": compare as numbers
    const norm = (x) => x.replace(/\b0(\d)/g, '$1');
    assert(norm(s.join(' ')) === norm(`${ws.date} ${ws.time}`) && norm(e.join(' ')) === norm(`${we.date} ${we.time}`), `window ${s} – ${e}`);
  });

  await test('pool page: admins see the bookings beyond what the cluster advertises, users do not', async () => {
    const aliceTok = await apiLogin(ALICE.username, ALICE.password);
    const w = { starts_at: localAt(5, 10).date.toISOString(), ends_at: localAt(5, 11).date.toISOString() };
    const ids = [];
    for (let i = 0; i < 2; i++) {
      const r = await apiCall('POST', '/reservations', { gpu_type: 'nvidia.com/mig-1g.24gb', gpu_count: 2, ...w }, aliceTok);
      assert(r.status === 201, `booking ${i}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      ids.push(r.body.id);
    }
    // What the reconciler publishes when a node advertises 3 of the 4 configured slices.
    const doc = JSON.stringify({ version: 1, resources: [{ name: 'nvidia.com/mig-1g.24gb', advertised: 3 }] });
    sql(`INSERT INTO kv (key, value, updated_at) VALUES ('advertised', '${doc}', strftime('%s','now')) ` +
      `ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
    try {
      const adm = await newPage(browser, 'admin-pool');
      await signIn(adm, 'admin', ADMIN_PW);
      await adm.goto(BASE + '/#/pool');
      const box = adm.locator('[data-test="beyond-advertised"]');
      await box.waitFor();
      const text = await box.innerText();
      for (const id of ids) assert(text.includes(`#${id}`), `booking #${id} not flagged: ${text}`);
      assert(await adm.locator('tr.drift').count() >= 1, 'the drifting resource is not marked');
      await shot(adm, '18-pool-beyond-advertised');
      await adm.context().close();
      await page.goto(BASE + '/#/pool');
      await page.waitForSelector('.gpu');
      assert(await page.locator('[data-test="beyond-advertised"]').count() === 0, 'a user sees the flagged bookings');
    } finally {
      sql("DELETE FROM kv WHERE key = 'advertised'");
      for (const id of ids) await apiCall('POST', `/reservations/${id}/cancel`, undefined, aliceTok);
    }
  });

  // ---- issue 16: the portal for people ----

  await test('the calendar opens at now, at both sizes, in two languages and time zones', async () => {
    for (const size of ['desktop', 'phone']) {
      const pg = await sizedPage(browser, 'now', size);
      await signIn(pg, ALICE.username, ALICE.password);
      const today = await pg.evaluate(() => new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' }).format(new Date()));
      const label = await pg.locator('#range-label').innerText();
      assert(label.startsWith(today), `${size}: the range starts at "${label}", not today "${today}"`);
      // the now line is inside the visible part of the scrolled grid, in its left half
      const now = await pg.locator('.lane-track[data-resource] .nowline').first().boundingBox();
      const view = await pg.locator('#cal-scroll').boundingBox();
      const label0 = await pg.locator('.cal-row .lane-label').nth(1).boundingBox();
      assert(now && now.x >= label0.x + label0.width - 1 && now.x <= view.x + view.width / 2 + 60,
        `${size}: the now line at x=${now && now.x} is not near the left of the visible grid (${JSON.stringify(view)})`);
      const overflow = await pg.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 0, `${size}: the page overflows by ${overflow}px`);
      await collectMessages(pg, 'calendar ' + size);
      await pg.context().close();
    }
  });

  await test('free units are readable as numbers on the grid', async () => {
    const tok = await apiLogin(ALICE.username, ALICE.password);
    const w = { starts_at: localAt(6, 9).date.toISOString(), ends_at: localAt(6, 11).date.toISOString() };
    const r = await apiCall('POST', '/reservations', { gpu_type: 'nvidia.com/mig-1g.24gb', gpu_count: 1, ...w }, tok);
    assert(r.status === 201, 'booking: HTTP ' + r.status);
    try {
      await page.goto(BASE + `/#/calendar?date=${encodeURIComponent(localAt(6, 0).date.toISOString())}`);
      const lane = page.locator('.lane-track[data-resource="nvidia.com/mig-1g.24gb"]');
      await lane.locator('.free-cell').first().waitFor();
      const cells = await lane.locator('.free-cell').evaluateAll((els) => els.map((e) => ({ n: e.querySelector('.num').textContent, from: e.dataset.from, to: e.dataset.to, free: e.dataset.free })));
      assert(cells.length >= 7, 'fewer than one number a day: ' + cells.length);
      assert(cells.every((c) => /^\d+$/.test(c.n) && c.n === c.free), 'a free cell is not a number');
      const at = Date.parse(w.starts_at);
      const cell = cells.find((c) => Date.parse(c.from) <= at && at < Date.parse(c.to));
      assert(cell && cell.n === '3', 'the stretch with the booking does not say 3 of 4 free: ' + JSON.stringify(cell));
      assert(cells.filter((c) => c.n === '4').length >= 3, 'free stretches do not say 4');
      const readable = await lane.locator('.free-cell').first().evaluate((e) => getComputedStyle(e).fontSize);
      assert(parseFloat(readable) >= 11, 'the numbers are smaller than 11px: ' + readable);
    } finally {
      await apiCall('POST', `/reservations/${r.body.id}/cancel`, undefined, tok);
    }
  });

  await test('find a slot: 2 MIG slices for 8 hours lists windows and books one in one click', async () => {
    await page.goto(BASE + '/#/calendar');
    await page.waitForSelector('#find-slot');
    await page.selectOption('#fs-type', 'nvidia.com/mig-1g.24gb');
    await page.fill('#fs-count', '2');
    await page.fill('#fs-hours', '8');
    await page.click('#find-slot button[type=submit]');
    await page.waitForSelector('#fs-results li button');
    const n = await page.locator('#fs-results li').count();
    assert(n >= 2, 'windows listed: ' + n);
    await shot(page, '20-find-a-slot');
    const text = await page.locator('#fs-results li').nth(1).innerText();
    await page.locator('#fs-results li').nth(1).locator('button').click();
    await page.waitForSelector('.booking.mine.highlight');
    // the confirmation can be dismissed
    await page.locator('#toast .toast-close').click();
    await page.waitForFunction(() => !document.querySelector('#toast .toast'));
    const id = await page.locator('.booking.mine.highlight').first().getAttribute('data-id');
    const tok = await apiLogin(ALICE.username, ALICE.password);
    const r = await apiCall('GET', '/reservations/' + id, undefined, tok);
    assert(r.body.gpu_count === 2 && r.body.gpu_type === 'nvidia.com/mig-1g.24gb', 'booked: ' + JSON.stringify(r.body));
    assert(Date.parse(r.body.ends_at) - Date.parse(r.body.starts_at) === 8 * 3600e3, 'not 8 hours: ' + text);
    await apiCall('POST', `/reservations/${id}/cancel`, undefined, tok);
  });

  await test('phone: a swipe on a lane scrolls and does not open the form; a long press does', async () => {
    const pg = await sizedPage(browser, 'swipe', 'phone');
    await signIn(pg, ALICE.username, ALICE.password);
    const lane = pg.locator('.lane-track[data-resource="nvidia.com/mig-1g.24gb"]');
    const box = await lane.boundingBox();
    const before = await pg.locator('#cal-scroll').evaluate((e) => e.scrollLeft);
    const cdp = await pg.context().newCDPSession(pg);
    const x = Math.round(Math.min(box.x + box.width, 380) - 20), y = Math.round(box.y + 12);
    // a finger moving 250 px to the left over 10 steps, then lifted
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x, y }] });
    for (let i = 1; i <= 10; i++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x: x - 25 * i, y }] });
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await pg.waitForFunction((b) => document.getElementById('cal-scroll').scrollLeft > b + 100, before, { timeout: 5000 }).catch(async () => {
      throw new Error(`the swipe did not scroll: scrollLeft ${before} -> ${await pg.locator('#cal-scroll').evaluate((e) => e.scrollLeft)} of ${await pg.locator('#cal-scroll').evaluate((e) => e.scrollWidth - e.clientWidth)}, gesture at ${x},${y}, lane ${JSON.stringify(box)}`);
    });
    // a long press books after 450 ms; one second after the swipe ended nothing may have opened
    await pg.waitForTimeout(1000);
    assert(/#\/calendar/.test(pg.url()) || !/#\/book/.test(pg.url()), 'the swipe opened the booking form: ' + pg.url());
    assert(await pg.locator('#gpu_type').count() === 0, 'the booking form is shown after a swipe');
    await shot(pg, '21-phone-calendar-swiped');
    // a deliberate long press on a free spot opens the form for that lane
    const b2 = await lane.boundingBox();
    const px = Math.round(b2.x + 40 > 0 ? Math.max(b2.x + 40, 140) : 140), py = Math.round(b2.y + 10);
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: px, y: py }] });
    await pg.waitForSelector('#gpu_type');
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    assert((await pg.inputValue('#gpu_type')) === 'nvidia.com/mig-1g.24gb', 'long press did not carry the lane');
    await pg.context().close();
  });

  await test('the 60-second refresh redraws in place: no "Loading", the sideways scroll kept', async () => {
    const pg = await sizedPage(browser, 'refresh', 'phone');
    await pg.clock.install(); // the page's timers run on a clock the test moves
    await signIn(pg, ALICE.username, ALICE.password);
    await pg.locator('#cal-scroll').evaluate((e) => { e.scrollLeft = 300; });
    await pg.evaluate(() => {
      window.sawLoading = false;
      new MutationObserver(() => { if (document.querySelector('.cal-body .loading')) window.sawLoading = true; })
        .observe(document.querySelector('.cal-body'), { childList: true, subtree: true });
    });
    const refreshed = pg.waitForResponse((r) => /\/api\/v1\/calendar\?/.test(r.url()));
    await pg.clock.runFor(61000);
    await refreshed;
    await pg.waitForFunction(() => document.querySelectorAll('.cal-grid').length === 1 && document.querySelector('.free-cell'));
    assert(!(await pg.evaluate(() => window.sawLoading)), 'the refresh showed "Loading" in place of the grid');
    const left = await pg.locator('#cal-scroll').evaluate((e) => e.scrollLeft);
    assert(Math.abs(left - 300) <= 1, 'the refresh reset the sideways scroll to ' + left);
    await pg.context().close();
  });

  await test('hour labels never overlap (day and 7-day views, 12-hour clock, desktop and phone)', async () => {
    for (const size of ['desktop', 'phone']) {
      const pg = await sizedPage(browser, 'axis', size);
      await signIn(pg, ALICE.username, ALICE.password);
      for (const view of ['day', 'week']) {
        await pg.goto(BASE + `/#/calendar?view=${view}&date=${encodeURIComponent(localAt(1, 12).date.toISOString())}`);
        await pg.waitForSelector('.scale .tick-label');
        const boxes = await pg.locator('.scale .tick-label').evaluateAll((els) => els.map((e) => {
          const r = e.getBoundingClientRect();
          return { l: r.left, r: r.right, t: e.textContent, day: e.parentNode.classList.contains('day') };
        }));
        for (const group of [boxes.filter((b) => b.day), boxes.filter((b) => !b.day)]) {
          group.sort((a, b) => a.l - b.l);
          for (let i = 1; i < group.length; i++) {
            assert(group[i].l >= group[i - 1].r, `${size} ${view}: "${group[i - 1].t}" and "${group[i].t}" overlap`);
          }
        }
        if (view === 'day') assert(boxes.length >= (size === 'desktop' ? 12 : 4), `${size}: only ${boxes.length} hour labels`);
        if (size === 'desktop' && view === 'day') assert(boxes.some((b) => /AM|PM/.test(b.t)), 'en-US day view has no 12-hour labels');
        await shot(pg, `22-axis-${view}-${size}`);
      }
      await pg.context().close();
    }
  });

  await test('no lane draws more rows than units (2 slices without two adjacent free rows)', async () => {
    const tok = await apiLogin(ALICE.username, ALICE.password);
    const day = 4;
    const mk = async (n, a, b) => {
      const r = await apiCall('POST', '/reservations', { gpu_type: 'nvidia.com/mig-1g.24gb', gpu_count: n, starts_at: localAt(day, a).date.toISOString(), ends_at: localAt(day, b).date.toISOString() }, tok);
      assert(r.status === 201, `booking ${n} ${a}-${b}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id;
    };
    // rows 0, 1, 2 from 10:00; row 1 frees at 12:00, so 12-14 has rows 1 and 3 free, not adjacent
    const ids = [await mk(1, 10, 14), await mk(1, 10, 12), await mk(1, 10, 14), await mk(1, 15, 16)];
    ids.push(await mk(2, 12, 14));
    try {
      await page.goto(BASE + `/#/calendar?view=day&date=${encodeURIComponent(localAt(day, 0).date.toISOString())}`);
      const lane = page.locator('.lane-track[data-resource="nvidia.com/mig-1g.24gb"]');
      await lane.locator('.booking').first().waitFor();
      const units = Number(await lane.getAttribute('data-units'));
      const laneBox = await lane.boundingBox();
      const stripTop = (await lane.locator('.free-strip').boundingBox()).y;
      const pieces = await lane.locator('.booking').evaluateAll((els) => els.map((e) => ({ row: +e.dataset.row, rows: +e.dataset.rows, bottom: e.getBoundingClientRect().bottom, id: e.dataset.id })));
      for (const p of pieces) {
        assert(p.row + p.rows <= units, `booking #${p.id} drawn on rows ${p.row}..${p.row + p.rows - 1} of ${units}`);
        assert(p.bottom <= stripTop + 1 && p.bottom <= laneBox.y + laneBox.height, `booking #${p.id} drawn below the unit rows`);
      }
      const two = pieces.filter((p) => p.id === String(ids[4]));
      assert(two.reduce((a, p) => a + p.rows, 0) === 2 && two.length === 2, 'the 2-slice booking is not drawn on its two free rows: ' + JSON.stringify(two));
      await shot(page, '23-calendar-split-rows');
    } finally {
      for (const id of ids) await apiCall('POST', `/reservations/${id}/cancel`, undefined, tok);
    }
  });

  await test('the last 30 minutes: the session card warns, says what is deleted, and extends', async () => {
    const tok = await apiLogin(ALICE.username, ALICE.password);
    const r = await apiCall('POST', '/reservations', { gpu_type: 'nvidia.com/mig-1g.24gb', gpu_count: 1, starts_at: localAt(8, 10).date.toISOString(), ends_at: localAt(8, 11).date.toISOString() }, tok);
    assert(r.status === 201, 'booking: HTTP ' + r.status);
    const id = r.body.id;
    const now = Math.floor(Date.now() / 1000);
    sql(`UPDATE reservations SET state = 'ACTIVE', starts_at = ${now - 3600}, ends_at = ${now + 20 * 60}, session_namespace = 'gpuaas-alice-${id}', ` +
      `session_url = 'https://gpuaas-alice-${id}.apps.sno.example.com/' WHERE id = ${id}`);
    try {
      for (const size of ['phone', 'desktop']) { // the desktop run extends it: last
        const pg = await sizedPage(browser, 'end', size);
        await signIn(pg, ALICE.username, ALICE.password);
        await pg.goto(BASE + `/#/sessions?id=${id}`);
        const banner = pg.locator(`#res-${id} [data-test=end-banner]`);
        await pg.locator(`#res-${id}`).waitFor();
        assert(await banner.count() === 1, 'no end banner on: ' + (await pg.locator(`#res-${id}`).innerText()));
        const text = await banner.innerText();
        assert(/ends in/.test(text) && /deleted/.test(text), 'banner: ' + text);
        await pg.waitForFunction((i) => /can run until|cannot be extended/.test(document.querySelector(`#res-${i} .extend-hint`).textContent), id);
        const card = await pg.locator(`#res-${id}`).innerText();
        assert(/Deleted: the namespace/.test(card) && /Kept/.test(card), 'the card does not say what is kept and deleted');
        assert(await pg.locator(`#res-${id} a.workspace`).count() === 1, 'no workspace link on a running session');
        await shot(pg, `24-sessions-end-banner-${size}`);
        await axeCheck(pg, 'sessions with end banner ' + size);
        await collectMessages(pg, 'end banner ' + size);
        if (size === 'desktop') {
          await banner.locator('button:has-text("Extend")').click();
          await pg.waitForSelector('dialog[open] #extend-limit');
          const limit = await pg.locator('#extend-limit').innerText();
          assert(/until/.test(limit), 'the dialog does not say how far it can be extended: ' + limit);
          await collectMessages(pg, 'extend dialog');
          await pg.click('dialog[open] button[value=ok]');
          await pg.waitForFunction((i) => document.querySelector(`#res-${i}`) && !document.querySelector(`#res-${i} [data-test=end-banner]`), id);
          const after = await apiCall('GET', '/reservations/' + id, undefined, tok);
          assert(Date.parse(after.body.ends_at) > (now + 20 * 60) * 1000, 'not extended: ' + after.body.ends_at);
        }
        await pg.context().close();
      }
    } finally {
      await apiCall('POST', `/reservations/${id}/release`, undefined, tok);
    }
  });

  await test('the form shows the defaults and limits and refuses a too-large count before sending', async () => {
    const pg = await sizedPage(browser, 'limits', 'desktop');
    await signIn(pg, ALICE.username, ALICE.password);
    const posts = [];
    pg.on('request', (req) => { if (req.method() === 'POST' && /\/api\/v1\/reservations$/.test(req.url())) posts.push(req.url()); });
    await pg.goto(BASE + '/#/book?gpu_type=nvidia.com%2Fmig-1g.24gb');
    await pg.waitForSelector('#limits');
    const limits = await pg.locator('#limits').innerText();
    for (const want of ['at most 4', '168 hours', '365 days', '8 CPU cores', '64 GiB', '600 GiB']) assert(limits.includes(want), `limits do not say "${want}": ${limits}`);
    assert((await pg.getAttribute('#cpu', 'placeholder')) === 'default 8', 'cpu placeholder');
    assert((await pg.getAttribute('#gpu_count', 'max')) === '4', 'the count field is not capped at session.max_gpus');
    await fillWhen(pg, 'starts_at', localAt(9, 10).date);
    await fillWhen(pg, 'ends_at', localAt(9, 12).date);
    await pg.fill('#gpu_count', '5');
    await pg.waitForSelector('#fit-rule');
    await pg.click('#submit-booking');
    await pg.waitForSelector('#form-error #invalid');
    const msg = await pg.locator('#form-error').innerText();
    assert(/at most 4/.test(msg), 'refusal does not name the limit: ' + msg);
    assert((await pg.getAttribute('#gpu_count', 'aria-invalid')) === 'true', 'the count field is not marked invalid');
    assert(posts.length === 0, 'a booking was sent: ' + posts.join(', '));
    await collectMessages(pg, 'too many');
    await shot(pg, '25-book-limits-refused');
    // a start in the past is refused with the time to pick, and "fits" is never shown for it
    await pg.fill('#gpu_count', '1');
    await fillWhen(pg, 'starts_at', localAt(-1, 10).date);
    await fillWhen(pg, 'ends_at', localAt(-1, 12).date);
    await pg.waitForFunction(() => /in the past: pick a time after/.test(document.getElementById('fit').innerText));
    assert(await pg.locator('#fit-ok').count() === 0, '"fits" shown for a window in the past');
    await collectMessages(pg, 'past');
    // a refusal the server makes (memory beyond the largest node) in plain words
    await fillWhen(pg, 'starts_at', localAt(9, 10).date);
    await fillWhen(pg, 'ends_at', localAt(9, 12).date);
    await pg.fill('#memory_gib', '999999');
    await pg.click('#submit-booking');
    await pg.waitForSelector('#form-error #invalid');
    const server = await pg.locator('#form-error').innerText();
    assert(/more than one machine has/.test(server), 'server refusal not in plain words: ' + server);
    await collectMessages(pg, 'server 400');
    assert(posts.length === 1, 'exactly one booking request expected, got ' + posts.length);
    // 2 of 4 slices taken: asking for 3 offers the 2 that fit, in one click
    const tok = await apiLogin(ALICE.username, ALICE.password);
    const two = await apiCall('POST', '/reservations', { gpu_type: 'nvidia.com/mig-1g.24gb', gpu_count: 2, starts_at: localAt(8, 12).date.toISOString(), ends_at: localAt(10, 12).date.toISOString() }, tok);
    assert(two.status === 201, 'blocking booking: HTTP ' + two.status);
    try {
      await pg.fill('#memory_gib', '');
      await pg.fill('#gpu_count', '3');
      await pg.waitForSelector('#fit-no #use-fewer');
      const offer = await pg.locator('#fit-no').innerText();
      assert(/Only 2 of the 3/.test(offer), 'no "2 of 3" offer: ' + offer);
      await collectMessages(pg, 'partial fit');
      await pg.click('#use-fewer');
      await pg.waitForSelector('#fit-ok');
      assert((await pg.inputValue('#gpu_count')) === '2', 'the offer did not set 2');
    } finally {
      await apiCall('POST', `/reservations/${two.body.id}/cancel`, undefined, tok);
    }
    await pg.context().close();
  });

  await test('other people\'s bookings are focusable and open a popover', async () => {
    const bob = await sizedPage(browser, 'bob-pop', 'desktop');
    await signIn(bob, BOB.username, BOB.password);
    await bob.goto(BASE + `/#/calendar?date=${encodeURIComponent(slot.start.date.toISOString())}`);
    const other = bob.locator('button.booking.other').first();
    await other.waitFor();
    await other.focus();
    await bob.keyboard.press('Enter');
    const pop = bob.locator('.popover:popover-open');
    await pop.waitFor();
    const text = await pop.innerText();
    assert(/Booked by someone else/.test(text) && /×/.test(text), 'popover: ' + text);
    assert(!/alice|browser test booking/i.test(text), 'the popover leaks alice\'s details: ' + text);
    const contrast = await other.evaluate((e) => getComputedStyle(e).backgroundColor);
    assert(contrast === 'rgb(85, 94, 114)', 'busy blocks are not the dark grey that gives white text 4.5:1: ' + contrast);
    await shot(bob, '26-calendar-popover');
    await bob.context().close();
  });

  await test('admin moves a booking with a reason; the owner reads it; the trail links from the table', async () => {
    const tok = await apiLogin(ALICE.username, ALICE.password);
    const r = await apiCall('POST', '/reservations', { gpu_type: 'nvidia.com/mig-1g.24gb', gpu_count: 1, starts_at: localAt(10, 10).date.toISOString(), ends_at: localAt(10, 12).date.toISOString() }, tok);
    const id = r.body.id;
    const adm = await sizedPage(browser, 'admin-change', 'desktop');
    await signIn(adm, 'admin', ADMIN_PW);
    await adm.goto(BASE + '/#/admin?tab=bookings');
    const row = adm.locator(`#bookings-table tr[data-id="${id}"]`);
    await row.waitFor();
    // the table sorts by a column heading, both ways
    const ids = () => adm.locator('#bookings-table tbody tr').evaluateAll((rs) => rs.map((r) => Number(r.dataset.id)));
    await adm.click('#bookings-table button[data-sort="id"]');
    const up = await ids();
    assert(up.length > 2 && up.every((x, i) => i === 0 || up[i - 1] < x), 'not ascending by #: ' + up);
    await adm.click('#bookings-table button[data-sort="id"]');
    const down = await ids();
    assert(down.every((x, i) => i === 0 || down[i - 1] > x), 'not descending by #: ' + down);
    assert((await adm.getAttribute('#bookings-table th[aria-sort]', 'aria-sort')) === 'descending', 'aria-sort not set');
    await row.locator('button.change').click();
    await adm.waitForSelector('dialog[open] #chg-reason');
    await fillWhen(adm, 'chg-end', localAt(10, 11).date);
    await adm.fill('#chg-reason', 'the node is serviced at noon');
    await shot(adm, '27-admin-change');
    await adm.click('dialog[open] button[value=ok]');
    await adm.waitForSelector(`#bookings-table tr[data-id="${id}"] :text("serviced at noon")`);
    const after = await apiCall('GET', '/reservations/' + id, undefined, tok);
    assert(after.body.admin_note === 'the node is serviced at noon' && Date.parse(after.body.ends_at) === localAt(10, 11).date.getTime(), 'not shortened: ' + JSON.stringify(after.body));
    await adm.locator(`#bookings-table tr[data-id="${id}"] a.trail`).click();
    await adm.waitForSelector('#audit-table tbody tr');
    const trail = await adm.locator('#audit-table tbody').innerText();
    assert(/changed by an admin/.test(trail) && /booked/.test(trail) && /serviced at noon/.test(trail), 'trail: ' + trail);
    assert(!/\{|\}/.test(trail), 'raw JSON in the audit details');
    await shot(adm, '28-admin-audit-trail');
    await adm.context().close();
    await page.goto(BASE + `/#/sessions?id=${id}`);
    const note = page.locator(`#res-${id} .admin-note`);
    await note.waitFor();
    assert(/serviced at noon/.test(await note.innerText()), 'the owner does not read the reason');
    await collectMessages(page, 'admin note');
    await apiCall('POST', `/reservations/${id}/cancel`, undefined, tok);
  });

  await test('a simulated cluster: a banner says no workspace runs, and no link to a host that does not exist', async () => {
    assert(SIM_URL && SIM_DB, 'GPUAAS_SIM_URL and GPUAAS_SIM_DB are not set (run tests/scripts/web-test.sh)');
    const a = await (await fetch(SIM_URL + '/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PW }) })).json();
    const res = await (await fetch(SIM_URL + '/api/v1/reservations', {
      method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + a.token },
      body: JSON.stringify({ gpu_type: 'nvidia.com/gpu', gpu_count: 1, starts_at: localAt(1, 10).date.toISOString(), ends_at: localAt(1, 12).date.toISOString() }),
    })).json();
    sqlAt(SIM_DB, `UPDATE reservations SET state = 'ACTIVE', session_namespace = 'gpuaas-admin-${res.id}', session_url = 'https://gpuaas-admin-${res.id}.apps.example.com/' WHERE id = ${res.id}`);
    for (const size of ['desktop', 'phone']) {
      const pg = await sizedPage(browser, 'sim', size);
      await signInAt(pg, SIM_URL, 'admin', ADMIN_PW);
      const banner = await pg.locator('#sim-banner').innerText();
      assert(/simulation/.test(banner) && /no workspace/.test(banner), 'banner: ' + banner);
      await pg.goto(SIM_URL + `/#/sessions?id=${res.id}`);
      await pg.waitForSelector(`#res-${res.id} .sim-note`);
      assert(await pg.locator('a.workspace').count() === 0, 'an "Open workspace" link on a simulated cluster');
      await collectMessages(pg, 'simulation ' + size);
      await axeCheck(pg, 'simulated sessions ' + size);
      await shot(pg, `29-simulated-cluster-${size}`);
      await pg.context().close();
    }
  });

  // The date a form shows and the dates the page prints agree, and what a person types in the
  // format shown is the instant booked. The day is chosen so that day and month could be
  // swapped (both 12 or less, not equal): read in the wrong order it would be another date.
  const numParts = (tz, d) => Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .formatToParts(d).filter((x) => x.type !== 'literal').map((x) => [x.type, Number(x.value)]));
  function zoned(tz, y, m, d, hh) { // the instant that reads y-m-d hh:00 in tz
    const want = Date.UTC(y, m - 1, d, hh);
    let t = want;
    for (let i = 0; i < 3; i++) {
      const p = numParts(tz, new Date(t));
      t += want - Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute);
    }
    return new Date(t);
  }
  function ambiguousDay(tz, fromDays) { // the first day from `fromDays` on whose day and month could swap
    for (let k = fromDays; k < fromDays + 300; k++) {
      const p = numParts(tz, new Date(Date.now() + k * 86400e3));
      if (p.day <= 12 && p.day !== p.month) return p;
    }
    throw new Error('no ambiguous day');
  }
  const pad2 = (n) => String(n).padStart(2, '0');
  // the order each language writes a numeric date in, written out here, not taken from the page
  const ORDER = { 'en-US': (p) => `${pad2(p.month)}/${pad2(p.day)}/${p.year}`, 'de-DE': (p) => `${pad2(p.day)}.${pad2(p.month)}.${p.year}` };
  const FORMAT = { 'en-US': 'MM/DD/YYYY', 'de-DE': 'DD.MM.YYYY' };

  // every visible interactive element outside the toast that the toast's box overlaps
  async function toastOverlaps(pg) {
    return pg.evaluate(() => {
      const t = document.querySelector('#toast .toast');
      if (!t) return ['no toast shown'];
      const a = t.getBoundingClientRect();
      const hits = [];
      for (const el of document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"]), [role=button], [role=link]')) {
        if (el.closest('#toast')) continue;
        const b = el.getBoundingClientRect();
        const st = getComputedStyle(el);
        if (!b.width || !b.height || st.visibility === 'hidden' || b.bottom <= 0 || b.top >= innerHeight) continue;
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
          hits.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${(el.innerText || el.value || '').slice(0, 30)}"`);
      }
      return hits;
    });
  }
  // the toast is a live region, and its close button is reached by Tab and closes it with Enter
  async function toastByKeyboard(pg, where) {
    const live = await pg.getAttribute('#toast', 'aria-live');
    assert(live === 'polite' || live === 'assertive', `${where}: the toast region is not live: ${live}`);
    await pg.evaluate(() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); });
    let reached = false;
    for (let i = 0; i < 60 && !reached; i++) {
      await pg.keyboard.press('Tab');
      reached = await pg.evaluate(() => !!document.activeElement && document.activeElement.classList.contains('toast-close'));
    }
    assert(reached, `${where}: Tab never reaches the toast's close button`);
    await pg.keyboard.press('Enter');
    await pg.waitForFunction(() => !document.querySelector('#toast .toast'));
  }

  await test('one date format: the form shows dates as the page prints them, and a typed date books that instant (en-US and de-DE)', async () => {
    const tok = await apiLogin(ALICE.username, ALICE.password);
    for (const [size, from] of [['desktop', 40], ['phone', 80]]) {
      const o = SIZES[size];
      const pg = await sizedPage(browser, 'date-' + size, size);
      await signIn(pg, ALICE.username, ALICE.password);
      // 1. an instant handed to the form: its date field reads as the page prints that instant
      const shown = ambiguousDay(o.timezoneId, from);
      const at = zoned(o.timezoneId, shown.year, shown.month, shown.day, 10);
      await pg.goto(BASE + `/#/book?gpu_type=nvidia.com%2Fmig-1g.24gb&starts_at=${encodeURIComponent(at.toISOString())}&ends_at=${encodeURIComponent(new Date(at.getTime() + 2 * 3600e3).toISOString())}`);
      await pg.waitForSelector('#starts_at');
      assert((await pg.inputValue('#starts_at')) === ORDER[o.locale](shown), `${size}: the form shows ${await pg.inputValue('#starts_at')} for ${at.toISOString()}, want ${ORDER[o.locale](shown)}`);
      const hint = await pg.locator('#starts_at-hint').innerText();
      assert(hint.includes(FORMAT[o.locale]), `${size}: the format is not shown: ${hint}`);
      // the page's own printing of the same instant (the summary under the window): same day, same month
      const printed = await pg.locator('#dur-info').innerText();
      const month = await pg.evaluate((t) => new Intl.DateTimeFormat(undefined, { month: 'short' }).format(new Date(t)), at.getTime());
      assert(printed.includes(month) && new RegExp(`(^|\\D)${shown.day}(\\D|$)`).test(printed), `${size}: the page prints "${printed}" (want ${shown.day} ${month}) while the form shows ${await pg.inputValue('#starts_at')}`);
      // 2. a date that is not one is refused before sending, in a sentence with the format
      const posts = [];
      pg.on('request', (req) => { if (req.method() === 'POST' && /\/api\/v1\/reservations$/.test(req.url())) posts.push(req.url()); });
      await pg.fill('#starts_at', ORDER[o.locale]({ year: shown.year, month: 13, day: 31 }).replace(/^(\d\d)\/(\d\d)/, '13/31'));
      await pg.click('#submit-booking');
      await pg.waitForSelector('#form-error #invalid');
      const refusal = await pg.locator('#form-error').innerText();
      assert(refusal.includes(FORMAT[o.locale]) && /is not a date/.test(refusal), `${size}: refusal ${refusal}`);
      assert((await pg.getAttribute('#starts_at', 'aria-invalid')) === 'true', `${size}: the date field is not marked`);
      assert(!posts.length, `${size}: a booking with a bad date was sent`);
      await collectMessages(pg, 'bad date ' + size);
      await shot(pg, `31-book-date-refused-${size}`);
      // 3. typed by hand in the format shown (the end as a 12- or 24-hour time as the locale
      //    writes it): the booking holds exactly that instant
      const day = ambiguousDay(o.timezoneId, from + 3);
      await pg.fill('#starts_at', ORDER[o.locale](day));
      await pg.fill('#starts_at-time', o.locale === 'en-US' ? '9:00 AM' : '09:00');
      await pg.fill('#ends_at', ORDER[o.locale](day));
      await pg.fill('#ends_at-time', o.locale === 'en-US' ? '3:00 PM' : '15:00');
      await pg.waitForSelector('#fit-ok');
      await shot(pg, `30-book-date-typed-${size}`);
      await pg.click('#submit-booking');
      await pg.waitForSelector('.booking.mine.highlight');
      const id = await pg.locator('.booking.mine.highlight').getAttribute('data-id');
      const r = await apiCall('GET', '/reservations/' + id, undefined, tok);
      const want = [zoned(o.timezoneId, day.year, day.month, day.day, 9), zoned(o.timezoneId, day.year, day.month, day.day, 15)];
      assert(Date.parse(r.body.starts_at) === want[0].getTime() && Date.parse(r.body.ends_at) === want[1].getTime(),
        `${size}: typed ${ORDER[o.locale](day)} 9–15 in ${o.timezoneId}, booked ${r.body.starts_at} – ${r.body.ends_at}, want ${want[0].toISOString()} – ${want[1].toISOString()}`);
      // the toast that says so overlaps nothing one can click or type in, and closes by keyboard
      await pg.waitForSelector('#toast .toast');
      const hits = await toastOverlaps(pg);
      assert(!hits.length, `${size}: after booking the toast covers ${hits.join(', ')}`);
      await shot(pg, `33-toast-after-booking-${size}`);
      await toastByKeyboard(pg, size + ' booking');
      // a toast on a page that stays (cancel on My sessions, scrolled to the booking)
      await pg.goto(BASE + `/#/sessions?id=${id}`);
      await pg.locator(`#res-${id} button:has-text("Cancel booking")`).click();
      await pg.click('dialog[open] button[value=ok]');
      await pg.waitForSelector('#toast .toast:has-text("canceled")');
      const hits2 = await toastOverlaps(pg);
      assert(!hits2.length, `${size}: after canceling the toast covers ${hits2.join(', ')}`);
      await axeCheck(pg, 'sessions with a toast ' + size);
      await collectMessages(pg, 'toast ' + size);
      await shot(pg, `34-toast-after-cancel-${size}`);
      await toastByKeyboard(pg, size + ' cancel');
      await pg.context().close();
    }
  });

  await test('find a slot reads its optional dates in the page format and refuses a bad one in words', async () => {
    const pg = await sizedPage(browser, 'fs-date', 'phone');
    await signIn(pg, ALICE.username, ALICE.password);
    await pg.waitForSelector('#fs-earliest');
    const o = SIZES.phone;
    assert((await pg.getAttribute('#fs-earliest', 'placeholder')) === FORMAT[o.locale], 'find a slot shows no date format');
    await pg.fill('#fs-earliest', '31.02.2027');
    await pg.fill('#fs-earliest-time', '09:00');
    await pg.click('#find-slot button[type=submit]');
    await pg.waitForSelector('#fs-results .error-box');
    const msg = await pg.locator('#fs-results').innerText();
    assert(/is not a date/.test(msg) && msg.includes(FORMAT[o.locale]), 'refusal: ' + msg);
    await collectMessages(pg, 'find a slot bad date');
    const day = ambiguousDay(o.timezoneId, 120);
    await pg.fill('#fs-earliest', ORDER[o.locale](day));
    await pg.fill('#fs-earliest-time', '09:00');
    await pg.click('#find-slot button[type=submit]');
    await pg.waitForSelector('#fs-results [data-window="0"]');
    const first = await pg.locator('#fs-results li').first().innerText();
    const month = await pg.evaluate((t) => new Intl.DateTimeFormat(undefined, { month: 'short' }).format(new Date(t)), zoned(o.timezoneId, day.year, day.month, day.day, 9).getTime());
    assert(first.includes(month) && new RegExp(`(^|\\D)${day.day}(\\D|$)`).test(first), `the first window "${first}" is not on ${day.day} ${month}`);
    await shot(pg, '35-find-slot-date-phone');
    await pg.context().close();
  });

  await test('admin filters take days in the page format (en-US) and refuse a day that does not exist', async () => {
    const o = SIZES.desktop;
    const tok = await apiLogin(ALICE.username, ALICE.password);
    const day = ambiguousDay(o.timezoneId, 150);
    const at = zoned(o.timezoneId, day.year, day.month, day.day, 10);
    const r = await apiCall('POST', '/reservations', { gpu_type: 'nvidia.com/mig-1g.24gb', gpu_count: 1, starts_at: at.toISOString(), ends_at: new Date(at.getTime() + 3600e3).toISOString() }, tok);
    assert(r.status === 201, 'booking for the filter: HTTP ' + r.status);
    const adm = await sizedPage(browser, 'admin-days', 'desktop');
    await signIn(adm, 'admin', ADMIN_PW);
    await adm.goto(BASE + '/#/admin?tab=bookings');
    await adm.waitForSelector('#bookings-table');
    assert((await adm.getAttribute('#f-from', 'placeholder')) === FORMAT[o.locale], 'the filter shows no date format');
    await adm.fill('#f-from', '02/31/2027');
    await adm.click('#booking-filters button[type=submit]');
    await adm.waitForSelector('.error-box:has-text("is not a date")');
    assert((await adm.getAttribute('#f-from', 'aria-invalid')) === 'true', 'the bad day is not marked');
    await collectMessages(adm, 'admin bad day');
    await adm.fill('#f-from', ORDER[o.locale](day));
    await adm.fill('#f-to', ORDER[o.locale](day));
    await adm.click('#booking-filters button[type=submit]');
    await adm.waitForSelector(`#bookings-table tr[data-id="${r.body.id}"]`);
    const ids = await adm.locator('#bookings-table tbody tr').evaluateAll((rs) => rs.map((x) => x.dataset.id));
    assert(ids.length === 1, `one day, one booking: ${ids}`);
    await shot(adm, '36-admin-filter-day-desktop');
    await adm.context().close();
    await apiCall('POST', `/reservations/${r.body.id}/cancel`, undefined, tok);
  });

  await test('every page at both sizes: no serious or critical accessibility violation, a screenshot each', async () => {
    const pages = [
      ['signin', null, '/#/signin', '#username'],
      ['calendar-7days', ALICE, '/#/calendar', '.cal-grid'],
      ['calendar-day', ALICE, '/#/calendar?view=day', '.cal-grid'],
      ['book', ALICE, '/#/book', '#gpu_type'],
      ['sessions', ALICE, '/#/sessions', '#tokens'],
      ['pool', ALICE, '/#/pool', '.gpu'],
      ['tokenomics', ALICE, '/#/tokenomics', '[data-testid="tok-cpm"]'],
      ['tokenomics-admin', { username: 'admin', password: ADMIN_PW }, '/#/tokenomics', '[data-testid="tok-cpm"]'],
      ['not-found', ALICE, '/#/nowhere', 'h1'],
      ['admin-denied', BOB, '/#/admin', 'h1:has-text("Admins only")'],
      ['admin-users', { username: 'admin', password: ADMIN_PW }, '/#/admin?tab=users', '#users-table'],
      ['admin-bookings', { username: 'admin', password: ADMIN_PW }, '/#/admin?tab=bookings', '#bookings-table'],
      ['admin-audit', { username: 'admin', password: ADMIN_PW }, '/#/admin?tab=audit', '#audit-table tbody tr'],
      ['admin-utilization', { username: 'admin', password: ADMIN_PW }, '/#/admin?tab=utilization', '#util-bars .bar-row'],
    ];
    const problems = [];
    for (const size of ['desktop', 'phone']) {
      const who = {};
      for (const [name, user, url, ready] of pages) {
        const key = user ? user.username : '-';
        if (!who[key]) {
          who[key] = await sizedPage(browser, 'axe-' + key, size);
          if (user) await signIn(who[key], user.username, user.password);
        }
        const pg = who[key];
        await pg.goto(BASE + url);
        await pg.waitForSelector(ready);
        try { await axeCheck(pg, `${name} (${size})`); } catch (e) { problems.push(e.message); }
        await collectMessages(pg, name + ' ' + size);
        // against the set width: a touch phone (isMobile) widens its layout viewport, and so
        // innerWidth, to fit content that is too wide
        const overflow = await pg.evaluate((w) => document.documentElement.scrollWidth - w, SIZES[size].viewport.width);
        if (overflow > 0) problems.push(`${name} (${size}): the page scrolls sideways by ${overflow}px`);
        await shot(pg, `page-${name}-${size}`);
        if (size === 'phone' && name === 'calendar-7days') {
          await pg.click('#menu-toggle');
          await pg.waitForSelector('#nav-links a:has-text("My sessions")');
          await shot(pg, 'page-menu-open-phone');
          await pg.click('#menu-toggle');
        }
      }
      for (const p of Object.values(who)) await p.context().close();
    }
    assert(!problems.length, problems.join('\n'));
  });

  await test('no API field name in any message the portal can show or showed', async () => {
    const names = await apiFieldNames();
    assert(names.includes('starts_at') && names.includes('gpu_count') && names.includes('memory_gib'), 'field list: ' + names.join(','));
    const m = await import(pathToFileURL(path.join(root, 'web/src/messages.js')).href);
    const rules = { max_gpus: 4, max_hours: 168, max_advance_days: 365, nowText: 'Mon 7 Dec, 10:00' };
    const texts = Object.entries(m.MESSAGES).map(([k, v]) => ({ where: 'catalogue ' + k, text: v }));
    // what the portal makes of every refusal the API documents, with the server's own wording
    const serverSays = ['starts_at lies in the past', 'ends_at must be after starts_at', 'the window is longer than 168 hours',
      'bookings may end at most 365 days ahead', 'gpu_count must be between 1 and 4 (session.max_gpus)', 'cpu must be between 1 and 64',
      'memory_gib must be between 1 and 512: a session runs on one node', 'storage_gib must be at least 1', 'unknown GPU type',
      'reason must be between 3 and 255 characters', 'user must name an enabled account', 'ttl_seconds must be an integer'];
    for (const f of ['starts_at', 'ends_at', 'gpu_count', 'gpu_type', 'cpu', 'memory_gib', 'storage_gib', 'purpose', 'mode', 'reason', 'user', 'ttl_seconds', 'name', 'body', 'x'])
      for (const said of serverSays) texts.push({ where: `refusal of ${f}: ${said}`, text: m.plainInvalid(f, said, rules) });
    assert(seen.length >= 10, 'too few messages were seen on screen: ' + seen.length);
    const bad = [];
    for (const t of texts.concat(seen)) {
      const hits = namesIn(t.text, names);
      if (hits.length) bad.push(`${t.where}: ${hits.join(', ')} in "${t.text.slice(0, 160)}"`);
    }
    assert(!bad.length, bad.join('\n'));
  });
} finally {
  await browser.close();
}

finish();
