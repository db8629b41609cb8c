// app.js - the portal's shell and router.
//
// The daemon answers every page path with index.html (the SPA fallback), so
// the address bar always holds a real page URL: /accounts, /members,
// /api-keys, /audit?action=..., /apps/<id>/edit, /builds/<id>, /jobs/<id>,
// /attestation/<id>, /nodes/<id>, /clusters/<id>, /deployments/<id>,
// /login. A page marked `sub` also owns the
// paths under its own (/apps/new, /apps/<id>): ctx.sub holds their
// segments, and the page decides what they show. Links are ordinary
// <a href>s; a click on one that leads to a page of ours is taken over
// (History API) instead of reloading, and back and forward re-render from
// the URL. Query strings are state: the audit, job, build and attestation
// filters live there, so a filtered view can be shared.
//
// The shell is the header (product, navigation, account switcher, the
// signed-in person, sign-out) and a main area each page renders into. What
// the header shows comes from GET /v1/me. The navigation is built from
// PAGES: a new resource adds one entry there and one module,
// static/js/<resource>.js, exporting render(ctx).
//
// Roles decide what the portal offers (can()), but the server decides what
// happens: a 403 it answers is shown as it is.
import * as api from './api.js';
import { clearNotice, errorPanel, errorText, h, notify, pageHeading, roleBadge } from './ui.js';

/* The pages in the navigation, in order. `read` names what the role must be
 * allowed to see for the entry to show; `account` that the page is about the
 * account the session acts in. */
export const PAGES = [
  { path: '/accounts', title: 'Accounts', load: () => import('./accounts.js') },
  { path: '/apps', title: 'Apps', account: true, sub: true, load: () => import('./apps.js') },
  { path: '/builds', title: 'Builds', account: true, sub: true, load: () => import('./builds.js') },
  { path: '/attestation', title: 'Attestation', account: true, sub: true,
    load: () => import('./attestation.js') },
  { path: '/nodes', title: 'Nodes', account: true, sub: true, load: () => import('./nodes.js') },
  { path: '/clusters', title: 'Clusters', account: true, sub: true, load: () => import('./clusters.js') },
  { path: '/deployments', title: 'Deployments', account: true, sub: true,
    load: () => import('./deployments.js') },
  { path: '/registries', title: 'Registries', account: true, sub: true,
    load: () => import('./registries.js') },
  { path: '/jobs', title: 'Jobs', account: true, sub: true, load: () => import('./jobs.js') },
  { path: '/tasks', title: 'Approvals', account: true, load: () => import('./tasks.js') },
  { path: '/workers', title: 'Workers', account: true, load: () => import('./workers.js') },
  { path: '/members', title: 'Members', account: true, load: () => import('./members.js') },
  { path: '/api-keys', title: 'API keys', account: true, read: 'api_keys.read',
    load: () => import('./api_keys.js') },
  { path: '/audit', title: 'Audit', account: true, read: 'audit.read',
    load: () => import('./audit.js') },
];

const LOGIN = { path: '/login', title: 'Sign in', public: true, load: () => import('./login.js') };
const HOME = '/accounts';

/* What each role may do, as the API documents it (docs/api.md). */
const ABILITIES = {
  'members.read': ['admin', 'operator', 'auditor'],
  'members.write': ['admin'],
  'api_keys.read': ['admin', 'auditor'],
  'api_keys.write': ['admin'],
  'audit.read': ['admin', 'auditor'],
  'account.write': ['admin'],
  'apps.write': ['admin', 'operator'],
  'images.inspect': ['admin', 'operator'],
  'builds.create': ['admin', 'operator'],
  'builds.deprecate': ['admin'],
  'registries.write': ['admin', 'operator'],
  'jobs.cancel': ['admin', 'operator'],
  'tasks.decide': ['admin'],
  'policies.write': ['admin'],
  'attestation.verify': ['admin', 'operator'],
  'nodes.write': ['admin', 'operator'],
  'certificates.revoke': ['admin', 'operator'],
  'secrets.write': ['admin'],
  'clusters.write': ['admin', 'operator'],
  'deployments.write': ['admin', 'operator'],
};

/* What only an instance administrator may do, whatever their role in the
 * account: create accounts, import the SGX collateral every account shares. */
const INSTANCE_ABILITIES = new Set(['accounts.create', 'collateral.import']);

const state = {
  me: null,
  renderSeq: 0,
  cleanup: null,
};

export function can(me, ability) {
  if (!me) return false;
  if (INSTANCE_ABILITIES.has(ability)) return Boolean(me.user && me.user.instance_admin);
  return Boolean(me.role && (ABILITIES[ability] || []).includes(me.role));
}

function findPage(pathname) {
  if (pathname === LOGIN.path) return LOGIN;
  return PAGES.find((p) => p.path === pathname ||
                           (p.sub && pathname.startsWith(`${p.path}/`))) || null;
}

/* The segments of a `sub` page's path after its own: /apps/1/edit → ['1', 'edit']. */
function subPath(page, pathname) {
  if (!page || !page.sub || pathname === page.path) return [];
  return pathname.slice(page.path.length + 1).split('/').filter(Boolean).map((seg) => {
    try {
      return decodeURIComponent(seg);
    } catch {
      return seg; // not percent-encoded text: the page finds no such thing
    }
  });
}

function navCurrent(href) {
  return location.pathname === href || location.pathname.startsWith(`${href}/`);
}

/* Whether a URL is one of our pages (and so the router's to show). */
function isOurPage(url) {
  return url.origin === location.origin && (url.pathname === '/' || findPage(url.pathname) !== null);
}

/* A path of ours to come back to after signing in, or the home page. */
export function safeNext(next) {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return HOME;
  try {
    const url = new URL(next, location.origin);
    if (!isOurPage(url) || url.pathname === LOGIN.path) return HOME;
    return url.pathname + url.search;
  } catch {
    return HOME;
  }
}

export function navigate(to, { replace = false, focus = true } = {}) {
  const url = new URL(to, location.href);
  const target = url.pathname + url.search + url.hash;
  if (replace) history.replaceState(null, '', target);
  else if (target !== location.pathname + location.search + location.hash) history.pushState(null, '', target);
  return route({ focus });
}

/* ---- the signed-in person ----------------------------------------------- */

async function loadMe() {
  try {
    const me = await api.get('/v1/me', { handle401: false });
    setMe(me);
  } catch (err) {
    if (err.status === 401) setMe(null);
    else throw err;
  }
  return state.me;
}

function setMe(me) {
  state.me = me && me.kind === 'session' ? me : null;
  api.setCsrfToken(state.me ? state.me.csrf_token : null);
  renderShell();
}

/* After signing in: the session's answer, then /v1/me for the accounts. */
export async function signedIn(session) {
  api.setCsrfToken(session.csrf_token);
  await loadMe();
}

export async function refreshMe() {
  await loadMe();
  return state.me;
}

async function switchAccount(accountId) {
  const res = await api.post('/v1/session/account', { account_id: accountId });
  await loadMe();
  return res;
}

async function signOut() {
  try {
    await api.del('/v1/session', { handle401: false });
  } catch (err) {
    if (err.status !== 401) {
      notify(`Could not sign out. ${errorText(err)}`, 'error');
      return;
    }
  }
  setMe(null);
  await navigate(LOGIN.path, { replace: false });
  notify('You have signed out.');
}

function sessionEnded() {
  if (!state.me) return;
  setMe(null);
  const here = location.pathname + location.search;
  navigate(`${LOGIN.path}?next=${encodeURIComponent(here)}`, { replace: true }).then(() =>
    notify('Your session has ended. Sign in again to continue.', 'error'));
}

/* ---- the shell ---------------------------------------------------------- */

function renderShell() {
  const me = state.me;
  const topbar = document.getElementById('topbar');
  topbar.hidden = !me;
  if (!me) return;

  const nav = document.getElementById('nav');
  nav.replaceChildren(h('ul', { class: 'nav-list' }, PAGES
    .filter((p) => !p.read || can(me, p.read))
    .map((p) => h('li', {}, h('a', {
      href: p.path,
      class: 'nav-link',
      'aria-current': navCurrent(p.path) ? 'page' : null,
    }, p.title)))));

  const select = document.getElementById('account-switch');
  const options = me.accounts.map((a) =>
    h('option', { value: a.id, selected: me.account && me.account.id === a.id }, a.name));
  if (!me.accounts.length) {
    options.unshift(h('option', { value: '', selected: true }, 'No accounts yet'));
  } else if (!me.account) {
    options.unshift(h('option', { value: '', selected: true, disabled: true }, 'Choose an account…'));
  }
  select.replaceChildren(...options);
  select.disabled = !me.accounts.length;

  const whoami = document.getElementById('whoami');
  whoami.replaceChildren(
    me.role ? roleBadge(me.role) : null,
    h('span', { class: 'email', title: 'Signed in as' }, me.user.email));
}

function markCurrentNav() {
  for (const a of document.querySelectorAll('#nav a')) {
    if (navCurrent(a.getAttribute('href'))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/* ---- routing ------------------------------------------------------------ */

function context(main, page, seq) {
  return {
    main,
    page,
    me: state.me,
    can: (ability) => can(state.me, ability),
    query: new URLSearchParams(location.search),
    path: location.pathname,
    sub: subPath(page, location.pathname),
    // A more precise title than the page's: "web · Apps · acme · Cloister".
    setTitle: (what) => {
      if (seq !== state.renderSeq) return;
      const accountName = state.me && state.me.account ? state.me.account.name : null;
      document.title = [what, page.title, page.account ? accountName : null, 'Cloister']
        .filter(Boolean).join(' · ');
    },
    navigate,
    refreshMe,
    switchAccount,
    reload: () => route({ focus: false }),
    current: () => seq === state.renderSeq,
    signedIn,
    safeNext,
  };
}

async function route({ focus = true } = {}) {
  const seq = ++state.renderSeq;
  const main = document.getElementById('main');
  if (state.cleanup) {
    try { state.cleanup(); } catch { /* the old page is gone anyway */ }
    state.cleanup = null;
  }

  if (location.pathname === '/') {
    history.replaceState(null, '', HOME + location.search);
  }
  const page = findPage(location.pathname);

  if (page && page.public && state.me) {
    const next = safeNext(new URLSearchParams(location.search).get('next'));
    history.replaceState(null, '', next);
    return route({ focus });
  }
  if (!state.me && !(page && page.public)) {
    const here = location.pathname + location.search;
    const to = page ? `${LOGIN.path}?next=${encodeURIComponent(here)}` : LOGIN.path;
    history.replaceState(null, '', to);
    return route({ focus });
  }

  markCurrentNav();
  document.body.classList.toggle('signed-out', !state.me);
  main.setAttribute('aria-busy', 'true');

  if (!page) {
    document.title = 'Page not found · Cloister';
    main.replaceChildren(pageHeading('Page not found'),
      h('p', {}, 'There is no page at this address. ', h('a', { href: HOME }, 'Go to your accounts'), '.'));
    main.removeAttribute('aria-busy');
    if (focus) main.querySelector('h1').focus();
    return;
  }

  const accountName = state.me && state.me.account ? state.me.account.name : null;
  document.title = [page.title, page.account ? accountName : null, 'Cloister']
    .filter(Boolean).join(' · ');

  if (page.account && !state.me.account) {
    main.replaceChildren(pageHeading(page.title),
      h('div', { class: 'panel' },
        h('p', {}, state.me.accounts.length
          ? 'Choose the account to act in with the account switcher at the top.'
          : 'You are not a member of any account yet.'),
        h('p', {}, h('a', { href: HOME }, 'See your accounts'), '.')));
    main.removeAttribute('aria-busy');
    if (focus) main.querySelector('h1').focus();
    return;
  }

  let mod;
  try {
    mod = await page.load();
  } catch (err) {
    if (seq !== state.renderSeq) return;
    main.replaceChildren(pageHeading(page.title), errorPanel(err));
    main.removeAttribute('aria-busy');
    return;
  }
  if (seq !== state.renderSeq) return;
  main.replaceChildren();
  try {
    const cleanup = await mod.render(context(main, page, seq));
    if (seq === state.renderSeq && typeof cleanup === 'function') state.cleanup = cleanup;
  } catch (err) {
    if (seq !== state.renderSeq || (err && err.name === 'AbortError')) return;
    if (err && err.status === 401) return; // sessionEnded() shows the sign-in page
    main.replaceChildren(pageHeading(page.title), errorPanel(err));
  } finally {
    if (seq === state.renderSeq) main.removeAttribute('aria-busy');
  }
  if (seq !== state.renderSeq) return;
  // Move focus to the new page's heading, unless the page put it somewhere
  // itself (the sign-in page focuses its first field).
  if (focus && !main.contains(document.activeElement)) {
    const heading = main.querySelector('h1');
    if (heading) heading.focus();
  }
}

/* ---- start -------------------------------------------------------------- */

function interceptLinks(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
      event.shiftKey || event.altKey) return;
  const a = event.target.closest('a[href]');
  if (!a || (a.target && a.target !== '_self') || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (!isOurPage(url)) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  event.preventDefault();
  clearNotice();
  navigate(url.pathname + url.search + url.hash);
}

async function start() {
  api.onUnauthorized(sessionEnded);
  document.addEventListener('click', interceptLinks);
  window.addEventListener('popstate', () => route({ focus: true }));

  document.getElementById('sign-out').addEventListener('click', signOut);
  document.getElementById('account-switch').addEventListener('change', async (event) => {
    const select = event.target;
    if (!select.value) return;
    select.disabled = true;
    try {
      const res = await switchAccount(select.value);
      notify(`Now acting in ${res.account.name} as ${res.role}.`);
      await route({ focus: false });
    } catch (err) {
      notify(`Could not switch accounts. ${errorText(err)}`, 'error');
      renderShell();
    } finally {
      select.disabled = !(state.me && state.me.accounts.length);
    }
  });

  const main = document.getElementById('main');
  try {
    await loadMe();
  } catch (err) {
    main.replaceChildren(pageHeading('Cloister'), errorPanel(err,
      h('button', { type: 'button', class: 'button button-secondary',
                    onclick: () => location.reload() }, 'Try again')));
    return;
  }
  await route({ focus: false });
}

start();
