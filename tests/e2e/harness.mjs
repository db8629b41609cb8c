// The harness of the portal's browser tests: a cloisterd of its own on a
// fresh database, an administrator, a REST client for arranging and checking
// the server's state, and headless Chromium with a fresh profile; and the
// peers some tests need: docker-registries, and the Kubernetes fake
// (tests/peers/kubernetes.py) to deploy to.
//
// Environment:
//   CLOISTER_TEST_PGDIR  the socket directory of the PostgreSQL that
//                        script/test starts (required)
//   CLOISTERD            the daemon (default: build-test/cloisterd, then build/)
//   CLOISTER_WORKER      the job worker (default: build-test/cloister-worker, then
//                        build/)
//   CLOISTER             the CLI, for `cloister quote simulate` (default: beside
//                        the daemon, then build-test/, then build/)
//   CLOISTER_E2E_SHOTS   where screenshots go (default build-test/e2e-screenshots)
//   CHROMIUM             the browser (default /usr/bin/chromium)
import { spawn, execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID, sign } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync,
         writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

export const SOURCE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLOISTERD = process.env.CLOISTERD ||
  [path.join(SOURCE_DIR, 'build-test', 'cloisterd'), path.join(SOURCE_DIR, 'build', 'cloisterd')]
    .find((p) => existsSync(p)) || 'cloisterd';
export const WORKER = process.env.CLOISTER_WORKER ||
  [path.join(SOURCE_DIR, 'build-test', 'cloister-worker'), path.join(SOURCE_DIR, 'build', 'cloister-worker')]
    .find((p) => existsSync(p)) || 'cloister-worker';
export const CLOISTER = process.env.CLOISTER ||
  [path.join(path.dirname(CLOISTERD), 'cloister'), path.join(SOURCE_DIR, 'build-test', 'cloister'),
   path.join(SOURCE_DIR, 'build', 'cloister')].find((p) => existsSync(p)) || 'cloister';
export const SHOTS = process.env.CLOISTER_E2E_SHOTS ||
  path.join(SOURCE_DIR, 'build-test', 'e2e-screenshots');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ADMIN_EMAIL = 'admin@example.com';

// Every switch that could make the browser reach out: this machine has no
// network, and a test must not depend on one.
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function pgDir() {
  const d = process.env.CLOISTER_TEST_PGDIR;
  if (!d) throw new Error('CLOISTER_TEST_PGDIR is not set: run the tests with script/test');
  return d;
}

export async function psql(sql, dbname = 'postgres') {
  const { stdout } = await run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
    '-h', pgDir(), '-U', 'cloister', '-d', dbname, '-c', sql]);
  return stdout.trim();
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* A cloisterd serving the portal from this tree's static/, on a new database. */
export class Daemon {
  constructor({ env = {} } = {}) {
    this.extraEnv = env;
    this.proc = null;
  }

  async start() {
    this.dbname = 'e2e_' + randomBytes(8).toString('hex');
    await psql(`CREATE DATABASE ${this.dbname}`);
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'cloister-e2e-'));
    this.kek = path.join(this.dir, 'kek');
    writeFileSync(this.kek, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.logPath = path.join(this.dir, 'cloisterd.log');
    this.env = {
      ...process.env,
      CLOISTER_DATABASE_URL: `host=${pgDir()} user=cloister dbname=${this.dbname}`,
      CLOISTER_KEK_FILE: this.kek,
      CLOISTER_LISTEN: `127.0.0.1:${this.port}`,
      CLOISTER_STATIC_DIR: path.join(SOURCE_DIR, 'static'),
      CLOISTER_MIGRATIONS_DIR: path.join(SOURCE_DIR, 'db', 'migrations'),
      // SGX collateral only as the tests import it: never fetched from
      // Intel's PCS, neither for a quote nor in the background.
      CLOISTER_PCS_URL: '',
      CLOISTER_COLLATERAL_REFRESH_INTERVAL: '0',
      ...this.extraEnv,
    };

    this.adminPassword = await this.createAdmin(ADMIN_EMAIL);

    const log = openSync(this.logPath, 'w');
    this.proc = spawn(CLOISTERD, ['serve'], { env: this.env, stdio: ['ignore', log, log] });
    closeSync(log);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve(code ?? sig)));
    await this.waitServing();
    return this;
  }

  /* cloisterd create-admin; the password it prints. */
  async createAdmin(email) {
    const { stdout } = await run(CLOISTERD, ['create-admin', '--email', email],
      { env: this.env, timeout: 60_000 });
    const line = stdout.split('\n').find((l) => l.trim().startsWith('password:'));
    if (!line) throw new Error('create-admin printed no password:\n' + stdout);
    return line.split(':').slice(1).join(':').trim();
  }

  async waitServing(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null)
        throw new Error(`cloisterd exited with ${this.proc.exitCode ?? this.proc.signalCode}:\n` +
                        this.output());
      try {
        const res = await fetch(this.url + '/healthz');
        if (res.status === 200) return;
      } catch { /* not listening yet */ }
      await sleep(50);
    }
    throw new Error('cloisterd did not start serving:\n' + this.output());
  }

  output() {
    try { return readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 20_000);
      await this.exited;
      clearTimeout(timer);
    }
    if (this.dbname) {
      try { await psql(`DROP DATABASE IF EXISTS ${this.dbname} WITH (FORCE)`); } catch { /* kept */ }
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/* A cloister-worker on a daemon's database, with its key-encryption key.
 * `runtimeRegistry` names the plain-HTTP registry holding the stand-in
 * Gramine runtime that convert jobs merge in (Registry.pushConvertImages). */
export class Worker {
  constructor(daemon, { name = 'e2e-worker', args = ['--slots=2', '--poll-interval=1', '--grace=2'],
                        runtimeRegistry = null } = {}) {
    this.daemon = daemon;
    this.name = name;
    this.args = runtimeRegistry
      ? [...args, `--gramine-image=${runtimeRegistry}/gramine/runtime:1.9`,
         `--insecure-registries=${runtimeRegistry}`]
      : args;
    this.proc = null;
  }

  async start() {
    this.logPath = path.join(this.daemon.dir, 'cloister-worker.log');
    const env = {
      ...process.env,
      CLOISTER_DATABASE_URL: this.daemon.env.CLOISTER_DATABASE_URL,
      CLOISTER_KEK_FILE: this.daemon.kek,
      CLOISTER_NAME: this.name,
    };
    const log = openSync(this.logPath, 'w');
    this.proc = spawn(WORKER, this.args, { env, stdio: ['ignore', log, log] });
    closeSync(log);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve(code ?? sig)));
    // Registered once it appears in the workers table.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null)
        throw new Error(`cloister-worker exited:\n${this.output()}`);
      const n = await psql(`SELECT count(*) FROM workers WHERE state = 'running' AND pid = ${this.proc.pid}`,
                           this.daemon.dbname).catch(() => '0');
      if (Number(n) > 0) return this;
      await sleep(100);
    }
    throw new Error('cloister-worker did not register:\n' + this.output());
  }

  output() {
    try { return readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 20_000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

/* Debian's docker-registry on loopback, plain HTTP, without authentication,
 * storing under a directory of its own (as tests/peers/registry.py). */
export class Registry {
  async start() {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'cloister-e2e-registry-'));
    this.port = await freePort();
    this.host = `127.0.0.1:${this.port}`;
    const config = path.join(this.dir, 'config.yml');
    writeFileSync(config, 'version: 0.1\nlog:\n  level: warn\n' +
      `storage:\n  filesystem:\n    rootdirectory: ${this.dir}/data\n` +
      `http:\n  addr: ${this.host}\n`);
    const log = openSync(path.join(this.dir, 'registry.log'), 'w');
    this.proc = spawn('docker-registry', ['serve', config], { stdio: ['ignore', log, log] });
    closeSync(log);
    this.exited = new Promise((resolve) => this.proc.on('exit', resolve));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error('docker-registry exited');
      try {
        await fetch(`http://${this.host}/v2/`);
        return this;
      } catch { /* not listening yet */ }
      await sleep(50);
    }
    throw new Error('docker-registry did not start');
  }

  /* An image made with umoci (entrypoint /usr/bin/app, and the rest below),
   * pushed by skopeo as HOST/<repoTag>. Answers its manifest digest. */
  async push(repoTag) {
    const layout = path.join(this.dir, 'layout');
    const tag = 'v1';
    if (!existsSync(layout)) {
      await run('umoci', ['init', '--layout', layout]);
      await run('umoci', ['new', '--image', `${layout}:${tag}`]);
      await run('umoci', ['config', '--image', `${layout}:${tag}`,
        '--config.entrypoint', '/usr/bin/app', '--config.cmd', '--serve',
        '--config.env', 'FOO=bar', '--config.workingdir', '/srv',
        '--config.exposedports', '8080/tcp', '--os', 'linux', '--architecture', 'amd64']);
    }
    await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:${tag}`,
      `docker://${this.host}/${repoTag}`]);
    const [repo, ref] = repoTag.split(':');
    const res = await fetch(`http://${this.host}/v2/${repo}/manifests/${ref}`, {
      method: 'HEAD',
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    return res.headers.get('docker-content-digest');
  }

  /* The images the conversion tests convert (tests/peers/convert_images.py):
   * HOST/gramine/runtime:1.9, a stand-in Gramine runtime, and
   * HOST/team/app:v1, a shell-script app (entrypoint /app/hello.sh) on a
   * static busybox. Answers their references, {runtime, app}. The app's tag
   * is the one push() uses too: a registry holds one or the other. */
  async pushConvertImages() {
    const { stdout } = await run('python3', [path.join(SOURCE_DIR, 'tests', 'peers', 'convert_images.py'),
                                             this.host], { timeout: 120_000 });
    return JSON.parse(stdout);
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      await this.exited;
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/* The Kubernetes fake (tests/peers/kubernetes.py) in a process of its own,
 * through tests/peers/kube_serve.py: an API server over TLS on loopback
 * with SGX nodes advertising sgx.intel.com/epc, whose kubeconfig (its CA
 * inline, a bearer token) is `kubeconfigPath`. `failing` names deployments
 * whose rollouts fail ({name: 'image-pull'}); a progress deadline of
 * 600 s * `deadlineScale` makes them fail in seconds. */
export class Kubernetes {
  constructor({ nodes = ['sgx-0', 'sgx-1'], failing = {}, deadlineScale = 0.01 } = {}) {
    this.nodes = nodes;
    this.failing = failing;
    this.deadlineScale = deadlineScale;
    this.proc = null;
  }

  async start() {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'cloister-e2e-kube-'));
    this.kubeconfigPath = path.join(this.dir, 'kubeconfig');
    this.logPath = path.join(this.dir, 'kube.log');
    const args = [path.join(SOURCE_DIR, 'tests', 'peers', 'kube_serve.py'), '--kubeconfig', this.kubeconfigPath,
                  '--deadline-scale', String(this.deadlineScale),
                  ...this.nodes.flatMap((n) => ['--sgx-node', n]),
                  ...Object.entries(this.failing).flatMap(([name, mode]) => ['--fail-deployment', `${name}=${mode}`])];
    const log = openSync(this.logPath, 'w');
    // Its standard input is a pipe: when this process goes, the fake goes too.
    this.proc = spawn('python3', args, { stdio: ['pipe', 'pipe', log] });
    closeSync(log);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve(code ?? sig)));
    const line = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('the Kubernetes fake did not start:\n' + this.output())), 30_000);
      this.proc.stdout.on('data', (chunk) => {
        out += chunk;
        const cut = out.indexOf('\n');
        if (cut >= 0) {
          clearTimeout(timer);
          resolve(out.slice(0, cut));
        }
      });
      this.proc.on('exit', () => {
        clearTimeout(timer);
        reject(new Error('the Kubernetes fake exited:\n' + this.output()));
      });
    });
    this.url = JSON.parse(line).url;
    this.kubeconfig = readFileSync(this.kubeconfigPath, 'utf8');
    return this;
  }

  /* GET a path of the API server as the kubeconfig's user: {status, body}. */
  async get(urlPath) {
    const ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(this.kubeconfig)[1], 'base64');
    const token = JSON.parse(/token: (.+)/.exec(this.kubeconfig)[1]);
    return new Promise((resolve, reject) => {
      const req = https.get(this.url + urlPath, { ca, headers: { Authorization: `Bearer ${token}`,
                                                                  Accept: 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => { text += chunk; });
        res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
      });
      req.on('error', reject);
    });
  }

  output() {
    try { return readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/* A REST caller: a person signed in (cookie and CSRF token) or an API key. */
export class Api {
  constructor(baseUrl, { key = null } = {}) {
    this.base = baseUrl;
    this.key = key;
    this.cookie = null;
    this.csrf = null;
  }

  async login(email, password) {
    const r = await this.call('POST', '/v1/session', { email, password });
    if (r.status !== 200) throw new Error(`sign-in as ${email}: ${r.status} ${JSON.stringify(r.body)}`);
    this.cookie = r.headers.get('set-cookie').split(';')[0];
    this.csrf = r.body.csrf_token;
    return r.body;
  }

  /* {status, headers, body}; body is the parsed JSON or null. */
  async call(method, urlPath, body, headers = {}) {
    const h = { Accept: 'application/json', ...headers };
    if (this.key) h.Authorization = 'Bearer ' + this.key;
    if (this.cookie) {
      h.Cookie = this.cookie;
      if (this.csrf && method !== 'GET' && method !== 'HEAD') h['X-CSRF-Token'] = this.csrf;
    }
    let data;
    if (body !== undefined) {
      data = JSON.stringify(body);
      h['Content-Type'] = 'application/json';
    }
    const res = await fetch(this.base + urlPath, { method, headers: h, body: data });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }

  /* call() that insists on the status and answers the body. */
  async ok(method, urlPath, body, want = 200) {
    const r = await this.call(method, urlPath, body);
    if (r.status !== want)
      throw new Error(`${method} ${urlPath}: ${r.status}, wanted ${want}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /* Every item of a list, following next_cursor. */
  async all(urlPath) {
    const items = [];
    let cursor = null;
    do {
      const sep = urlPath.includes('?') ? '&' : '?';
      const page = await this.ok('GET', urlPath + (cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''));
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return items;
  }

  async createAccount(name) {
    return this.ok('POST', '/v1/accounts', { name }, 201);
  }

  async switchAccount(accountId) {
    return this.ok('POST', '/v1/session/account', { account_id: accountId });
  }
}

/* The real SGX quotes with their collateral (tests/data/dcap/README.md). */
export const DCAP_DATA = path.join(SOURCE_DIR, 'tests', 'data', 'dcap');

/* A quote of the simulation PKI with its collateral and root.pem, as
 * `cloister quote simulate` writes them, in a new directory (the caller
 * removes it). A daemon judges it authentic only when it trusts root.pem
 * (new Daemon({env: {CLOISTER_SGX_TRUST_ROOTS: <dir>/root.pem}})). */
export async function simulateQuote() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cloister-e2e-sim-'));
  await run(CLOISTER, ['quote', 'simulate', '--out', dir], { timeout: 60_000 });
  return dir;
}

/* A new EC P-256 key in `dir`: {key (its file), spki (DER
 * SubjectPublicKeyInfo), csr (PEM, for CN `cn` and, if any, the DNS
 * names)}. */
async function keyAndCsr(dir, cn, names = []) {
  const key = path.join(dir, 'key.pem');
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  const args = ['req', '-new', '-key', key, '-subj', `/CN=${cn}`];
  if (names.length) args.push('-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`);
  const { stdout: csr } = await run('openssl', args);
  const { stdout: spki } = await run('openssl', ['pkey', '-in', key, '-pubout', '-outform', 'DER'],
                                     { encoding: 'buffer' });
  return { key, spki, csr };
}

/* A quote of the simulation PKI in `sim` whose report data binds `spki` and
 * `nonce` (SHA-256 of the two), in base64; `extra` are more arguments of
 * `cloister quote simulate` (--mrenclave, --debug, ...). */
async function boundQuote(dir, sim, spki, nonce, extra = []) {
  const reportData = createHash('sha256').update(spki).update(Buffer.from(nonce, 'base64')).digest('hex');
  const out = mkdtempSync(path.join(dir, 'quote-'));
  await run(CLOISTER, ['quote', 'simulate', '--out', out, '--pki-keys', path.join(sim, 'pki-keys.pem'),
                       '--report-data', reportData, ...extra], { timeout: 60_000 });
  return readFileSync(path.join(out, 'quote.bin')).toString('base64');
}

/* Enroll a node through the API as cloister-agent does (docs/nodes.md): a
 * nonce for the join token `secret`, a new EC P-256 key and its CSR, and a
 * quote of the simulation PKI in `sim` (simulateQuote()) whose report data
 * binds the key and the nonce; `fields` adds name, agent_version, facts.
 * Answers the enrolled node, with its certificate and report, and its key
 * (PEM) as `privateKey`, for nodeRequest(). The daemon at `baseUrl` must
 * trust sim/root.pem and hold sim's collateral. */
export async function enrollNode(baseUrl, sim, secret, fields = {}) {
  const work = mkdtempSync(path.join(os.tmpdir(), 'cloister-e2e-node-'));
  const auth = { Accept: 'application/json', Authorization: `JoinToken ${secret}` };
  try {
    const res = await fetch(`${baseUrl}/v1/attestation/nonce`, { method: 'POST', headers: auth });
    const got = await res.json();
    if (res.status !== 201) throw new Error(`POST /v1/attestation/nonce: ${res.status} ${JSON.stringify(got)}`);
    const { key, spki, csr } = await keyAndCsr(work, 'node');
    const body = { csr, nonce: got.nonce, quote: await boundQuote(work, sim, spki, got.nonce), ...fields };
    const enrolled = await fetch(`${baseUrl}/v1/nodes/enroll`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const node = await enrolled.json();
    if (enrolled.status !== 201) throw new Error(`POST /v1/nodes/enroll: ${enrolled.status} ${JSON.stringify(node)}`);
    node.privateKey = readFileSync(key, 'utf8');
    return node;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/* A request of `node` (enrollNode()'s answer) signed with its key as
 * cloister-agent signs it (RFC 9421, docs/api.md): @method, @path, Date and
 * Content-Digest covered, ECDSA P-256 with SHA-256 as raw r||s. Answers
 * {status, body}. */
export async function nodeRequest(baseUrl, node, method, urlPath, body = undefined) {
  const data = Buffer.from(body === undefined ? '' : JSON.stringify(body));
  const date = new Date().toUTCString();
  const digest = `sha-256=:${createHash('sha256').update(data).digest('base64')}:`;
  const params = '("@method" "@path" "date" "content-digest")' +
    `;created=${Math.floor(Date.now() / 1000)};keyid="${node.id}";alg="ecdsa-p256-sha256"`;
  const base = `"@method": ${method}\n"@path": ${urlPath}\n"date": ${date}\n` +
               `"content-digest": ${digest}\n"@signature-params": ${params}`;
  const signature = sign('sha256', Buffer.from(base), { key: node.privateKey, dsaEncoding: 'ieee-p1363' });
  const headers = { Accept: 'application/json', Date: date, 'Content-Digest': digest,
                    'Signature-Input': `sig1=${params}`, Signature: `sig1=:${signature.toString('base64')}:` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(baseUrl + urlPath, { method, headers, body: body === undefined ? undefined : data });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/* An enclave of app `appId` attests on `node` as cloister-init does through
 * the node's agent (docs/enclave-attestation.md): a new key and a CSR for
 * `names`, a nonce fetched as the node, a simulated quote of `sim` with
 * `mrenclave` (and `extra` arguments of `cloister quote simulate`) binding
 * both, sent as the node's signed POST /v1/apps/{id}/attest. Answers
 * {status, body}: 201 with the certificate, or the 403 with the reasons. */
export async function attestEnclave(baseUrl, sim, node, appId, { names = [], mrenclave, extra = [] } = {}) {
  const work = mkdtempSync(path.join(os.tmpdir(), 'cloister-e2e-enclave-'));
  try {
    const nonce = await nodeRequest(baseUrl, node, 'POST', '/v1/attestation/nonce');
    if (nonce.status !== 201) throw new Error(`nonce as the node: ${nonce.status} ${JSON.stringify(nonce.body)}`);
    const { spki, csr } = await keyAndCsr(work, 'enclave', names);
    const quote = await boundQuote(work, sim, spki, nonce.body.nonce,
                                   [...(mrenclave ? ['--mrenclave', mrenclave] : []), ...extra]);
    return await nodeRequest(baseUrl, node, 'POST', `/v1/apps/${appId}/attest`,
                             { csr, quote, nonce: nonce.body.nonce });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/* A build row of the app as a conversion leaves it, put in the daemon's
 * database behind the API's back (as tests/integration/test_enclaves.py
 * does: converting is another test's subject). `pushed` gives it an output
 * digest, as a build whose image was pushed has, which deploying needs
 * (tests/integration/test_deploy.py). Answers its id. */
export async function addBuild(daemon, { accountId, appId, mrenclave, state = 'approved', isvsvn = 0,
                                         pushed = false }) {
  const id = randomUUID();
  const digest = pushed ? `'sha256:${randomBytes(32).toString('hex')}'` : 'NULL';
  await psql(`INSERT INTO builds (id, account_id, app_id, job_id, state, input_image,
      input_digest, runtime, runtime_version, runtime_image, runtime_digest,
      output_image, output_digest, mrenclave, mrsigner, isvprodid, isvsvn, debug, enclave_size,
      max_threads, sigstruct_date, manifest, trusted_files, sigstruct, created_by)
    VALUES ('${id}', '${accountId}', '${appId}', gen_random_uuid(),
      '${state}', 'nginx:1.25', 'sha256:${'0'.repeat(64)}', 'gramine', '1.9',
      'gramine-runtime:1.9', 'sha256:${'1'.repeat(64)}', 'registry.example.com/web', ${digest},
      '${mrenclave}', '${'5c'.repeat(32)}', 1, ${Number(isvsvn)}, false, 536870912, 16,
      current_date, '', 0, '\\x00', 'user:test')`, daemon.dbname);
  return id;
}

/* The body of POST /v1/collateral for a directory holding the files the PCS
 * serves, under the names tests/data/dcap uses (a simulation's too): the
 * JSON and PEM as text, the CRLs in base64. */
export function collateralBody(dir, ca = 'processor') {
  const text = (name) => readFileSync(path.join(dir, name), 'utf8');
  const base64 = (name) => readFileSync(path.join(dir, name)).toString('base64');
  return {
    tcb_info: text('tcb_info.json'), tcb_info_issuer_chain: text('tcb_info_issuer_chain.pem'),
    qe_identity: text('qe_identity.json'), qe_identity_issuer_chain: text('qe_identity_issuer_chain.pem'),
    pck_crl: base64('pck_crl.der'), pck_crl_ca: ca, root_ca_crl: base64('root_ca_crl.der'),
  };
}

/* A unique, readable suffix for names made by one test. */
export function unique(prefix) {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/* Headless Chromium with a fresh profile directory of its own, and one page
 * that records console errors, page errors, failed requests and CSP
 * violations, so a test can insist there were none it did not expect. */
export async function openBrowser({ baseURL, viewport = { width: 1280, height: 800 },
                                    permissions = [] } = {}) {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'cloister-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    baseURL,
    viewport,
    permissions,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning')
      problems.push({ kind: 'console.' + msg.type(), text: msg.text(), url: msg.location().url });
  });
  page.on('pageerror', (err) => problems.push({ kind: 'pageerror', text: String(err) }));
  await page.exposeFunction('__cloisterCspViolation', (text) =>
    problems.push({ kind: 'csp', text }));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cloisterCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} ` +
                                    `at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  return {
    context,
    page,
    problems,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/* Browsers log every HTTP error answer as a console error ("Failed to load
 * resource: the server responded with a status of 401"). The ones a test
 * provokes on purpose are listed as {status, path}; anything else fails. */
export function unexpectedProblems(problems, expected = []) {
  return problems.filter((p) => {
    const m = /status of (\d{3})/.exec(p.text);
    if (p.kind !== 'console.error' || !m || !p.url) return true;
    const status = Number(m[1]);
    const where = new URL(p.url).pathname;
    return !expected.some((e) => e.status === status && where === e.path);
  });
}

export function shotPath(name) {
  mkdirSync(SHOTS, { recursive: true });
  return path.join(SHOTS, name.replace(/[^A-Za-z0-9_.-]+/g, '-') + '.png');
}
