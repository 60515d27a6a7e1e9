// Entry: session bootstrap, top navigation and the hash router.
import './style.css';
import { h, append, clear, spinner, errorBox, toastPageChanged } from './dom.js';
import { get, post, token, setUnauthenticatedHandler, explain, ApiError } from './api.js';
import { routes, DEFAULT_ROUTE } from './routes.js';
import { tz } from './time.js';

const top = document.getElementById('top');
const main = document.getElementById('main');
let me = null;
let cleanup = null;
let signInNotice = '';
let rendered = 0;
let simulated = null; // GET /pool cluster.simulated, read once after sign-in

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  return { path: path || DEFAULT_ROUTE, params: new URLSearchParams(query || '') };
}

export function go(path, params) {
  const q = params ? new URLSearchParams(params).toString() : '';
  const target = '#/' + path + (q ? '?' + q : '');
  if (location.hash === target) render();
  else location.hash = target;
}

function renderNav(current) {
  clear(top);
  const links = routes.filter((r) => r.nav && (!r.admin || (me && me.role === 'admin')));
  const menuId = 'nav-links';
  const toggle = me ? h('button', {
    class: 'menu-toggle secondary small', id: 'menu-toggle', 'aria-expanded': 'false', 'aria-controls': menuId,
    onclick: () => {
      const open = top.classList.toggle('menu-open');
      toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    },
  }, 'Menu') : null;
  top.classList.remove('menu-open');
  append(top, [
    h('nav', { class: 'topnav', 'aria-label': 'Main' },
      h('a', { class: 'brand', href: '#/' + DEFAULT_ROUTE }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'gpuaas'),
      toggle,
      me ? h('ul', { id: menuId }, links.map((r) =>
        h('li', null, h('a', { href: '#/' + r.path, 'aria-current': r.path === current ? 'page' : null }, r.title)))) : null,
      me ? h('div', { class: 'who' },
        h('span', { class: 'tz', id: 'tz-name' }, `Times: ${tz}`),
        h('span', { class: 'user' }, me.username, me.role === 'admin' ? h('span', { class: 'badge admin' }, 'admin') : null),
        token.get() ? h('button', { class: 'secondary small', id: 'signout', onclick: signOut }, 'Sign out') : null) : null),
    me && simulated ? h('div', { class: 'sim-banner', role: 'note', id: 'sim-banner' },
      h('strong', null, 'Demo cluster. '),
      'This cluster is a simulation: bookings are real and follow every rule, but no workspace or container runs, so there is nothing to open or connect to.') : null]);
}

async function signOut() {
  // revoke the token on the server first; signing out locally happens whatever it answers
  try { await post('/auth/logout'); } catch { /* offline or already revoked */ }
  token.clear();
  me = null;
  simulated = null;
  signInNotice = 'You are signed out.';
  go('signin');
}

setUnauthenticatedHandler(() => {
  if (!me) return;
  token.clear();
  me = null;
  signInNotice = 'Your session expired or was revoked. Please sign in again.';
  go('signin', { next: parseHash().path });
});

function signInPage(params) {
  const err = h('p', { class: 'form-error', role: 'alert' });
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to gpuaas'),
    h('p', { class: 'muted' }, 'Book GPU time on the shared cluster, like booking a meeting room.'),
    signInNotice ? h('p', { class: 'notice' }, signInNotice) : null,
    h('label', { for: 'username' }, 'Username'), user,
    h('label', { for: 'password' }, 'Password'), pass,
    err, btn);
  signInNotice = '';
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    btn.disabled = true;
    btn.textContent = 'Signing in…';
    try {
      const r = await post('/auth/login', { username: user.value.trim(), password: pass.value }, { quiet401: true });
      token.set(r.token);
      me = r.user || (await get('/me'));
      const next = params.get('next');
      go(next && next !== 'signin' ? next : DEFAULT_ROUTE);
    } catch (e) {
      err.textContent = e instanceof ApiError && e.status === 401
        ? 'Wrong username or password.'
        : explain(e);
      btn.disabled = false;
      btn.textContent = 'Sign in';
      pass.select();
    }
  });
  return h('section', { class: 'center' }, form);
}

async function render() {
  const { path, params } = parseHash();
  if (cleanup) {
    try { cleanup(); } catch { /* page already gone */ }
    cleanup = null;
  }
  if (!me && path !== 'signin') {
    go('signin', path === DEFAULT_ROUTE ? undefined : { next: path });
    return;
  }
  if (me && path === 'signin') {
    go(DEFAULT_ROUTE);
    return;
  }
  if (me && simulated === null && path !== 'signin') {
    try {
      const pool = await get('/pool');
      simulated = !!(pool && pool.cluster && pool.cluster.simulated);
    } catch { simulated = false; }
  }
  renderNav(path);
  toastPageChanged();
  clear(main);
  if (path === 'signin') {
    document.title = 'Sign in · gpuaas';
    main.append(signInPage(params));
    main.querySelector('#username').focus();
    return;
  }
  const route = routes.find((r) => r.path === path);
  if (!route) {
    document.title = 'Not found · gpuaas';
    main.append(h('section', { class: 'page' }, h('h1', null, 'Page not found'),
      h('p', null, 'There is no page here. ', h('a', { href: '#/' + DEFAULT_ROUTE }, 'Go to the calendar.'))));
    return;
  }
  document.title = route.title + ' · gpuaas';
  if (route.admin && me.role !== 'admin') {
    main.append(h('section', { class: 'page' }, h('h1', null, 'Admins only'),
      h('p', { class: 'error-box', role: 'alert' }, 'This page is for administrators. You are signed in as ',
        h('strong', null, me.username), ', who is not an admin.')));
    return;
  }
  main.append(spinner());
  try {
    const mod = await route.load();
    const ctx = { me, params, go, onCleanup: (fn) => { cleanup = fn; } };
    const el = await mod.render(ctx);
    if (parseHash().path !== path) return; // navigated away meanwhile
    clear(main);
    main.append(el);
    if (rendered++ && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
  } catch (e) {
    clear(main);
    main.append(h('section', { class: 'page' }, errorBox({ message: explain(e) }, render)));
  }
}

async function boot() {
  main.append(spinner('Starting…'));
  try {
    // With a stored token, or behind a trusted-header proxy (no token needed), /me answers.
    me = await get('/me', { quiet401: true });
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) signInNotice = explain(e);
    token.clear();
    me = null;
  }
  window.addEventListener('hashchange', render);
  render();
}

boot();
