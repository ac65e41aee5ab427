// Every page loads and hydrates without a console error or warning, an uncaught exception or a hydration
// warning, and the hydrated pages respond to the person using them (client-side forms, navigation, widgets).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  cleanups,
  hydrated,
  launchBrowser,
  linkFromOutbox,
  random,
  signIn,
  signInThroughUi,
  startServer,
  visit,
  watchConsole,
} from './support.js';

const OWNER = { name: 'Ada Owner', email: `ada-${random(3)}@e2e.example.com`, password: 'e2e-first-owner-password' };

const done = cleanups();
let server;
let browser;
/** Filled as the tests go: the workspace and what is in it. */
const state = {};
/** Chrome's DOM hints ("verbose" messages, e.g. a missing autocomplete attribute) seen on any page. */
const hints = [];

before(async () => {
  server = await startServer({ bootstrap: false });
  done.add(() => server.stop());
  browser = await launchBrowser();
  done.add(() => browser.close());
});

after(async () => {
  await done.run();
});

/** Visits each path in a fresh page load and returns what went wrong, per path. */
async function checkPages(page, watcher, paths) {
  const problems = {};
  for (const path of paths) {
    watcher.clear();
    const response = await visit(page, `${server.url}${path}`);
    // Messages that arrive just after hydration (effects, late fetches) count too.
    await page.waitForTimeout(250);
    await page.waitForLoadState('networkidle');
    const found = watcher.problems().map((m) => `${m.type}: ${m.text}`);
    if (response.status() !== 200) found.push(`status ${response.status()}`);
    if (found.length) problems[path] = found;
    hints.push(...watcher.verbose().map((m) => `${path.replace(/token=[^&]+/, 'token=…')}: ${m.text}`));
  }
  return problems;
}

test('the first-run set-up page works and logs nothing', { timeout: 120_000 }, async (t) => {
  assert.ok(server.setupUrl, 'the server printed a set-up link');
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const watcher = watchConsole(page);
  const setupPath = new URL(server.setupUrl);
  assert.deepEqual(await checkPages(page, watcher, [`${setupPath.pathname}${setupPath.search}`]), {});

  await page.fill('#field-name', OWNER.name);
  await page.fill('#field-email', OWNER.email);
  await page.fill('#field-password', OWNER.password);
  await page.fill('#field-workspaceName', 'Console checks');
  await Promise.all([
    page.waitForURL((url) => url.pathname.startsWith('/w/'), { timeout: 20_000 }),
    page.click('button[type=submit]'),
  ]);
  await hydrated(page);
  await page.waitForSelector('[data-testid=getting-started]');
  state.ws = new URL(page.url()).pathname.split('/')[2];
  assert.deepEqual(watcher.problems(), []);
});

test('the workspace gets content through the API', { timeout: 120_000 }, async () => {
  assert.ok(state.ws, 'set up first');
  const session = await signIn(server.url, OWNER);
  const ws = `/api/v1/workspaces/${state.ws}`;
  const source = await session.post(`${ws}/sources`, { name: 'Website', type: 'Javascript', config: {} });
  const destination = await session.post(`${ws}/destinations`, {
    name: 'Amplitude',
    type: 'AM',
    config: { apiKey: 'console-key', apiSecret: `CANARY-${random(8)}` },
  });
  const webhook = await session.post(`${ws}/destinations`, {
    name: 'Hook',
    type: 'WEBHOOK',
    config: { webhookUrl: 'https://hooks.example.com/in', headers: [{ from: 'X-Auth', to: `CANARY-${random(8)}` }] },
  });
  await session.post(`${ws}/connections`, { sourceId: source.id, destinationId: destination.id });
  await session.post(`${ws}/data-plane-tokens`, { name: 'eu-west-1' });
  await session.post('/api/v1/tokens', { name: 'CI', workspaceId: state.ws, role: 'editor' });
  await session.post(`${ws}/invites`, { email: `grace-${random(3)}@e2e.example.com`, role: 'viewer' });
  const second = await session.post('/api/v1/workspaces', { name: 'Second workspace' });
  await session.post('/api/v1/namespaces', { name: 'console-eu', workspaceIds: [state.ws] });
  await session.post(`/api/v1/workspaces/${second.id}/sources`, { name: 'Second site', type: 'Javascript', config: {} });
  Object.assign(state, { source: source.id, destination: destination.id, webhook: webhook.id, second: second.id });
});

test('signed-out pages log nothing, and their forms work', { timeout: 120_000 }, async (t) => {
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const watcher = watchConsole(page);
  const invite = new URL(await linkFromOutbox(server, '/invite'));
  assert.deepEqual(
    await checkPages(page, watcher, ['/login', '/forgot-password', `/invite${invite.search}`, '/reset-password?token=not-a-real-one']),
    {},
  );
  // The invite page knows the invitee has no account yet and asks for a name and a password.
  await visit(page, `${server.url}/invite${invite.search}`);
  await page.waitForSelector('#field-name');
  await page.waitForSelector('#field-password');

  // Forgot password: a client-side form; then the link from the mail opens a working reset page.
  watcher.clear();
  await visit(page, `${server.url}/forgot-password`);
  await page.fill('#field-email', OWNER.email);
  await page.click('button[type=submit]');
  await page.waitForSelector('.alert.success');
  const reset = new URL(await linkFromOutbox(server, '/reset-password'));
  assert.deepEqual(await checkPages(page, watcher, [`/reset-password${reset.search}`]), {});
  // Two different passwords: the form says so beside the field, without a request.
  await page.fill('#field-newPassword', 'one-password-here');
  await page.fill('#field-confirmPassword', 'another-password');
  await page.click('button[type=submit]');
  await page.waitForSelector('.field.invalid #field-confirmPassword');
  assert.deepEqual(watcher.problems(), []);
});

test('every signed-in page logs nothing, and the hydrated pages respond', { timeout: 120_000 }, async (t) => {
  assert.ok(state.source, 'content first');
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const watcher = watchConsole(page);
  const ws = state.ws;

  // Sign in through the form (it only works hydrated: the form is handled client-side).
  await signInThroughUi(page, server.url, OWNER);
  assert.equal(new URL(page.url()).pathname, `/w/${ws}`);
  assert.deepEqual(watcher.problems(), [], 'signing in logs nothing');

  const problems = await checkPages(page, watcher, [
    '/account',
    '/instance/namespaces',
    '/workspaces/new',
    `/w/${ws}`,
    `/w/${ws}/sources`,
    `/w/${ws}/sources/new`,
    `/w/${ws}/sources/${state.source}`,
    `/w/${ws}/destinations`,
    `/w/${ws}/destinations/new`,
    `/w/${ws}/destinations/${state.destination}`,
    `/w/${ws}/destinations/${state.webhook}`,
    `/w/${ws}/settings`,
    `/w/${ws}/settings/members`,
    `/w/${ws}/settings/api-tokens`,
    `/w/${ws}/settings/data-planes`,
  ]);
  assert.deepEqual(problems, {}, 'no console error, warning or hydration message on any page');

  // Client-side navigation from the sidebar: the page is not reloaded.
  watcher.clear();
  await visit(page, `${server.url}/w/${ws}`);
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  await page.click('nav.sidebar a:text-is("Sources")');
  await page.waitForURL(`${server.url}/w/${ws}/sources`);
  await page.waitForSelector(`a[href="/w/${ws}/sources/${state.source}"]`);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the sidebar navigates client-side');
  await page.click('nav.sidebar a:text-is("Destinations")');
  await page.waitForSelector(`a[href="/w/${ws}/destinations/${state.webhook}"]`);
  await page.click(`a[href="/w/${ws}/destinations/${state.webhook}"]`);
  await page.waitForSelector('#cfg-webhookUrl');
  assert.equal(await page.inputValue('#cfg-webhookUrl'), 'https://hooks.example.com/in');
  assert.equal(await page.evaluate(() => window.__sameDocument), true);

  // The workspace switcher: to another workspace (its overview, its pipelines), back, and to "+ New workspace".
  await page.selectOption('#workspace-switcher', state.second);
  await page.waitForURL(`${server.url}/w/${state.second}`);
  await page.waitForSelector('h1:text-is("Second workspace")');
  await page.waitForSelector(`.content a:text-is("Second site")`);
  assert.equal(await page.locator('.content a:text-is("Website")').count(), 0, "the first workspace's source is gone");
  await page.click('nav.sidebar a:text-is("Sources")');
  await page.waitForURL(`${server.url}/w/${state.second}/sources`);
  await page.waitForSelector(`.content a:text-is("Second site")`);
  await page.selectOption('#workspace-switcher', ws);
  await page.waitForURL(`${server.url}/w/${ws}`);
  await page.waitForSelector('h1:text-is("Console checks")');
  await page.waitForSelector(`.content a:text-is("Website")`);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'switching workspaces is client-side');
  await page.selectOption('#workspace-switcher', '__new');
  await page.waitForURL(`${server.url}/workspaces/new`);
  await page.waitForSelector('#field-name');

  // The source catalog: searching filters the tiles, picking one opens its form.
  await visit(page, `${server.url}/w/${ws}/sources/new`);
  await page.fill('input.search', 'javascr');
  await eventuallyCount(page, 'button.tile', 1);
  await page.click('button.tile[data-type=Javascript]');
  assert.equal(await page.inputValue('#field-name'), 'JavaScript');
  await page.click('button:text-is("Back")');
  await page.waitForSelector('button.tile[data-type=Javascript]');

  // A source: copy the write key, disable and enable it again (PATCH, toast, re-render).
  await visit(page, `${server.url}/w/${ws}/sources/${state.source}`);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  const writeKey = (await page.textContent('[data-testid=write-key]')).trim();
  await page.click('[data-testid=write-key] + button');
  await page.waitForSelector('[data-testid=write-key] + button:text-is("Copied")');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), writeKey);
  await page.click('.page-header button:text-is("Disable")');
  await page.waitForSelector('.page-header .badge.off');
  await page.waitForSelector('.toast');
  await page.click('.page-header button:text-is("Enable")');
  await page.waitForSelector('.page-header .badge.on');

  // A destination: a required field left empty → the API's 422 appears beside that field, without a reload.
  await visit(page, `${server.url}/w/${ws}/destinations/${state.webhook}`);
  await page.fill('#cfg-webhookUrl', '');
  await page.click('form.card button[type=submit]');
  await page.waitForSelector('.field.invalid #cfg-webhookUrl');
  assert.equal((await page.textContent('.field.invalid .error')).trim(), 'Required.');

  const remaining = watcher.problems().filter((m) => !isExpectedFailedRequest(m));
  assert.deepEqual(remaining, [], 'the interactions log nothing');
});

/** The browser itself logs a failed request (here: the deliberate 422) as a console error. */
function isExpectedFailedRequest(message) {
  return message.type === 'error' && /Failed to load resource: the server responded with a status of 422/.test(message.text);
}

async function eventuallyCount(page, selector, count) {
  await page.waitForFunction(([s, n]) => document.querySelectorAll(s).length === n, [selector, count]);
}

test('pages of things that are not there answer 404, and still hydrate without errors', { timeout: 120_000 }, async (t) => {
  assert.ok(state.ws, 'set up first');
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const watcher = watchConsole(page);
  await signInThroughUi(page, server.url, OWNER);
  const problems = {};
  for (const path of [
    `/w/${state.ws}/sources/no-such-source`,
    `/w/${state.ws}/destinations/no-such-destination`,
    '/w/no-such-workspace',
    '/w/no-such-workspace/settings',
    '/no-such-page',
  ]) {
    watcher.clear();
    const response = await visit(page, `${server.url}${path}`);
    await page.waitForTimeout(250);
    const found = watcher
      .problems()
      // Chrome's own line for the document's status, not something the page logged.
      .filter((m) => !(m.type === 'error' && /status of 404/.test(m.text) && m.location?.url === `${server.url}${path}`))
      .map((m) => `${m.type}: ${m.text}`);
    if (response.status() !== 404) found.push(`status ${response.status()}`);
    if (!/not found/i.test(await page.textContent('h1, h2'))) found.push(`heading: ${await page.textContent('h1, h2')}`);
    if (found.length) problems[path] = found;
  }
  assert.deepEqual(problems, {});
});

// Chrome's hints are not errors, but each one is a form a password manager or a screen reader handles worse.
test('Chrome has no hint about the markup of any page visited above', () => {
  assert.deepEqual([...new Set(hints)], []);
});
