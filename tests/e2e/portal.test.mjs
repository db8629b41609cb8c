// The portal in a real browser: headless Chromium against a cloisterd of
// its own (see harness.mjs). Each test checks what a person sees, the exact
// texts included, and what the server then holds, through the REST API; and
// that the page logged no console error, page error or CSP violation it did
// not provoke on purpose. Each test leaves a screenshot in
// $CLOISTER_E2E_SHOTS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { ADMIN_EMAIL, Api, Daemon, openBrowser, psql, shotPath, unexpectedProblems,
         unique } from './harness.mjs';

let daemon;
let admin;          // the instance administrator's own REST session
let acme;
let globex;

// Signing in without a session answers 401 on GET /v1/me: the shell's first
// question. Every test that opens the sign-in page expects it.
const BOOT_401 = { status: 401, path: '/v1/me' };

before(async () => {
  daemon = await new Daemon({ env: { CLOISTER_LOGIN_FAILURES_PER_USER: '3' } }).start();
  admin = new Api(daemon.url);
  await admin.login(ADMIN_EMAIL, daemon.adminPassword);
  acme = await admin.createAccount('acme');
  globex = await admin.createAccount('globex');
});

after(async () => {
  if (daemon) await daemon.stop();
});

/* Run fn(page, browser) in a fresh browser; screenshot; no unexpected errors. */
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
  assert.deepEqual(unexpectedProblems(browser.problems, expected), [],
    'the page logged errors or CSP violations');
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
    assert.deepEqual(await texts(page.locator('#nav a')), ['Accounts', 'Members', 'API keys', 'Audit']);
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

  await inBrowser('role-operator', async (page) => {
    await signIn(page, people.operator.email, people.operator.password, { next: '/members' });
    await settled(page, 'Members');
    assert.deepEqual(await texts(page.locator('#nav a')), ['Accounts', 'Members']);
    assert.equal(await page.getByRole('button', { name: 'Add member' }).count(), 0);
    assert.equal(await page.locator('main tbody select, main tbody button').count(), 0);
    assert.equal(await page.locator('main .note').textContent(),
                 'Only the account’s admins can add, change or remove members.');

    // Straight to a page the role may not see: the server's 403, as it said it.
    await page.goto('/api-keys');
    await settled(page, 'API keys');
    assert.deepEqual(await texts(page.locator('main .panel-error p')),
                     ['Not allowed', 'Forbidden: The operator role may not GET /v1/api-keys.']);
  }, { expected: [BOOT_401, { status: 403, path: '/v1/api-keys' }] });

  await inBrowser('role-auditor', async (page) => {
    await signIn(page, people.auditor.email, people.auditor.password, { next: '/api-keys' });
    await settled(page, 'API keys');
    assert.deepEqual(await texts(page.locator('#nav a')), ['Accounts', 'Members', 'API keys', 'Audit']);
    assert.ok(await page.locator('main tbody tr').count() >= 1);
    assert.equal(await page.getByRole('button', { name: 'Create API key' }).count(), 0);
    assert.equal(await page.locator('main tbody button').count(), 0);
    await page.locator('#nav').getByRole('link', { name: 'Audit' }).click();
    await settled(page, 'Audit log');
    assert.equal(await page.locator('.verify .badge').textContent(), 'Chain verified');
    assert.ok(await page.locator('main tbody tr').count() >= 1);
  });
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

test('fits a phone screen', async () => {
  await inBrowser('phone', async (page) => {
    await signInAdmin(page, { next: '/accounts' });
    for (const [path, heading] of [['/accounts', 'Accounts'], ['/members', 'Members'],
                                   ['/api-keys', 'API keys'], ['/audit', 'Audit log']]) {
      await page.goto(path);
      await settled(page, heading);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `${path} is ${width}px wide`);
      if (path === '/members') await page.screenshot({ path: shotPath('phone-members'), fullPage: true });
    }
  }, { viewport: { width: 375, height: 740 } });
});
