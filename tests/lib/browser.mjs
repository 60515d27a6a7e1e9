// What the browser tests (tests/browser/gate.mjs, portal.mjs) share: assertions, the API client they set
// up data with, and the test runner that fails a test on any console error it caused.

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// The JSON API under base + /api/v1: apiCall(method, path, body?, token?) -> {status, body};
// apiLogin(username, password) -> a token (asserts 200).
export function apiClient(base) {
  async function apiCall(method, p, body, tok) {
    const res = await fetch(base + '/api/v1' + p, {
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
  return { apiCall, apiLogin };
}

// test(name, fn) runs one test: it fails on a thrown error or on a console error pushed into
// consoleErrors while it ran. finish() prints the counts (RESULT line for web-test.sh) and
// exits 1 when any failed.
export function testRunner(consoleErrors) {
  let passed = 0;
  let failed = 0;
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
  function finish() {
    console.log(`${passed} passed, ${failed} failed`);
    console.log(`RESULT passed=${passed} failed=${failed}`);
    process.exit(failed ? 1 : 0);
  }
  return { test, finish };
}
