// The portal in a real browser: headless Chromium against a cloisterd of
// its own, with a cloister-worker running its jobs and two docker-registries
// on loopback, one holding an image to inspect, the other the images to
// convert (see harness.mjs); the attestation and node tests start other
// cloisterds that trust a simulated SGX root, where nodes enroll through the
// real API with simulated quotes. Each test checks what a person sees, the
// exact texts included, and what the server then holds, through the REST
// API; and that the page logged no console error, page error or CSP
// violation it did not provoke on purpose. Each test leaves a screenshot in
// $CLOISTER_E2E_SHOTS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ADMIN_EMAIL, Api, DCAP_DATA, Daemon, Kubernetes, Registry, Worker, addBuild, attestEnclave, collateralBody,
         enrollNode, openBrowser, psql, shotPath, simulateQuote, unexpectedProblems, unique } from './harness.mjs';

let daemon;
let worker;
let registry;       // docker-registry with team/app:v1 (entrypoint /usr/bin/app)
let imageDigest;
let images;         // docker-registry for conversions: the Gramine runtime the worker merges in
let convertRefs;    // what images holds once pushed: {runtime, app}
let admin;          // the instance administrator's own REST session
let acme;
let globex;
let lab = null;     // the node tests' daemon, trusting a simulated SGX root (nodeLab())
let kube = null;    // the Kubernetes fake the cluster and deployment tests deploy to (kubeLab())

// Signing in without a session answers 401 on GET /v1/me: the shell's first
// question. Every test that opens the sign-in page expects it.
const BOOT_401 = { status: 401, path: '/v1/me' };

const ALL_PAGES = ['Accounts', 'Apps', 'Builds', 'Attestation', 'Nodes', 'Clusters', 'Deployments', 'Registries',
                   'Jobs', 'Approvals', 'Workers', 'Members', 'API keys', 'Audit'];

before(async () => {
  daemon = await new Daemon({ env: { CLOISTER_LOGIN_FAILURES_PER_USER: '3' } }).start();
  admin = new Api(daemon.url);
  await admin.login(ADMIN_EMAIL, daemon.adminPassword);
  acme = await admin.createAccount('acme');
  globex = await admin.createAccount('globex');
  [registry, images] = await Promise.all([new Registry().start(), new Registry().start()]);
  [worker, imageDigest] = await Promise.all([
    new Worker(daemon, { runtimeRegistry: images.host }).start(),
    registry.push('team/app:v1'),
  ]);
});

after(async () => {
  if (worker) await worker.stop();
  if (registry) await registry.stop();
  if (images) await images.stop();
  if (daemon) await daemon.stop();
  if (lab) {
    if (lab.daemon) await lab.daemon.stop();
    rmSync(lab.sim, { recursive: true, force: true });
  }
  if (kube) await kube.stop();
});

/* Run fn(page, browser) in a fresh browser; screenshot; no unexpected errors.
 * `expected` may be a function, for errors whose paths the test learns. */
async function inBrowser(name, fn, { expected = [BOOT_401], ...options } = {}) {
  const browser = await openBrowser({ baseURL: daemon.url, ...options });
  browser.context.setDefaultTimeout(15_000);
  let failed = true;
  try {
    await fn(browser.page, browser);
    failed = false;
    rmSync(shotPath(`${name}-FAILED`), { force: true });
  } finally {
    await browser.page.screenshot({ path: shotPath(failed ? `${name}-FAILED` : name), fullPage: true })
      .catch(() => {});
    await browser.close();
  }
  assert.deepEqual(unexpectedProblems(browser.problems, typeof expected === 'function' ? expected() : expected), [],
    'the page logged errors or CSP violations');
}

/* Empty the aria-live region, so that the next message is a new one. */
async function clearNotices(page) {
  await page.locator('#notices').evaluate((n) => n.replaceChildren());
}

/* The page at its heading, with its data loaded. */
async function settled(page, heading) {
  await page.locator('main h1', { hasText: new RegExp(`^${heading}$`) }).waitFor();
  await page.waitForSelector('main:not([aria-busy])');
}

async function signIn(page, email, password, { next = null } = {}) {
  await page.goto(next ? `/login?next=${encodeURIComponent(next)}` : '/login');
  await settled(page, 'Sign in');
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
  await page.waitForSelector('main:not([aria-busy])');
}

const signInAdmin = (page, options) => signIn(page, ADMIN_EMAIL, daemon.adminPassword, options);

/* The session of the page's browser, as the server sees it. */
async function browserMe(page) {
  return page.evaluate(async () => {
    const r = await fetch('/v1/me', { headers: { Accept: 'application/json' } });
    return { status: r.status, body: await r.json() };
  });
}

/* Wait for the aria-live region to say `expected` (a string or a RegExp);
 * fail with what it said instead. */
async function notice(page, expected) {
  const read = () => page.locator('#notices .notice-text').textContent({ timeout: 1000 })
    .then((t) => t.trim(), () => null);
  const matches = (t) => t !== null && (expected instanceof RegExp ? expected.test(t) : t === expected);
  const deadline = Date.now() + 10_000;
  let text = await read();
  while (!matches(text) && Date.now() < deadline) {
    await page.waitForTimeout(50);
    text = await read();
  }
  if (expected instanceof RegExp) assert.match(text ?? '(no message)', expected);
  else assert.equal(text, expected);
  return text;
}

async function texts(locator) {
  return (await locator.allTextContents()).map((t) => t.trim());
}

/* A REST session of the administrator acting in one account. */
async function adminIn(account) {
  const api = new Api(daemon.url);
  await api.login(ADMIN_EMAIL, daemon.adminPassword);
  await api.switchAccount(account.id);
  return api;
}

test('signs in and shows the shell', async () => {
  await inBrowser('sign-in', async (page) => {
    await page.goto('/');
    await settled(page, 'Sign in');
    assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/login?next=%2Faccounts');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('name')), 'email');
    assert.equal(await page.locator('#topbar').isVisible(), false);

    await page.getByLabel('E-mail address').fill(ADMIN_EMAIL);
    await page.getByLabel('Password').fill(daemon.adminPassword);
    await page.keyboard.press('Enter');
    await page.waitForURL('**/accounts');
    await settled(page, 'Accounts');

    assert.equal(await page.locator('#whoami .email').textContent(), ADMIN_EMAIL);
    assert.deepEqual(await texts(page.locator('#nav a')), ALL_PAGES);
    assert.equal(await page.locator('#nav a[aria-current="page"]').textContent(), 'Accounts');
    // The session acts in the first account by name.
    assert.equal(await page.locator('#account-switch option:checked').textContent(), 'acme');
    const names = await texts(page.locator('main table tbody tr td:first-child'));
    assert.ok(names.includes('acme') && names.includes('globex'), names.join(', '));

    // The cookie is the server's, and out of reach of scripts.
    const me = await browserMe(page);
    assert.equal(me.status, 200);
    assert.equal(me.body.user.email, ADMIN_EMAIL);
    assert.equal(me.body.account.name, 'acme');
    assert.equal(await page.evaluate(() => document.cookie), '');

    // After a load, the keyboard starts at the skip link, then the header.
    await page.reload();
    await settled(page, 'Accounts');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'Cloister');

    // Navigation is in-page (the window survives) and back/forward work.
    await page.evaluate(() => { window.__samePage = 'yes'; });
    await page.locator('#nav').getByRole('link', { name: 'Members' }).click();
    await settled(page, 'Members');
    assert.equal(new URL(page.url()).pathname, '/members');
    assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1');
    await page.goBack();
    await settled(page, 'Accounts');
    await page.goForward();
    await settled(page, 'Members');
    assert.equal(await page.evaluate(() => window.__samePage), 'yes');
    assert.equal(await page.title(), 'Members · acme · Cloister');
  });
});

test('a wrong password is refused with a message', async () => {
  await inBrowser('wrong-password', async (page) => {
    await page.goto('/login');
    await settled(page, 'Sign in');
    await page.getByLabel('E-mail address').fill(ADMIN_EMAIL);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.locator('.form-message');
    await alert.waitFor();
    assert.equal(await alert.textContent(), 'Wrong e-mail address or password.');
    assert.equal(await alert.getAttribute('role'), 'alert');
    assert.equal(await page.getByLabel('Password').inputValue(), '');
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal((await browserMe(page)).status, 401);
  }, { expected: [BOOT_401, { status: 401, path: '/v1/session' }] });
});

test('too many failed sign-ins say so', async () => {
  // The daemon allows 3 failures per address in the window (see before()).
  await inBrowser('too-many-attempts', async (page) => {
    await page.goto('/login');
    await settled(page, 'Sign in');
    const alert = page.locator('.form-message');
    for (let i = 0; i < 4; i++) {
      await page.getByLabel('E-mail address').fill('mallory@example.com');
      await page.getByLabel('Password').fill(`guess-${i}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForSelector('button[type=submit]:not([disabled])');
    }
    assert.match(await alert.textContent(), /^Too many attempts\. Try again in \d+ (seconds|minutes)\.$/);
  }, { expected: [BOOT_401, { status: 401, path: '/v1/session' }, { status: 429, path: '/v1/session' }] });
});

test('switches the account the session acts in', async () => {
  const only = unique('globex-only') + '@example.com';
  const api = await adminIn(globex);
  await api.ok('POST', `/v1/accounts/${globex.id}/members`, { email: only, role: 'auditor' }, 201);

  await inBrowser('switch-account', async (page) => {
    await signInAdmin(page, { next: '/members' });
    await settled(page, 'Members');
    let emails = await texts(page.locator('main tbody tr td:first-child'));
    assert.ok(!emails.some((e) => e.startsWith(only)), 'globex member shown in acme');

    await page.getByLabel('Account', { exact: true }).selectOption({ label: 'globex' });
    await notice(page, 'Now acting in globex as admin.');
    await page.locator('main tbody tr', { hasText: only }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/members');
    assert.equal(await page.title(), 'Members · globex · Cloister');
    emails = await texts(page.locator('main tbody tr td:first-child'));
    assert.ok(emails.includes(only), emails.join(', '));

    // The server switched the session, so a reload stays in globex.
    assert.equal((await browserMe(page)).body.account.id, globex.id);
    await page.reload();
    await settled(page, 'Members');
    assert.equal(await page.locator('#account-switch option:checked').textContent(), 'globex');
  });
});

test('an instance administrator creates an account', async () => {
  const name = unique('initech');
  await inBrowser('create-account', async (page) => {
    await signInAdmin(page);
    await settled(page, 'Accounts');
    await page.getByLabel('Name').fill(name);
    await page.getByRole('button', { name: 'Create account' }).click();
    await notice(page, `Account ${name} created; you are its admin.`);
    await page.locator('main tbody tr', { hasText: name }).waitFor();
    assert.ok((await texts(page.locator('#account-switch option'))).includes(name));

    const listed = (await admin.all('/v1/accounts')).find((a) => a.name === name);
    assert.ok(listed, 'the server has no such account');
    assert.equal(listed.role, 'admin');

    // A name taken already: the server's 409, next to the form.
    await page.getByLabel('Name').fill('ACME');
    await page.getByRole('button', { name: 'Create account' }).click();
    const message = page.locator('main form .form-message');
    await message.waitFor();
    assert.equal(await message.textContent(), 'Conflict: An account named "ACME" exists already.');
  }, { expected: [BOOT_401, { status: 409, path: '/v1/accounts' }] });
});

test('adds a new person as a member and shows their password once', async () => {
  const email = unique('grace') + '@example.com';
  await inBrowser('add-member', async (page) => {
    await signInAdmin(page, { next: '/members' });
    await settled(page, 'Members');

    // A field the server refuses: its message next to the field.
    await page.getByLabel('E-mail address').fill('not-an-address');
    await page.getByRole('button', { name: 'Add member' }).click();
    const fieldError = page.locator('.field:has(input[name=email]) .field-error');
    await fieldError.waitFor();
    assert.equal(await fieldError.textContent(), 'Must be an e-mail address.');
    assert.equal(await page.getByLabel('E-mail address').getAttribute('aria-invalid'), 'true');

    await page.getByLabel('E-mail address').fill(email);
    await page.getByLabel('Role', { exact: true }).selectOption('auditor');
    await page.getByRole('button', { name: 'Add member' }).click();
    const panel = page.locator('.panel-secret');
    await panel.waitFor();
    assert.equal(await panel.locator('h2').textContent(), `Initial password for ${email}`);
    assert.match(await panel.textContent(), /it is shown only this once/);
    const password = await panel.locator('input.secret-value').inputValue();
    assert.match(password, /^[A-Za-z0-9_-]{24}$/);
    await notice(page, `${email} was added as auditor.`);

    await panel.getByRole('button', { name: 'Copy password' }).click();
    await panel.getByText('Copied.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), password);

    const row = page.locator('main tbody tr', { hasText: email });
    await row.waitFor();
    assert.equal(await row.locator('select').inputValue(), 'auditor');

    // The person exists, with that password, as an auditor of acme.
    const grace = new Api(daemon.url);
    await grace.login(email, password);
    const me = await grace.ok('GET', '/v1/me');
    assert.deepEqual(me.accounts.map((a) => [a.name, a.role]), [['acme', 'auditor']]);

    await panel.getByRole('button', { name: 'Done' }).click();
    assert.equal(await page.locator('.panel-secret').count(), 0);
    assert.ok(!(await page.content()).includes(password), 'the password is still in the page');
  }, { expected: [BOOT_401, { status: 422, path: `/v1/accounts/${acme.id}/members` }],
       permissions: ['clipboard-read', 'clipboard-write'] });
});

test('changes a member\'s role and removes a member after confirming', async () => {
  const email = unique('ada') + '@example.com';
  const api = await adminIn(acme);
  const member = await api.ok('POST', `/v1/accounts/${acme.id}/members`,
                              { email, role: 'operator' }, 201);
  const memberPath = `/v1/accounts/${acme.id}/members/${member.user_id}`;

  await inBrowser('change-and-remove-member', async (page) => {
    await signInAdmin(page, { next: '/members' });
    await settled(page, 'Members');
    const row = page.locator('main tbody tr', { hasText: email });
    await row.getByLabel(`Role of ${email}`, { exact: true }).selectOption('auditor');
    await row.getByRole('button', { name: `Change role of ${email}` }).click();
    await notice(page, `${email} is now auditor.`);
    assert.equal((await api.ok('GET', memberPath)).role, 'auditor');

    // The account's last admin cannot stop being one: the server's 409, shown.
    const self = page.locator('main tbody tr', { hasText: ADMIN_EMAIL });
    await self.getByLabel(`Role of ${ADMIN_EMAIL}`, { exact: true }).selectOption('operator');
    await self.getByRole('button', { name: `Change role of ${ADMIN_EMAIL}` }).click();
    await notice(page,
      new RegExp(`^Could not change the role of ${ADMIN_EMAIL}\\. Conflict: An account must keep at least one admin`));
    assert.equal(await self.getByLabel(`Role of ${ADMIN_EMAIL}`, { exact: true }).inputValue(), 'admin');

    // Removing asks first; cancelling keeps the member.
    await page.locator('main tbody tr', { hasText: email }).getByRole('button', { name: `Remove ${email}` }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(await dialog.locator('h2').textContent(), `Remove ${email}?`);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await api.call('GET', memberPath)).status, 200);

    await page.locator('main tbody tr', { hasText: email }).getByRole('button', { name: `Remove ${email}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove member' }).click();
    await notice(page, `${email} was removed from acme.`);
    await page.locator('main tbody tr', { hasText: email }).waitFor({ state: 'detached' });
    assert.equal((await api.call('GET', memberPath)).status, 404);
  }, { expected: [BOOT_401, { status: 409, path: `/v1/accounts/${acme.id}/members/${(await adminMe()).user.id}` }] });
});

/* A noop job in `account`, put in the queue behind the API's back (the API
 * has no way to make one); answers its id. */
async function enqueueNoop(account, params, { maxAttempts = 1, runAfter = null } = {}) {
  const json = JSON.stringify(params).replace(/'/g, "''");
  return psql(
    'WITH j AS (INSERT INTO jobs (account_id, kind, params, max_attempts, created_by, run_after)' +
    ` VALUES ('${account.id}', 'noop', '${json}', ${maxAttempts}, 'test',` +
    ` now() + interval '${runAfter || '0 seconds'}') RETURNING id),` +
    " n AS (SELECT pg_notify('cloister_jobs', 'noop')) SELECT j.id FROM j, n", daemon.dbname);
}

/* A new account with admins (and others) of its own, each with a password. */
async function accountWithPeople(prefix, roles) {
  const account = await admin.createAccount(unique(prefix));
  const api = await adminIn(account);
  const people = [];
  for (const role of roles) {
    const email = `${unique(role)}@example.com`;
    const m = await api.ok('POST', `/v1/accounts/${account.id}/members`, { email, role }, 201);
    people.push({ email, password: m.initial_password, role });
  }
  return { account, api, people };
}

/* The value of a <progress> element. */
async function progressValue(locator) {
  return locator.evaluate((el) => el.value);
}

async function adminMe() {
  return admin.ok('GET', '/v1/me');
}

test('creates an API key, shows its secret once, lists it and revokes it', async () => {
  const name = unique('ci-deploy');
  const api = await adminIn(acme);
  await inBrowser('api-key', async (page) => {
    await signInAdmin(page, { next: '/api-keys' });
    await settled(page, 'API keys');
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Role', { exact: true }).selectOption('operator');
    await page.getByLabel('Expires').fill('2031-01-02T03:04');
    await page.getByRole('button', { name: 'Create API key' }).click();

    const panel = page.locator('.panel-secret');
    await panel.waitFor();
    assert.equal(await panel.locator('.secret-warning strong').textContent(),
                 'Copy this secret now: you will not see it again.');
    const secret = await panel.locator('input.secret-value').inputValue();
    assert.match(secret, /^clk_[A-Za-z0-9_-]{43}$/);
    await panel.getByRole('button', { name: 'Copy secret' }).click();
    await panel.getByText('Copied.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);

    // The key works, and is what the form said.
    const key = new Api(daemon.url, { key: secret });
    const me = await key.ok('GET', '/v1/me');
    assert.equal(me.api_key.name, name);
    assert.equal(me.role, 'operator');
    assert.equal(me.api_key.expires_at, '2031-01-02T03:04:00.000000Z');

    // Listed by its prefix; the secret gone once dismissed.
    const prefix = secret.slice(0, 12);
    const row = page.locator(`main tbody tr[data-prefix="${prefix}"]`);
    await row.waitFor();
    assert.deepEqual((await texts(row.locator('td'))).slice(0, 3), [name, prefix, 'Operator']);
    assert.equal(await row.locator('td[data-label="Expires"]').textContent(), '2031-01-02 03:04 UTC');
    assert.equal(await row.locator('td[data-label="Status"] .badge').textContent(), 'Active');
    await panel.getByRole('button', { name: 'I have copied it' }).click();
    assert.equal(await page.locator('.panel-secret').count(), 0);
    assert.ok(!(await page.content()).includes(secret), 'the secret is still in the page');
    await page.reload();
    await settled(page, 'API keys');
    assert.ok(!(await page.content()).includes(secret), 'the secret came back after a reload');

    // Revoking asks first, then the key stops working.
    await page.locator(`main tbody tr[data-prefix="${prefix}"]`)
      .getByRole('button', { name: `Revoke ${name} (${prefix})` }).click();
    const dialog = page.getByRole('dialog');
    assert.equal(await dialog.locator('h2').textContent(), `Revoke ${name}?`);
    await dialog.getByRole('button', { name: 'Revoke key' }).click();
    await notice(page, `The API key ${name} (${prefix}) was revoked.`);
    await page.locator(`main tbody tr[data-prefix="${prefix}"] td[data-label="Status"] .badge`,
                       { hasText: 'Revoked' }).waitFor();
    assert.equal(await page.locator(`main tbody tr[data-prefix="${prefix}"] button`).count(), 0);
    const refused = await key.call('GET', '/v1/me');
    assert.equal(refused.status, 401);
    assert.equal(refused.body.detail, 'the API key was revoked');
    const listed = (await api.all('/v1/api-keys')).find((k) => k.prefix === prefix);
    assert.ok(listed.revoked_at);
  }, { permissions: ['clipboard-read', 'clipboard-write'] });
});

test('filters the audit log and shows the chain verified', async () => {
  const api = await adminIn(acme);
  for (const n of ['audit-a', 'audit-b', 'audit-c'])
    await api.ok('POST', '/v1/api-keys', { name: unique(n), role: 'auditor' }, 201);
  const creates = await api.all('/v1/audit?action=api_key.create');
  const everything = await api.all('/v1/audit');
  assert.ok(creates.length >= 3 && everything.length > creates.length);

  await inBrowser('audit', async (page) => {
    await signInAdmin(page, { next: '/audit' });
    await settled(page, 'Audit log');
    const badge = page.locator('.verify .badge');
    assert.equal(await badge.textContent(), 'Chain verified');
    assert.equal((await api.ok('GET', '/v1/audit/verify')).valid, true);
    const total = await page.locator('main tbody tr').count();

    await page.getByLabel('Action').fill('api_key.create');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL((url) => url.search === '?action=api_key.create');
    await settled(page, 'Audit log');
    const actions = await page.locator('main tbody tr').evaluateAll(
      (rows) => rows.map((r) => r.dataset.action));
    assert.ok(actions.length >= creates.length, `${actions.length} rows`);
    assert.deepEqual(actions, actions.map(() => 'api_key.create'));
    const seqs = await page.locator('main tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.seq)));
    const fresh = await api.all('/v1/audit?action=api_key.create');
    assert.deepEqual(seqs, fresh.map((e) => e.seq), 'not the server\'s events, newest first');
    assert.equal(await page.getByLabel('Action').inputValue(), 'api_key.create');
    assert.equal(await page.locator('.list-summary').textContent(),
                 `${fresh.length} events matching the filters.`);

    // The filter is history: back shows everything again.
    await page.goBack();
    await page.waitForURL((url) => url.search === '');
    await settled(page, 'Audit log');
    assert.ok(await page.locator('main tbody tr').count() >= total);
    assert.equal(await page.getByLabel('Action').inputValue(), '');

    // Load more follows next_cursor, page by page, to the end.
    await page.goto('/audit?limit=2');
    await settled(page, 'Audit log');
    assert.equal(await page.locator('main tbody tr').count(), 2);
    const more = page.getByRole('button', { name: 'Load more' });
    for (let shown = 2; await more.isVisible(); shown += 2) {
      await more.click();
      await page.waitForFunction((n) => document.querySelectorAll('main tbody tr').length > n, shown);
    }
    const all = await api.all('/v1/audit');
    const shownSeqs = await page.locator('main tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.seq)));
    assert.deepEqual(shownSeqs, all.map((e) => e.seq));
  });
});

test('shows where a tampered audit chain breaks', async () => {
  const account = await admin.createAccount(unique('tampered'));
  const api = await adminIn(account);
  const key = await api.ok('POST', '/v1/api-keys', { name: 'to-be-edited', role: 'auditor' }, 201);
  const [event] = await api.all(`/v1/audit?target=api_key:${key.id}`);
  await psql(`UPDATE audit_events SET details = details || '{"name": "edited"}' WHERE id = '${event.id}'`,
             daemon.dbname);
  const verdict = await api.ok('GET', '/v1/audit/verify');
  assert.equal(verdict.valid, false);
  assert.equal(verdict.first_bad.seq, event.seq);

  await inBrowser('audit-broken', async (page) => {
    await signInAdmin(page);
    await page.getByLabel('Account', { exact: true }).selectOption({ label: account.name });
    await notice(page, `Now acting in ${account.name} as admin.`);
    await page.locator('#nav').getByRole('link', { name: 'Audit' }).click();
    await settled(page, 'Audit log');
    const badge = page.locator('.verify .badge');
    assert.equal(await badge.textContent(), `Chain broken at event #${event.seq}`);
    assert.match(await page.locator('.verify').textContent(), /the row was edited/);
    assert.deepEqual(await page.locator('main tbody tr.row-broken').evaluateAll(
      (rows) => rows.map((r) => Number(r.dataset.seq))), [event.seq]);
  });
});

test('roles: an operator gets no member or key actions, an auditor only reads', async () => {
  const api = await adminIn(acme);
  const people = {};
  for (const role of ['operator', 'auditor']) {
    const email = unique(role) + '@example.com';
    const m = await api.ok('POST', `/v1/accounts/${acme.id}/members`, { email, role }, 201);
    people[role] = { email, password: m.initial_password };
  }
  await api.ok('POST', '/v1/api-keys', { name: unique('visible'), role: 'operator' }, 201);
  await api.ok('POST', '/v1/registries', { name: unique('roles'), host: 'registry.example.com' }, 201);
  const app = await api.ok('POST', '/v1/apps', { name: unique('roles'), input_image: 'nginx:1.25',
                                                 output_image: 'registry.example.com/acme/roles' }, 201);
  // A job no worker takes for an hour: still cancellable.
  const held = await enqueueNoop(acme, { ms: 0 }, { runAfter: '1 hour' });

  await inBrowser('role-operator', async (page) => {
    await signIn(page, people.operator.email, people.operator.password, { next: '/members' });
    await settled(page, 'Members');
    assert.deepEqual(await texts(page.locator('#nav a')),
                     ['Accounts', 'Apps', 'Builds', 'Attestation', 'Nodes', 'Clusters', 'Deployments',
                      'Registries', 'Jobs', 'Approvals', 'Workers', 'Members']);
    assert.equal(await page.getByRole('button', { name: 'Add member' }).count(), 0);
    assert.equal(await page.locator('main tbody select, main tbody button').count(), 0);
    assert.equal(await page.locator('main .note').textContent(),
                 'Only the account’s admins can add, change or remove members.');

    // Straight to a page the role may not see: the server's 403, as it said it.
    await page.goto('/api-keys');
    await settled(page, 'API keys');
    assert.deepEqual(await texts(page.locator('main .panel-error p')),
                     ['Not allowed', 'Forbidden: The operator role may not GET /v1/api-keys.']);

    // Apps, registries and jobs are an operator's to change; approvals are not.
    await page.locator('#nav').getByRole('link', { name: 'Apps' }).click();
    await settled(page, 'Apps');
    assert.equal(await page.getByRole('link', { name: 'New app' }).count(), 1);
    await page.goto(`/apps/${app.id}`);
    await settled(page, app.name);
    assert.equal(await page.getByRole('button', { name: 'Convert' }).count(), 1);
    await page.locator('#nav').getByRole('link', { name: 'Registries' }).click();
    await settled(page, 'Registries');
    assert.equal(await page.getByRole('button', { name: 'Add registry' }).count(), 1);
    assert.ok(await page.getByRole('button', { name: /^Check / }).count() >= 1);
    await page.goto(`/jobs/${held}`);
    await settled(page, 'Job noop');
    assert.equal(await page.getByRole('button', { name: 'Cancel job' }).isVisible(), true);
    await page.locator('#nav').getByRole('link', { name: 'Approvals' }).click();
    await settled(page, 'Approvals');
    assert.equal(await page.getByRole('button', { name: /^(Approve|Deny) / }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Save policy' }).count(), 0);
    assert.equal(await page.locator('main .note').first().textContent(),
                 'Only the account’s admins approve or deny tasks.');
  }, { expected: [BOOT_401, { status: 403, path: '/v1/api-keys' }] });

  await inBrowser('role-auditor', async (page) => {
    await signIn(page, people.auditor.email, people.auditor.password, { next: '/api-keys' });
    await settled(page, 'API keys');
    assert.deepEqual(await texts(page.locator('#nav a')), ALL_PAGES);
    assert.ok(await page.locator('main tbody tr').count() >= 1);
    assert.equal(await page.getByRole('button', { name: 'Create API key' }).count(), 0);
    assert.equal(await page.locator('main tbody button').count(), 0);
    await page.locator('#nav').getByRole('link', { name: 'Audit' }).click();
    await settled(page, 'Audit log');
    assert.equal(await page.locator('.verify .badge').textContent(), 'Chain verified');
    assert.ok(await page.locator('main tbody tr').count() >= 1);

    // Apps, registries and jobs: read only.
    await page.locator('#nav').getByRole('link', { name: 'Apps' }).click();
    await settled(page, 'Apps');
    assert.equal(await page.getByRole('link', { name: 'New app' }).count(), 0);
    assert.equal(await page.locator('main .note').textContent(),
                 'Only the account’s operators and admins can create or change apps.');
    await page.goto(`/apps/${app.id}`);
    await settled(page, app.name);
    assert.equal(await page.getByRole('button', { name: 'Convert' }).count(), 0);
    assert.equal(await page.locator('section[aria-labelledby="app-builds"] .empty').textContent(), 'No builds yet.');
    await page.locator('#nav').getByRole('link', { name: 'Registries' }).click();
    await settled(page, 'Registries');
    assert.ok(await page.locator('main tbody tr').count() >= 1);
    assert.equal(await page.locator('main form').count(), 0);
    assert.equal(await page.locator('main tbody button').count(), 0);
    await page.goto(`/jobs/${held}`);
    await settled(page, 'Job noop');
    assert.equal(await page.locator('main button').count(), 0);
  });
  await api.ok('POST', `/v1/jobs/${held}/cancel`);
});

test('signs out, and pages then ask to sign in', async () => {
  await inBrowser('sign-out', async (page) => {
    await signInAdmin(page, { next: '/members' });
    await settled(page, 'Members');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await settled(page, 'Sign in');
    assert.equal(new URL(page.url()).pathname, '/login');
    await notice(page, 'You have signed out.');
    assert.equal(await page.locator('#topbar').isVisible(), false);
    assert.equal((await browserMe(page)).status, 401);

    await page.goto('/members');
    await settled(page, 'Sign in');
    assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/login?next=%2Fmembers');
    assert.equal(await page.locator('main table').count(), 0);
  }, { expected: [BOOT_401] });
});

test('a session that ended elsewhere leads to the sign-in page and back', async () => {
  await inBrowser('session-ended', async (page) => {
    await signInAdmin(page, { next: '/members' });
    await settled(page, 'Members');
    // End the session behind the portal's back, as an expiry would.
    const status = await page.evaluate(async () => {
      const me = await (await fetch('/v1/me')).json();
      const r = await fetch('/v1/session', { method: 'DELETE', headers: { 'X-CSRF-Token': me.csrf_token } });
      return r.status;
    });
    assert.equal(status, 204);

    await page.locator('#nav').getByRole('link', { name: 'API keys' }).click();
    await settled(page, 'Sign in');
    assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/login?next=%2Fapi-keys');
    await notice(page, 'Your session has ended. Sign in again to continue.');

    await page.getByLabel('E-mail address').fill(ADMIN_EMAIL);
    await page.getByLabel('Password').fill(daemon.adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL('**/api-keys');
    await settled(page, 'API keys');
  }, { expected: [BOOT_401, { status: 401, path: '/v1/api-keys' }] });
});

test('adds a plain-HTTP registry, checks it live, and keeps its password write-only', async () => {
  const { account, api } = await accountWithPeople('registries', []);
  const name = unique('local');
  await inBrowser('registries', async (page) => {
    await signInAdmin(page);
    await page.getByLabel('Account', { exact: true }).selectOption({ label: account.name });
    await notice(page, `Now acting in ${account.name} as admin.`);
    await page.locator('#nav').getByRole('link', { name: 'Registries' }).click();
    await settled(page, 'Registries');
    assert.equal(await page.locator('main .empty').textContent(), 'No registries yet. Add the first one above.');

    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Host').fill(registry.host);
    await page.getByLabel('Use HTTPS').uncheck();
    await page.getByRole('button', { name: 'Add registry' }).click();
    await notice(page, `The registry ${name} was added.`);
    const row = page.locator(`main tbody tr[data-name="${name}"]`);
    await row.waitFor();
    assert.deepEqual((await texts(row.locator('td'))).slice(0, 6),
                     [name, registry.host, 'Plain HTTP', 'None', 'None', 'Never']);
    const [stored] = await api.all('/v1/registries');
    assert.deepEqual([stored.name, stored.host, stored.tls, stored.has_password],
                     [name, registry.host, false, false]);

    // Check: the job is followed live until the registry has answered.
    await row.getByRole('button', { name: `Check ${name}` }).click();
    const follow = page.locator(`.job-panel[data-registry-id="${stored.id}"] .job-follow`);
    await follow.waitFor();
    assert.equal(await follow.locator('h3').textContent(), `Checking ${name}`);
    await page.locator('.job-follow[data-state="succeeded"]').waitFor();
    assert.equal(await follow.locator('.badge-job').textContent(), 'Succeeded');
    assert.equal(await progressValue(follow.locator('progress')), 100);
    await notice(page, `${name} answered; authentication: none.`);
    const events = await texts(follow.locator('.event .event-text'));
    assert.deepEqual(events, ['contacting the registry', `GET http://${registry.host}/v2/`,
                              'the registry answered; authentication: none', 'succeeded']);
    await row.locator('td[data-label="Last check"] .badge-job', { hasText: 'Succeeded' }).waitFor();
    const checked = await api.ok('GET', `/v1/registries/${stored.id}`);
    const job = await api.ok('GET', `/v1/jobs/${checked.last_check_job}`);
    assert.deepEqual([job.kind, job.state, job.result.auth], ['registry.check', 'succeeded', 'none']);
    assert.equal(await follow.getAttribute('data-job-id'), job.id);

    // The password is sent, sealed, never shown; empty keeps it; the box removes it.
    await row.getByRole('link', { name: `Edit ${name}` }).click();
    await settled(page, name);
    await page.getByLabel('User name').fill('robot');
    await page.locator('input[name=password]').fill('s3cret-pw');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await notice(page, `The registry ${name} was saved.`);
    await page.getByText('Set (never shown)').waitFor();
    let now = await api.ok('GET', `/v1/registries/${stored.id}`);
    assert.deepEqual([now.username, now.has_password], ['robot', true]);
    assert.equal(await page.locator('input[name=password]').inputValue(), '');
    assert.ok(!(await page.content()).includes('s3cret-pw'), 'the password is in the page');
    assert.match(await page.locator('.field:has(input[name=password]) .hint').textContent(), /Leave this empty to keep it/);

    await clearNotices(page);
    await page.getByLabel('User name').fill('robot2');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await notice(page, `The registry ${name} was saved.`);
    now = await api.ok('GET', `/v1/registries/${stored.id}`);
    assert.deepEqual([now.username, now.has_password], ['robot2', true]);

    await clearNotices(page);
    await page.getByLabel('Remove the password').check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await notice(page, `The registry ${name} was saved.`);
    await page.locator('main dd', { hasText: /^None$/ }).first().waitFor();
    now = await api.ok('GET', `/v1/registries/${stored.id}`);
    assert.equal(now.has_password, false);
    const updates = await api.all(`/v1/audit?action=registry.update&target=registry:${stored.id}`);
    assert.deepEqual(updates.map((e) => e.details.fields), [['password'], ['username'], ['username', 'password']]);
  });
});

test('creates an app from an inspected image', async () => {
  const { account, api } = await accountWithPeople('images', []);
  const reg = await api.ok('POST', '/v1/registries', { name: 'local', host: registry.host, tls: false }, 201);
  const name = unique('app');
  const reference = `${registry.host}/team/app:v1`;
  const pinned = `${reference}@${imageDigest}`;
  await inBrowser('app-from-image', async (page) => {
    await signInAdmin(page);
    await page.getByLabel('Account', { exact: true }).selectOption({ label: account.name });
    await notice(page, `Now acting in ${account.name} as admin.`);
    await page.locator('#nav').getByRole('link', { name: 'Apps' }).click();
    await settled(page, 'Apps');
    await page.getByRole('link', { name: 'Create from an image' }).click();
    await settled(page, 'New app');
    assert.equal(await page.evaluate(() => document.activeElement.name), 'reference');

    // A reference the server refuses: its message next to the field.
    await page.getByLabel('Image reference').fill('Team/App');
    await page.getByRole('button', { name: 'Inspect image' }).click();
    const refError = page.locator('.field:has(input[name=reference]) .field-error');
    await refError.waitFor();
    assert.match(await refError.textContent(), /^Has a malformed repository "Team\/App"/);

    await page.getByLabel('Image reference').fill('');
    await page.getByLabel('Registry').selectOption(reg.id);
    assert.equal(await page.getByLabel('Image reference').inputValue(), `${registry.host}/`);
    await page.getByLabel('Image reference').fill(reference);
    await page.getByRole('button', { name: 'Inspect image' }).click();
    const follow = page.locator('.inspect-result .job-follow');
    await follow.waitFor();
    assert.equal(await follow.locator('h3').textContent(), `Inspecting ${reference}`);
    await page.locator('.inspect-result .job-follow[data-state="succeeded"]').waitFor();
    assert.equal(await progressValue(follow.locator('progress')), 100);
    const panel = page.locator('.inspection-panel');
    await panel.waitFor();
    const shown = Object.fromEntries(await panel.locator('.facts dt').evaluateAll((dts) =>
      dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
    assert.equal(shown.Digest, imageDigest);
    assert.equal(shown.Platform, 'linux/amd64');
    assert.equal(shown.Entrypoint, '/usr/bin/app');
    assert.equal(shown.Command, '--serve');
    assert.equal(shown['Working directory'], '/srv');
    assert.equal(shown['Exposed ports'], '8080/tcp');
    assert.equal(await panel.locator('.pinned-reference').textContent(), pinned);

    await panel.getByRole('button', { name: 'Use this image' }).click();
    await notice(page, `The form starts from ${pinned}.`);
    assert.equal(await page.getByLabel('Input image').inputValue(), pinned);
    assert.equal(await page.getByLabel('Entrypoint').inputValue(), '/usr/bin/app');
    assert.equal(await page.getByLabel('Arguments').inputValue(), '--serve');
    assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'app');

    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Output image').fill(`${registry.host}/team/app-sgx:v1`);
    await page.getByLabel('Enclave size').fill('1G');
    await page.getByLabel('Environment').fill('LOG_LEVEL=info\nGREETING=a=b');
    await page.getByLabel('Allowed domains').fill('api.example.com\n\n*.cdn.example.com');
    await page.getByLabel(/^Labels/).fill('team=web');
    await page.getByRole('button', { name: 'Create app' }).click();
    await settled(page, name);
    await notice(page, `The app ${name} was created. 2 domains wait for approval.`);

    const [app] = await api.all('/v1/apps');
    assert.equal(new URL(page.url()).pathname, `/apps/${app.id}`);
    assert.deepEqual(
      [app.name, app.input_image, app.entrypoint, app.args, app.enclave_size, app.env, app.labels,
       app.allowed_domains, app.approved_domains, app.max_threads],
      [name, pinned, ['/usr/bin/app'], ['--serve'], 1073741824, { LOG_LEVEL: 'info', GREETING: 'a=b' },
       { team: 'web' }, ['api.example.com', '*.cdn.example.com'], [], 16]);
    // The app's page: the image pinned to its digest, the domains waiting.
    assert.equal(await page.locator('code[data-field="input_image"]').textContent(), pinned);
    await page.getByText('Pinned to a digest').waitFor();
    // The server resolves the input image too (an image.inspect job through
    // the account's registry for that host); the page follows it to the end.
    const resolved = page.locator('code[data-field="input_digest"]');
    await resolved.waitFor();
    assert.equal(await resolved.textContent(), imageDigest);
    assert.deepEqual(await texts(page.locator('[data-group="pending"] li code')),
                     ['api.example.com', '*.cdn.example.com']);
    assert.equal(await page.locator('[data-group="approved"]').textContent(), 'Approved (0)None yet');
    assert.match(await page.locator('main').textContent(), /1 GiB \(1,073,741,824 bytes\)/);
  }, { expected: [BOOT_401, { status: 422, path: '/v1/images/inspect' }] });
});

test('edits an app: the server\'s message by the field, only what changed, deletes after confirming', async () => {
  const api = await adminIn(acme);
  const name = unique('edit');
  const app = await api.ok('POST', '/v1/apps',
    { name, input_image: 'nginx:1.25', output_image: 'registry.example.com/acme/web', env: { A: '1' } }, 201);
  const appPath = `/v1/apps/${app.id}`;
  await inBrowser('app-edit', async (page) => {
    await signInAdmin(page, { next: '/apps' });
    await settled(page, 'Apps');
    await page.locator('main tbody a', { hasText: name }).click();
    await settled(page, name);
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await settled(page, `Edit ${name}`);
    assert.equal(await page.getByLabel('Enclave size').inputValue(), '512M');
    assert.equal(await page.getByLabel('Environment').inputValue(), 'A=1');

    // The form's own check, then the server's.
    await page.getByLabel('Environment').fill('no equals sign');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const envError = page.locator('.field:has(textarea[name=env]) .field-error');
    assert.equal(await envError.textContent(), 'Line 1 must be NAME=value.');
    await page.getByLabel('Environment').fill('A=1\n1BAD=x');
    await page.getByLabel('Enclave size').fill('100M');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const sizeError = page.locator('.field:has(input[name=enclave_size]) .field-error');
    await sizeError.waitFor();
    assert.equal(await sizeError.textContent(),
                 'Must be a power of two from 67108864 (64 MiB) to 68719476736 (64 GiB) bytes.');
    assert.equal(await envError.textContent(), 'Key "1BAD" must be a variable name ([A-Za-z_][A-Za-z0-9_]*).');
    assert.equal(await page.getByLabel('Enclave size').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('main form .form-message').textContent(), 'Please correct the fields marked below.');
    assert.equal(await page.evaluate(() => document.activeElement.name), 'enclave_size');
    await page.screenshot({ path: shotPath('app-edit-field-errors'), fullPage: true });
    assert.equal((await api.ok('GET', appPath)).enclave_size, 536870912);

    // Someone else changes the app meanwhile: the save is refused, not lost.
    await api.ok('PATCH', appPath, { description: 'changed elsewhere' });
    await page.getByLabel('Enclave size').fill('256M');
    await page.getByLabel('Environment').fill('A=1\nB=2');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const message = page.locator('main form .form-message');
    await page.locator('main form .form-message', { hasText: 'Precondition Failed' }).waitFor();
    assert.equal(await message.textContent(),
                 `Precondition Failed: App "${app.id}" was changed since version 1; read it again.`);

    await page.reload();
    await settled(page, `Edit ${name}`);
    await page.getByLabel('Enclave size').fill('256M');
    await page.getByLabel('Threads').fill('32');
    await page.getByLabel('Environment').fill('A=1\nB=2');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await settled(page, name);
    await notice(page, `The app ${name} was saved.`);
    const saved = await api.ok('GET', appPath);
    assert.deepEqual([saved.enclave_size, saved.max_threads, saved.env, saved.description],
                     [268435456, 32, { A: '1', B: '2' }, 'changed elsewhere']);
    const [update] = await api.all(`/v1/audit?action=app.update&target=app:${app.id}`);
    assert.deepEqual(update.details.fields, ['enclave_size', 'max_threads', 'env']);

    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog');
    assert.equal(await dialog.locator('h2').textContent(), `Delete ${name}?`);
    await dialog.getByRole('button', { name: 'Delete app' }).click();
    await settled(page, 'Apps');
    await notice(page, `The app ${name} was deleted.`);
    assert.equal((await api.call('GET', appPath)).status, 404);
  }, { expected: [BOOT_401, { status: 422, path: appPath }, { status: 412, path: appPath }] });
});

test('approves a domain with a quorum of two admins', async () => {
  const { account, api: root, people } = await accountWithPeople('approvals', ['admin', 'admin', 'admin']);
  const [a, b, c] = people;
  const name = unique('web');
  const appRes = await (async () => {
    const s = new Api(daemon.url);
    await s.login(a.email, a.password);
    return s.ok('POST', '/v1/apps', { name, input_image: 'nginx:1.25', output_image: 'registry.example.com/acme/web' }, 201);
  })();
  let taskId;
  let staleId;

  await inBrowser('approvals', async (page) => {
    // A: a quorum of two, then a domain for the app.
    await signIn(page, a.email, a.password, { next: '/tasks' });
    await settled(page, 'Approvals');
    assert.equal(await page.locator('.policy-summary').textContent(), 'A new task needs the approval of 1 admin.');
    await page.getByLabel('Quorum').fill('2');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await notice(page, 'Saved: new tasks need 2 approvals.');
    assert.equal((await root.ok('GET', '/v1/policies/approval')).quorum, 2);
    assert.equal(await page.locator('.policy-summary').textContent(),
                 'A new task needs the approval of 2 admins; whoever asked for it may not be one of them.');

    await page.goto(`/apps/${appRes.id}/edit`);
    await settled(page, `Edit ${name}`);
    await page.getByLabel('Allowed domains').fill('api.example.com\nold.example.com');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await settled(page, name);
    assert.deepEqual(await texts(page.locator('[data-group="pending"] li')),
                     ['api.example.com Waiting: 0 of 2 approvals', 'old.example.com Waiting: 0 of 2 approvals']);
    const tasks = await root.all('/v1/tasks?state=pending');
    taskId = tasks.find((t) => t.details.domain === 'api.example.com').id;
    staleId = tasks.find((t) => t.details.domain === 'old.example.com').id;

    // A may not approve what A asked for: the server says so, on the task.
    await page.locator('[data-group="pending"] li', { hasText: 'api.example.com' }).getByRole('link').click();
    await settled(page, 'Approvals');
    const card = page.locator(`#task-${taskId}`);
    assert.equal(await card.locator('h3').textContent(), `api.example.com for ${name}`);
    assert.equal(await card.locator('.approval-count').textContent(), '0 of 2');
    assert.equal(await card.locator('.hint').last().textContent(),
                 'You asked for this: with a quorum of 2, other admins approve it.');
    await card.getByRole('button', { name: `Approve api.example.com for ${name}` }).click();
    const refused = card.locator('.form-message');
    await refused.waitFor();
    assert.equal(await refused.textContent(),
                 'Forbidden: You asked for this; with a quorum of 2, other admins must approve it.');
    await notice(page, `Could not approve api.example.com for ${name}. ` +
                       'Forbidden: You asked for this; with a quorum of 2, other admins must approve it.');
    await page.screenshot({ path: shotPath('approvals-requester-refused'), fullPage: true });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await settled(page, 'Sign in');

    // B approves with a comment: one of two.
    await signIn(page, b.email, b.password, { next: '/tasks' });
    await settled(page, 'Approvals');
    await card.getByLabel('Comment').fill('looks right');
    await card.getByRole('button', { name: `Approve api.example.com for ${name}` }).click();
    await notice(page, 'Your approval is recorded: 1 of 2.');
    // the card is drawn again after the notice: wait for it rather than race it
    await card.locator('.approval-count').filter({ hasText: /^1 of 2$/ }).waitFor();
    assert.equal(await card.locator('.decision').textContent(),
                 `Approved by ${b.email}, ${await card.locator('.decision time').textContent()}: looks right`);
    assert.equal(await card.locator('.note').textContent(), 'You approved this; it waits for other admins.');
    assert.equal(await card.getByRole('button').count(), 0);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await settled(page, 'Sign in');

    // C approves: two of two, and the app may reach the domain. A task
    // denied meanwhile cannot be approved: the server's 409, shown.
    await signIn(page, c.email, c.password, { next: '/tasks' });
    await settled(page, 'Approvals');
    await root.ok('POST', `/v1/tasks/${staleId}/deny`, { comment: 'not needed' });
    const stale = page.locator(`#task-${staleId}`);
    await stale.getByRole('button', { name: `Approve old.example.com for ${name}` }).click();
    await stale.locator('.form-message').waitFor();
    assert.equal(await stale.locator('.form-message').textContent(),
                 `Conflict: Task "${staleId}" is denied; it can no longer be decided.`);
    await card.getByRole('button', { name: `Approve api.example.com for ${name}` }).click();
    await notice(page, `Approved: ${name} may now reach api.example.com.`);
    const decided = page.locator(`section[aria-labelledby="decided-title"] #task-${taskId}`);
    await decided.waitFor();
    assert.equal(await decided.locator('.task-head .badge').textContent(), 'Approved');
    assert.equal(await decided.locator('.approval-count').textContent(), '2 of 2');
    assert.deepEqual(await decided.locator('.decision').evaluateAll((els) => els.map((e) => e.dataset.actor)),
                     (await root.ok('GET', `/v1/tasks/${taskId}`)).decisions.map((d) => d.actor));
    assert.equal(await page.locator(`section[aria-labelledby="pending-title"] h2`).textContent(),
                 'Waiting for a decision (0)');

    await decided.getByRole('link', { name }).click();
    await settled(page, name);
    assert.deepEqual(await texts(page.locator('[data-group="approved"] li')), ['api.example.com']);
    assert.deepEqual(await texts(page.locator('[data-group="pending"] li')), ['old.example.com Denied']);
    assert.deepEqual((await root.ok('GET', `/v1/apps/${appRes.id}`)).approved_domains, ['api.example.com']);
  }, { expected: () => [BOOT_401, { status: 403, path: `/v1/tasks/${taskId}/approve` },
                        { status: 409, path: `/v1/tasks/${staleId}/approve` }] });
});

test('follows a job live: progress, phase, events, attempts and result', async () => {
  const api = await adminIn(acme);
  await inBrowser('job-live', async (page) => {
    await signInAdmin(page, { next: '/jobs' });
    await settled(page, 'Jobs');
    // Queued once the page is there, so that it is seen running.
    const id = await enqueueNoop(acme, { ms: 5000, progress: true });
    await page.locator('#nav').getByRole('link', { name: 'Jobs' }).click();
    await page.locator(`main tbody tr[data-job-id="${id}"] a`).first().click();
    await settled(page, 'Job noop');
    assert.equal(new URL(page.url()).pathname, `/jobs/${id}`);
    const follow = page.locator('.job-follow');
    const bar = follow.locator('progress');

    // Seen running, part way.
    await page.waitForFunction(() => {
      const p = document.querySelector('.job-follow progress');
      return p && p.value > 0 && p.value < 100;
    });
    assert.equal(await follow.locator('.badge-job').textContent(), 'Running');
    assert.equal(await follow.locator('.job-phase').textContent(), 'Waiting…');
    assert.match(await follow.locator('.event-is-progress .event-text').last().textContent(), /^\d+ %( → \d+ %)?$/);

    await page.locator('.job-follow[data-state="succeeded"]').waitFor({ timeout: 15_000 });
    assert.equal(await progressValue(bar), 100);
    assert.equal(await follow.locator('.job-status').textContent(), 'The job succeeded.');

    // Every event, once each, in order; a run of progress events is one line.
    const events = await api.all(`/v1/jobs/${id}/events`);
    const rows = await follow.locator('.event').evaluateAll((lis) =>
      lis.map((li) => ({ seq: Number(li.dataset.seq), type: li.dataset.type,
                         text: li.querySelector('.event-text').textContent })));
    const lastProgress = events.filter((e) => e.type === 'progress').at(-1);
    assert.deepEqual(rows.map((r) => r.type), ['phase', 'progress', 'log', 'state']);
    assert.deepEqual(rows.map((r) => r.seq), [events[0].seq, lastProgress.seq, ...events.slice(-2).map((e) => e.seq)]);
    assert.equal(rows[0].text, 'waiting');
    assert.match(rows[1].text, new RegExp(`^\\d+ % → ${lastProgress.progress} %$`));
    assert.deepEqual([rows[2].text, rows[3].text], ['waited 5000 ms', 'succeeded']);

    const attempts = page.locator('section[aria-labelledby="job-attempts-title"] tbody tr');
    assert.deepEqual((await texts(attempts.locator('td'))).slice(0, 4), ['1', 'e2e-worker', 'succeeded', '—']);
    assert.equal(await page.locator('section[aria-labelledby="job-result-title"] pre').textContent(),
                 JSON.stringify({ attempt: 1 }, null, 2));
    assert.equal(await page.getByRole('button', { name: 'Cancel job' }).isVisible(), false);

    // The list, filtered.
    await page.goto('/jobs?kind=noop&state=succeeded');
    await settled(page, 'Jobs');
    const row = page.locator(`main tbody tr[data-job-id="${id}"]`);
    assert.equal(await row.locator('.badge-job').textContent(), 'Succeeded');
    assert.deepEqual([...new Set(await page.locator('main tbody tr').evaluateAll((trs) =>
      trs.map((tr) => `${tr.dataset.kind} ${tr.dataset.state}`)))], ['noop succeeded']);
    await page.getByLabel('State').selectOption('failed');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL((url) => url.search === '?state=failed&kind=noop');
    await settled(page, 'Jobs');
    assert.equal(await page.locator(`main tbody tr[data-job-id="${id}"]`).count(), 0);

    // And the worker that ran it.
    await page.locator('#nav').getByRole('link', { name: 'Workers' }).click();
    await settled(page, 'Workers');
    const w = page.locator('main tbody tr', { hasText: 'e2e-worker' });
    assert.equal(await w.locator('.badge-alive').textContent(), 'Alive');
    assert.equal(await w.locator('td[data-label="Slots"]').textContent(), '2');
    assert.deepEqual(await texts(w.locator('.kind')), ['noop', 'registry.check', 'image.inspect',
                                                          'convert', 'cluster.check', 'deploy',
                                                          'undeploy']);
  });
});

test('cancels a long job and sees it stop', async () => {
  const api = await adminIn(acme);
  const id = await enqueueNoop(acme, { ms: 60000 });
  await inBrowser('job-cancel', async (page) => {
    await signInAdmin(page, { next: `/jobs/${id}` });
    await settled(page, 'Job noop');
    await page.locator('.job-follow[data-state="running"]').waitFor();
    await page.getByRole('button', { name: 'Cancel job' }).click();
    const dialog = page.getByRole('dialog');
    assert.equal(await dialog.locator('h2').textContent(), 'Cancel this job?');
    await dialog.getByRole('button', { name: 'Cancel job' }).click();
    await notice(page, 'Cancel requested: the worker is stopping the job.');
    await page.locator('.job-follow[data-state="canceled"]').waitFor();
    assert.equal(await page.locator('.job-follow .badge-job').textContent(), 'Canceled');
    assert.equal(await page.getByRole('button', { name: 'Cancel job' }).isVisible(), false);
    const job = await api.ok('GET', `/v1/jobs/${id}`);
    assert.deepEqual([job.state, job.cancel_requested, job.attempt_history.map((x) => x.outcome)],
                     ['canceled', true, ['canceled']]);
    const outcome = page.locator('section[aria-labelledby="job-attempts-title"] tbody td[data-label="Outcome"]');
    await outcome.locator('text=canceled').waitFor();
    assert.match((await texts(page.locator('.job-follow .event .event-text'))).join('|'), /^canceled/);
  });
});

/* The job `id`, once it has ended. */
async function jobEnded(api, id) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const job = await api.ok('GET', `/v1/jobs/${id}`);
    if (['succeeded', 'failed', 'canceled'].includes(job.state)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} did not end: ${JSON.stringify(job)}\n${worker.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/* The images a conversion reads, pushed to `images` once. */
async function convertImages() {
  if (!convertRefs) convertRefs = await images.pushConvertImages();
  return convertRefs;
}

/* A build's facts as shown: {term: text}. */
async function shownFacts(section) {
  return Object.fromEntries(await section.locator('.facts dt').evaluateAll((dts) =>
    dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
}

test('converts an app and shows the build\'s measurements', async () => {
  const { account, api } = await accountWithPeople('builds', []);
  const refs = await convertImages();
  await api.ok('POST', '/v1/registries', { name: 'local', host: images.host, tls: false }, 201);
  const name = unique('hello');
  const app = await api.ok('POST', '/v1/apps', {
    name, input_image: refs.app, output_image: `${images.host}/out/${name}:v1`,
    enclave_size: 268435456, max_threads: 8,
  }, 201);
  let second;

  await inBrowser('build', async (page) => {
    await signInAdmin(page);
    await page.getByLabel('Account', { exact: true }).selectOption({ label: account.name });
    await notice(page, `Now acting in ${account.name} as admin.`);
    await page.goto(`/apps/${app.id}`);
    await settled(page, name);
    const builds = page.locator('section[aria-labelledby="app-builds"]');
    assert.equal(await builds.locator('.empty').textContent(), 'No builds yet. Convert the app to make one.');

    // Convert: the job followed live on the app's page, to the build it made.
    await clearNotices(page);
    await page.getByRole('button', { name: 'Convert' }).click();
    const panel = page.locator('.convert-panel');
    await panel.locator('.job-follow').waitFor();
    assert.equal(await panel.locator('.job-follow-title').textContent(), `Converting ${name}`);
    await panel.locator('.job-follow[data-state="succeeded"]').waitFor({ timeout: 120_000 });
    await notice(page, `${name} was converted.`);
    const job = await api.ok('GET', `/v1/jobs/${await panel.locator('.job-follow').getAttribute('data-job-id')}`);
    assert.deepEqual([job.kind, job.target, job.state], ['convert', `app:${app.id}`, 'succeeded']);
    const buildId = job.result.build_id;
    const build = await api.ok('GET', `/v1/builds/${buildId}`);
    const short = buildId.slice(0, 8);
    assert.equal(await progressValue(panel.locator('progress')), 100);
    assert.ok((await texts(panel.locator('.event-is-log .event-text'))).some((t) => t.includes(`build ${buildId}`)),
              'no event names the build');
    const view = panel.getByRole('link', { name: 'View build' });
    assert.equal(await view.getAttribute('href'), `/builds/${buildId}`);
    // The app's builds, with the new one.
    const row = builds.locator(`tbody tr[data-build-id="${buildId}"]`);
    await row.waitFor();
    assert.deepEqual(await texts(row.locator('td').first().locator('code')), [`${build.mrenclave.slice(0, 16)}…`]);
    assert.equal(await row.locator('td[data-label="State"]').textContent(), 'Pending');
    await page.screenshot({ path: shotPath('build-converted'), fullPage: true });

    await view.click();
    await settled(page, `Build of ${name}`);
    assert.equal(new URL(page.url()).pathname, `/builds/${buildId}`);
    assert.equal(await page.title(), `${name} ${short} · Builds · ${account.name} · Cloister`);

    // The measurements the server holds, and the signing key's MRSIGNER.
    const [key] = await api.all('/v1/signing-keys');
    assert.equal(key.mrsigner, build.mrsigner);
    assert.match(build.mrenclave, /^[0-9a-f]{64}$/);
    assert.equal(await page.locator('input[data-field="mrenclave"]').inputValue(), build.mrenclave);
    assert.equal(await page.locator('input[data-field="mrsigner"]').inputValue(), build.mrsigner);
    assert.equal(await page.locator('input[data-field="pull"]').inputValue(),
                 `${build.output_image}@${build.output_digest}`);
    assert.equal(build.output_image, app.output_image);
    const enclave = await shownFacts(page.locator('section[aria-labelledby="build-enclave-title"]'));
    assert.deepEqual(enclave, {
      'Product ID (ISVPRODID)': '0', 'Security version (ISVSVN)': '0', Debug: 'No',
      Size: '256 MiB (268,435,456 bytes)', Threads: '8', 'SIGSTRUCT date': build.sigstruct_date,
    });
    const shownImages = await shownFacts(page.locator('section[aria-labelledby="build-images-title"]'));
    assert.deepEqual([shownImages['Input image'], shownImages['Input digest'], shownImages['Output digest'],
                      shownImages.Runtime, shownImages['Runtime image'], shownImages['Runtime digest']],
                     [refs.app, build.input_digest, build.output_digest, 'Gramine 1.9', build.runtime_image,
                      build.runtime_digest]);
    assert.equal(build.runtime_image, refs.runtime);
    assert.equal((await shownFacts(page.locator('section[aria-labelledby="build-measurements-title"]')))['Signing key'],
                 `${key.id.slice(0, 8)} (generated by Cloister, active)`);

    // Copying: to the clipboard, or, without one, the text selected.
    await page.getByRole('button', { name: 'Copy MRENCLAVE' }).click();
    const copied = page.locator('.copy-row:has(input[data-field="mrenclave"]) .copy-status');
    await copied.getByText('Copied.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), build.mrenclave);
    await page.evaluate(() => Object.defineProperty(navigator, 'clipboard', { value: undefined }));
    await page.getByRole('button', { name: 'Copy MRSIGNER' }).click();
    assert.equal(await page.locator('.copy-row:has(input[data-field="mrsigner"]) .copy-status').textContent(),
                 'Copying failed: select the MRSIGNER and copy it yourself.');
    assert.deepEqual(await page.evaluate(() => {
      const el = document.activeElement;
      return [el.dataset.field, el.value.slice(el.selectionStart, el.selectionEnd)];
    }), ['mrsigner', build.mrsigner]);

    // The trusted files, as the manifest lists them, and the filter.
    const manifest = await api.ok('GET', `/v1/builds/${buildId}/manifest`);
    const hello = manifest.trusted_files.find((f) => f.uri === 'file:/app/hello.sh');
    assert.ok(hello, 'the manifest does not trust /app/hello.sh');
    assert.equal(manifest.trusted_files.length, build.trusted_files);
    const files = page.locator('.trusted-files tbody tr');
    assert.equal(await files.count(), build.trusted_files);
    assert.equal(await page.locator('#build-files-title').textContent(), `Trusted files (${build.trusted_files})`);
    assert.deepEqual(await texts(page.locator('.trusted-files tr[data-path="/app/hello.sh"] td')),
                     ['/app/hello.sh', hello.sha256]);
    assert.match(hello.sha256, /^[0-9a-f]{64}$/);
    await page.getByLabel('Filter the files').fill('hello');
    await page.waitForFunction(() => document.querySelectorAll('.trusted-files tbody tr').length === 1);
    assert.equal(await page.locator('section[aria-labelledby="build-files-title"] .list-summary').textContent(),
                 `1 of ${build.trusted_files} trusted files match “hello”.`);
    await page.getByLabel('Filter the files').fill(hello.sha256.slice(10, 30));
    assert.deepEqual(await texts(files.locator('td:first-child')), ['/app/hello.sh']);
    await page.getByLabel('Filter the files').fill('no-such-file');
    assert.equal(await page.locator('.trusted-files .empty').textContent(), 'No trusted file matches the filter.');

    // The manifest, folded away until asked for.
    const pre = page.locator('details.manifest pre');
    assert.equal(await pre.isVisible(), false);
    await page.locator('details.manifest summary').click();
    assert.equal(await pre.isVisible(), true);
    assert.equal(await pre.textContent(), manifest.manifest);

    // Pending, with its task; approving it there makes it approved.
    const state = page.locator('section[aria-labelledby="build-state-title"]');
    assert.equal(await state.locator('.badge-build').textContent(), 'Pending');
    const taskLink = state.locator('a.task-link');
    assert.equal(await taskLink.textContent(), 'Waiting for approval: 0 of 1 approval');
    assert.equal(await taskLink.getAttribute('href'), `/tasks#task-${build.task_id}`);
    assert.equal(await page.getByRole('button', { name: 'Deprecate' }).count(), 0);
    await page.screenshot({ path: shotPath('build-pending'), fullPage: true });
    await taskLink.click();
    await settled(page, 'Approvals');
    const card = page.locator(`#task-${build.task_id}`);
    assert.equal(await card.locator('h3').textContent(), `Build ${short} of ${name}`);
    assert.equal(await card.locator('.task-what').textContent(),
                 `A build of the app ${name}, MRENCLAVE ${build.mrenclave}. See the build for its measurements, ` +
                 'images and trusted files.');
    await card.getByRole('button', { name: `Approve Build ${short} of ${name}` }).click();
    await notice(page, `Approved: Build ${short} of ${name}.`);
    assert.equal((await api.ok('GET', `/v1/builds/${buildId}`)).state, 'approved');
    await page.locator(`section[aria-labelledby="decided-title"] #task-${build.task_id}`)
      .getByRole('link', { name: 'See the build' }).click();
    await settled(page, `Build of ${name}`);
    await page.reload();
    await settled(page, `Build of ${name}`);
    assert.equal(await state.locator('.badge-build').textContent(), 'Approved');
    assert.equal(await state.locator('a.task-link').textContent(), 'The approval task');

    // Deprecating asks first, with the reason, which the audit log keeps.
    await page.getByLabel('Reason').fill('superseded by a fixed image');
    await page.getByRole('button', { name: 'Deprecate', exact: true }).click();
    const dialog = page.getByRole('dialog');
    assert.equal(await dialog.locator('h2').textContent(), `Deprecate this build of ${name}?`);
    await dialog.getByRole('button', { name: 'Deprecate build' }).click();
    await notice(page, `The build ${short} of ${name} was deprecated.`);
    assert.equal(await state.locator('.badge-build').textContent(), 'Deprecated');
    assert.equal(await page.getByRole('button', { name: 'Deprecate', exact: true }).count(), 0);
    const deprecated = await api.ok('GET', `/v1/builds/${buildId}`);
    assert.equal(deprecated.state, 'deprecated');
    assert.ok(deprecated.deprecated_at);
    const [event] = await api.all(`/v1/audit?action=build.deprecate&target=build:${buildId}`);
    assert.deepEqual(event.details, { reason: 'superseded by a fixed image', mrenclave: build.mrenclave });

    // A second build, deprecated behind the page's back: the server's 409, shown.
    const queued = await api.ok('POST', `/v1/apps/${app.id}/builds`, { date: '2026-01-15' }, 202);
    second = await api.ok('GET', `/v1/builds/${(await jobEnded(api, queued.id)).result.build_id}`);
    await api.ok('POST', `/v1/tasks/${second.task_id}/approve`);
    await page.goto(`/builds/${second.id}`);
    await settled(page, `Build of ${name}`);
    assert.equal((await shownFacts(page.locator('section[aria-labelledby="build-enclave-title"]')))['SIGSTRUCT date'],
                 '2026-01-15');
    await api.ok('POST', `/v1/builds/${second.id}/deprecate`);
    await page.getByRole('button', { name: 'Deprecate', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Deprecate build' }).click();
    const refused = page.locator('form[aria-label="Deprecate the build"] .form-message');
    await refused.waitFor();
    assert.equal(await refused.textContent(),
                 `Conflict: Build "${second.id}" is deprecated; only an approved build can be deprecated.`);

    // The list: newest first, filtered by the URL, a page at a time.
    await page.goto(`/builds?app_id=${app.id}&limit=1`);
    await settled(page, 'Builds');
    assert.equal(await page.getByLabel('App').inputValue(), app.id);
    const list = page.locator('section[aria-labelledby="builds-list-title"]');
    const rows = list.locator('tbody tr');
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.buildId)), [second.id]);
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.waitForFunction(() =>
      document.querySelectorAll('section[aria-labelledby="builds-list-title"] tbody tr').length === 2);
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.buildId)), [second.id, buildId]);
    assert.equal(await page.getByRole('button', { name: 'Load more' }).isVisible(), false);
    assert.deepEqual((await texts(rows.first().locator('td'))).slice(0, 4),
                     [`${name} ${second.id.slice(0, 8)}`, 'Deprecated', `${second.mrenclave.slice(0, 16)}…`,
                      second.output_image]);
    await page.getByLabel('State').selectOption('pending');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL((url) => url.search === `?state=pending&app_id=${app.id}&limit=1`);
    await settled(page, 'Builds');
    assert.equal(await list.locator('.empty').textContent(), 'No builds match these filters.');
    // The account's key, generated by its first conversion, under the list.
    const [keyRow] = await texts(page.locator('section[aria-labelledby="signing-keys-title"] tbody tr'));
    assert.ok(keyRow.startsWith(`${key.id.slice(0, 8)}ActiveGenerated by Cloister`), keyRow);

    // And on a phone.
    await page.setViewportSize({ width: 375, height: 740 });
    for (const [path, heading] of [['/builds', 'Builds'], [`/builds/${buildId}`, `Build of ${name}`]]) {
      await page.goto(path);
      await settled(page, heading);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `${path} is ${width}px wide`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`/builds/${buildId}`);
    await settled(page, `Build of ${name}`);
  }, { expected: () => [BOOT_401, { status: 409, path: `/v1/builds/${second && second.id}/deprecate` }],
       permissions: ['clipboard-read', 'clipboard-write'] });
});

test('shows a registered build (where its SIGSTRUCT came from, no manifest) and registers another from the app page', async () => {
  const { account, api } = await accountWithPeople('registered', []);
  const name = unique('occlum');
  const image = 'registry.example.com/team/occlum-app';
  const app = await api.ok('POST', '/v1/apps', {
    name, input_image: `${image}:v1`, output_image: image, runtime: 'occlum', isvprodid: 65535,
  }, 201);
  const sigstruct = readFileSync(path.join(DCAP_DATA, '..', 'sgx', 'test_enclave.sig')).toString('base64');
  const runtimeConfig = {
    instance_dir: '/occlum_instance', entrypoint: ['/bin/web'],
    occlum_json: {
      resource_limits: { user_space_size: '256MB', kernel_space_heap_size: '32MB',
                         kernel_space_stack_size: '1MB', max_num_of_threads: 32 },
      metadata: { product_id: 65535, version_number: 0, debuggable: false },
      env: { default: [`CLOISTER_APP_ID=${app.id}`], untrusted: ['CLOISTER_NODE_IP'] },
    },
  };
  const build = await api.ok('POST', `/v1/apps/${app.id}/builds`, {
    sigstruct, image: `${image}:v1@sha256:${'5e'.repeat(32)}`, measured_from: 'sgx-sdk-enclave',
    runtime_config: runtimeConfig,
  }, 201);

  await inBrowser('registered-build', async (page) => {
    await signInAdmin(page);
    await page.getByLabel('Account', { exact: true }).selectOption({ label: account.name });
    await notice(page, `Now acting in ${account.name} as admin.`);
    await page.goto(`/builds/${build.id}`);
    await settled(page, `Build of ${name}`);
    await page.getByText('Registered for the app').waitFor();
    const images = await shownFacts(page.locator('section[aria-labelledby="build-images-title"]'));
    assert.equal(images.Runtime, 'Occlum');
    assert.equal(images['Output digest'], `sha256:${'5e'.repeat(32)}`);
    assert.ok(!('Input image' in images) && !('Runtime image' in images), Object.keys(images).join(', '));
    await page.getByText('How the image starts (runtime_config)').click();
    assert.deepEqual(JSON.parse(await page.getByLabel('The runtime configuration').textContent()),
                     runtimeConfig);
    const record = await shownFacts(page.locator('section[aria-labelledby="build-record-title"]'));
    assert.equal(record.Origin, 'Registered: the SIGSTRUCT was read from an SGX SDK signed enclave');
    assert.ok(!('Job' in record));
    assert.equal(await page.locator('input[data-field="mrenclave"]').inputValue(), build.mrenclave);
    for (const id of ['build-manifest-title', 'build-files-title']) {
      assert.equal(await page.locator(`section[aria-labelledby="${id}"]`).count(), 0, id);
    }
    // an Occlum app is not converted: its page offers no Convert
    await page.goto(`/apps/${app.id}`);
    await settled(page, name);
    await page.locator(`tbody tr[data-build-id="${build.id}"]`).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Convert' }).count(), 0);

    // Register another build from the page: the .sig read here, the runtime's template
    await page.getByRole('link', { name: 'Register a build' }).click();
    await settled(page, `Register a build of ${name}`);
    const form = page.locator('form.register-form');
    const sigInput = page.getByLabel('SIGSTRUCT (.sig)');
    await sigInput.setInputFiles({ name: 'cut.sig', mimeType: 'application/octet-stream',
                                   buffer: Buffer.from(sigstruct, 'base64').subarray(0, 1000) });
    await page.getByLabel('Image').fill(`${image}:v2@sha256:${'6f'.repeat(32)}`);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.locator('input[name="sigstruct"][aria-invalid="true"]').waitFor();
    assert.match(await form.textContent(), /A \.sig is 1808 bytes and this file is 1000/);
    // the Occlum template names the app, so only what differs from the build is refused
    const config = JSON.parse(await page.getByLabel('Runtime configuration (JSON)').inputValue());
    assert.equal(config.occlum_json.env.default[0], `CLOISTER_APP_ID=${app.id}`);
    config.occlum_json.metadata.version_number = 3;
    await page.getByLabel('Runtime configuration (JSON)').fill(JSON.stringify(config));
    await sigInput.setInputFiles({ name: 'web.sig', mimeType: 'application/octet-stream',
                                   buffer: Buffer.from(sigstruct, 'base64') });
    await page.getByRole('button', { name: 'Register' }).click();
    await page.locator('textarea[name="runtime_config"][aria-invalid="true"]').waitFor();
    assert.match(await form.textContent(), /version_number is 3, but the SIGSTRUCT's ISVSVN is 0/);
    assert.equal(await page.getByText('Runtime configuration (JSON) (optional)').count(), 0);   // Occlum needs one
    config.occlum_json.metadata.version_number = 0;
    await page.getByLabel('Runtime configuration (JSON)').fill(JSON.stringify(config));
    await page.getByRole('button', { name: 'Register' }).click();
    // the same SIGSTRUCT is pending already: the form says how to register it again
    await page.locator('form.register-form .form-message', { hasText: 'already registered' }).waitFor();
    assert.match(await form.locator('.form-message').textContent(),
                 /deny its approval or deprecate it first/);
    await api.ok('POST', `/v1/tasks/${build.task_id}/deny`, {});
    await page.getByRole('button', { name: 'Register' }).click();
    await notice(page, `A build of ${name} was registered; it awaits approval.`);
    await settled(page, `Build of ${name}`);
    const registered = (await api.ok('GET', `/v1/apps/${app.id}/builds`)).items;
    assert.equal(registered.length, 2);
    assert.deepEqual([registered[0].output_digest, registered[0].state, registered[0].measured_from,
                      registered[0].runtime_config.occlum_json.metadata.version_number],
                     [`sha256:${'6f'.repeat(32)}`, 'pending', 'sigstruct', 0]);
  }, { expected: [BOOT_401, { status: 422, path: `/v1/apps/${app.id}/builds` },
                   { status: 409, path: `/v1/apps/${app.id}/builds` }] });
});

const run = promisify(execFile);

/* An enclave signing key as SGX wants it (RSA-3072, exponent 3), made with
 * openssl in `dir`: {key (the private key's file), pub (the public PEM)}. */
async function sgxKey(dir, name) {
  const key = path.join(dir, `${name}.pem`);
  await run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072',
                        '-pkeyopt', 'rsa_keygen_pubexp:3', '-out', key]);
  const { stdout } = await run('openssl', ['pkey', '-in', key, '-pubout']);
  return { key, pub: stdout };
}

/* What the key's holder does: openssl dgst -sha256 -sign, over the bytes. */
function opensslSign(key, bytes) {
  return execFileSync('openssl', ['dgst', '-sha256', '-sign', key], { input: bytes });
}

/* A file a link downloads when clicked: {name, bytes}. */
async function downloaded(page, link) {
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  return { name: download.suggestedFilename(), bytes: readFileSync(await download.path()) };
}

test('signs a build offline: the instructions, the bytes to sign, a wrong signature refused, then pushed', async () => {
  const { account, api, people: [auditor] } = await accountWithPeople('offline', ['auditor']);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cloister-e2e-keys-'));
  try {
    // Two offline keys, one after the other: the first is retired.
    const [old, key] = await Promise.all([sgxKey(dir, 'old'), sgxKey(dir, 'key')]);
    const retired = await api.ok('POST', '/v1/signing-keys', { public_key_pem: old.pub }, 201);
    const offline = await api.ok('POST', '/v1/signing-keys', { public_key_pem: key.pub }, 201);
    assert.deepEqual([offline.origin, offline.state], ['offline', 'active']);

    // A conversion stops at awaiting_signature, with nothing pushed.
    const refs = await convertImages();
    await api.ok('POST', '/v1/registries', { name: 'local', host: images.host, tls: false }, 201);
    const name = unique('signed');
    const app = await api.ok('POST', '/v1/apps', {
      name, input_image: refs.app, output_image: `${images.host}/out/${name}:v1`, enclave_size: 268435456,
    }, 201);
    const queued = await api.ok('POST', `/v1/apps/${app.id}/builds`, undefined, 202);
    const converted = await jobEnded(api, queued.id);
    assert.equal(converted.state, 'succeeded', converted.error);
    const buildId = converted.result.build_id;
    const short = buildId.slice(0, 8);
    const build = await api.ok('GET', `/v1/builds/${buildId}`);
    assert.deepEqual([converted.result.state, converted.result.output_digest, build.state, build.output_digest,
                      build.mrsigner], ['awaiting_signature', null, 'awaiting_signature', null, offline.mrsigner]);
    const unsigned = await api.ok('GET', `/v1/builds/${buildId}/sigstruct`);
    assert.equal(unsigned.signed, false);
    const toSign = Buffer.from(unsigned.signed_bytes, 'base64');
    assert.equal(toSign.length, 256);
    const good = opensslSign(key.key, toSign);
    const wrong = opensslSign(old.key, toSign);
    assert.equal(good.length, 384);
    const sigFile = path.join(dir, `build-${short}-signature.bin`);
    writeFileSync(sigFile, good);
    const sign = `/v1/builds/${buildId}/signature`;

    // An auditor reads how to sign, but may not send a signature.
    await inBrowser('build-offline-auditor', async (page) => {
      await signIn(page, auditor.email, auditor.password, { next: `/builds/${buildId}` });
      await settled(page, `Build of ${name}`);
      const card = page.locator('section[aria-labelledby="build-sign-title"]');
      assert.equal(await card.locator('.steps > li').last().textContent(),
                   'An operator or admin of the account sends the signature.');
      assert.equal(await card.getByRole('link', { name: 'Download the bytes to sign' }).count(), 1);
      assert.equal(await page.getByRole('button', { name: 'Send signature' }).count(), 0);

      // On a phone, the commands to copy fit too.
      await page.setViewportSize({ width: 375, height: 740 });
      await page.reload();
      await settled(page, `Build of ${name}`);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `the build's page is ${width}px wide`);
      await page.screenshot({ path: shotPath('phone-build-offline'), fullPage: true });
    });

    await inBrowser('build-offline', async (page) => {
      await signInAdmin(page);
      await page.getByLabel('Account', { exact: true }).selectOption({ label: account.name });
      await notice(page, `Now acting in ${account.name} as admin.`);

      // The conversion's result, as facts, on its job's page.
      await page.goto(`/jobs/${queued.id}`);
      await settled(page, 'Job convert');
      const result = page.locator('section[aria-labelledby="job-result-title"]');
      await result.locator('.facts').waitFor();
      const shown = await shownFacts(result);
      assert.deepEqual(shown, {
        Build: `View build${short}`, State: 'Awaiting signature', MRENCLAVE: build.mrenclave,
        MRSIGNER: offline.mrsigner, 'Input digest': build.input_digest,
        'Output image': `${app.output_image} (not pushed yet: it is pushed once the build is signed)`,
        'Trusted files': build.trusted_files.toLocaleString('en'),
      });
      assert.equal(await page.locator('section[aria-labelledby="job-details-title"] dd a').first().textContent(),
                   `app ${app.id.slice(0, 8)}`);
      await page.screenshot({ path: shotPath('job-convert'), fullPage: true });
      await result.getByRole('link', { name: 'View build' }).click();
      await settled(page, `Build of ${name}`);
      assert.equal(new URL(page.url()).pathname, `/builds/${buildId}`);

      // Said plainly: awaiting its signature, nothing to pull yet.
      const state = page.locator('section[aria-labelledby="build-state-title"]');
      assert.equal(await state.locator('.badge-build').textContent(), 'Awaiting signature');
      assert.equal(await state.locator('.reference-line .muted').textContent(),
                   'Nothing is pushed until its SIGSTRUCT is signed with the account’s offline key.');
      const imageFacts = await shownFacts(page.locator('section[aria-labelledby="build-images-title"]'));
      assert.deepEqual([imageFacts['Output digest'], imageFacts['Pull reference']],
                       Array(2).fill('None yet: the image is pushed once the build is signed.'));
      assert.equal(await page.locator('input[data-field="pull"]').count(), 0);
      const measurements = page.locator('section[aria-labelledby="build-measurements-title"]');
      assert.equal((await shownFacts(measurements)).SIGSTRUCT, 'Not signed yet.');
      assert.equal((await shownFacts(measurements))['Signing key'], `${offline.id.slice(0, 8)} (kept offline, active)`);

      // How to sign it: the CLI, or by hand.
      const card = page.locator('section[aria-labelledby="build-sign-title"]');
      assert.equal(await card.locator('h2').textContent(), 'Sign the build');
      assert.equal(await card.locator('.sign-why').textContent(),
                   'The account’s signing key is kept offline, so Cloister could not sign this build: nothing has ' +
                   'been pushed yet and there is no image to pull. Whoever holds the private key signs the build’s ' +
                   'SIGSTRUCT where the key is and sends only the signature. Cloister checks it against the key ' +
                   `(MRSIGNER ${offline.mrsigner}); then a job pushes the image and the build waits for approval.`);
      assert.deepEqual(await texts(card.locator('h3')), ['With the cloister CLI', 'By hand']);
      const command = `cloister build sign ${buildId} --key KEY.pem`;
      assert.equal(await page.locator('input[data-field="sign-command"]').inputValue(), command);
      await page.getByRole('button', { name: 'Copy sign command' }).click();
      await card.locator('.copy-done').getByText('Copied.').waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), command);
      assert.equal(await page.locator('input[data-field="openssl"]').inputValue(),
                   `openssl dgst -sha256 -sign KEY.pem -out build-${short}-signature.bin build-${short}-to-sign.bin`);
      assert.match(await card.locator('.sign-api').textContent(),
                   new RegExp(`^Through the API: GET /v1/builds/${buildId}/sigstruct answers the bytes to sign as ` +
                              `signed_bytes \\(base64\\), and POST /v1/builds/${buildId}/signature takes`));

      // The bytes to sign, downloaded, are the server's signed_bytes.
      const bytes = await downloaded(page, card.getByRole('link', { name: 'Download the bytes to sign' }));
      assert.equal(bytes.name, `build-${short}-to-sign.bin`);
      assert.ok(bytes.bytes.equals(toSign), 'the downloaded bytes are not signed_bytes');

      // Nothing, then a signature of another key: each refused by the field.
      const form = page.locator('form[aria-label="Send the signature"]');
      const box = page.getByLabel('Signature (base64)');
      const fieldError = form.locator('.field:has(textarea[name="signature"]) .field-error');
      await page.getByRole('button', { name: 'Send signature' }).click();
      assert.equal(await fieldError.textContent(), 'Paste the signature in base64, or choose its file.');
      await box.fill(toSign.toString('base64'));
      await page.getByRole('button', { name: 'Send signature' }).click();
      await fieldError.getByText('Must be the 384 bytes').waitFor();
      assert.equal(await fieldError.textContent(), 'Must be the 384 bytes of an RSA-3072 signature, big-endian, in base64.');
      await box.fill(wrong.toString('base64'));
      await page.getByRole('button', { name: 'Send signature' }).click();
      await fieldError.getByText('Does not verify').waitFor();
      assert.match(await fieldError.textContent(),
                   new RegExp(`^Does not verify with the key whose MRSIGNER is ${offline.mrsigner}: `));
      assert.equal(await box.getAttribute('aria-invalid'), 'true');
      assert.equal(await form.locator('.form-message').textContent(), 'Please correct the fields marked below.');
      assert.equal(await page.evaluate(() => document.activeElement.name), 'signature');
      assert.equal((await api.ok('GET', `/v1/builds/${buildId}`)).signed_at, null);
      await page.screenshot({ path: shotPath('build-offline-refused'), fullPage: true });

      // The right one, from its file: sent, and the push followed live.
      await page.getByLabel('Or choose the signature file').setInputFiles(sigFile);
      await page.waitForFunction(() => document.querySelector('textarea[name="signature"]').value.length === 512);
      assert.equal(await box.inputValue(), good.toString('base64'));
      assert.equal(await box.getAttribute('aria-invalid'), null);
      await clearNotices(page);
      await page.getByRole('button', { name: 'Send signature' }).click();
      const panel = card.locator('.sign-panel');
      await panel.locator('.job-follow').waitFor();
      assert.equal(await panel.locator('.job-follow-title').textContent(), 'Pushing the signed build');
      assert.equal(await form.isVisible(), false);
      const signed = await api.ok('GET', `/v1/builds/${buildId}`);
      assert.ok(signed.signed_at, 'the build was not signed');
      assert.equal(await panel.locator('.job-follow').getAttribute('data-job-id'), signed.finish_job_id);

      // Once pushed, the build shows again: pending, with its approval.
      await state.locator('.badge-build', { hasText: 'Pending' }).waitFor({ timeout: 120_000 });
      await notice(page, `The build ${short} of ${name} was signed and pushed; it waits for approval.`);
      const pushed = await api.ok('GET', `/v1/builds/${buildId}`);
      const pushJob = await api.ok('GET', `/v1/jobs/${signed.finish_job_id}`);
      assert.deepEqual([pushed.state, pushJob.state, pushJob.result.state, pushJob.result.output_digest],
                       ['pending', 'succeeded', 'pending', pushed.output_digest]);
      assert.match(pushed.output_digest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(await card.count(), 0);
      const taskLink = state.locator('a.task-link');
      assert.equal(await taskLink.textContent(), 'Waiting for approval: 0 of 1 approval');
      assert.equal(await taskLink.getAttribute('href'), `/tasks#task-${pushed.task_id}`);
      assert.equal(await page.locator('input[data-field="pull"]').inputValue(),
                   `${pushed.output_image}@${pushed.output_digest}`);
      assert.equal((await shownFacts(page.locator('section[aria-labelledby="build-record-title"]')))['Push job'],
                   `convert ${signed.finish_job_id.slice(0, 8)}`);

      // The signed SIGSTRUCT, as the server holds it.
      const sigstruct = await api.ok('GET', `/v1/builds/${buildId}/sigstruct`);
      assert.equal(sigstruct.signed, true);
      const sig = await downloaded(page, measurements.getByRole('link', { name: 'Download .sig' }));
      assert.equal(sig.name, `${name}-${short}.sig`);
      assert.ok(sig.bytes.equals(Buffer.from(sigstruct.sigstruct, 'base64')), 'the .sig is not the SIGSTRUCT');
      assert.equal(sig.bytes.length, 1808);
      await page.screenshot({ path: shotPath('build-offline-signed'), fullPage: true });

      // The keys under the builds, each MRSIGNER to copy.
      await page.goto('/builds');
      await settled(page, 'Builds');
      const keys = page.locator('section[aria-labelledby="signing-keys-title"] tbody tr');
      assert.deepEqual(await keys.evaluateAll((trs) => trs.map((tr) => tr.dataset.keyId)), [retired.id, offline.id]);
      assert.deepEqual((await texts(keys.nth(0).locator('td'))).slice(0, 3),
                       [retired.id.slice(0, 8), 'Retired', 'Kept offline']);
      assert.deepEqual((await texts(keys.nth(1).locator('td'))).slice(0, 3),
                       [offline.id.slice(0, 8), 'Active', 'Kept offline']);
      assert.equal(await keys.nth(1).locator('td[data-label="Retired"]').textContent(), '—');
      assert.notEqual(await keys.nth(0).locator('td[data-label="Retired"] time').count(), 0);
      assert.equal(await keys.nth(0).locator('input[data-field="mrsigner"]').inputValue(), retired.mrsigner);
      await page.getByRole('button', { name: `Copy MRSIGNER of key ${offline.id.slice(0, 8)}` }).click();
      await keys.nth(1).locator('.copy-done').waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), offline.mrsigner);
      await page.screenshot({ path: shotPath('builds-signing-keys'), fullPage: true });

      // Without a clipboard, the failure reads as one.
      await page.evaluate(() => Object.defineProperty(navigator, 'clipboard', { value: undefined }));
      await page.getByRole('button', { name: `Copy MRSIGNER of key ${retired.id.slice(0, 8)}` }).click();
      const failed = keys.nth(0).locator('.copy-status');
      assert.equal(await failed.textContent(),
                   `Copying failed: select the MRSIGNER of key ${retired.id.slice(0, 8)} and copy it yourself.`);
      assert.equal(await failed.getAttribute('class'), 'copy-status copy-failed');
      assert.notEqual(await failed.evaluate((el) => getComputedStyle(el).color),
                      await page.locator('.copy-done').first().evaluate((el) => getComputedStyle(el).color));

      // Conversions among the kinds the jobs' filter offers; a job about a
      // build links to it.
      const about = await psql(
        "INSERT INTO jobs (account_id, kind, params, max_attempts, created_by, target, run_after)" +
        ` VALUES ('${account.id}', 'noop', '{"ms": 0}', 1, 'test', 'build:${buildId}', now() + interval '1 hour')` +
        ' RETURNING id', daemon.dbname);
      await page.goto(`/jobs?target=build:${buildId}`);
      await settled(page, 'Jobs');
      assert.deepEqual(await page.locator('#job-kinds option').evaluateAll((os) => os.map((o) => o.value)),
                       ['convert', 'deploy', 'undeploy', 'cluster.check', 'image.inspect',
                        'registry.check', 'noop']);
      const target = page.locator(`tbody tr[data-job-id="${about}"] td[data-label="Target"] a`);
      assert.equal(await target.textContent(), `build ${short}`);
      assert.equal(await target.getAttribute('href'), `/builds/${buildId}`);
    }, { expected: () => [BOOT_401, { status: 422, path: sign }],
         permissions: ['clipboard-read', 'clipboard-write'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/* ---- attestation ---------------------------------------------------------- */

const DCAP_CASE = path.join(DCAP_DATA, 'dcap-qvl-2025');
const CHECK_NAMES = ['quote', 'pck_chain', 'pck_extensions', 'qe_report_signature', 'qe_report_data',
                     'quote_signature', 'tcb_info', 'qe_identity', 'tcb_level', 'qe_identity_level'];

/* Choose a quote's file on the reports page, as of a time or now, and
 * verify it: the new report's page, at its heading. Answers the report as
 * the server holds it. */
async function verifyQuote(page, api, file, { at = null } = {}) {
  await page.getByLabel('Quote', { exact: true }).setInputFiles(file);
  await page.getByLabel('As of').fill(at || '');
  await clearNotices(page);
  await page.getByRole('button', { name: 'Verify quote' }).click();
  await page.waitForURL(/\/attestation\/[0-9a-f-]{36}$/);
  const id = new URL(page.url()).pathname.split('/').pop();
  await settled(page, `Report ${id.slice(0, 8)}`);
  return api.ok('GET', `/v1/attestation-reports/${id}`);
}

/* The items of the list in a fact's value (reasons, advisories), as shown. */
async function factItems(section, term) {
  return texts(section.locator('.facts dt', { hasText: new RegExp(`^${term}$`) })
    .locator('xpath=following-sibling::dd[1]').locator('li'));
}

const reportPart = (page, id) => page.locator(`section[aria-labelledby="report-${id}-title"]`);

test('imports collateral, judges a real quote as of its time, and a policy change accepts it', async () => {
  const expected = JSON.parse(readFileSync(path.join(DCAP_CASE, 'expected.json'), 'utf8'));
  const quoteFile = path.join(DCAP_CASE, 'quote.bin');
  const asOf = new Date(expected.verify_at * 1000).toISOString().slice(0, 19);   // the browser's zone is UTC
  const { account, api, people: [operator, auditor] } = await accountWithPeople('attest', ['operator', 'auditor']);
  const sim = await simulateQuote();   // a platform the daemon holds no collateral for
  let refused;

  try {
    await inBrowser('attestation', async (page) => {
      await signInAdmin(page);
      await page.getByLabel('Account', { exact: true }).selectOption({ label: account.name });
      await notice(page, `Now acting in ${account.name} as admin.`);
      await page.locator('#nav').getByRole('link', { name: 'Attestation' }).click();
      await settled(page, 'Attestation');
      assert.equal(await page.locator('main .empty').textContent(), 'No quote has been judged yet.');

      // The collateral, imported by the instance administrator from the
      // files the PCS serves; a TCB Info without its issuer chain refused.
      await page.locator('nav.subnav').getByRole('link', { name: 'Collateral' }).click();
      await settled(page, 'SGX collateral');
      assert.equal(await page.title(), `Collateral · Attestation · ${account.name} · Cloister`);
      const form = page.locator('form[aria-labelledby="import-title"]');
      await page.getByRole('button', { name: 'Import collateral' }).click();
      assert.equal(await form.locator('.field:has(input[name="tcb_info"]) .field-error').textContent(),
                   'Choose at least one of the files.');
      const file = (label, name) => page.getByLabel(`${label} (${name})`, { exact: true })
        .setInputFiles(path.join(DCAP_CASE, name));
      await file('TCB Info', 'tcb_info.json');
      await page.getByRole('button', { name: 'Import collateral' }).click();
      const chainError = form.locator('.field:has(input[name="tcb_info_issuer_chain"]) .field-error');
      await chainError.getByText('Is needed').waitFor();
      assert.equal(await chainError.textContent(), 'Is needed with tcb_info.');
      assert.equal((await api.ok('GET', '/v1/collateral')).items.filter((c) => c.key === '00a067110000').length, 0);

      await file('TCB Info issuer chain', 'tcb_info_issuer_chain.pem');
      await file('QE identity', 'qe_identity.json');
      await file('QE identity issuer chain', 'qe_identity_issuer_chain.pem');
      await file('PCK CA CRL', 'pck_crl.der');
      await page.getByLabel('Which PCK CA').selectOption('processor');
      await file('Root CA CRL', 'root_ca_crl.der');
      await clearNotices(page);
      await page.getByRole('button', { name: 'Import collateral' }).click();
      await notice(page, 'Imported 4 documents; all kept.');
      const imported = page.locator('.import-panel tbody tr');
      assert.deepEqual(await imported.evaluateAll((trs) => trs.map((tr) => [tr.dataset.kind, tr.dataset.kept])),
                       [['tcb_info', 'true'], ['qe_identity', 'true'], ['pck_crl', 'true'], ['root_ca_crl', 'true']]);
      assert.deepEqual((await texts(imported.first().locator('td'))).slice(0, 2), ['TCB Info', '00a067110000']);
      // What the daemon holds, each expired document marked.
      const held = (await api.ok('GET', '/v1/collateral')).items;
      const rows = page.locator('section[aria-labelledby="collateral-list-title"] tbody tr');
      assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => [tr.dataset.kind, tr.dataset.key, tr.dataset.expired])),
                       held.map((c) => [c.kind, c.key, String(Date.parse(c.next_update) <= Date.now())]));
      const tcbRow = rows.filter({ has: page.locator('[data-label="Kind"]', { hasText: 'TCB Info' }) });
      assert.deepEqual(await texts(tcbRow.locator('td')), ['TCB Info', 'FMSPC 00a067110000', '3', '2025-06-19 10:56:11 UTC',
                                                            '2025-07-19 10:56:11 UTCExpired', 'Imported',
                                                            await tcbRow.locator('td').last().textContent()]);
      assert.equal(await rows.locator('.badge', { hasText: 'Expired' }).count(),
                   held.filter((c) => Date.parse(c.next_update) <= Date.now()).length);

      // The quote, judged as of its documented time: authentic, its
      // platform ConfigurationAndSWHardeningNeeded, which the default
      // policy refuses.
      await page.locator('nav.subnav').getByRole('link', { name: 'Reports' }).click();
      await settled(page, 'Attestation');
      refused = await verifyQuote(page, api, quoteFile, { at: asOf });
      await notice(page, 'The quote is authentic, and the policy refused it.');
      const short = refused.id.slice(0, 8);
      assert.equal(await page.title(), `Report ${short} · Attestation · ${account.name} · Cloister`);
      assert.deepEqual([refused.authentic, refused.simulated, refused.verdict, refused.verified_at],
                       [true, false, 'refused', new Date(expected.verify_at * 1000).toISOString().replace('.000Z', '.000000Z')]);
      assert.equal(await page.locator('.simulated-warning').count(), 0);
      assert.doesNotMatch(await page.locator('main').textContent(), /\b(null|undefined)\b/);

      // Three parts, kept apart: the policy's verdict, authenticity, the platform.
      const verdict = reportPart(page, 'verdict');
      const authentic = reportPart(page, 'authentic');
      const platform = reportPart(page, 'platform');
      assert.equal((await shownFacts(verdict)).Verdict, 'Refused');
      assert.deepEqual(await factItems(verdict, 'Reasons'), [
        `TCB status ${expected.tcb_status} is not accepted`,
        ...expected.advisory_ids.map((a) => `advisory ${a} is not accepted`)]);
      assert.deepEqual(await factItems(verdict, 'Reasons'), refused.reasons);
      assert.deepEqual(await shownFacts(authentic),
                       { Authentic: 'Yes', Checks: 'All 10 passed.', 'Trust root': 'Intel SGX Root CA' });
      assert.deepEqual(await shownFacts(platform), {
        'TCB status': expected.tcb_status, Advisories: expected.advisory_ids.join(''),
        'Platform level': expected.tcb_status, 'Quoting Enclave': 'UpToDate (ISVSVN 10)' });
      assert.deepEqual(await factItems(platform, 'Advisories'), expected.advisory_ids);

      // Every check, in order, passed, with what the verifier found.
      const checks = page.locator('ol.checks > li');
      assert.deepEqual(await checks.evaluateAll((lis) => lis.map((li) => [li.dataset.check, li.dataset.outcome])),
                       CHECK_NAMES.map((n) => [n, 'ok']));
      assert.deepEqual(await texts(checks.locator('.check-detail')), refused.details.checks.map((c) => c.detail));
      assert.equal(await page.locator('ol.checks .check-failed').count(), 0);

      // The decoded quote, the PCK certificate and the collateral used.
      assert.equal(await page.locator('input[data-field="mrenclave"]').inputValue(), expected.mrenclave);
      assert.equal(await page.locator('input[data-field="mrsigner"]').inputValue(), expected.mrsigner);
      await page.getByRole('button', { name: 'Copy MRENCLAVE' }).click();
      await page.locator('.copy-row:has(input[data-field="mrenclave"]) .copy-done').waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), expected.mrenclave);
      const quoteFacts = await shownFacts(reportPart(page, 'quote'));
      assert.deepEqual([quoteFacts.Version, quoteFacts['Product ID (ISVPRODID)'], quoteFacts['Security version (ISVSVN)'],
                        quoteFacts.Debug, quoteFacts.Attributes, quoteFacts['Report data']],
                       ['3 (SGX)', String(expected.isvprodid), String(expected.isvsvn), 'No', 'flags 0x5, XFRM 0xe7',
                        refused.report_data]);
      assert.deepEqual(await shownFacts(reportPart(page, 'pck')), {
        FMSPC: expected.fmspc.toLowerCase(), 'PCE-ID': '0000', 'Issued by': 'Intel SGX PCK Processor CA',
        'Trust root': 'Intel SGX Root CA', 'TCB components': refused.details.pck.tcb_components.join(' '),
        PCESVN: String(refused.details.pck.pcesvn), CPUSVN: refused.details.pck.cpusvn, 'SGX type': 'Standard' });
      assert.deepEqual(await reportPart(page, 'collateral').locator('tbody tr').evaluateAll((trs) =>
        trs.map((tr) => Array.from(tr.cells, (td) => td.textContent))), [
        ['TCB Info', '3', '17', '2025-06-19 10:56:11 UTC', '2025-07-19 10:56:11 UTC'],
        ['QE identity', '2', '17', '2025-06-19 10:01:18 UTC', '2025-07-19 10:01:18 UTC']]);
      // The evidence, downloaded, is the quote's bytes.
      const evidence = await downloaded(page, page.getByRole('link', { name: 'Download the evidence' }));
      assert.equal(evidence.name, `quote-${short}.bin`);
      assert.ok(evidence.bytes.equals(readFileSync(quoteFile)), 'the evidence is not the quote');
      await page.screenshot({ path: shotPath('attestation-refused'), fullPage: true });

      // Judged now, past its collateral's time: not authentic, the failed
      // check marked and those after it not run.
      await page.getByRole('link', { name: 'Attestation', exact: true }).first().click();
      await settled(page, 'Attestation');
      const stale = await verifyQuote(page, api, quoteFile);
      await notice(page, 'The quote is not authentic, and the policy refused it.');
      const failed = stale.details.checks.find((c) => !c.ok);
      assert.equal(failed.name, 'pck_chain');
      assert.deepEqual(await checks.evaluateAll((lis) => lis.map((li) => li.dataset.outcome)),
                       ['ok', 'failed', ...Array(8).fill('skipped')]);
      const bad = page.locator('ol.checks > li.check-failed');
      assert.equal(await bad.getAttribute('data-check'), 'pck_chain');
      assert.equal(await bad.locator('.check-detail').textContent(), failed.detail);
      assert.equal(await bad.locator('.badge').textContent(), 'Failed');
      assert.notEqual(await bad.evaluate((el) => getComputedStyle(el).backgroundColor),
                      await checks.first().evaluate((el) => getComputedStyle(el).backgroundColor));
      assert.deepEqual(await texts(checks.nth(2).locator('.badge')), ['Not run']);
      assert.equal((await shownFacts(authentic)).Checks, `pck_chain failed: ${failed.detail}`);
      assert.equal((await shownFacts(platform))['TCB status'],
                   'Not known: the checks stopped before the platform’s level was found.');
      assert.deepEqual(await factItems(verdict, 'Reasons'), ['the evidence is not authentic']);

      // What is not a quote, and a platform without collateral: the
      // server's 422 by the field, its 503 saying what to import.
      await page.goto('/attestation');
      await settled(page, 'Attestation');
      const verifyForm = page.locator('form[aria-labelledby="verify-title"]');
      await page.getByRole('button', { name: 'Verify quote' }).click();
      assert.equal(await verifyForm.locator('.field:has(input[name="quote"]) .field-error').textContent(),
                   'Choose the quote’s file.');
      await page.getByLabel('Quote', { exact: true }).setInputFiles(path.join(DCAP_CASE, 'tcb_info.json'));
      await page.getByRole('button', { name: 'Verify quote' }).click();
      const quoteError = verifyForm.locator('.field:has(input[name="quote"]) .field-error');
      await quoteError.getByText('Quote version').waitFor();
      assert.match(await quoteError.textContent(), /^Quote version \d+ is not supported \(versions 3 and 4 are\)\.$/);
      await page.getByLabel('Quote', { exact: true }).setInputFiles(path.join(sim, 'quote.bin'));
      await page.getByRole('button', { name: 'Verify quote' }).click();
      const message = verifyForm.locator('.form-message');
      await message.getByText('Service Unavailable').waitFor();
      assert.match(await message.textContent(), new RegExp(
        '^Service Unavailable: The daemon holds no TCB Info for this quote\'s platform \\(FMSPC [0-9a-f]{12}, ' +
        'PCK processor CA\\)[^:]*: import it \\(POST /v1/collateral\\)\\. See the collateral the daemon holds\\.$'));
      assert.equal(await message.getByRole('link').getAttribute('href'), '/attestation/collateral');
      assert.equal(new URL(page.url()).pathname, '/attestation');

      // The policy: a change made meanwhile is refused (412); then the
      // status and advisories accepted.
      await page.locator('nav.subnav').getByRole('link', { name: 'Policy' }).click();
      await settled(page, 'Attestation policy');
      const inForce = page.locator('section[aria-labelledby="policy-now-title"]');
      assert.deepEqual(await shownFacts(inForce), {
        'Accepted TCB statuses': 'UpToDateSWHardeningNeeded',
        'Accepted advisories': 'None: a platform with any advisory is refused.',
        'Debug enclaves': 'Refused', 'Lowest ISVSVN': '0 (any)' });
      assert.equal(await page.getByLabel('UpToDate', { exact: true }).isChecked(), true);
      await api.ok('PUT', '/v1/policies/attestation', { accepted_statuses: ['UpToDate', 'SWHardeningNeeded'],
                                                         accepted_advisories: [], allow_debug: false, min_isvsvn: 0 });
      await page.getByLabel(expected.tcb_status, { exact: true }).check();
      await page.getByLabel('Accepted advisory IDs').fill(expected.advisory_ids.join('\n'));
      await page.getByRole('button', { name: 'Save policy' }).click();
      const policyForm = page.locator('form[aria-labelledby="policy-edit-title"]');
      await policyForm.locator('.form-message').getByText('Precondition Failed').waitFor();
      assert.equal(await policyForm.locator('.form-message').textContent(),
                   'Precondition Failed: The attestation policy was changed since version 0.');
      await page.reload();
      await settled(page, 'Attestation policy');
      await page.getByLabel(expected.tcb_status, { exact: true }).check();
      await page.getByLabel('Accepted advisory IDs').fill(expected.advisory_ids.join('\n'));
      await page.getByLabel('Lowest ISVSVN').fill('');
      await page.getByRole('button', { name: 'Save policy' }).click();
      assert.equal(await policyForm.locator('.field:has(input[name="min_isvsvn"]) .field-error').textContent(),
                   'Enter the lowest ISVSVN accepted, 0 for any.');
      await page.getByLabel('Lowest ISVSVN').fill('0');
      await clearNotices(page);
      await page.getByRole('button', { name: 'Save policy' }).click();
      await notice(page, 'The attestation policy was saved: it decides the verifications made from now on.');
      assert.deepEqual(await api.ok('GET', '/v1/policies/attestation'), {
        accepted_statuses: ['UpToDate', 'SWHardeningNeeded', expected.tcb_status],
        accepted_advisories: expected.advisory_ids, allow_debug: false, min_isvsvn: 0 });
      assert.equal((await shownFacts(inForce))['Accepted TCB statuses'],
                   `UpToDateSWHardeningNeeded${expected.tcb_status}`);
      assert.equal((await shownFacts(inForce))['Accepted advisories'], expected.advisory_ids.join(''));

      // Judged again: accepted, with nothing against it; the report made
      // before keeps its verdict.
      await page.locator('nav.subnav').getByRole('link', { name: 'Reports' }).click();
      await settled(page, 'Attestation');
      const accepted = await verifyQuote(page, api, quoteFile, { at: asOf });
      await notice(page, 'The quote is authentic, and the policy accepted it.');
      assert.deepEqual([accepted.verdict, accepted.reasons], ['accepted', []]);
      assert.deepEqual(await shownFacts(verdict), { Verdict: 'Accepted', Reasons: 'None: the policy accepts it.' });
      assert.equal((await shownFacts(platform))['TCB status'], expected.tcb_status);
      assert.equal((await api.ok('GET', `/v1/attestation-reports/${refused.id}`)).verdict, 'refused');
      await page.screenshot({ path: shotPath('attestation-accepted'), fullPage: true });

      // The list: newest first, filtered by verdict in the address.
      await page.getByRole('link', { name: 'Attestation', exact: true }).first().click();
      await settled(page, 'Attestation');
      const list = page.locator('section[aria-labelledby="reports-list-title"] tbody tr');
      assert.deepEqual(await list.evaluateAll((trs) => trs.map((tr) => [tr.dataset.reportId, tr.dataset.verdict])),
                       [[accepted.id, 'accepted'], [stale.id, 'refused'], [refused.id, 'refused']]);
      assert.deepEqual(await texts(list.first().locator('td')), [
        accepted.id.slice(0, 8), 'Accepted', 'Yes', expected.tcb_status, `${expected.mrenclave.slice(0, 16)}…`,
        expected.fmspc.toLowerCase(), '2025-07-19 10:01:17 UTC', await list.first().locator('td').last().textContent()]);
      assert.deepEqual((await texts(list.nth(1).locator('td'))).slice(1, 4), ['Refused', 'Nopck_chain failed', '—']);
      await page.getByLabel('Verdict').selectOption('refused');
      await page.getByRole('button', { name: 'Apply filter' }).click();
      await page.waitForURL((url) => url.search === '?verdict=refused');
      await settled(page, 'Attestation');
      assert.deepEqual(await list.evaluateAll((trs) => trs.map((tr) => tr.dataset.reportId)), [stale.id, refused.id]);
      assert.equal(await page.locator('.list-summary').textContent(), '2 reports matching the filter.');
      await page.goto('/attestation?limit=1');
      await settled(page, 'Attestation');
      assert.deepEqual(await list.evaluateAll((trs) => trs.map((tr) => tr.dataset.reportId)), [accepted.id]);
      await page.getByRole('button', { name: 'Load more' }).click();
      await page.waitForFunction(() =>
        document.querySelectorAll('section[aria-labelledby="reports-list-title"] tbody tr').length === 2);
      await list.nth(0).getByRole('link', { name: `Report ${accepted.id.slice(0, 8)}` }).click();
      await settled(page, `Report ${accepted.id.slice(0, 8)}`);

      // On a phone.
      await page.setViewportSize({ width: 375, height: 740 });
      for (const [where, heading] of [[`/attestation/${refused.id}`, `Report ${short}`], ['/attestation', 'Attestation'],
                                      ['/attestation/policy', 'Attestation policy'],
                                      ['/attestation/collateral', 'SGX collateral']]) {
        await page.goto(where);
        await settled(page, heading);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 375, `${where} is ${width}px wide`);
      }
    }, { expected: [BOOT_401, { status: 422, path: '/v1/collateral' }, { status: 422, path: '/v1/attestation/verify' },
                    { status: 503, path: '/v1/attestation/verify' }, { status: 412, path: '/v1/policies/attestation' }],
         permissions: ['clipboard-read', 'clipboard-write'] });

    // An operator has quotes judged; only admins change the policy, only
    // instance administrators import collateral; an auditor reads.
    await inBrowser('attestation-operator', async (page) => {
      await signIn(page, operator.email, operator.password, { next: '/attestation' });
      await settled(page, 'Attestation');
      assert.equal(await page.getByRole('button', { name: 'Verify quote' }).count(), 1);
      await page.locator('nav.subnav').getByRole('link', { name: 'Policy' }).click();
      await settled(page, 'Attestation policy');
      assert.equal(await page.getByRole('button', { name: 'Save policy' }).count(), 0);
      assert.equal(await page.locator('main .note').textContent(), 'Only the account’s admins change the attestation policy.');
      await page.locator('nav.subnav').getByRole('link', { name: 'Collateral' }).click();
      await settled(page, 'SGX collateral');
      assert.equal(await page.locator('main form').count(), 0);
      assert.equal(await page.locator('main .note').textContent(), 'Only instance administrators import collateral.');
      assert.ok(await page.locator('main tbody tr').count() >= 4);
    });
    await inBrowser('attestation-auditor', async (page) => {
      await signIn(page, auditor.email, auditor.password, { next: `/attestation/${refused.id}` });
      await settled(page, `Report ${refused.id.slice(0, 8)}`);
      assert.equal(await page.locator('input[data-field="mrenclave"]').inputValue(), expected.mrenclave);
      await page.goto('/attestation');
      await settled(page, 'Attestation');
      assert.equal(await page.locator('form[aria-labelledby="verify-title"]').count(), 0);
      assert.equal(await page.locator('main .note').textContent(), 'Only the account’s operators and admins have quotes judged.');
      assert.equal(await page.locator('section[aria-labelledby="reports-list-title"] tbody tr').count(), 3);
    });
  } finally {
    rmSync(sim, { recursive: true, force: true });
  }
});

test('a simulated quote is marked simulated; under a root not trusted, it is not authentic', async () => {
  const sim = await simulateQuote();
  const stranger = await simulateQuote();   // another simulation, whose root the daemon does not trust
  const simDaemon = await new Daemon({ env: { CLOISTER_SGX_TRUST_ROOTS: path.join(sim, 'root.pem') } }).start();
  try {
    const api = new Api(simDaemon.url);
    await api.login(ADMIN_EMAIL, simDaemon.adminPassword);
    await api.switchAccount((await api.createAccount('lab')).id);
    await api.ok('POST', '/v1/collateral', collateralBody(sim));
    const quote = (dir) => ({ quote: readFileSync(path.join(dir, 'quote.bin')).toString('base64') });
    const simulated = await api.ok('POST', '/v1/attestation/verify', quote(sim), 201);
    assert.deepEqual([simulated.authentic, simulated.simulated, simulated.verdict], [true, true, 'accepted']);
    const root = simulated.details.trust_root;
    assert.ok(root && root !== 'Intel SGX Root CA', root);
    const untrusted = await api.ok('POST', '/v1/attestation/verify', quote(stranger), 201);
    assert.deepEqual([untrusted.authentic, untrusted.simulated, untrusted.details.checks.map((c) => c.ok)],
                     [false, false, [true, false]]);

    await inBrowser('attestation-simulated', async (page) => {
      await signIn(page, ADMIN_EMAIL, simDaemon.adminPassword, { next: '/attestation' });
      await settled(page, 'Attestation');
      const rows = page.locator('section[aria-labelledby="reports-list-title"] tbody tr');
      assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => [tr.dataset.reportId, tr.dataset.simulated])),
                       [[untrusted.id, 'false'], [simulated.id, 'true']]);
      assert.equal(await rows.nth(1).locator('td[data-label="Authentic"]').textContent(), 'YesSimulated');
      assert.equal(await rows.nth(0).locator('td[data-label="Authentic"]').textContent(), 'Nopck_chain failed');

      // Authentic under the simulation's root, and said loudly to prove nothing.
      await rows.nth(1).getByRole('link', { name: `Report ${simulated.id.slice(0, 8)}` }).click();
      await settled(page, `Report ${simulated.id.slice(0, 8)}`);
      const warning = page.locator('.simulated-warning');
      assert.equal(await warning.locator('.panel-title').textContent(), 'Simulated evidence');
      assert.equal(await warning.locator('.simulated-why').textContent(),
                   `The evidence chains to ${root}, not the Intel SGX Root CA: it proves nothing about Intel hardware.`);
      assert.deepEqual(await shownFacts(reportPart(page, 'authentic')),
                       { Authentic: 'Yes', Checks: 'All 10 passed.', 'Trust root': `${root}Simulated` });
      assert.equal((await shownFacts(reportPart(page, 'verdict'))).Verdict, 'Accepted');
      assert.equal((await shownFacts(reportPart(page, 'pck')))['Issued by'], simulated.details.pck.issuer);
      assert.doesNotMatch(await page.locator('main').textContent(), /\b(null|undefined)\b/);
      await page.screenshot({ path: shotPath('attestation-simulated-report'), fullPage: true });

      // Under a root the daemon does not trust: pck_chain fails, marked.
      await page.goto(`/attestation/${untrusted.id}`);
      await settled(page, `Report ${untrusted.id.slice(0, 8)}`);
      assert.equal(await page.locator('.simulated-warning').count(), 0);
      const failed = page.locator('ol.checks > li.check-failed');
      assert.deepEqual(await failed.evaluateAll((lis) => lis.map((li) => li.dataset.check)), ['pck_chain']);
      assert.equal(await failed.locator('.check-detail').textContent(), untrusted.details.checks[1].detail);
      assert.deepEqual(await shownFacts(reportPart(page, 'authentic')), {
        Authentic: 'No', Checks: `pck_chain failed: ${untrusted.details.checks[1].detail}`, 'Trust root': 'Not reached' });

      // The simulation's collateral, held and current.
      await page.goto('/attestation/collateral');
      await settled(page, 'SGX collateral');
      const held = page.locator('section[aria-labelledby="collateral-list-title"] tbody tr');
      assert.deepEqual(await held.evaluateAll((trs) => trs.map((tr) => [tr.dataset.kind, tr.dataset.expired])),
                       [['pck_crl', 'false'], ['qe_identity', 'false'], ['root_ca_crl', 'false'], ['tcb_info', 'false']]);
    }, { baseURL: simDaemon.url });
  } finally {
    await simDaemon.stop();
    rmSync(sim, { recursive: true, force: true });
    rmSync(stranger, { recursive: true, force: true });
  }
});

/* ---- nodes --------------------------------------------------------------- */

/* A second cloisterd that trusts a simulated SGX root, holding that
 * simulation's collateral, with an account "lab" that has an operator and
 * an auditor: nodes enroll there through the real API (enrollNode), as
 * cloister-agent would. Started by the first test that needs it, stopped by
 * after(). */
async function nodeLab() {
  if (lab) return lab;
  const sim = await simulateQuote();
  lab = { sim, daemon: null };
  lab.daemon = await new Daemon({ env: { CLOISTER_SGX_TRUST_ROOTS: path.join(sim, 'root.pem') } }).start();
  const api = new Api(lab.daemon.url);
  await api.login(ADMIN_EMAIL, lab.daemon.adminPassword);
  lab.account = await api.createAccount('lab');
  await api.switchAccount(lab.account.id);
  await api.ok('POST', '/v1/collateral', collateralBody(sim));
  lab.people = {};
  for (const role of ['operator', 'auditor']) {
    const email = `${unique(role)}@example.com`;
    const m = await api.ok('POST', `/v1/accounts/${lab.account.id}/members`, { email, role }, 201);
    lab.people[role] = { email, password: m.initial_password };
  }
  lab.api = api;
  return lab;
}

/* A node of the lab enrolled with a join token of its own: {node, token}. */
async function labNode({ labels = { zone: 'westeurope-1' }, ...fields } = {}) {
  const { api, daemon: d, sim } = await nodeLab();
  const token = await api.ok('POST', '/v1/node-tokens', { name: unique('rack'), labels }, 201);
  const node = await enrollNode(d.url, sim, token.secret, { name: unique('sgx-node'), agent_version: '0.1.0',
                                                           facts: { hostname: 'aks-sgx-1', epc_bytes: 8388608 },
                                                           ...fields });
  return { node, token };
}

/* The exact time the portal shows on hover: "2026-11-28 18:29:28 UTC". */
function exactTime(iso) {
  const s = new Date(iso).toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, 19)} UTC`;
}

/* The buttons of a node's page that change its state. */
async function nodeActions(page) {
  return texts(page.locator('.node-actions form button'));
}

test('mints a join token in the wizard: its secret once, and the commands that start the agent here', async () => {
  const { api, people: [operator, auditor] } = await accountWithPeople('tokens', ['operator', 'auditor']);
  const name = unique('rack');
  let secret;
  await inBrowser('node-token', async (page) => {
    // An operator mints tokens: the way there from the empty list.
    await signIn(page, operator.email, operator.password, { next: '/nodes' });
    await settled(page, 'Nodes');
    assert.equal(await page.locator('#nav a[aria-current="page"]').textContent(), 'Nodes');
    assert.equal(await page.locator('main .empty').textContent(),
                 'No node has joined yet. Mint a join token and start the agent with it on a machine with SGX.');
    await page.locator('main .page-actions').getByRole('link', { name: 'New join token' }).click();
    await settled(page, 'New join token');
    assert.equal(new URL(page.url()).pathname, '/nodes/tokens/new');
    assert.equal(await page.locator('.wizard-steps [aria-current="step"]').textContent(), '1Describe the token');

    // What the form checks itself, said by the fields.
    await page.getByLabel('Labels').fill('zone=westeurope-1\nno value here');
    await page.getByRole('button', { name: 'Create join token' }).click();
    assert.equal(await page.locator('.form-message').textContent(), 'Please correct the fields marked below.');
    assert.deepEqual(await texts(page.locator('.field-error:not([hidden])')),
                     ['Enter a name for the token.', 'Line 2 must be name=value.']);

    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Uses').fill('2');
    assert.equal(await page.getByLabel('Time to live').inputValue(), '3600');
    await page.getByLabel('Time to live').selectOption({ label: '1 day' });
    await page.getByLabel('Labels').fill('zone=westeurope-1\nrack=7');
    await page.getByRole('button', { name: 'Create join token' }).click();

    // The secret, once, with the commands to run.
    const panel = page.locator('.panel-secret');
    await panel.waitFor();
    await notice(page, `The join token ${name} was created. Copy its secret now.`);
    assert.equal(await page.locator('.wizard-steps [aria-current="step"]').textContent(), '2Start the agent');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'token-secret-title');
    assert.equal(await panel.locator('.secret-warning strong').textContent(),
                 'Copy this secret now: it is not shown again.');
    secret = await panel.locator('input.secret-value').inputValue();
    assert.match(secret, /^cljt_[A-Za-z0-9_-]{43}$/);
    await panel.getByRole('button', { name: 'Copy secret', exact: true }).click();
    await panel.getByText('Copied.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);

    const command = (field) => panel.locator(`[data-field="${field}"]`).inputValue();
    const agent = `echo '${secret}' > join-token && cloister-agent --manager ${daemon.url} ` +
                  '--join-token-file join-token --state-dir /var/lib/cloister-agent --evidence dcap';
    assert.equal(await command('agent-command'), agent);
    assert.equal(await command('namespace-command'),
                 'kubectl create namespace cloister --dry-run=client -o yaml | kubectl apply -f -');
    assert.equal(await command('secret-command'),
                 `kubectl -n cloister create secret generic cloister-agent-join-token --from-literal=token=${secret}`);
    assert.equal(await command('apply-command'), 'kubectl apply -k docker/k8s/base');
    await panel.getByRole('button', { name: 'Copy agent command' }).click();
    await panel.locator('.copy-row', { has: page.locator('[data-field="agent-command"]') })
      .getByText('Copied.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), agent);

    // The token is what the form said, and its secret opens enrollment.
    const token = (await api.all('/v1/node-tokens')).find((t) => t.name === name);
    const prefix = secret.slice(0, 13);
    assert.deepEqual([token.prefix, token.uses, token.used, token.state, token.labels],
                     [prefix, 2, 0, 'active', { zone: 'westeurope-1', rack: '7' }]);
    assert.equal(Date.parse(token.expires_at) - Date.parse(token.created_at), 86400 * 1000);
    const nonce = await new Api(daemon.url).call('POST', '/v1/attestation/nonce', undefined,
                                                 { Authorization: `JoinToken ${secret}` });
    assert.equal(nonce.status, 201);

    // Listed by its prefix; the secret gone once done.
    await panel.getByRole('link', { name: 'I have copied it' }).click();
    await settled(page, 'Join tokens');
    assert.ok(!(await page.content()).includes(secret), 'the secret is still in the page');
    const row = page.locator(`main tbody tr[data-prefix="${prefix}"]`);
    assert.deepEqual((await texts(row.locator('td'))).slice(0, 5),
                     [name, prefix, '0 of 2', 'rack=7zone=westeurope-1', 'Active']);
    assert.equal(await row.locator('td[data-label="Expires"] time').first().getAttribute('datetime'),
                 token.expires_at);

    // Revoking asks first; then the secret opens nothing.
    await row.getByRole('button', { name: `Revoke ${name} (${prefix})` }).click();
    const dialog = page.getByRole('dialog');
    assert.equal(await dialog.locator('h2').textContent(), `Revoke ${name}?`);
    await dialog.getByRole('button', { name: 'Revoke token' }).click();
    await notice(page, `The join token ${name} (${prefix}) was revoked.`);
    await row.locator('td[data-label="State"] .badge', { hasText: 'Revoked' }).waitFor();
    assert.equal(await row.locator('button').count(), 0);
    const refused = await new Api(daemon.url).call('POST', '/v1/attestation/nonce', undefined,
                                                   { Authorization: `JoinToken ${secret}` });
    assert.equal(refused.status, 401);
  }, { permissions: ['clipboard-read', 'clipboard-write'] });

  // An auditor sees the tokens, and mints or revokes none.
  await inBrowser('node-token-auditor', async (page) => {
    await signIn(page, auditor.email, auditor.password, { next: '/nodes/tokens' });
    await settled(page, 'Join tokens');
    assert.equal(await page.locator('main tbody tr').count(), 1);
    assert.equal(await page.getByRole('link', { name: 'New join token' }).count(), 0);
    assert.equal(await page.locator('main tbody button').count(), 0);
    assert.equal(await page.locator('main .note').textContent(),
                 'Only the account’s operators and admins mint or revoke join tokens.');
    await page.goto('/nodes/tokens/new');
    await settled(page, 'New join token');
    assert.equal(await page.locator('main form').count(), 0);
    assert.equal(await page.locator('main .note').textContent(),
                 'Only the account’s operators and admins mint join tokens.');
  });
});

test('a node enrolled through the API is listed with its state, TCB status, labels and times', async () => {
  const { daemon: d } = await nodeLab();
  const { node } = await labNode({ labels: { zone: 'westeurope-1', pool: 'sgx' } });
  await inBrowser('nodes', async (page) => {
    await signIn(page, ADMIN_EMAIL, d.adminPassword, { next: '/nodes' });
    await settled(page, 'Nodes');
    const row = page.locator(`main tbody tr[data-node-id="${node.id}"]`);
    assert.equal(await row.getAttribute('data-state'), 'active');
    const cell = (label) => row.locator(`td[data-label="${label}"]`);
    assert.equal(await cell('Node').locator('a').textContent(), node.name);
    const state = cell('State').locator('.badge');
    assert.equal(await state.textContent(), 'Active');
    assert.match(await state.getAttribute('class'), /\bbadge-node-active\b/);
    assert.equal(await cell('TCB status').textContent(), 'UpToDateSimulated');
    assert.equal(await cell('TCB status').locator('.badge-tcb').getAttribute('data-level'), 'good');
    assert.deepEqual(await texts(cell('Labels').locator('li')), ['pool=sgx', 'zone=westeurope-1']);
    assert.equal(await cell('Agent').textContent(), '0.1.0');
    // When, in words; the exact time on hover.
    for (const [label, iso] of [['Last seen', node.last_seen_at], ['Last attested', node.last_attested_at]]) {
      const t = cell(label).locator('time');
      assert.equal(await t.getAttribute('datetime'), iso);
      assert.equal(await t.getAttribute('title'), exactTime(iso));
      assert.match(await t.textContent(), /^(just now|\d+ minutes? ago)$/);
    }
    await cell('Node').getByRole('link', { name: node.name }).click();
    await settled(page, node.name);
    assert.equal(new URL(page.url()).pathname, `/nodes/${node.id}`);
    assert.equal(await page.title(), `${node.name} · Nodes · lab · Cloister`);
  }, { baseURL: d.url });
});

test('a node\'s page shows its facts, certificate, events and reports; only operators and admins get its actions',
  async () => {
    const { daemon: d, people } = await nodeLab();
    const { node, token } = await labNode();
    const short = node.report.id.slice(0, 8);
    await inBrowser('node', async (page) => {
      await signIn(page, ADMIN_EMAIL, d.adminPassword, { next: `/nodes/${node.id}` });
      await settled(page, node.name);
      const status = await shownFacts(page.locator('section[aria-labelledby="node-status-title"]'));
      assert.equal(status.State, 'ActiveEnrolled and attested; its certificate is good.');
      assert.equal(status['TCB status'], 'UpToDateSimulated');
      assert.equal(status.Labels, 'zone=westeurope-1');
      assert.equal(status['Agent version'], '0.1.0');
      assert.equal(await page.locator('.simulated-warning .panel-title').textContent(), 'Simulated evidence');
      assert.deepEqual(await nodeActions(page), ['Deactivate', 'Revoke']);
      assert.deepEqual(await shownFacts(page.locator('section[aria-labelledby="node-facts-title"]')),
                       { hostname: 'aks-sgx-1', epc_bytes: '8388608' });

      // The certificate: its serial and expiry, the PEM to copy.
      const cert = page.locator('section[aria-labelledby="node-certificate-title"]');
      const certFacts = await shownFacts(cert);
      assert.equal(certFacts.Serial, node.cert_serial);
      assert.equal(certFacts.Revoked, 'No');
      assert.equal(await cert.locator('dd time').first().getAttribute('datetime'), node.cert_expires_at);
      assert.equal(certFacts.Expires, `${exactTime(node.cert_expires_at)}(in 30 days)`);
      assert.equal(await cert.locator('textarea.cert-pem').inputValue(), node.certificate);
      await cert.getByRole('button', { name: 'Copy certificate' }).click();
      await cert.getByText('Copied.').waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), node.certificate);
      assert.equal(await cert.getByRole('link', { name: 'Download .pem' }).getAttribute('download'),
                   `node-${node.id.slice(0, 8)}.pem`);

      // Its events, oldest first: the enrollment, by its join token.
      const events = page.locator('section[aria-labelledby="node-events-title"] tbody tr');
      assert.deepEqual(await events.evaluateAll((trs) => trs.map((tr) => [tr.dataset.event, tr.dataset.from,
                                                                          tr.dataset.to])),
                       [['enroll', '', 'active']]);
      assert.equal(await events.locator('td[data-label="By"]').textContent(), `join token ${token.name}`);
      assert.equal(await events.locator('td[data-label="Reason"]').textContent(), `Evidence accepted: report ${short}`);

      // Its attestation reports, each a link to the report's page.
      const reports = page.locator('section[aria-labelledby="node-attestation-title"] tbody tr');
      assert.deepEqual(await reports.evaluateAll((trs) => trs.map((tr) => [tr.dataset.reportId, tr.dataset.verdict])),
                       [[node.report.id, 'accepted']]);
      await reports.getByRole('link', { name: `Report ${short}` }).click();
      await settled(page, `Report ${short}`);
      assert.equal(new URL(page.url()).pathname, `/attestation/${node.report.id}`);
      assert.equal((await shownFacts(page.locator('section[aria-labelledby="report-record-title"]'))).Subject,
                   `node:${node.id}`);
      await page.goBack();
      await settled(page, node.name);

      // It fits a phone.
      await page.setViewportSize({ width: 375, height: 740 });
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `the node's page is ${width}px wide`);
    }, { baseURL: d.url, permissions: ['clipboard-read', 'clipboard-write'] });

    // An auditor reads it all, and changes nothing.
    await inBrowser('node-auditor', async (page) => {
      await signIn(page, people.auditor.email, people.auditor.password, { next: `/nodes/${node.id}` });
      await settled(page, node.name);
      assert.equal(await page.locator('.node-actions').count(), 0);
      assert.equal(await page.getByRole('button', { name: /^(Deactivate|Reactivate|Revoke)$/ }).count(), 0);
      assert.equal(await page.locator('main > .note').textContent(),
                   'Only the account’s operators and admins deactivate, reactivate or revoke nodes.');
      assert.equal(await page.locator('section[aria-labelledby="node-events-title"] tbody tr').count(), 1);
    }, { baseURL: d.url });
  });

test('deactivates and revokes a node from its page: revoking asks for a reason, then puts it on the CRL', async () => {
  const { daemon: d, api, account, people } = await nodeLab();
  const { node } = await labNode();
  await inBrowser('node-revoke', async (page) => {
    await signIn(page, people.operator.email, people.operator.password, { next: `/nodes/${node.id}` });
    await settled(page, node.name);
    const state = page.locator('section[aria-labelledby="node-status-title"] .badge-node');
    assert.deepEqual(await nodeActions(page), ['Deactivate', 'Revoke']);

    await page.getByLabel('Reason').fill('maintenance window');
    await page.getByRole('button', { name: 'Deactivate' }).click();
    await notice(page, `The node ${node.name} was deactivated.`);
    assert.equal(await state.textContent(), 'Deactivated');
    assert.deepEqual(await nodeActions(page), ['Reactivate', 'Revoke']);
    assert.equal(await page.getByLabel('Reason').inputValue(), '');

    // Revoking needs a reason, and a confirmation that says what it does.
    await page.getByRole('button', { name: 'Revoke' }).click();
    assert.deepEqual(await texts(page.locator('.node-actions .field-error:not([hidden])')),
                     ['Say why the node is revoked.']);
    assert.equal(await page.getByRole('dialog').count(), 0);
    await page.getByLabel('Reason').fill('the machine left the data centre');
    await page.getByRole('button', { name: 'Revoke' }).click();
    const dialog = page.getByRole('dialog');
    assert.equal(await dialog.locator('h2').textContent(), `Revoke ${node.name}?`);
    assert.equal(await dialog.locator('.dialog-body').textContent(),
                 `Its certificate (serial ${node.cert_serial}) goes on the account’s CRL for good: nothing that ` +
                 'checks the CRL trusts it from then on. The machine must enroll again with a new join token to ' +
                 'come back. Revoking cannot be undone.');
    await dialog.getByRole('button', { name: 'Revoke node' }).click();
    await notice(page, `The node ${node.name} was revoked.`);
    assert.equal(await state.textContent(), 'Revoked');
    assert.deepEqual(await nodeActions(page), []);
    assert.equal(await page.locator('.node-actions .note').textContent(),
                 'A revoked node stays revoked. To come back, the machine enrolls again with a new join token, ' +
                 'as a new node.');
    assert.equal((await shownFacts(page.locator('section[aria-labelledby="node-certificate-title"]'))).Revoked,
                 'Yes: its serial is on the account’s CRL.');
    const events = page.locator('section[aria-labelledby="node-events-title"] tbody tr');
    assert.deepEqual(await events.evaluateAll((trs) => trs.map((tr) => [tr.dataset.event, tr.dataset.from,
                                                                        tr.dataset.to])),
                     [['enroll', '', 'active'], ['deactivate', 'active', 'deactivated'],
                      ['revoke', 'deactivated', 'revoked']]);
    assert.deepEqual((await texts(events.locator('td[data-label="Reason"]'))).slice(1),
                     ['maintenance window', 'the machine left the data centre']);
    assert.deepEqual((await texts(events.locator('td[data-label="By"]'))).slice(1),
                     [people.operator.email, people.operator.email]);

    // The list says so too.
    await page.locator('.breadcrumb').getByRole('link', { name: 'Nodes' }).click();
    await settled(page, 'Nodes');
    assert.equal(await page.locator(`main tbody tr[data-node-id="${node.id}"] td[data-label="State"]`).textContent(),
                 'Revoked');
  }, { baseURL: d.url });

  // The server holds it revoked, with its serial on the account's CRL.
  const held = await api.ok('GET', `/v1/nodes/${node.id}`);
  assert.equal(held.state, 'revoked');
  const res = await fetch(`${d.url}/pki/${account.id}/crl.der`);
  assert.equal(res.status, 200);
  const crl = execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'],
                           { input: Buffer.from(await res.arrayBuffer()) }).toString();
  const serials = [...crl.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1].replace(/^0+/, ''));
  assert.ok(serials.includes(node.cert_serial.toUpperCase().replace(/^0+/, '')), crl);
});

/* ---- an app's enclaves, secrets and attestation activity ------------------ */

/* The serials on an account's CRL, in upper-case hex without leading zeros. */
async function crlSerials(d, account) {
  const res = await fetch(`${d.url}/pki/${account.id}/crl.der`);
  assert.equal(res.status, 200);
  const crl = execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'],
                           { input: Buffer.from(await res.arrayBuffer()) }).toString();
  return [...crl.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1].replace(/^0+/, ''));
}

test('edits how an app\'s enclaves attest: the settings shown, the server\'s message by the field, only what changed',
  async () => {
    const api = await adminIn(acme);
    const name = unique('attest');
    const app = await api.ok('POST', '/v1/apps',
      { name, input_image: 'nginx:1.25', output_image: 'registry.example.com/acme/attest' }, 201);
    const appPath = `/v1/apps/${app.id}`;
    await inBrowser('app-attestation-settings', async (page) => {
      await signInAdmin(page, { next: `/apps/${app.id}` });
      await settled(page, name);
      const settings = page.locator('section[aria-labelledby="app-attestation"]');
      assert.deepEqual(await shownFacts(settings), {
        Attestation: 'Cloister: cloister-init attests, then starts the app',
        Identity: 'MRENCLAVE: an approved build’s exact measurement',
        'Lowest ISVSVN': '0 (used with the signer identity only)',
        'Required node labels': 'None: any active node',
        'Certificate lifetime': '7 days (604,800 seconds)',
        'Secrets as environment variables': 'No: as files only',
        'Cloister directory': '/run/cloister',
        'When attestation fails': 'Retry, with back-off',
      });

      await page.getByRole('link', { name: 'Edit', exact: true }).click();
      await settled(page, `Edit ${name}`);
      assert.equal(await page.getByLabel('Certificate lifetime').inputValue(), '7d');
      assert.equal(await page.getByLabel('Cloister directory').inputValue(), '/run/cloister');
      assert.equal(await page.getByLabel('Attestation', { exact: true }).inputValue(), 'cloister');

      // The form's own checks, then the server's.
      await page.getByLabel('Certificate lifetime').fill('soon');
      await page.getByRole('button', { name: 'Save changes' }).click();
      const lifetimeError = page.locator('.field:has(input[name=cert_lifetime]) .field-error');
      assert.equal(await lifetimeError.textContent(), 'Enter a time such as 12h or 7d.');
      await page.getByLabel('Certificate lifetime').fill('30m');
      await page.getByRole('button', { name: 'Save changes' }).click();
      assert.equal(await lifetimeError.textContent(), 'Must be from 1h to 90d.');
      await page.getByLabel('Certificate lifetime').fill('12h');
      await page.getByLabel('Cloister directory').fill('run/cloister');
      await page.getByLabel('Required node labels').fill('Zone=A');
      await page.getByRole('button', { name: 'Save changes' }).click();
      const dirError = page.locator('.field:has(input[name=cloister_dir]) .field-error');
      await dirError.waitFor();
      assert.equal(await dirError.textContent(),
                   'Must be an absolute path (not /) without "..", of at most 256 bytes.');
      assert.equal(await page.locator('.field:has(textarea[name=required_node_labels]) .field-error').textContent(),
                   'Key "Zone" must be 1 to 63 of [a-z0-9._/-].');
      assert.equal((await api.ok('GET', appPath)).cert_lifetime, 604800);

      await page.getByLabel('Cloister directory').fill('/run/secrets');
      await page.getByLabel('Required node labels').fill('zone=westeurope-1\npool=sgx');
      await page.getByLabel('Identity').selectOption('signer');
      await page.getByLabel('Lowest ISVSVN').fill('3');
      await page.getByLabel('When attestation fails').selectOption('exit');
      await page.getByLabel('Secrets as variables too').check();
      await page.getByRole('button', { name: 'Save changes' }).click();
      await settled(page, name);
      await notice(page, `The app ${name} was saved.`);
      const saved = await api.ok('GET', appPath);
      assert.deepEqual([saved.identity, saved.min_isvsvn, saved.cert_lifetime, saved.cloister_dir,
                        saved.on_attestation_failure, saved.secrets_env, saved.required_node_labels,
                        saved.attestation],
                       ['signer', 3, 43200, '/run/secrets', 'exit', true, { zone: 'westeurope-1', pool: 'sgx' },
                        'cloister']);
      const [update] = await api.all(`/v1/audit?action=app.update&target=app:${app.id}`);
      assert.deepEqual(update.details.fields.slice().sort(),
                       ['cert_lifetime', 'cloister_dir', 'identity', 'min_isvsvn', 'on_attestation_failure',
                        'required_node_labels', 'secrets_env']);
      assert.deepEqual(await shownFacts(settings), {
        Attestation: 'Cloister: cloister-init attests, then starts the app',
        Identity: 'Signer: an approved build’s MRSIGNER and ISVPRODID',
        'Lowest ISVSVN': '3',
        'Required node labels': 'pool=sgxzone=westeurope-1',
        'Certificate lifetime': '12 hours (43,200 seconds)',
        'Secrets as environment variables': 'Yes',
        'Cloister directory': '/run/secrets',
        'When attestation fails': 'Exit',
      });
    }, { expected: [BOOT_401, { status: 422, path: appPath }] });
  });

test('sets and generates an app\'s secrets in its page, which shows their metadata only; exports and removes them',
  async () => {
    const { account, api, people: [operator] } = await accountWithPeople('secrets', ['operator']);
    const app = await api.ok('POST', '/v1/apps',
      { name: unique('vault'), input_image: 'nginx:1.25', output_image: 'registry.example.com/acme/vault' }, 201);
    const peer = await api.ok('POST', '/v1/apps',
      { name: unique('peer'), input_image: 'postgres:16', output_image: 'registry.example.com/acme/db' }, 201);
    const values = [unique('s3cret-first'), unique('s3cret-second')];
    const generatePath = `/v1/apps/${app.id}/secrets/TLS/generate`;
    const secretRows = (page) => page.locator('section[aria-labelledby="app-secrets-title"] tbody tr');
    const rowTexts = async (page) => (await secretRows(page).evaluateAll((trs) => trs.map((tr) =>
      [...tr.querySelectorAll('td')].slice(0, 5).map((td) => td.textContent.trim()))));
    const noValue = async (page) => {
      const html = await page.content();
      for (const v of values) assert.ok(!html.includes(v), 'a secret value is in the page');
    };

    await inBrowser('app-secrets', async (page) => {
      await signInAdmin(page, { next: '/apps' });
      await page.getByLabel('Account', { exact: true }).selectOption({ label: account.name });
      await notice(page, `Now acting in ${account.name} as admin.`);
      await page.goto(`/apps/${app.id}`);
      await settled(page, app.name);
      const secrets = page.locator('section[aria-labelledby="app-secrets-title"]');
      assert.equal(await secrets.locator('.empty').textContent(), 'No secrets yet. Set or generate the first one below.');

      // A value: a name the form refuses, then one it takes; the value is
      // masked as it is typed, and gone once it is saved.
      const setForm = secrets.locator('form[aria-labelledby="secret-set-title"]');
      const value = setForm.getByLabel('Value');
      assert.equal(await value.evaluate((el) => getComputedStyle(el).webkitTextSecurity), 'disc');
      await setForm.getByLabel('Name', { exact: true }).fill('1BAD');
      await value.fill(values[0]);
      await setForm.getByRole('button', { name: 'Set secret' }).click();
      assert.deepEqual(await texts(setForm.locator('.field-error:not([hidden])')),
                       ['Use letters, digits and underscores, not starting with a digit, at most 128 ' +
                        '(it can become an environment variable).']);
      await setForm.getByLabel('Name', { exact: true }).fill('DB_PASSWORD');
      await setForm.getByRole('button', { name: 'Set secret' }).click();
      await notice(page, 'The secret DB_PASSWORD was set: version 1.');
      assert.equal(await value.inputValue(), '');
      assert.equal(await setForm.getByLabel('Name', { exact: true }).inputValue(), '');
      assert.deepEqual(await rowTexts(page), [['DB_PASSWORD', '1', 'Value', '—', ADMIN_EMAIL]]);
      await noValue(page);
      await setForm.getByLabel('Name', { exact: true }).fill('DB_PASSWORD');
      await value.fill(values[1]);
      await setForm.getByRole('button', { name: 'Set secret' }).click();
      await notice(page, 'The secret DB_PASSWORD was set: version 2.');
      assert.equal(await value.inputValue(), '');
      await noValue(page);

      // Generated: random bytes, then a key and a certificate, whose names
      // the server checks.
      const genForm = secrets.locator('form[aria-labelledby="secret-generate-title"]');
      await genForm.getByLabel('Name', { exact: true }).fill('API_KEY');
      assert.equal(await genForm.getByLabel('Bytes').inputValue(), '32');
      assert.equal(await genForm.getByLabel('DNS names').isVisible(), false);
      await genForm.getByLabel('Bytes').fill('48');
      await genForm.getByRole('button', { name: 'Generate secret' }).click();
      await notice(page, 'Cloister generated the secret API_KEY: version 1.');
      await genForm.getByLabel('Name', { exact: true }).fill('TLS');
      await genForm.getByLabel('Kind').selectOption('certificate');
      assert.equal(await genForm.getByLabel('Bytes').isVisible(), false);
      await genForm.getByLabel('DNS names').fill('api.example.com\nNot A Name');
      await genForm.getByRole('button', { name: 'Generate secret' }).click();
      const namesError = genForm.locator('.field:has(textarea[name=names]) .field-error');
      await namesError.waitFor();
      assert.equal(await namesError.textContent(), 'Must be 1 to 16 DNS names.');
      await genForm.getByLabel('DNS names').fill('api.example.com\ndb.example.com');
      await genForm.getByLabel('Valid for').selectOption({ label: '30 days' });
      await genForm.getByRole('button', { name: 'Generate secret' }).click();
      await notice(page, 'Cloister generated the secret TLS: version 1.');
      assert.deepEqual(await rowTexts(page), [
        ['API_KEY', '1', 'Random bytes', '—', ADMIN_EMAIL],
        ['DB_PASSWORD', '2', 'Value', '—', ADMIN_EMAIL],
        ['TLS', '1', 'Key and certificate', '—', ADMIN_EMAIL],
      ]);

      // Exported to another app under a new name.
      const exportForm = secrets.locator('form[aria-labelledby="secret-export-title"]');
      assert.deepEqual(await texts(exportForm.getByLabel('Secret').locator('option')), ['API_KEY', 'DB_PASSWORD', 'TLS']);
      await exportForm.getByLabel('Secret').selectOption('DB_PASSWORD');
      await exportForm.getByLabel('To the app').selectOption({ label: peer.name });
      await exportForm.getByLabel('As').fill('PASSWORD');
      await exportForm.getByRole('button', { name: 'Export secret' }).click();
      await notice(page, `DB_PASSWORD was exported to ${peer.name} as PASSWORD: version 1.`);

      // Removed after confirming.
      await secrets.getByRole('button', { name: 'Remove API_KEY' }).click();
      const dialog = page.getByRole('dialog');
      assert.equal(await dialog.locator('h2').textContent(), 'Remove API_KEY?');
      assert.equal(await dialog.locator('.dialog-body').textContent(),
                   `Enclaves of ${app.name} no longer receive API_KEY when they attest. Its versions are kept, ` +
                   'sealed; setting it again makes a new version.');
      await dialog.getByRole('button', { name: 'Remove secret' }).click();
      await notice(page, 'The secret API_KEY was removed.');
      assert.deepEqual((await rowTexts(page)).map((r) => r[0]), ['DB_PASSWORD', 'TLS']);

      // Every change is in the activity, by name and version.
      const activity = page.locator('section[aria-labelledby="app-activity-title"] tbody tr');
      assert.deepEqual(await activity.evaluateAll((trs) => trs.map((tr) => tr.dataset.action)),
                       ['secret.delete', 'secret.generate', 'secret.generate', 'secret.set', 'secret.set']);
      assert.deepEqual(await texts(activity.locator('td[data-label="Details"]')),
                       ['API_KEY version 2', 'TLS version 1, key and certificate', 'API_KEY version 1, random bytes',
                        'DB_PASSWORD version 2', 'DB_PASSWORD version 1']);
      await noValue(page);

      // The other app shows where its copy came from.
      await page.goto(`/apps/${peer.id}`);
      await settled(page, peer.name);
      const copied = page.locator('section[aria-labelledby="app-secrets-title"] tbody tr[data-secret="PASSWORD"]');
      assert.equal(await copied.locator('td[data-label="Source"]').textContent(), `DB_PASSWORD of ${app.name}`);
      assert.equal(await copied.locator('td[data-label="Source"] a').getAttribute('href'), `/apps/${app.id}`);
      await noValue(page);
    }, { expected: [BOOT_401, { status: 422, path: generatePath }] });

    // The server holds what the page said, and no answer carries a value.
    const held = await api.ok('GET', `/v1/apps/${app.id}/secrets`);
    assert.deepEqual(held.items.map((s) => [s.name, s.version, s.kind]),
                     [['DB_PASSWORD', 2, 'value'], ['TLS', 1, 'certificate']]);
    const copies = await api.ok('GET', `/v1/apps/${peer.id}/secrets`);
    assert.deepEqual(copies.items.map((s) => [s.name, s.version, s.kind, s.source]),
                     [['PASSWORD', 1, 'exported', `app:${app.id}/DB_PASSWORD`]]);
    const answers = JSON.stringify([held, copies, await api.all('/v1/audit')]);
    for (const v of values) assert.ok(!answers.includes(v));

    // An operator reads the metadata and changes nothing; the audit log,
    // and so the activity, is not theirs to read.
    await inBrowser('app-secrets-operator', async (page) => {
      await signIn(page, operator.email, operator.password, { next: `/apps/${app.id}` });
      await settled(page, app.name);
      const secrets = page.locator('section[aria-labelledby="app-secrets-title"]');
      assert.deepEqual(await texts(secrets.locator('tbody td[data-label="Name"]')), ['DB_PASSWORD', 'TLS']);
      assert.equal(await secrets.locator('form').count(), 0);
      assert.equal(await secrets.getByRole('button').count(), 0);
      assert.equal(await secrets.locator('.note').textContent(),
                   'Only the account’s admins set, generate, export or remove secrets.');
      assert.equal(await page.locator('section[aria-labelledby="app-activity-title"] .note').textContent(),
                   'The attestation activity is kept in the audit log, which the account’s admins and auditors read.');
      assert.equal(await page.locator('section[aria-labelledby="app-enclaves-title"] .empty').textContent(),
                   'No enclave of the app holds a valid certificate.');
    });
  });

test('an enclave attested through the real API runs under Running enclaves, is revoked from the page, and its ' +
     'refusal, certificate and secrets are in the activity', async () => {
  const { daemon: d, api, account, people, sim } = await nodeLab();
  const { node } = await labNode();
  const app = await api.ok('POST', '/v1/apps', {
    name: unique('enclave'), input_image: 'nginx:1.25', output_image: 'registry.example.com/lab/web-sgx',
    allowed_domains: ['api.example.com'], required_node_labels: { zone: 'westeurope-1' } }, 201);
  const task = (await api.all('/v1/tasks?type=domain_approval'))
    .find((t) => t.details.app_id === app.id && t.details.domain === 'api.example.com');
  await api.ok('POST', `/v1/tasks/${task.id}/approve`);
  const mrenclave = 'ab'.repeat(32);
  const stranger = 'cd'.repeat(32);
  const build = await addBuild(d, { accountId: account.id, appId: app.id, mrenclave });
  const value = unique('s3cret');
  await api.ok('PUT', `/v1/apps/${app.id}/secrets/DB_PASSWORD`, { value });

  // Refused: an enclave no build of the app measures, for a name not allowed.
  const refused = await attestEnclave(d.url, sim, node, app.id, { names: ['evil.example.com'], mrenclave: stranger });
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  // Attested: its certificate, and the secret as JWE.
  const attested = await attestEnclave(d.url, sim, node, app.id, { names: ['api.example.com'], mrenclave });
  assert.equal(attested.status, 201, JSON.stringify(attested.body));
  assert.deepEqual(Object.keys(attested.body.secrets), ['DB_PASSWORD']);
  const cert = await api.ok('GET', `/v1/certificates/${attested.body.id}`);
  assert.deepEqual([cert.state, cert.build_id, cert.node_id, cert.names], ['valid', build, node.id, ['api.example.com']]);
  const short = cert.report_id.slice(0, 8);

  await inBrowser('app-enclaves', async (page) => {
    await signIn(page, people.operator.email, people.operator.password, { next: `/apps/${app.id}` });
    await settled(page, app.name);
    const enclaves = page.locator('section[aria-labelledby="app-enclaves-title"]');
    const row = enclaves.locator(`tbody tr[data-certificate-id="${cert.id}"]`);
    assert.equal(await row.getAttribute('data-state'), 'valid');
    const cell = (label) => row.locator(`td[data-label="${label}"]`);
    assert.equal(await cell('Node').textContent(), node.name);
    assert.equal(await cell('Node').locator('a').getAttribute('href'), `/nodes/${node.id}`);
    assert.equal(await cell('Build').textContent(), `build ${build.slice(0, 8)}`);
    assert.equal(await cell('Build').locator('a').getAttribute('href'), `/builds/${build}`);
    assert.equal(await cell('Names').textContent(), 'api.example.com');
    const expires = cell('Expires').locator('time');
    assert.equal(await expires.getAttribute('datetime'), cert.expires_at);
    assert.equal(await expires.getAttribute('title'), exactTime(cert.expires_at));
    assert.equal(await expires.textContent(), 'in 7 days');
    assert.equal(await cell('Serial').textContent(), cert.serial);
    assert.equal(await enclaves.locator('tbody tr').count(), 1);

    // The report it was issued on, a link away.
    await cell('Report').getByRole('link', { name: `Report ${short}` }).click();
    await settled(page, `Report ${short}`);
    assert.equal(new URL(page.url()).pathname, `/attestation/${cert.report_id}`);
    await page.goBack();
    await settled(page, app.name);

    // Revoking asks for a reason, then a confirmation that says what it does.
    await cell('Actions').getByRole('button', { name: `Revoke the certificate ${cert.serial}` }).click();
    const form = enclaves.locator('.revoke-card form');
    assert.equal(await enclaves.locator('.revoke-card h3').textContent(), `Revoke the certificate ${cert.serial}`);
    assert.equal(await page.evaluate(() => document.activeElement.name), 'reason');
    await form.getByRole('button', { name: 'Revoke certificate' }).click();
    assert.deepEqual(await texts(form.locator('.field-error:not([hidden])')), ['Say why the certificate is revoked.']);
    assert.equal(await page.getByRole('dialog').count(), 0);
    await form.getByLabel('Reason').fill('key compromise');
    await form.getByRole('button', { name: 'Revoke certificate' }).click();
    const dialog = page.getByRole('dialog');
    assert.equal(await dialog.locator('h2').textContent(), 'Revoke this certificate?');
    assert.equal(await dialog.locator('.dialog-body').textContent(),
                 `Its serial ${cert.serial} goes on the account’s CRL for good: nothing that checks the CRL trusts ` +
                 'the certificate from then on. The enclave gets another only by attesting again. ' +
                 'Revoking cannot be undone.');
    await dialog.getByRole('button', { name: 'Revoke certificate' }).click();
    await notice(page, `The certificate ${cert.serial} was revoked.`);

    // Listed below, dimmed; none runs any more.
    const ended = enclaves.locator(`tbody tr.row-dim[data-certificate-id="${cert.id}"]`);
    assert.equal(await ended.getAttribute('data-state'), 'revoked');
    assert.match(await ended.locator('td[data-label="State"]').textContent(), /^Revoked.*key compromise$/);
    assert.ok(Number(await ended.locator('td').first().evaluate((td) => getComputedStyle(td).opacity)) < 1);
    assert.equal(await enclaves.locator('.subsection-title').textContent(), 'Revoked and expired (1)');
    assert.equal(await enclaves.locator('.empty').textContent(), 'No enclave of the app holds a valid certificate.');
    assert.equal(await enclaves.locator('.revoke-card').count(), 0);
  }, { baseURL: d.url });

  // The server holds it revoked, with its serial on the account's CRL.
  const held = await api.ok('GET', `/v1/certificates/${cert.id}`);
  assert.deepEqual([held.state, held.revoke_reason], ['revoked', 'key compromise']);
  assert.ok((await crlSerials(d, account)).includes(cert.serial.toUpperCase().replace(/^0+/, '')));

  // An admin reads the activity: newest first, the refusal with each reason.
  await inBrowser('app-enclaves-activity', async (page) => {
    await signIn(page, ADMIN_EMAIL, d.adminPassword, { next: `/apps/${app.id}` });
    await settled(page, app.name);
    const rows = page.locator('section[aria-labelledby="app-activity-title"] tbody tr');
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.action)),
                     ['certificate.revoke', 'secret.release', 'certificate.issue', 'enclave.attest.refused',
                      'secret.set']);
    const by = (action) => page.locator(`section[aria-labelledby="app-activity-title"] tbody tr[data-action="${action}"]`);
    assert.deepEqual(await texts(rows.locator('td[data-label="Event"]')),
                     ['Certificate revoked', 'Secrets released', 'Certificate issued', 'Refused', 'Secret set']);
    assert.deepEqual(await texts(rows.locator('td[data-label="By"]')),
                     [people.operator.email, `node ${node.name}`, `node ${node.name}`, `node ${node.name}`, ADMIN_EMAIL]);
    const refusal = by('enclave.attest.refused');
    assert.deepEqual(await texts(refusal.locator('.reasons li')),
                     [`no build of the app has MRENCLAVE ${stranger}`,
                      'the domain evil.example.com is not among the app\'s allowed_domains']);
    assert.equal(await refusal.locator('a').first().getAttribute('href'), `/nodes/${node.id}`);
    assert.match(await refusal.locator('a').nth(1).getAttribute('href'), /^\/attestation\/[0-9a-f-]{36}$/);
    assert.equal(await by('certificate.issue').locator('td[data-label="Details"]').textContent(),
                 `Serial ${cert.serial} on ${node.name}, build ${build.slice(0, 8)}, report ${short}`);
    assert.equal(await by('secret.release').locator('td[data-label="Details"]').textContent(), 'DB_PASSWORD');
    assert.equal(await by('certificate.revoke').locator('td[data-label="Details"]').textContent(),
                 `Serial ${cert.serial}: key compromise`);
    assert.ok(!(await page.content()).includes(value), 'the secret value is in the page');
    await page.screenshot({ path: shotPath('app-enclaves-admin'), fullPage: true });
  }, { baseURL: d.url });
});

/* ---- clusters and deployments -------------------------------------------- */

/* The Kubernetes fake, started once: two SGX nodes with 8Gi of
 * sgx.intel.com/epc each, and the deployment named `broken` failing to
 * pull its image, in whatever namespace. */
async function kubeLab() {
  if (!kube) kube = await new Kubernetes({ failing: { broken: 'image-pull' } }).start();
  return kube;
}

/* A new account with an operator and an auditor, the fake as its cluster
 * `lab` (added through the API), and an app with `builds` approved builds
 * whose images were pushed, oldest first (MRENCLAVE aa…, bb…).
 * {account, api, operator, auditor, cluster, app, builds: [ids]}. */
async function deployLab(builds = 1) {
  const k = await kubeLab();
  const { account, api, people: [operator, auditor] } = await accountWithPeople('deploy', ['operator', 'auditor']);
  const cluster = await api.ok('POST', '/v1/clusters', { name: 'lab', kind: 'kubernetes', kubeconfig: k.kubeconfig },
                               201);
  const app = await api.ok('POST', '/v1/apps', { name: unique('web'), input_image: 'nginx:1.25',
                                                 output_image: 'registry.example.com/web' }, 201);
  const ids = [];
  for (const hex of ['aa', 'bb'].slice(0, builds)) {
    ids.push(await addBuild(daemon, { accountId: account.id, appId: app.id, mrenclave: hex.repeat(32), pushed: true }));
  }
  return { account, api, operator, auditor, cluster, app, builds: ids };
}

/* The error shown under the field labelled `label`. */
function fieldError(page, label) {
  return page.locator('.field', { has: page.getByLabel(label, { exact: true }) }).locator('.field-error');
}

/* The live view of a job in the page's job panel, once it has ended as `state`. */
async function jobPanelEnded(page, state, { title = null, timeout = 60_000 } = {}) {
  const panel = page.locator('.job-panel .job-follow',
    title ? { has: page.locator('.job-follow-title', { hasText: title }) } : {});
  await panel.and(page.locator(`[data-state="${state}"]`)).waitFor({ timeout });
  return panel;
}

test('adds a cluster from its kubeconfig, the server\'s refusals under their fields, and checks it live: ' +
     'reachable, its version and SGX nodes', async () => {
  const k = await kubeLab();
  const { api, people: [operator, auditor] } = await accountWithPeople('clusters', ['operator', 'auditor']);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cloister-e2e-kubeconfig-'));
  const file = path.join(dir, 'lab.yaml');
  writeFileSync(file, k.kubeconfig);
  let cluster;
  try {
    await inBrowser('cluster-check', async (page) => {
      await signIn(page, operator.email, operator.password, { next: '/clusters' });
      await settled(page, 'Clusters');
      assert.equal(await page.locator('main .empty').textContent(),
                   'No clusters yet. Add one from its kubeconfig or from Azure.');
      await page.getByRole('link', { name: 'Add cluster' }).click();
      await settled(page, 'Add a cluster');

      // AKS: the server's own words, each under the field it names; the
      // client secret is not kept in the form.
      await page.getByLabel('Name', { exact: true }).fill('prod');
      await page.getByLabel('Kind').selectOption('aks');
      assert.equal(await page.getByLabel('Kubeconfig', { exact: true }).isVisible(), false);
      await page.getByLabel('Subscription ID').fill('not-a-uuid');
      await page.getByLabel('Resource group').fill('rg-cc');
      await page.getByLabel('Cluster name').fill('sgx-prod');
      await page.getByLabel('Tenant ID').fill('11111111-2222-3333-4444-555555555555');
      await page.getByLabel('Client ID').fill('66666666-7777-8888-9999-000000000000');
      await page.getByLabel('Client secret').fill('a-client-secret');
      await page.getByLabel('VM size').fill('Standard_D4s_v3');
      await page.getByRole('button', { name: 'Add cluster' }).click();
      await fieldError(page, 'VM size').waitFor();
      assert.equal(await fieldError(page, 'VM size').textContent(),
                   'Must be an SGX VM size, such as Standard_DC4s_v3.');
      assert.equal(await fieldError(page, 'Subscription ID').textContent(), 'Must be the subscription\'s id (a UUID).');
      assert.equal(await page.locator('.form-message').textContent(), 'Please correct the fields marked below.');
      assert.equal(await page.getByLabel('Client secret').inputValue(), '');

      // A kubeconfig whose user runs a program: refused, saying what to upload.
      await page.getByLabel('Kind').selectOption('kubernetes');
      await page.getByLabel('Name', { exact: true }).fill('lab');
      await page.getByLabel('Tenant ID').fill('');
      await page.getByLabel('Client ID').fill('');
      await page.getByLabel('Kubeconfig', { exact: true }).fill(k.kubeconfig.replace(/ {4}token: .*\n/,
        '    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n'));
      await page.getByRole('button', { name: 'Add cluster' }).click();
      await fieldError(page, 'Kubeconfig').waitFor();
      assert.equal(await fieldError(page, 'Kubeconfig').textContent(),
                   'User "cloister-test" runs a program (exec: aws) to get its credentials, which Cloister cannot ' +
                   'run; use a service account\'s token, a client certificate, or AKS\'s kubelogin form with the ' +
                   'cluster\'s Azure credentials.');

      // The file instead: its contents are sent, not shown.
      await page.getByLabel('Kubeconfig file').setInputFiles(file);
      assert.equal(await page.getByLabel('Kubeconfig', { exact: true }).isVisible(), false);
      assert.equal(await page.locator('.file-chosen').textContent(),
                   'The file lab.yaml is sent; its contents are not shown.');
      await page.getByRole('button', { name: 'Add cluster' }).click();
      await page.waitForURL(/\/clusters\/[0-9a-f-]{36}$/);
      await settled(page, 'lab');
      await notice(page, 'The cluster lab was added, its credentials sealed. Check it to see its SGX nodes.');
      cluster = await api.ok('GET', `/v1/clusters/${new URL(page.url()).pathname.split('/').pop()}`);
      assert.equal(cluster.auth, 'token');
      assert.ok(!JSON.stringify(cluster).includes('cloister-test-token'), 'the token is never answered');
      const about = await shownFacts(page.locator('section[aria-labelledby="cluster-facts-title"]'));
      assert.deepEqual(about, { Kind: 'Kubernetes, from a kubeconfig', Server: k.url, Context: 'cloister-test',
                                Authentication: 'Bearer token', Kubeconfig: 'Sealed (never shown)' });
      assert.match(await page.locator('section[aria-labelledby="cluster-check-title"] .empty').textContent(),
                   /^Not checked yet\./);

      // Check now: followed live, then the facts it found.
      await page.getByRole('button', { name: 'Check now' }).click();
      const follow = await jobPanelEnded(page, 'succeeded', { title: 'Checking lab' });
      assert.ok((await texts(follow.locator('.event-text')))
        .includes(`${k.url}: Kubernetes v1.32.4, 2 of 2 nodes with SGX`));
      await notice(page, 'lab answered: Kubernetes v1.32.4, 2 SGX nodes.');
      const check = page.locator('section[aria-labelledby="cluster-check-title"]');
      assert.equal(await check.locator('.badge-active').textContent(), 'Reachable');
      const shown = await shownFacts(check);
      assert.equal(shown.Version, 'v1.32.4');
      assert.equal(shown['SGX nodes'], '2 SGX nodes of 2 (sgx.intel.com/epc)');
      assert.equal(shown['EPC resource'], 'sgx.intel.com/epc');
      const rows = page.locator('section[aria-labelledby="cluster-sgx-title"] tbody tr');
      assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent))),
                       [['sgx-0', 'sgx.intel.com/epc', '8Gi'], ['sgx-1', 'sgx.intel.com/epc', '8Gi']]);
      cluster = await api.ok('GET', `/v1/clusters/${cluster.id}`);
      assert.equal(cluster.last_check.reachable, true);
      assert.deepEqual(cluster.last_check.sgx_nodes.map((n) => n.name), ['sgx-0', 'sgx-1']);

      // The list says the same in a line.
      await page.locator('#nav').getByRole('link', { name: 'Clusters' }).click();
      await settled(page, 'Clusters');
      const row = page.locator(`main tbody tr[data-cluster-id="${cluster.id}"]`);
      assert.deepEqual((await texts(row.locator('td'))).slice(0, 4),
                       ['lab', 'Kubernetes', k.url, 'Bearer token']);
      const last = row.locator('td[data-label="Last check"]');
      assert.deepEqual(await texts(last.locator('.check-line > *')),
                       ['Reachable', 'v1.32.4', '2 SGX nodes of 2 (sgx.intel.com/epc)']);
      assert.equal(await last.locator('.badge-active').count(), 1);
      assert.equal(await row.locator('td[data-label="Checked"]').textContent(), 'just now');
    }, { expected: [BOOT_401, { status: 422, path: '/v1/clusters' }] });

    // An auditor reads, and is offered nothing to do.
    await inBrowser('cluster-auditor', async (page) => {
      await signIn(page, auditor.email, auditor.password, { next: `/clusters/${cluster.id}` });
      await settled(page, 'lab');
      assert.equal(await page.locator('section[aria-labelledby="cluster-check-title"] .badge-active').textContent(),
                   'Reachable');
      assert.equal(await page.locator('main button').count(), 0);
      assert.equal(await page.locator('main .note').textContent(),
                   'Only the account’s operators and admins check or remove clusters.');
      await page.locator('#nav').getByRole('link', { name: 'Clusters' }).click();
      await settled(page, 'Clusters');
      assert.equal(await page.getByRole('link', { name: 'Add cluster' }).count(), 0);
      assert.equal(await page.locator('main tbody tr').count(), 1);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deploys an approved build from the app\'s page, follows the rollout live, scales, updates, rolls back and ' +
     'removes it', async () => {
  const k = await kubeLab();
  const { api, operator, app, builds: [older, newer] } = await deployLab(2);
  const image = `${app.output_image}@${(await api.ok('GET', `/v1/builds/${newer}`)).output_digest}`;
  const name = app.name;
  let dep;
  await inBrowser('deployment', async (page) => {
    await signIn(page, operator.email, operator.password, { next: `/apps/${app.id}` });
    await settled(page, name);
    const onApp = page.locator('section[aria-labelledby="app-deployments"]');
    assert.equal(await onApp.locator('.empty').textContent(), `${name} is not deployed anywhere.`);
    await onApp.getByRole('link', { name: `Deploy ${name}` }).click();
    await settled(page, 'New deployment');

    // The app chosen: its approved builds newest first, its name as the default.
    const options = page.getByLabel('Build').locator('option');
    await options.first().and(page.locator(`[value="${newer}"]`)).waitFor({ state: 'attached' });
    assert.deepEqual((await texts(options)).map((t) => t.replace(/ · built .*/, '')),
                     [`MRENCLAVE ${'bb'.repeat(8)}…`, `MRENCLAVE ${'aa'.repeat(8)}…`]);
    assert.equal(await page.locator('input[name="name"]').inputValue(), name);
    assert.equal(await page.getByLabel('Cluster').locator('option:checked').textContent(), 'lab');
    await page.getByLabel('Namespace').fill('shop');
    await page.getByLabel('Replicas').fill('2');
    await page.getByLabel('Ports').fill('8443');
    await page.getByLabel('Progress deadline (seconds)').fill('30');      // refused by the server
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.locator('input[name="progress_deadline"][aria-invalid="true"]').waitFor();
    assert.match(await page.locator('form.deploy-form').textContent(), /from 60 to 86400 seconds/);
    await page.getByLabel('Progress deadline (seconds)').fill('1200');
    await page.getByRole('button', { name: 'Deploy' }).click();

    // The deployment's page follows the rollout, in kubectl's words.
    await page.waitForURL(/\/deployments\/[0-9a-f-]{36}$/);
    await settled(page, name);
    const id = new URL(page.url()).pathname.split('/').pop();
    const follow = await jobPanelEnded(page, 'succeeded', { title: `Rolling out ${name}` });
    const log = await texts(follow.locator('.event-text'));
    assert.ok(log.includes(`applied Deployment ${name}`), log.join('\n'));
    assert.ok(log.some((l) => l.startsWith(`Waiting for deployment "${name}" rollout to finish`) ||
                               l === 'Waiting for deployment spec update to be observed...'), log.join('\n'));
    await notice(page, `${name} is available. deployment "${name}" successfully rolled out`);
    const status = page.locator('section[aria-labelledby="deployment-status-title"]');
    assert.deepEqual(await shownFacts(status),
                     { State: 'Available', Message: `deployment "${name}" successfully rolled out`, Image: image });
    dep = await api.ok('GET', `/v1/deployments/${id}`);
    assert.deepEqual([dep.state, dep.namespace, dep.replicas, dep.ports, dep.build_id, dep.progress_deadline],
                     ['available', 'shop', 2, [{ port: 8443 }], newer, 1200]);
    const applied = (await k.get(`/apis/apps/v1/namespaces/shop/deployments/${name}`)).body;
    assert.equal(applied.spec.progressDeadlineSeconds, 1200);
    assert.equal(applied.spec.template.spec.containers[0].image, image);
    assert.equal(applied.status.availableReplicas, 2);
    assert.equal(await page.getByRole('button', { name: 'Roll back' }).isDisabled(), true);

    // Scale.
    await page.getByLabel('Replicas').fill('3');
    await page.getByRole('button', { name: 'Scale' }).click();
    await jobPanelEnded(page, 'succeeded', { title: `Scaling ${name} to 3 replicas` });
    await notice(page, `${name} was scaled to 3 replicas. deployment "${name}" successfully rolled out`);
    assert.equal((await shownFacts(page.locator('section[aria-labelledby="deployment-facts-title"]'))).Replicas, '3');
    assert.equal((await k.get(`/apis/apps/v1/namespaces/shop/deployments/${name}`)).body.status.availableReplicas, 3);

    // Update to the other approved build, then roll back to this one.
    await page.getByLabel('Build', { exact: true }).selectOption(older);
    await page.getByRole('button', { name: 'Update' }).click();
    await jobPanelEnded(page, 'succeeded', { title: `Updating ${name} to build ${older.slice(0, 8)}` });
    await notice(page, `${name} runs build ${older.slice(0, 8)} now. deployment "${name}" successfully rolled out`);
    const built = await shownFacts(page.locator('section[aria-labelledby="deployment-facts-title"]'));
    assert.equal(built.Build, `${'aa'.repeat(8)}…Approved`);
    assert.equal(built['Previous build'], `${'bb'.repeat(8)}…`);
    await page.getByRole('button', { name: 'Roll back' }).click();
    await jobPanelEnded(page, 'succeeded', { title: `Rolling ${name} back` });
    await notice(page, `${name} was rolled back to build ${newer.slice(0, 8)}. deployment "${name}" successfully ` +
                       'rolled out');
    assert.equal((await api.ok('GET', `/v1/deployments/${id}`)).build_id, newer);

    // Listed with its app and cluster, and on the app's page.
    await page.locator('#nav').getByRole('link', { name: 'Deployments' }).click();
    await settled(page, 'Deployments');
    assert.deepEqual(await texts(page.locator(`main tbody tr[data-deployment-id="${id}"] td`)),
                     [`shop/${name}`, name, 'lab', '3', 'Available', `deployment "${name}" successfully rolled out`]);
    await page.goto(`/apps/${app.id}`);
    await settled(page, name);
    assert.deepEqual(await texts(onApp.locator('tbody td')),
                     [`shop/${name}`, 'lab', '3', 'Available', `deployment "${name}" successfully rolled out`]);

    // Remove: only what Cloister applied goes.
    await onApp.getByRole('link', { name: `shop/${name}` }).click();
    await settled(page, name);
    await page.getByRole('button', { name: 'Remove' }).click();
    const dialog = page.getByRole('dialog');
    assert.match(await dialog.locator('.dialog-body').textContent(), new RegExp(
      `^Cloister deletes only what it applied for ${name} in the namespace shop of lab: .* The namespace and ` +
      'everything else there stay as they are\\.$'));
    await dialog.getByRole('button', { name: 'Remove deployment' }).click();
    await jobPanelEnded(page, 'succeeded', { title: `Removing ${name}` });
    await notice(page, `${name} was removed from lab: what Cloister applied is deleted.`);
    assert.equal(await page.locator('section[aria-labelledby="deployment-status-title"] .badge-deploy').textContent(),
                 'Removed');
    assert.equal(await page.locator('main button:not(.notice-close)').count(), 0);
    assert.equal((await api.ok('GET', `/v1/deployments/${id}`)).state, 'deleted');
    assert.equal((await k.get(`/apis/apps/v1/namespaces/shop/deployments/${name}`)).status, 404);
    assert.equal((await k.get(`/api/v1/namespaces/shop/services/${name}`)).status, 404);
    assert.equal((await k.get('/api/v1/namespaces/shop')).status, 200);
  }, { expected: [BOOT_401, { status: 422, path: '/v1/deployments' }] });
});

test('a failing rollout shows its problems; a deprecated build is flagged; a cluster in use is not removed',
  async () => {
    const { api, operator, auditor, cluster, app, builds: [build] } = await deployLab(1);
    const job = await api.ok('POST', '/v1/deployments', { app_id: app.id, build_id: build, cluster_id: cluster.id,
                                                          namespace: 'edge', name: 'broken' }, 202);
    const id = job.deployment_id;
    await inBrowser('deployment-failed', async (page) => {
      await signIn(page, operator.email, operator.password, { next: `/deployments/${id}` });
      await settled(page, 'broken');
      // Followed live from wherever it stands when the page opens.
      const follow = await jobPanelEnded(page, 'failed', { title: 'Rolling out broken' });
      assert.match(await follow.locator('.job-error').first().textContent(), /exceeded its progress deadline/);
      await notice(page, 'broken failed to roll out: deployment "broken" exceeded its progress deadline');
      const status = page.locator('section[aria-labelledby="deployment-status-title"]');
      assert.equal(await status.locator('.badge-deploy').textContent(), 'Failed');
      const got = await api.ok('GET', `/v1/deployments/${id}`);
      assert.equal(got.state, 'failed');
      const problems = await texts(status.locator('.problems li'));
      assert.deepEqual(problems, got.status.problems);
      assert.ok(problems.some((p) => /ErrImagePull|ImagePullBackOff/.test(p)), problems.join('\n'));

      // Its build deprecated since: flagged on its page and in the list.
      await psql(`UPDATE builds SET state = 'deprecated' WHERE id = '${build}'`, daemon.dbname);
      await page.reload();
      await settled(page, 'broken');
      assert.equal(await page.locator('.deprecated-warning .badge-deprecated').textContent(), 'Build deprecated');
      await page.locator('#nav').getByRole('link', { name: 'Deployments' }).click();
      await settled(page, 'Deployments');
      const row = page.locator(`main tbody tr[data-deployment-id="${id}"]`);
      assert.deepEqual(await texts(row.locator('td[data-label="State"] .badge')), ['Failed', 'Build deprecated']);
      assert.equal(await row.locator('td[data-label="Last message"]').textContent(),
                   'deployment "broken" exceeded its progress deadline');

      // The cluster still runs it: not removed, and the page says why.
      await page.goto(`/clusters/${cluster.id}`);
      await settled(page, 'lab');
      assert.deepEqual(await texts(page.locator('section[aria-labelledby="cluster-deployments-title"] tbody td')
        .first()), ['edge/broken']);
      await page.getByRole('button', { name: 'Remove' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Remove cluster' }).click();
      await notice(page,
                   'Could not remove lab. Conflict: Cluster "lab" still runs 1 deployment(s); remove them first.');
      assert.equal((await api.call('GET', `/v1/clusters/${cluster.id}`)).status, 200);
    }, { expected: [BOOT_401, { status: 409, path: `/v1/clusters/${cluster.id}` }] });

    // An auditor sees the deployment and its problems, and no actions.
    await inBrowser('deployment-auditor', async (page) => {
      await signIn(page, auditor.email, auditor.password, { next: `/deployments/${id}` });
      await settled(page, 'broken');
      assert.ok(await page.locator('.problems li').count() >= 1);
      assert.equal(await page.locator('main button').count(), 0);
      assert.equal(await page.locator('main .note').textContent(),
                   'Only the account’s operators and admins scale, update, roll back or remove deployments.');
      await page.locator('#nav').getByRole('link', { name: 'Deployments' }).click();
      await settled(page, 'Deployments');
      assert.equal(await page.getByRole('link', { name: 'New deployment' }).count(), 0);
    });
  });

test('fits a phone screen', async () => {
  const api = await adminIn(acme);
  const app = await api.ok('POST', '/v1/apps', {
    name: unique('phone'), input_image: `${registry.host}/team/app:v1@${imageDigest}`,
    output_image: 'registry.example.com/a/very/long/repository/path/for/the/converted/image',
    allowed_domains: ['a-rather-long-domain-name.example.com'], env: { LONG_VALUE: 'x'.repeat(80) },
  }, 201);
  const job = await api.ok('GET', `/v1/jobs/${await enqueueNoop(acme, { ms: 0 })}`);
  await inBrowser('phone', async (page) => {
    await signInAdmin(page, { next: '/accounts' });
    for (const [path, heading] of [['/accounts', 'Accounts'], ['/members', 'Members'],
                                   ['/api-keys', 'API keys'], ['/audit', 'Audit log'],
                                   ['/apps', 'Apps'], [`/apps/${app.id}`, app.name],
                                   [`/apps/${app.id}/edit`, `Edit ${app.name}`],
                                   ['/apps/new', 'New app'], ['/builds', 'Builds'],
                                   ['/registries', 'Registries'],
                                   ['/jobs', 'Jobs'], [`/jobs/${job.id}`, `Job ${job.kind}`],
                                   ['/tasks', 'Approvals'], ['/workers', 'Workers'],
                                   ['/attestation', 'Attestation'], ['/attestation/policy', 'Attestation policy'],
                                   ['/attestation/collateral', 'SGX collateral'], ['/nodes', 'Nodes'],
                                   ['/nodes/tokens', 'Join tokens'], ['/nodes/tokens/new', 'New join token']]) {
      await page.goto(path);
      await settled(page, heading);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `${path} is ${width}px wide`);
      if (path === '/members') await page.screenshot({ path: shotPath('phone-members'), fullPage: true });
      if (path === `/jobs/${job.id}`) await page.screenshot({ path: shotPath('phone-job'), fullPage: true });
    }
  }, { viewport: { width: 375, height: 740 } });
});
