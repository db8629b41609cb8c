// Takes the screenshots of docs/portal.md again, from a throwaway daemon
// with made-up data, with the browser tests' harness:
//
//   script/pg /tmp/shots-pg init --fast && script/pg /tmp/shots-pg start
//   CLOISTER_TEST_PGDIR=/tmp/shots-pg node tests/e2e/screenshots.mjs [DIR]
//   script/pg /tmp/shots-pg stop
//
// DIR defaults to docs/images. CLOISTERD and CLOISTER_WORKER name the daemon
// and the worker, as for the tests; docker-registry, umoci and skopeo make a
// registry with an image in it, tests/peers/convert_images.py the images
// a build is converted from, and openssl the key kept offline; the
// attestation report is of the real quote in tests/data/dcap/dcap-qvl-2025.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { ADMIN_EMAIL, Api, DCAP_DATA, Daemon, Registry, SOURCE_DIR, Worker, collateralBody, openBrowser, psql,
         unexpectedProblems } from './harness.mjs';

const out = path.resolve(process.argv[2] || path.join(SOURCE_DIR, 'docs', 'images'));
mkdirSync(out, { recursive: true });

const daemon = await new Daemon().start();
const registry = await new Registry().start();
const worker = await new Worker(daemon, { name: 'worker-1', runtimeRegistry: registry.host }).start();
const problems = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
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

  // Registries, apps, jobs and approvals: a registry on loopback with an
  // image, a second admin, a quorum of two, an app whose domains wait.
  const digest = await registry.push('acme/web:1.4');
  const local = await admin.ok('POST', '/v1/registries',
    { name: 'acme-registry', host: registry.host, tls: false }, 201);
  await admin.ok('POST', '/v1/registries',
    { name: 'docker-hub', host: 'registry-1.docker.io', username: 'acme-ci', password: 'made-up-token' }, 201);
  const margaret = await admin.ok('POST', members, { email: 'margaret@acme.example', role: 'admin' }, 201);
  await admin.ok('PUT', '/v1/policies/approval', { quorum: 2 });
  await admin.ok('POST', '/v1/apps', {
    name: 'web', description: 'The public web front end',
    input_image: `${registry.host}/acme/web:1.4@${digest}`, output_image: `${registry.host}/acme/web-sgx:1.4`,
    enclave_size: 1073741824, env: { LOG_LEVEL: 'info' },
    allowed_domains: ['api.stripe.com', 'hooks.slack.com'], writable_paths: ['/tmp'],
  }, 201);
  await admin.ok('POST', '/v1/apps', {
    name: 'billing', input_image: 'registry.example.com/acme/billing:2.0',
    output_image: 'registry.example.com/acme/billing-sgx:2.0',
  }, 201);
  const margaretApi = new Api(daemon.url);
  await margaretApi.login('margaret@acme.example', margaret.initial_password);
  await margaretApi.switchAccount(prod.id);
  const tasks = await admin.all('/v1/tasks?state=pending');
  const stripe = tasks.find((t) => t.details.domain === 'api.stripe.com');
  await margaretApi.ok('POST', `/v1/tasks/${stripe.id}/approve`, { comment: 'Payments need it.' });
  const check = await admin.ok('POST', `/v1/registries/${local.id}/check`, undefined, 202);
  for (let i = 0; i < 100 && (await admin.ok('GET', `/v1/jobs/${check.id}`)).state !== 'succeeded'; i++) await sleep(100);

  // A build waiting for its two approvals.
  const refs = await registry.pushConvertImages();
  const hello = await admin.ok('POST', '/v1/apps', {
    name: 'hello', description: 'A greeting in an enclave', input_image: refs.app,
    output_image: `${registry.host}/acme/hello-sgx:1.0`, enclave_size: 268435456, max_threads: 8,
  }, 201);
  const convertHello = async () => {
    const convert = await admin.ok('POST', `/v1/apps/${hello.id}/builds`, undefined, 202);
    let converted;
    for (let i = 0; i < 600; i++) {
      converted = await admin.ok('GET', `/v1/jobs/${convert.id}`);
      if (['succeeded', 'failed', 'canceled'].includes(converted.state)) break;
      await sleep(200);
    }
    if (converted.state !== 'succeeded') throw new Error(`the conversion did not succeed: ${JSON.stringify(converted)}`);
    return converted.result.build_id;
  };
  const buildId = await convertHello();

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

  await shoot('app-from-image', { viewport: { width: 1280, height: 1000 } }, async (page) => {
    await signIn(page, '/apps/new');
    await page.getByLabel('Registry').selectOption(local.id);
    await page.getByLabel('Image reference').fill(`${registry.host}/acme/web:1.4`);
    await page.getByRole('button', { name: 'Inspect image' }).click();
    await page.locator('.inspection-panel').waitFor();
    await page.evaluate(() => window.scrollTo(0, document.querySelector('#inspect-title').offsetTop - 16));
  });

  await shoot('registries', { viewport: { width: 1280, height: 1180 } }, async (page) => {
    await signIn(page, '/registries');
    await page.getByRole('button', { name: 'Check acme-registry' }).click();
    await page.locator('.job-follow[data-state="succeeded"]').waitFor();
    await page.locator('#notices .notice').waitFor();
  });

  await shoot('job', { viewport: { width: 1280, height: 900 } }, async (page) => {
    const id = await psql(
      'WITH j AS (INSERT INTO jobs (account_id, kind, params, max_attempts, created_by)' +
      ` VALUES ('${prod.id}', 'noop', '{"ms": 8000, "progress": true}', 3, 'user:${(await admin.ok('GET', '/v1/me')).user.id}')` +
      " RETURNING id), n AS (SELECT pg_notify('cloister_jobs', 'noop')) SELECT j.id FROM j, n", daemon.dbname);
    await signIn(page, `/jobs/${id}`);
    await page.waitForFunction(() => {
      const p = document.querySelector('.job-follow progress');
      return p && p.value >= 40;
    }, null, { timeout: 15_000 });
  });

  await shoot('approvals', { viewport: { width: 1280, height: 1000 } }, async (page) => {
    await signIn(page, '/tasks');
    await page.locator('.task').first().waitFor();
  });

  await shoot('build', { viewport: { width: 1280, height: 1400 } }, async (page) => {
    await signIn(page, `/builds/${buildId}`);
    await page.locator('.trusted-files tbody tr').first().waitFor();
  });

  // The key goes offline (only its public half is imported): the next
  // build waits for its holder's signature.
  const run = promisify(execFile);
  const keyFile = path.join(daemon.dir, 'enclave-key.pem');
  await run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072',
                        '-pkeyopt', 'rsa_keygen_pubexp:3', '-out', keyFile]);
  const { stdout: publicPem } = await run('openssl', ['pkey', '-in', keyFile, '-pubout']);
  await admin.ok('POST', '/v1/signing-keys', { public_key_pem: publicPem }, 201);
  const awaitingId = await convertHello();

  await shoot('build-sign', { viewport: { width: 1280, height: 1300 } }, async (page) => {
    await signIn(page, `/builds/${awaitingId}`);
    await page.locator('#build-sign-title').waitFor();
  });

  // A real quote, judged as of when it was presented with the collateral
  // Intel published then: authentic, and refused by the default policy.
  const dcap = path.join(DCAP_DATA, 'dcap-qvl-2025');
  const { verify_at: verifyAt } = JSON.parse(readFileSync(path.join(dcap, 'expected.json'), 'utf8'));
  await admin.ok('POST', '/v1/collateral', collateralBody(dcap));
  const report = await admin.ok('POST', '/v1/attestation/verify', {
    quote: readFileSync(path.join(dcap, 'quote.bin')).toString('base64'),
    at: new Date(verifyAt * 1000).toISOString(),
  }, 201);

  await shoot('attestation-report', { viewport: { width: 1280, height: 1250 } }, async (page) => {
    await signIn(page, `/attestation/${report.id}`);
    await page.locator('ol.checks').waitFor();
  });
} finally {
  await worker.stop();
  await registry.stop();
  await daemon.stop();
}
if (problems.length) {
  console.error('the pages logged errors:', problems);
  process.exit(1);
}
