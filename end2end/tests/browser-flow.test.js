// The browser test: sign in → create a workspace → add a JavaScript source → add an Amplitude
// destination with a secret, connected to the source → create a data-plane token → the token pulls a config that
// carries the secret → no page, and no response the browser receives, ever shows the secret again.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  cleanups,
  debug,
  hydrated,
  launchBrowser,
  random,
  recordResponses,
  signInThroughUi,
  startServer,
  visit,
  watchConsole,
  workspaceConfig,
} from './support.js';

const done = cleanups();
let server;
let browser;

before(async () => {
  server = await startServer();
  done.add(() => server.stop());
  browser = await launchBrowser();
  done.add(() => browser.close());
});

after(() => done.run());

test('sign in, build a pipeline with a secret, pull it with a data-plane token, never see the secret again', { timeout: 180_000 }, async (t) => {
  const canary = `CANARY-${random(12)}`;
  const apiKey = `amplitude-key-${random(6)}`;
  const workspaceName = `E2E ${random(4)}`;
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLog = watchConsole(page);
  const responses = recordResponses(page);
  const base = server.url;
  // Navigates away only once the current page is quiet and every response body it got has been read
  // (a body is gone once its page is left).
  const go = async (url) => {
    await responses.settle();
    return visit(page, url);
  };

  // Sign in.
  debug('flow: sign in');
  await signInThroughUi(page, base);
  const firstWorkspace = new URL(page.url()).pathname.split('/')[2];
  assert.ok(firstWorkspace, `signed in, at ${page.url()}`);

  // A new workspace, from the workspace switcher.
  debug('flow: new workspace');
  await page.selectOption('#workspace-switcher', '__new');
  await page.waitForURL(`${base}/workspaces/new`);
  await page.fill('#field-name', workspaceName);
  await Promise.all([
    page.waitForURL((url) => url.pathname.startsWith('/w/') && !url.pathname.startsWith(`/w/${firstWorkspace}`)),
    page.click('button[type=submit]'),
  ]);
  await hydrated(page);
  const ws = new URL(page.url()).pathname.split('/')[2];
  assert.notEqual(ws, firstWorkspace);
  await page.waitForSelector('[data-testid=getting-started]');
  assert.equal(
    await page.$eval('#workspace-switcher', (select) => select.selectedOptions[0].textContent),
    workspaceName,
    'the switcher shows the new workspace',
  );

  // A JavaScript source.
  debug('flow: source');
  await go(`${base}/w/${ws}/sources/new`);
  await page.click('button.tile[data-type=Javascript]');
  await page.fill('#field-name', 'Website');
  await Promise.all([
    page.waitForURL((url) => /^\/w\/[^/]+\/sources\/[^/]+$/.test(url.pathname) && !url.pathname.endsWith('/new')),
    page.click('button[type=submit]'),
  ]);
  const sourceId = new URL(page.url()).pathname.split('/').pop();
  const writeKey = (await page.textContent('[data-testid=write-key]')).trim();
  assert.match(writeKey, /\S{10,}/, 'the write key is shown');

  // An Amplitude destination with its API secret, sending events from the JavaScript source.
  debug('flow: destination');
  await go(`${base}/w/${ws}/destinations/new`);
  await page.click('button.tile[data-type=AM]');
  await page.fill('#field-name', 'Amplitude');
  await page.fill('#cfg-apiKey', apiKey);
  await page.fill('#cfg-apiSecret', canary);
  await page.check(`input[data-source="${sourceId}"]`);
  const saved = responses.checkpoint();
  await Promise.all([
    page.waitForURL((url) => /^\/w\/[^/]+\/destinations\/[^/]+$/.test(url.pathname) && !url.pathname.endsWith('/new')),
    page.click('button[type=submit]'),
  ]);
  const destinationId = new URL(page.url()).pathname.split('/').pop();
  assert.notEqual(destinationId, 'new');

  // The destination page: the secret is stored, its value is not shown; the source is connected.
  debug('flow: destination page');
  await page.waitForSelector('#cfg-apiSecret');
  const secretField = page.locator('.field', { has: page.locator('#cfg-apiSecret') });
  assert.equal(await secretField.locator('.badge.secret-set').textContent(), 'Secret stored');
  assert.equal(await page.inputValue('#cfg-apiSecret'), '', 'the secret input is empty');
  assert.equal(await page.inputValue('#cfg-apiKey'), apiKey, 'the (non-secret) API key is shown');
  await page.getByRole('link', { name: 'Website' }).waitFor();

  // A data-plane token, shown once.
  debug('flow: data-plane token');
  await go(`${base}/w/${ws}/settings/data-planes`);
  await page.fill('#field-name', 'e2e data plane');
  await page.click('button[type=submit]');
  const token = (await page.locator('[data-testid=shown-once]').textContent()).trim();
  assert.ok(token.length >= 20, `a token is shown (${token.length} characters)`);

  // rudder-server's view: the source, the destination connected to it, the secret decrypted.
  debug('flow: workspaceConfig');
  const { json: config } = await workspaceConfig(base, token);
  assert.equal(config.workspaceId, ws);
  const source = config.sources.find((s) => s.id === sourceId);
  assert.ok(source, `the config has the source ${sourceId}`);
  assert.equal(source.writeKey, writeKey);
  assert.equal(source.sourceDefinition?.name, 'Javascript');
  const destination = source.destinations.find((d) => d.id === destinationId);
  assert.ok(destination, 'the destination is connected to the source');
  assert.equal(destination.destinationDefinition?.name, 'AM');
  assert.equal(destination.config.apiKey, apiKey);
  assert.equal(destination.config.apiSecret, canary, 'the data plane gets the decrypted secret');

  // Every page of the workspace again: the secret is nowhere.
  debug('flow: every page');
  const pages = [
    `/w/${ws}`,
    `/w/${ws}/sources`,
    `/w/${ws}/sources/${sourceId}`,
    `/w/${ws}/destinations`,
    `/w/${ws}/destinations/${destinationId}`,
    `/w/${ws}/destinations/new`,
    `/w/${ws}/settings`,
    `/w/${ws}/settings/members`,
    `/w/${ws}/settings/api-tokens`,
    `/w/${ws}/settings/data-planes`,
    `/account`,
  ];
  for (const path of pages) {
    const response = await go(`${base}${path}`);
    assert.equal(response.status(), 200, `${path} answers 200`);
    const html = await page.content();
    assert.ok(!html.includes(canary), `the secret is not in the HTML of ${path}`);
    const values = await page.$$eval('input, textarea, select', (els) => els.map((e) => e.value));
    assert.ok(!values.some((v) => v.includes(canary)), `no input of ${path} holds the secret`);
  }
  // The destination page once more, through client-side navigation (its data then comes from fetch).
  debug('flow: client-side navigation');
  await go(`${base}/w/${ws}/destinations`);
  await Promise.all([
    page.waitForURL(`${base}/w/${ws}/destinations/${destinationId}`),
    page.click(`a[href="/w/${ws}/destinations/${destinationId}"]`),
  ]);
  await page.waitForSelector('#cfg-apiSecret');
  await page.waitForLoadState('networkidle');
  assert.equal(
    await page.locator('.field', { has: page.locator('#cfg-apiSecret') }).locator('.badge.secret-set').textContent(),
    'Secret stored',
  );
  assert.ok(!(await page.content()).includes(canary));

  debug('flow: settle');
  await responses.settle();
  const seen = responses.bodies();
  assert.ok(responses.bodies(saved).length > 20, `responses were recorded (${responses.bodies(saved).length})`);
  assert.ok(seen.some((r) => r.url.includes(`/api/v1/workspaces/${ws}/destinations`)), 'API responses were recorded');
  const leaks = seen.filter((r) => r.body.includes(canary)).map((r) => `${r.status} ${r.url}`);
  assert.deepEqual(leaks, [], 'no response the browser received carries the secret');
  assert.deepEqual(responses.unreadable(saved), [], 'every response body since the save could be checked');
  assert.ok(!server.logs().includes(canary), 'the server log does not carry the secret');
  assert.deepEqual(consoleLog.problems(), [], 'no console errors or warnings along the way');
});
