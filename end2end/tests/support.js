// Shared helpers of the browser suite: a real Wheelhouse server per test file, Chromium, console watching,
// and small clients of the REST API. No test framework beyond node:test.

import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const END2END = path.join(REPO_ROOT, 'end2end');

/** The instance owner every server of this suite is bootstrapped with. */
export const OWNER = Object.freeze({ email: 'owner@e2e.example.com', password: 'e2e-correct-horse-battery' });

const SERVER_BIN = process.env.WHEELHOUSE_BIN
  ? path.resolve(process.env.WHEELHOUSE_BIN)
  : path.join(REPO_ROOT, 'target', 'debug', 'wheelhouse');
const SITE_ROOT = process.env.WHEELHOUSE_SITE_ROOT
  ? path.resolve(process.env.WHEELHOUSE_SITE_ROOT)
  : path.join(REPO_ROOT, 'target', 'site');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const random = (n = 8) => randomBytes(n).toString('hex');

/** Where the suite's screenshots go (`target/e2e-screenshots/<name>.png`); worth a look after a run. */
export async function screenshot(page, name) {
  const dir = path.join(REPO_ROOT, 'target', 'e2e-screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/**
 * Runs `wheelhouse simulate` (a simulated data plane) against the server until `done` runs its cleanups.
 * Returns what it printed so far, for a failing test's message.
 */
export function simulate(server, token, done, { eventsPerSecond = 40, errorRate = 0.3, instanceId = 'e2e-simulator' } = {}) {
  const child = spawn(
    SERVER_BIN,
    ['simulate', '--url', server.url, '--token', token, '--events-per-second', String(eventsPerSecond),
      '--error-rate', String(errorRate), '--duration', '300', '--instance-id', instanceId],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  done.add(() => child.kill('SIGKILL'));
  return { output: () => output };
}

/** Progress lines on stderr with E2E_DEBUG=1 (where a slow or stuck run is). */
export function debug(...args) {
  if (process.env.E2E_DEBUG) process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 23)}] ${args.join(' ')}\n`);
}

/** Servers still running: killed if the test process exits without stopping them. */
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** A timer for races: it does not keep the process alive once the race is decided. */
const deadline = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Waits until `check()` returns something truthy (or throws the last error after `timeout` ms). */
export async function eventually(check, { timeout = 10_000, interval = 100, message = 'condition' } = {}) {
  const until = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > until) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${lastError ? `: ${lastError.message}` : ''}`);
    }
    await sleep(interval);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Database: SQLite in the server's data dir by default; with WHEELHOUSE_E2E_DATABASE_URL=postgres://…, a fresh
// database on that PostgreSQL server per Wheelhouse process (created and dropped with psql).

function freshDatabase() {
  const base = process.env.WHEELHOUSE_E2E_DATABASE_URL;
  if (!base) return { url: undefined, drop() {} };
  if (!/^postgres(ql)?:\/\//.test(base)) return { url: base, drop() {} };
  const name = `wheelhouse_e2e_${random(6)}`;
  const admin = new URL(base);
  const psql = (sql) => execFileSync('psql', [admin.toString(), '-v', 'ON_ERROR_STOP=1', '-qc', sql], { stdio: 'pipe' });
  psql(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop() {
      try {
        psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } catch (error) {
        console.error(`could not drop the test database ${name}: ${error.message}`);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The server

/**
 * Starts `wheelhouse serve` on a free port with a fresh data directory (and database), and waits for /readyz.
 * With `bootstrap` (default) the instance owner is OWNER; without it, `setupUrl` is the printed set-up link.
 */
export async function startServer({ bootstrap = true, env = {} } = {}) {
  if (!existsSync(SERVER_BIN)) {
    throw new Error(`no server binary at ${SERVER_BIN}: run scripts/build-site --dev (or set WHEELHOUSE_BIN)`);
  }
  if (!existsSync(path.join(SITE_ROOT, 'hash.txt'))) {
    throw new Error(`no built UI under ${SITE_ROOT}: run scripts/build-site --dev (or set WHEELHOUSE_SITE_ROOT)`);
  }
  const dataDir = mkdtempSync(path.join(tmpdir(), 'wheelhouse-e2e-'));
  const database = freshDatabase();
  const childEnv = {
    ...process.env,
    WHEELHOUSE_ADDR: '127.0.0.1:0',
    WHEELHOUSE_DATA_DIR: dataDir,
    WHEELHOUSE_SITE_ROOT: SITE_ROOT,
    WHEELHOUSE_MASTER_KEY: randomBytes(32).toString('base64'),
    NO_COLOR: '1',
    RUST_LOG: process.env.RUST_LOG || 'info,sqlx=warn,tower_sessions=warn,tower_sessions_core=warn',
    ...env,
  };
  delete childEnv.DATABASE_URL;
  delete childEnv.WHEELHOUSE_PUBLIC_URL;
  if (database.url) childEnv.DATABASE_URL = database.url;
  if (bootstrap) {
    childEnv.WHEELHOUSE_BOOTSTRAP_EMAIL = OWNER.email;
    childEnv.WHEELHOUSE_BOOTSTRAP_PASSWORD = OWNER.password;
  } else {
    delete childEnv.WHEELHOUSE_BOOTSTRAP_EMAIL;
    delete childEnv.WHEELHOUSE_BOOTSTRAP_PASSWORD;
  }
  const child = spawn(SERVER_BIN, ['serve'], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => running.delete(child));
  let exitInfo = null;
  exited.then((info) => {
    exitInfo = info;
  });
  const printed = new Promise((resolve) => {
    const onData = (chunk) => {
      output += chunk.toString();
      // "Wheelhouse is running. Sign in at http://…/login" or "Wheelhouse is running at http://…" + a set-up link
      const url = output.match(/Sign in at (http:\/\/\S+?)\/login/)?.[1] ?? output.match(/running at (http:\/\/\S+)/)?.[1];
      const setup = output.match(/(http:\/\/\S+\/setup\?token=\S+)/)?.[1];
      if (url && (bootstrap || setup)) resolve({ url, setup });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
  const stopped = async () => {
    database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  const started = await Promise.race([
    printed,
    exited.then(() => null),
    deadline(60_000).then(() => undefined),
  ]);
  if (!started) {
    child.kill('SIGKILL');
    await exited;
    await stopped();
    throw new Error(`the server did not start (${started === null ? `exited: ${JSON.stringify(exitInfo)}` : 'timeout'}):\n${output}`);
  }
  const server = {
    url: started.url,
    setupUrl: started.setup,
    dataDir,
    logs: () => output,
    async stop() {
      if (!exitInfo) {
        child.kill('SIGTERM');
        const stoppedInTime = await Promise.race([exited.then(() => true), deadline(10_000).then(() => false)]);
        if (!stoppedInTime) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      await stopped();
      return exitInfo;
    },
  };
  try {
    await eventually(async () => (await fetch(`${server.url}/readyz`)).ok, { timeout: 20_000, message: '/readyz' });
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

// ---------------------------------------------------------------------------------------------------------
// REST API clients

/** A client of /api/v1 with a session cookie (state-changing calls carry Origin, as a browser's would). */
export async function signIn(baseUrl, { email, password } = OWNER) {
  const response = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', origin: baseUrl },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
  const cookie = response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const me = await response.json();
  return { ...client(baseUrl, { cookie, origin: baseUrl }), cookie, me };
}

/** A client of /api/v1 with `Authorization: Bearer <token>`. */
export function bearer(baseUrl, token) {
  return client(baseUrl, { authorization: `Bearer ${token}` });
}

function client(baseUrl, headers) {
  const call = async (method, apiPath, body) => {
    const response = await fetch(`${baseUrl}${apiPath}`, {
      method,
      headers: {
        accept: 'application/json',
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${apiPath} → ${response.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return {
    api: call,
    get: (p) => call('GET', p),
    post: (p, body = {}) => call('POST', p, body),
    patch: (p, body = {}) => call('PATCH', p, body),
    delete: (p) => call('DELETE', p),
  };
}

/** `GET /workspaceConfig?fetchAll=true` as rudder-server asks for it. */
export async function workspaceConfig(baseUrl, dataPlaneToken) {
  const response = await fetch(`${baseUrl}/workspaceConfig?fetchAll=true`, {
    headers: { authorization: `Basic ${Buffer.from(`${dataPlaneToken}:`).toString('base64')}` },
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`/workspaceConfig → ${response.status}: ${text}`);
  return { text, json: JSON.parse(text) };
}

// ---------------------------------------------------------------------------------------------------------
// Chromium

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * Records what a page says on its console and what it throws. `problems()` are errors, warnings, uncaught
 * exceptions and any message about hydration; `verbose()` are Chrome's DOM hints (not errors).
 */
export function watchConsole(page) {
  const messages = [];
  const errors = [];
  page.on('console', (message) => {
    messages.push({ type: message.type(), text: message.text(), url: page.url(), location: message.location() });
  });
  page.on('pageerror', (error) => errors.push({ type: 'pageerror', text: String(error?.stack || error), url: page.url() }));
  page.on('crash', () => errors.push({ type: 'crash', text: 'the page crashed', url: page.url() }));
  return {
    all: () => [...messages, ...errors],
    problems: () => [
      ...messages.filter((m) => m.type === 'error' || m.type === 'warning' || /hydrat/i.test(m.text)),
      ...errors,
    ],
    verbose: () => messages.filter((m) => m.type === 'verbose'),
    clear() {
      messages.length = 0;
      errors.length = 0;
    },
  };
}

/** Waits until the page is hydrated (`html[data-hydrated]`, set by the app once `hydrate()` has run). */
export async function hydrated(page, { timeout = 20_000 } = {}) {
  await page.waitForSelector('html[data-hydrated]', { state: 'attached', timeout });
}

/** Navigates (full page load) and waits for hydration and a quiet network. */
export async function visit(page, url) {
  debug('visit', url);
  const response = await page.goto(url, { waitUntil: 'load' });
  await hydrated(page);
  await page.waitForLoadState('networkidle');
  return response;
}

/** Signs in through the sign-in page (a client-side form: it only works once hydrated). */
export async function signInThroughUi(page, baseUrl, { email, password } = OWNER) {
  await visit(page, `${baseUrl}/login`);
  await page.fill('#field-email', email);
  await page.fill('#field-password', password);
  await Promise.all([
    page.waitForURL((url) => url.pathname.startsWith('/w/'), { timeout: 20_000 }),
    page.click('button[type=submit]'),
  ]);
  await hydrated(page);
  await page.waitForLoadState('networkidle');
}

/**
 * Keeps the body of every response a page receives, for "this never appeared" checks. `settle()` waits for
 * the pending body reads; `bodies()` are `{url, status, body}`; `unreadable()` lists responses whose body
 * could not be read (redirects have none; a page that navigates away at once loses them).
 */
export function recordResponses(page) {
  const pending = new Set();
  const bodies = [];
  const unreadable = [];
  const inflight = new Set();
  let seq = 0;
  // A full page load ends the old document's requests, without always an event for each of them, and their
  // bodies may never arrive: those are not waited for (a failed read is still listed in `unreadable()`).
  // Between the navigation request and the commit of the new document, requests are the old document's.
  const stale = new WeakSet();
  let navigating = false;
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
      for (const r of inflight) stale.add(r);
      inflight.clear();
      pending.clear();
      navigating = true;
    } else if (navigating && request.frame() === page.mainFrame()) {
      stale.add(request);
      return;
    }
    inflight.add(request);
  });
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigating = false;
  });
  page.on('requestfinished', (request) => inflight.delete(request));
  page.on('requestfailed', (request) => inflight.delete(request));
  page.on('response', (response) => {
    const n = seq++;
    const body = Promise.race([
      response.body(),
      deadline(15_000).then(() => Promise.reject(new Error('the body did not arrive within 15 s'))),
    ]);
    const read = body
      .then((body) => bodies.push({ n, url: response.url(), status: response.status(), body: body.toString('latin1') }))
      .catch((error) => {
        if (response.status() < 300 || response.status() >= 400) {
          unreadable.push({ n, url: response.url(), status: response.status(), error: error.message });
        }
      })
      .finally(() => pending.delete(read));
    if (!stale.has(response.request())) pending.add(read);
  });
  return {
    /**
     * Waits until the page has no request in flight and every body has been read, for `quietMs` in a row
     * (a client-side refetch may start just after an action seems done). Call it before leaving a page.
     */
    async settle({ quietMs = 300, timeout = 20_000 } = {}) {
      const until = Date.now() + timeout;
      let quietSince = null;
      for (;;) {
        if (pending.size) await Promise.allSettled([...pending]);
        if (inflight.size || pending.size) {
          quietSince = null;
        } else {
          quietSince ??= Date.now();
          if (Date.now() - quietSince >= quietMs) return;
        }
        if (Date.now() > until) {
          throw new Error(`the page did not settle: in flight ${[...inflight].map((r) => r.url()).join(', ')}`);
        }
        await sleep(50);
      }
    },
    /** A point in the sequence of responses: pass it to `bodies`/`unreadable` to see only later ones. */
    checkpoint: () => seq,
    bodies: (since = 0) => bodies.filter((r) => r.n >= since),
    unreadable: (since = 0) => unreadable.filter((r) => r.n >= since),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Small HTTP servers (static files for the SDK, a recording data plane)

/** Listens on 127.0.0.1 with a free port; `close()` also drops keep-alive connections. */
export async function listen(handler) {
  const server = http.createServer(handler);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Runs `fn` for each cleanup registered with `add`, in reverse order, never throwing before all ran. */
export function cleanups() {
  const list = [];
  return {
    add(fn) {
      list.push(fn);
      return fn;
    },
    async run() {
      const failures = [];
      while (list.length) {
        const fn = list.pop();
        try {
          await fn();
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length) throw failures[0];
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Mail: without WHEELHOUSE_SMTP_URL the server writes each mail to <data dir>/outbox/*.eml

/** The bodies of the mails in the server's outbox (quoted-printable decoded), oldest first. */
export function outbox(server) {
  const dir = path.join(server.dataDir, 'outbox');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((f) => {
      const raw = readFileSync(path.join(dir, f), 'utf8');
      const qp = /content-transfer-encoding:\s*quoted-printable/i.test(raw);
      return qp ? raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))) : raw;
    });
}

/** Waits for a mail in the outbox with a link to `pathname` (e.g. `/invite`) and returns the link. */
export async function linkFromOutbox(server, pathname) {
  const pattern = new RegExp(`https?://[^\\s"<>]+${pathname.replace(/[/?]/g, (c) => `\\${c}`)}\\?token=[^\\s"<>]+`);
  return eventually(() => outbox(server).map((m) => m.match(pattern)?.[0]).find(Boolean), {
    timeout: 10_000,
    message: `a mail with a ${pathname} link`,
  });
}

/**
 * Invites a viewer to the workspace (as `owner`, an API client), accepts the mailed invite and signs the viewer
 * in through the UI in a browser context of their own (closed after the test). Returns `{page, consoleLog}`.
 */
export async function signInAsNewViewer(t, browser, server, owner, ws) {
  const viewer = { email: `viewer-${random(3)}@e2e.example.com`, password: 'e2e-viewer-horse-battery' };
  await owner.post(`/api/v1/workspaces/${ws}/invites`, { email: viewer.email, role: 'viewer' });
  const invite = new URL(await linkFromOutbox(server, '/invite'));
  const accepted = await fetch(`${server.url}/api/v1/invites/accept`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: server.url },
    body: JSON.stringify({ token: invite.searchParams.get('token'), name: 'Vera', password: viewer.password }),
  });
  if (!accepted.ok) throw new Error(`the invite was not accepted: ${accepted.status} ${await accepted.text()}`);
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLog = watchConsole(page);
  await signInThroughUi(page, server.url, viewer);
  return { page, consoleLog };
}

// ---------------------------------------------------------------------------------------------------------
// The RudderStack JavaScript SDK, offline: its bundled build (every plugin inside, nothing fetched from a CDN),
// served from a site of its own origin, with stand-ins for device-mode integration scripts, sending to a data
// plane that records what it gets.

const SDK_DIR = path.join(END2END, 'node_modules', '@rudderstack', 'analytics-js');

/** The version of `@rudderstack/analytics-js` installed. */
export function sdkVersion() {
  return JSON.parse(readFileSync(path.join(SDK_DIR, 'package.json'), 'utf8')).version;
}

/** The HTML of a page that loads the SDK as an ES module and calls `load(writeKey, dataPlaneUrl, options)`. */
export function sdkPage({ writeKey, dataPlaneUrl, options }) {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>SDK test</title><link rel="icon" href="data:,"></head><body>
<script type="module">
  import { RudderAnalytics } from '/sdk/index.mjs';
  const analytics = new RudderAnalytics();
  window.analytics = analytics;
  analytics.load(${JSON.stringify(writeKey)}, ${JSON.stringify(dataPlaneUrl)}, ${JSON.stringify(options)});
  analytics.ready(() => { window.sdkReady = true; });
</script>
</body></html>`;
}

/**
 * The site a test page comes from: `/` is `page(searchParams, siteUrl)` (HTML), `/sdk/index.mjs` the SDK, and
 * `/js-integrations/<file>` the device-mode integration scripts of `integrations` (file name → code; any
 * other is a 404). `integrationScripts` lists the integration paths asked for, `missing` anything else asked
 * for that the site does not have (a plugin fetched from a CDN path, say).
 */
export async function sdkSite({ page, integrations = {} }) {
  const bundle = readFileSync(path.join(SDK_DIR, 'dist', 'npm', 'modern', 'bundled', 'esm', 'index.mjs'));
  const integrationScripts = [];
  const missing = [];
  const site = await listen((req, res) => {
    const url = new URL(req.url, 'http://site');
    if (url.pathname === '/sdk/index.mjs') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    } else if (url.pathname.startsWith('/js-integrations/')) {
      integrationScripts.push(url.pathname);
      const script = integrations[url.pathname.slice('/js-integrations/'.length)];
      if (script === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(url.searchParams, site.url));
    } else {
      missing.push(req.url);
      res.writeHead(404).end();
    }
  });
  return { ...site, integrationScripts, missing };
}

/**
 * A data plane for the SDK: answers like rudder-server (200, and CORS for a page of any origin, with
 * credentials) and keeps every request it gets, `{method, path, headers, body}`, in `received`.
 */
export async function recordingDataPlane() {
  const received = [];
  const dataPlane = await listen((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.setHeader('access-control-allow-origin', req.headers.origin || '*');
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
      res.setHeader('access-control-allow-headers', req.headers['access-control-request-headers'] || '*');
      if (req.method === 'OPTIONS') {
        res.writeHead(204).end();
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
      }
    });
  });
  return { ...dataPlane, received };
}
