// Workspace sign-in in a real browser (headless Chromium) against the server that
// tests/scripts/web-test.sh started: a booking made ACTIVE in its database (standing in for
// the reconciler; tests/it/gate.sh covers that path) gets its gate, a real nginx running
// `gpuaas config gate-nginx` (TLS with a throw-away certificate) in front of the stand-in
// workspace (tests/tools/standin_workspace.py). Chromium maps the session host to 127.0.0.1
// (--host-resolver-rules); the session URL carries the gate's local port.
//   - the owner clicks "Open workspace" in the portal and lands in the stand-in workspace;
//   - a second user's browser opening the session URL gets the sign-in page (401), the
//     owner's used link is refused, and the API refuses them a ticket (403).
import { createRequire } from 'node:module';
import { apiClient, assert, testRunner } from '../lib/browser.mjs';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(path.join(root, 'web/package.json'));
const { chromium } = require('playwright-core');

const BASE = process.env.GPUAAS_URL;
const ADMIN_PW = process.env.GPUAAS_ADMIN_PASSWORD;
const DB = process.env.GPUAAS_TEST_DB;
const BIN = path.join(process.env.GPUAAS_BUILD || path.join(root, 'build'), 'gpuaas');
const OUT = path.join(process.env.GPUAAS_TEST_OUTPUT || path.join(root, 'test-output'), 'screenshots');
const DOMAIN = 'apps.gate.test';
if (!BASE || !ADMIN_PW || !DB) {
  console.log('gate: GPUAAS_URL, GPUAAS_ADMIN_PASSWORD and GPUAAS_TEST_DB must be set (run tests/scripts/web-test.sh)');
  console.log('RESULT passed=0 failed=1');
  process.exit(1);
}
fs.mkdirSync(OUT, { recursive: true });
// the sign-in page answers 401, a refused ticket request 403: both on purpose here
const ALLOWED_CONSOLE = /Failed to load resource: the server responded with a status of (401|403)\b/;

const consoleErrors = [];
const { test, finish } = testRunner(consoleErrors);
const { apiCall, apiLogin } = apiClient(BASE);
const children = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gpuaas-gate-'));





// A port the kernel reports free at this instant: only a candidate for startGate's loop.
function candidatePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves once the child wrote file (whole: a temporary file renamed over it) or exited;
// 50 s only bounds how long a broken start takes to fail.
async function waitFileOrExit(file, child) {
  for (let i = 0; i < 500 && !fs.existsSync(file) && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
  return fs.existsSync(file) && fs.statSync(file).size > 0;
}

// Resolves once url answers at all (any status), within 10 s.
async function waitUp(url) {
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('curl', ['-sk', '-o', '/dev/null', '--max-time', '1', url]);
      return;
    } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  throw new Error(`${url} did not answer; ${fs.readdirSync(tmp).filter((f) => f.endsWith(".log")).map((f) => f + ": " + fs.readFileSync(path.join(tmp, f), "utf8").slice(-400)).join(" | ")}`);
}

function start(cmd, args, log) {
  const fd = fs.openSync(path.join(tmp, log), 'a');
  const c = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
  children.push(c);
  return c;
}

// nginx with the generated gate configuration on a free port; resolves with the port. nginx
// cannot listen on port 0 and report the pick, so a candidate port is tried and a collision is
// detected, not hoped away: nginx binds its listening socket before it writes its pid file
// (nginx.c: ngx_init_cycle, then ngx_create_pidfile), so the pid file means the port is
// nginx's, and an nginx that exits with "Address already in use" lost the port to another
// process; then the next candidate is tried, at most 10.
async function startGate() {
  const nginx = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
  const log = path.join(tmp, 'nginx.log');
  for (let attempt = 1; attempt <= 10; attempt++) {
    const port = await candidatePort();
    const conf = execFileSync(BIN, ['config', 'gate-nginx', '--config', path.join(tmp, 'gpuaas.yaml'), '--reservation', String(id),
      '--listen', `127.0.0.1:${port}`, '--temp-dir', tmp, '--tls-cert', path.join(tmp, 'tls.crt'), '--tls-key', path.join(tmp, 'tls.key')], { encoding: 'utf8' });
    fs.writeFileSync(path.join(tmp, 'nginx.conf'), conf);
    fs.rmSync(path.join(tmp, 'nginx.pid'), { force: true });
    const seen = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').length : 0;
    let c;
    if (process.getuid() === 0) { // unprivileged, as in a pod
      fs.chmodSync(tmp, 0o755);
      for (const f of fs.readdirSync(tmp)) fs.chownSync(path.join(tmp, f), 65534, 65534);
      fs.chownSync(tmp, 65534, 65534);
      c = start('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', nginx, '-e', 'stderr', '-c', path.join(tmp, 'nginx.conf')], 'nginx.log');
    } else {
      c = start(nginx, ['-e', 'stderr', '-c', path.join(tmp, 'nginx.conf')], 'nginx.log');
    }
    if (await waitFileOrExit(path.join(tmp, 'nginx.pid'), c) && c.exitCode === null) return port;
    for (let i = 0; i < 50 && c.exitCode === null && c.signalCode === null; i++) await sleep(100);
    if (!fs.readFileSync(log, 'utf8').slice(seen).includes('Address already in use')) throw new Error('the gate did not start: ' + fs.readFileSync(log, 'utf8').slice(seen, seen + 400));
    console.log(`gate: port ${port} was taken before nginx bound it; another (try ${attempt})`);
  }
  throw new Error('the gate found no free port in 10 tries');
}

async function newPage(browser, label) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ignoreHTTPSErrors: true, locale: 'en-GB' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(10000);
  const watch = (p) => {
    p.on('console', (m) => {
      if (m.type() === 'error' && !ALLOWED_CONSOLE.test(m.text())) consoleErrors.push(`[${label}] ${m.text()}`);
    });
    p.on('pageerror', (e) => consoleErrors.push(`[${label}] uncaught: ${e.message}`));
  };
  watch(page);
  ctx.on('page', watch);
  return page;
}

async function signIn(page, username, password) {
  await page.goto(BASE + '/');
  await page.waitForSelector('#username');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.press('#password', 'Enter');
  await page.waitForSelector('.cal-grid');
}

const sql = (q) => execFileSync('sqlite3', ['-cmd', '.timeout 5000', DB, q], { encoding: 'utf8' }).trim();
const GWEN = { username: 'gwen', password: 'gwen-password-1' };
const HUGO = { username: 'hugo', password: 'hugo-password-1' };
let browser;
let id;
let host;
let sessionUrl;
let usedLink;

try {
  await test('setup: a running session, its gate and the stand-in workspace', async () => {
    const adminTok = await apiLogin('admin', ADMIN_PW);
    for (const u of [GWEN, HUGO]) {
      const r = await apiCall('POST', '/users', u, adminTok);
      assert(r.status === 201, `create ${u.username}: HTTP ${r.status}`);
    }
    const gwenTok = await apiLogin(GWEN.username, GWEN.password);
    const now = Date.now();
    const r = await apiCall('POST', '/reservations', {
      gpu_type: 'nvidia.com/mig-1g.24gb', gpu_count: 1, purpose: 'gate browser test',
      starts_at: new Date(now + 60e3).toISOString().replace(/\.\d+Z$/, 'Z'),
      ends_at: new Date(now + 2 * 3600e3).toISOString().replace(/\.\d+Z$/, 'Z'),
    }, gwenTok);
    assert(r.status === 201, `book: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    id = r.body.id;
    host = `gpuaas-${id}.${DOMAIN}`;
    // the stand-in on a port the kernel picks, reported in standin.port once it listens
    const wsChild = start('python3', [path.join(root, 'tests/tools/standin_workspace.py'), 'serve', '0',
      path.join(tmp, 'requests.txt'), path.join(tmp, 'standin.port')], 'standin.log');
    assert(await waitFileOrExit(path.join(tmp, 'standin.port'), wsChild), 'the stand-in workspace did not listen');
    const wsPort = Number(fs.readFileSync(path.join(tmp, 'standin.port'), 'utf8').trim());
    fs.writeFileSync(path.join(tmp, 'gpuaas.yaml'), `reconciler:\n  workspace_port: ${wsPort}\n  gate_auth_url: ${BASE}\n`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=*.${DOMAIN}`,
      '-addext', `subjectAltName=DNS:*.${DOMAIN}`, '-keyout', path.join(tmp, 'tls.key'), '-out', path.join(tmp, 'tls.crt')], { stdio: 'ignore' });
    const gatePort = await startGate();
    sessionUrl = `https://${host}:${gatePort}/`;
    // what the reconciler does when the workspace is ready
    sql(`UPDATE reservations SET state = 'ACTIVE', starts_at = strftime('%s','now') - 60, session_namespace = 'gpuaas-${id}', ` +
      `session_url = '${sessionUrl}', session_phase = 'Ready' WHERE id = ${id}`);
    await waitUp(`http://127.0.0.1:${wsPort}/`);
    await waitUp(`https://127.0.0.1:${gatePort}/`);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--no-first-run', '--disable-sync', `--host-resolver-rules=MAP *.${DOMAIN} 127.0.0.1`],
    });
  });

  await test('the owner clicks "Open workspace" and lands in the workspace', async () => {
    const page = await newPage(browser, 'gwen');
    await signIn(page, GWEN.username, GWEN.password);
    await page.goto(BASE + '/#/sessions');
    const open = page.locator(`#res-${id} a.workspace`);
    await open.waitFor();
    const [tab] = await Promise.all([page.context().waitForEvent('page'), open.click()]);
    await tab.waitForURL(sessionUrl);
    await tab.waitForSelector('#ws');
    assert((await tab.title()) === 'standin workspace', `title ${await tab.title()}`);
    const cookies = await page.context().cookies(sessionUrl);
    const c = cookies.find((x) => x.name === '__Host-gpuaas_ws');
    assert(c && c.httpOnly && c.secure && c.sameSite === 'Lax' && c.domain === host, `cookie ${JSON.stringify(c)}`);
    const used = sql(`SELECT COUNT(*) FROM workspace_grants WHERE reservation_id = ${id} AND kind = 'ticket' AND used_at > 0`);
    assert(used === '1', `tickets used: ${used}`);
    await tab.screenshot({ path: path.join(OUT, 'gate-01-owner-in-workspace.png') });
    // a link as `gpuaas show` prints it, opened once by the owner's browser: spent for anyone else
    const r = await apiCall('POST', `/reservations/${id}/workspace-ticket`, undefined, await apiLogin(GWEN.username, GWEN.password));
    assert(r.status === 201, `ticket: HTTP ${r.status}`);
    usedLink = r.body.url;
    const t2 = await page.context().newPage();
    await t2.goto(usedLink);
    await t2.waitForSelector('#ws');
    await page.context().close();
  });

  await test("a second user's browser is refused", async () => {
    const page = await newPage(browser, 'hugo');
    await signIn(page, HUGO.username, HUGO.password);
    const direct = await page.goto(sessionUrl);
    assert(direct.status() === 401, `session URL: HTTP ${direct.status()}`);
    assert((await page.locator('#ws').count()) === 0, 'the workspace showed');
    assert((await page.content()).includes('Open workspace'), 'no sign-in explanation');
    const replay = await page.goto(usedLink);
    assert(replay.status() === 401, `the owner's used link: HTTP ${replay.status()}`);
    assert((await page.locator('#ws').count()) === 0, 'the workspace showed after a replay');
    await page.screenshot({ path: path.join(OUT, 'gate-02-other-user-refused.png') });
    const hugoTok = await apiLogin(HUGO.username, HUGO.password);
    const r = await apiCall('POST', `/reservations/${id}/workspace-ticket`, undefined, hugoTok);
    assert(r.status === 403, `hugo's ticket for gwen's session: HTTP ${r.status}`);
    await page.context().close();
  });
} finally {
  if (browser) await browser.close();
  for (const c of children) c.kill('SIGTERM');
  if (id) sql(`UPDATE reservations SET state = 'CANCELED' WHERE id = ${id}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

finish();
