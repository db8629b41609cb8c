// Takes the screenshots of docs/portal.md again, from a throwaway daemon
// with made-up data, with the browser tests' harness:
//
//   script/pg /tmp/shots-pg init --fast && script/pg /tmp/shots-pg start
//   CLOISTER_TEST_PGDIR=/tmp/shots-pg node tests/e2e/screenshots.mjs [DIR]
//   script/pg /tmp/shots-pg stop
//
// DIR defaults to docs/images. CLOISTERD names the daemon, as for the tests.
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { ADMIN_EMAIL, Api, Daemon, SOURCE_DIR, openBrowser, unexpectedProblems } from './harness.mjs';

const out = path.resolve(process.argv[2] || path.join(SOURCE_DIR, 'docs', 'images'));
mkdirSync(out, { recursive: true });

const daemon = await new Daemon().start();
const problems = [];
try {
  // Made-up data: two accounts, a few people, keys and events.
  const admin = new Api(daemon.url);
  await admin.login(ADMIN_EMAIL, daemon.adminPassword);
  const prod = await admin.createAccount('acme-production');
  await admin.createAccount('acme-staging');
  await admin.switchAccount(prod.id);
  const members = `/v1/accounts/${prod.id}/members`;
  await admin.ok('POST', members, { email: 'linus@acme.example', role: 'operator' }, 201);
  await admin.ok('POST', members, { email: 'ada@acme.example', role: 'auditor' }, 201);
  const old = await admin.ok('POST', '/v1/api-keys', { name: 'nightly-rebuild', role: 'operator' }, 201);
  await admin.ok('POST', `/v1/api-keys/${old.id}/revoke`, undefined, 200);
  const grafana = await admin.ok('POST', '/v1/api-keys',
    { name: 'grafana-audit-export', role: 'auditor', expires_at: '2027-06-30T00:00:00Z' }, 201);
  await new Api(daemon.url, { key: grafana.secret }).ok('GET', '/v1/audit');

  const shoot = async (name, { viewport = { width: 1280, height: 800 }, permissions = [] } = {}, fn) => {
    const browser = await openBrowser({ baseURL: daemon.url, viewport, permissions });
    browser.context.setDefaultTimeout(15_000);
    try {
      const page = browser.page;
      await fn(page);
      await page.waitForSelector('main:not([aria-busy])');
      await page.evaluate(() => document.activeElement && document.activeElement.blur());
      await page.screenshot({ path: path.join(out, `${name}.png`) });
      console.log(`wrote ${path.join(out, `${name}.png`)}`);
    } finally {
      await browser.close();
      problems.push(...unexpectedProblems(browser.problems, [{ status: 401, path: '/v1/me' }]));
    }
  };
  const signIn = async (page, next) => {
    await page.goto(`/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel('E-mail address').fill(ADMIN_EMAIL);
    await page.getByLabel('Password').fill(daemon.adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === next);
    await page.waitForSelector('main:not([aria-busy])');
  };

  await shoot('sign-in', {}, async (page) => {
    await page.goto('/login');
    await page.getByLabel('E-mail address').fill(ADMIN_EMAIL);
  });

  await shoot('accounts', {}, async (page) => {
    await signIn(page, '/accounts');
    await page.locator('main tbody tr').first().waitFor();
  });

  await shoot('members', {}, async (page) => {
    await signIn(page, '/members');
    await page.getByLabel('E-mail address').fill('grace@acme.example');
    await page.getByLabel('Role', { exact: true }).selectOption('admin');
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.locator('.panel-secret').waitFor();
  });

  await shoot('api-keys', { permissions: ['clipboard-read', 'clipboard-write'] }, async (page) => {
    await signIn(page, '/api-keys');
    await page.getByLabel('Name').fill('ci-deploy');
    await page.getByLabel('Role', { exact: true }).selectOption('operator');
    await page.getByRole('button', { name: 'Create API key' }).click();
    await page.locator('.panel-secret').waitFor();
    await page.getByRole('button', { name: 'Copy secret' }).click();
    await page.getByText('Copied.').waitFor();
  });

  await shoot('audit', {}, async (page) => {
    await signIn(page, '/audit');
    await page.getByLabel('Action').fill('api_key.create');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL((url) => url.search === '?action=api_key.create');
    await page.waitForSelector('main:not([aria-busy])');
    await page.locator('.verify .badge-ok').waitFor();
  });

  await shoot('phone', { viewport: { width: 375, height: 760 } }, async (page) => {
    await signIn(page, '/members');
    await page.locator('main tbody tr').first().waitFor();
  });
} finally {
  await daemon.stop();
}
if (problems.length) {
  console.error('the pages logged errors:', problems);
  process.exit(1);
}
