// An instance admin groups workspaces into a namespace on the namespaces page; a multi-tenant data plane
// pulls them with the namespace's secret (shown once); a rotated secret replaces the old one at once.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { cleanups, debug, launchBrowser, random, signInThroughUi, startServer, visit, watchConsole } from './support.js';

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

/** What a multi-tenant rudder-server gets for the namespace, with the secret as Basic username. */
async function namespaceConfig(name, secret) {
  const response = await fetch(`${server.url}/data-plane/v1/namespaces/${name}/config`, {
    headers: { authorization: `Basic ${Buffer.from(`${secret}:`).toString('base64')}` },
  });
  return { status: response.status, json: response.ok ? await response.json() : null };
}

test('an instance admin makes a namespace that a multi-tenant data plane pulls', { timeout: 120_000 }, async (t) => {
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLog = watchConsole(page);
  page.on('dialog', (dialog) => dialog.accept());

  debug('namespaces: sign in and open the page from the sidebar');
  await signInThroughUi(page, server.url);
  const ws = new URL(page.url()).pathname.split('/')[2];
  await Promise.all([page.waitForURL(`${server.url}/instance/namespaces`), page.click('a[href="/instance/namespaces"]')]);
  await page.waitForSelector(`input[data-workspace="${ws}"]`);

  debug('namespaces: a bad name is refused beside the field');
  await page.fill('#field-name', 'Not OK!');
  await page.click('form button[type=submit]');
  await page.waitForSelector('.field.invalid #field-name');
  // Chrome logs the 422 itself; nothing else may appear from here on.
  consoleLog.clear();

  debug('namespaces: create one holding the workspace');
  const name = `eu-${random(4)}`;
  await page.fill('#field-name', name);
  await page.check(`input[data-workspace="${ws}"]`);
  await page.click('form button[type=submit]');
  const secret = (await page.locator('[data-testid=shown-once]').textContent()).trim();
  assert.match(secret, /^whk_ns_/);
  await page.locator(`tr[data-namespace="${name}"]`).waitFor();
  const first = await namespaceConfig(name, secret);
  assert.equal(first.status, 200);
  assert.deepEqual(Object.keys(first.json), [ws], 'the namespace serves the workspace');

  debug('namespaces: the secret is not on the page once dismissed, nor after a reload');
  await page.locator('.once').getByRole('button', { name: 'Done' }).click();
  assert.ok(!(await page.content()).includes(secret));
  await visit(page, `${server.url}/instance/namespaces`);
  assert.ok(!(await page.content()).includes(secret));

  debug('namespaces: take the workspace out');
  const row = page.locator(`tr[data-namespace="${name}"]`);
  await row.getByRole('button', { name: 'Workspaces' }).click();
  await page.locator(`tr.editing input[data-workspace="${ws}"]`).uncheck();
  await page.locator('tr.editing').getByRole('button', { name: 'Save' }).click();
  // The list reloads after the save: wait for the row to say so.
  await row.locator('td').nth(1).filter({ hasText: /^None$/ }).waitFor();
  assert.deepEqual(Object.keys((await namespaceConfig(name, secret)).json), []);

  debug('namespaces: rotate the secret');
  await row.getByRole('button', { name: 'Rotate secret' }).click();
  const rotated = (await page.locator('[data-testid=shown-once]').textContent()).trim();
  assert.notEqual(rotated, secret);
  assert.equal((await namespaceConfig(name, secret)).status, 401, 'the old secret stops working');
  assert.equal((await namespaceConfig(name, rotated)).status, 200);

  debug('namespaces: delete it');
  await page.locator('.once').getByRole('button', { name: 'Done' }).click();
  await row.getByRole('button', { name: 'Delete' }).click();
  await row.waitFor({ state: 'detached' });
  assert.equal((await namespaceConfig(name, rotated)).status, 401);
  assert.deepEqual(consoleLog.problems(), [], 'no console errors or warnings');
});
