// The groundwork, in the browser: two tabs editing one destination (the second save is refused and keeps
// what was typed), the audit log page, and pages that load compressed, within their byte budgets.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  REPO_ROOT,
  cleanups,
  hydrated,
  launchBrowser,
  random,
  signIn,
  signInThroughUi,
  startServer,
  visit,
  watchConsole,
} from './support.js';

const done = cleanups();
let server;
let browser;
let session;
let ws;

before(async () => {
  server = await startServer();
  done.add(() => server.stop());
  browser = await launchBrowser();
  done.add(() => browser.close());
  session = await signIn(server.url);
  ws = session.me.workspaces[0].id;
});

after(() => done.run());

/** Screenshots for people to look at, under target/e2e-screenshots. */
async function screenshot(page, name) {
  const dir = path.join(REPO_ROOT, 'target', 'e2e-screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

test('two tabs edit one destination: the second save is refused, keeps what was typed, and reloads on demand', { timeout: 120_000 }, async (t) => {
  const destination = await session.post(`/api/v1/workspaces/${ws}/destinations`, {
    name: 'Order hook',
    type: 'WEBHOOK',
    config: { webhookUrl: 'https://hooks.example.com/orders' },
  });
  const context = await browser.newContext();
  t.after(() => context.close());
  await signInThroughUi(await context.newPage(), server.url);
  const url = `${server.url}/w/${ws}/destinations/${destination.id}`;
  const [first, second] = [await context.newPage(), await context.newPage()];
  const consoles = [watchConsole(first), watchConsole(second)];
  await visit(first, url);
  await visit(second, url);

  await first.fill('#field-name', 'Renamed in the first tab');
  await first.click('form.card button[type=submit]');
  await first.waitForSelector('.toast >> text=Saved.');

  await second.fill('#field-name', 'Renamed in the second tab');
  await second.click('form.card button[type=submit]');
  const alert = await second.waitForSelector('.alert.stale');
  assert.match(await alert.textContent(), /Changed by someone else/);
  assert.equal(await second.inputValue('#field-name'), 'Renamed in the second tab', 'what was typed is kept');
  assert.equal((await session.get(`/api/v1/workspaces/${ws}/destinations/${destination.id}`)).name, 'Renamed in the first tab');
  await screenshot(second, 'stale-edit');

  await second.click('.alert.stale button');
  await second.waitForFunction(() => document.querySelector('#field-name')?.value === 'Renamed in the first tab');
  assert.equal(await second.$('.alert.stale'), null, 'the alert is gone once reloaded');
  // Now based on the current revision: the second tab's change goes through.
  await second.fill('#field-name', 'Renamed again');
  await second.click('form.card button[type=submit]');
  await second.waitForSelector('.toast >> text=Saved.');
  assert.equal((await session.get(`/api/v1/workspaces/${ws}/destinations/${destination.id}`)).name, 'Renamed again');
  for (const c of consoles) {
    assert.deepEqual(
      c.problems().filter((p) => !/409/.test(p.text)),
      [],
      'nothing logged but the refused save',
    );
  }
});

test('the audit log page lists who changed what, filters it and pages back', { timeout: 120_000 }, async (t) => {
  const api = `/api/v1/workspaces/${ws}`;
  const source = await session.post(`${api}/sources`, { name: `Audited ${random(3)}`, type: 'Javascript' });
  await session.patch(`${api}/sources/${source.id}`, { name: 'Audited and renamed' });
  // Enough entries for a second page (50 per page).
  for (let i = 0; i < 26; i += 1) {
    const s = await session.post(`${api}/sources`, { name: `Bulk ${i}`, type: 'Javascript' });
    await session.delete(`${api}/sources/${s.id}`);
  }
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLog = watchConsole(page);
  await signInThroughUi(page, server.url);
  await visit(page, `${server.url}/w/${ws}/settings/audit`);
  const actions = () => page.$$eval('table.audit tbody tr', (rows) => rows.map((r) => r.dataset.action));
  const firstPage = await actions();
  assert.equal(firstPage.length, 50);
  assert.equal(firstPage[0], 'source.deleted');
  const renamed = await page.textContent('table.audit tbody');
  assert.match(renamed, /owner@e2e\.example\.com/);
  await screenshot(page, 'audit-log');

  await page.click('button:has-text("Older entries")');
  await page.waitForFunction(() => document.querySelectorAll('table.audit tbody tr').length > 50);
  const all = await actions();
  assert.ok(all.includes('source.updated') && all.includes('workspace.created'), all.join(','));

  await page.fill('input[name=action]', 'source.updated');
  await page.click('form.filters button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('table.audit tbody tr').length === 1);
  assert.match(await page.textContent('table.audit tbody'), /name: Audited .* → Audited and renamed/);
  assert.deepEqual(consoleLog.problems(), []);
});

test('pages load compressed and within their budgets; assets are hashed and cached for a year', { timeout: 120_000 }, async (t) => {
  // A cold cache: a new context, signed in through the API (its cookie), nothing loaded yet.
  const context = await browser.newContext();
  t.after(() => context.close());
  const [name, value] = session.cookie.split(';')[0].split('=');
  await context.addCookies([{ name, value, url: server.url }]);
  const figures = {};
  for (const [label, pathname, budget, htmlBudget] of [
    ['sources list', `/w/${ws}/sources`, 700 * 1024, undefined],
    ['add a destination', `/w/${ws}/destinations/new`, 800 * 1024, 150 * 1024],
  ]) {
    await context.clearCookies();
    await context.addCookies([{ name, value, url: server.url }]);
    const page = await context.newPage();
    const client = await context.newCDPSession(page);
    await client.send('Network.enable');
    await client.send('Network.setCacheDisabled', { cacheDisabled: true });
    const onWire = new Map();
    client.on('Network.responseReceived', (e) => onWire.set(e.requestId, { url: e.response.url, headers: e.response.headers, bytes: 0 }));
    client.on('Network.loadingFinished', (e) => {
      const entry = onWire.get(e.requestId);
      if (entry) entry.bytes = e.encodedDataLength;
    });
    const started = Date.now();
    await page.goto(`${server.url}${pathname}`, { waitUntil: 'load' });
    await hydrated(page);
    const interactive = Date.now() - started;
    await page.waitForLoadState('networkidle');
    const responses = [...onWire.values()];
    const total = responses.reduce((sum, r) => sum + r.bytes, 0);
    const header = (r, h) => Object.entries(r.headers).find(([k]) => k.toLowerCase() === h)?.[1];
    const html = responses.find((r) => new URL(r.url).pathname === pathname);
    assert.ok(html, `the page itself among ${responses.map((r) => r.url).join(', ')}`);
    assert.match(header(html, 'content-encoding') ?? '', /br|gzip/, 'the page is compressed');
    assert.equal(header(html, 'cache-control'), 'no-store', 'pages are not cached');
    assert.match(header(html, 'content-security-policy') ?? '', /script-src 'self' 'nonce-/);
    for (const asset of responses.filter((r) => new URL(r.url).pathname.startsWith('/pkg/'))) {
      // The main module's glue imports the lazy routes' chunk loader (scripts/precompress-assets.mjs); the
      // chunks themselves are not part of these (eager) pages.
      assert.match(
        new URL(asset.url).pathname,
        /^\/pkg\/(wheelhouse\.[0-9a-f]{16}\.(js|wasm|css)|__wasm_split\.[0-9a-f]{22}\.js)$/,
        'a hashed name',
      );
      assert.equal(header(asset, 'content-encoding'), 'br', `${asset.url} precompressed`);
      assert.equal(header(asset, 'cache-control'), 'public, max-age=31536000, immutable');
    }
    assert.ok(total <= budget, `${label}: ${total} bytes on the wire, budget ${budget}`);
    if (htmlBudget) assert.ok(html.bytes <= htmlBudget, `${label}: its HTML is ${html.bytes} bytes, budget ${htmlBudget}`);
    figures[label] = {
      bytesOnTheWire: total,
      htmlBytes: html.bytes,
      requests: responses.length,
      timeToInteractiveMs: interactive,
      byResource: Object.fromEntries(responses.map((r) => [new URL(r.url).pathname, r.bytes])),
    };
    await page.close();
  }
  mkdirSync(path.join(REPO_ROOT, 'target'), { recursive: true });
  writeFileSync(path.join(REPO_ROOT, 'target', 'page-weights.json'), `${JSON.stringify(figures, null, 2)}\n`);
  console.log(JSON.stringify(figures, null, 2));
});
