// End-to-end tests of the portal in headless Chromium against a running gpuaas server
// (GPUAAS_URL; started by tests/scripts/web-test.sh on a temporary SQLite database).
// Every page gets a screenshot under $GPUAAS_TEST_OUTPUT/screenshots. Any console error,
// uncaught exception or CSP violation fails the test that caused it; the only tolerated
// console lines are Chromium's network notes for answers a test provokes on purpose
// (401 on a wrong password or the no-token /me probe, 409 on a conflicting booking, 400 on a
// deliberately invalid tokenomics input).
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
const ALLOWED_CONSOLE = /Failed to load resource: the server responded with a status of (400|401|409)\b/;

let passed = 0;
let failed = 0;
const consoleErrors = [];

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function apiCall(method, p, body, tok) {
  const res = await fetch(BASE + '/api/v1' + p, {
    method,
    headers: { 'Content-Type': 'application/json', ...(tok ? { Authorization: 'Bearer ' + tok } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function apiLogin(username, password) {
  const r = await apiCall('POST', '/auth/login', { username, password });
  assert(r.status === 200, `login ${username}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

const pad = (n) => String(n).padStart(2, '0');
// datetime-local value `days` from today at hour:00 local time.
function localAt(days, hour) {
  const d = new Date();
  d.setDate(d.getDate() + days);
  d.setHours(hour, 0, 0, 0);
  return { input: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(hour)}:00`, date: d };
}

async function test(name, fn) {
  const before = consoleErrors.length;
  try {
    await fn();
    if (consoleErrors.length > before) throw new Error('console errors: ' + consoleErrors.slice(before).join(' | '));
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' / ') : e}`);
  }
}

async function newPage(browser, label, viewport = { width: 1280, height: 800 }) {
  const ctx = await browser.newContext({ viewport, timezoneId: TZ, locale: 'en-GB' });
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
    await page.fill('#starts_at', slot.start.input);
    await page.fill('#ends_at', slot.end.input);
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
    assert(/APPROVED/.test(text), 'my booking is not labelled with its state: ' + text);
    const r = await apiCall('GET', '/reservations/' + firstId, undefined, await apiLogin(ALICE.username, ALICE.password));
    assert(r.status === 200 && Date.parse(r.body.starts_at) === slot.start.date.getTime(), 'stored start differs: ' + JSON.stringify(r.body));
    await shot(page, '04-calendar-with-booking');
  });

  await test('a conflicting booking shows the next available window, and booking it works', async () => {
    await page.goto(BASE + '/#/book?gpu_type=nvidia.com%2Fgpu');
    await page.waitForSelector('#gpu_type');
    await page.fill('#starts_at', slot.start.input);
    await page.fill('#ends_at', slot.end.input);
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

  await test('tokenomics page computes and redraws the chart while inputs change', async () => {
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
    await shot(page, '19-tokenomics-invalid');
    await page.locator('#tok-servers-0-capex').fill('45000');
    await page.waitForSelector('[data-testid="tok-cpm"]');
    await shot(page, '18-tokenomics');
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
    const s = await page.inputValue('#starts_at');
    const e = await page.inputValue('#ends_at');
    assert(s === localAt(3, 9).input && e === localAt(3, 12).input, `window ${s} – ${e}`);
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
} finally {
  await browser.close();
}

console.log(`${passed} passed, ${failed} failed`);
console.log(`RESULT passed=${passed} failed=${failed}`);
process.exit(failed ? 1 : 0);
