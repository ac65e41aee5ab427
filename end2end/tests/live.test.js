// The live debugger, the way a person uses it: open it, start the simulated data plane
// (`wheelhouse simulate`), watch events arrive, filter them, pause, open a payload; then see the simulator on
// the data planes page.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  cleanups,
  debug,
  eventually,
  hydrated,
  launchBrowser,
  screenshot,
  simulate,
  signIn,
  signInThroughUi,
  startServer,
  visit,
  watchConsole,
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

test('the live debugger shows what a data plane sends, filtered, paused and opened', { timeout: 180_000 }, async (t) => {
  const owner = await signIn(server.url);
  const ws = owner.me.workspaces[0].id;
  const source = await owner.post(`/api/v1/workspaces/${ws}/sources`, { name: 'Shop website', type: 'Javascript' });
  const destination = await owner.post(`/api/v1/workspaces/${ws}/destinations`, {
    name: 'Orders webhook',
    type: 'WEBHOOK',
    config: { webhookUrl: 'https://hooks.example.com/orders', webhookMethod: 'POST', headers: [] },
  });
  await owner.post(`/api/v1/workspaces/${ws}/connections`, { sourceId: source.id, destinationId: destination.id });
  const { token } = await owner.post(`/api/v1/workspaces/${ws}/data-plane-tokens`, { name: 'simulator' });

  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLog = watchConsole(page);
  await signInThroughUi(page, server.url);

  debug('live: open the live debugger from the sidebar, then start the simulator');
  await visit(page, `${server.url}/w/${ws}/live`);
  await hydrated(page);
  await page.locator('[data-testid=live-status][data-state=live]').waitFor({ timeout: 20_000 });
  const simulator = simulate(server, token, done);

  debug('live: events arrive');
  await page.locator('[data-testid=live-row]').first().waitFor({ timeout: 30_000 });
  await eventually(async () => (await page.locator('[data-testid=live-row]').count()) >= 10, {
    timeout: 30_000,
    message: `ten live events (simulator: ${simulator.output()})`,
  });
  const rowsText = await page.locator('[data-testid=live-row]').allTextContents();
  assert.ok(rowsText.some((r) => r.includes('Shop website')), `rows name the source: ${rowsText.slice(0, 3)}`);
  assert.ok(rowsText.some((r) => r.includes('Orders webhook')), 'rows name the destination');
  await screenshot(page, 'live-debugger');

  debug('live: open a payload');
  await page.locator('[data-testid=live-row]').first().click();
  const viewer = page.locator('[data-testid=payload-viewer]');
  await viewer.waitFor();
  await eventually(async () => /"messageId"/.test(await viewer.textContent()), { message: 'the payload, pretty-printed' });
  await screenshot(page, 'live-debugger-payload');

  debug('live: filter on failed deliveries');
  await page.selectOption('[data-testid=live-filter-status]', 'failed');
  await page.locator('[data-testid=live-status][data-state=live]').waitFor({ timeout: 20_000 });
  await eventually(async () => (await page.locator('[data-testid=live-row]').count()) >= 3, {
    timeout: 30_000,
    message: 'failed deliveries after filtering',
  });
  const statuses = await page.locator('[data-testid=live-row]').evaluateAll((rows) => rows.map((r) => r.dataset.status));
  assert.ok(statuses.every((s) => s === 'failed'), `only failures once filtered: ${statuses}`);

  debug('live: pause; arriving events are counted, not shown');
  await page.click('[data-testid=live-pause]:visible');
  const shownWhenPaused = await page.locator('[data-testid=live-row]').count();
  await eventually(async () => /[1-9]/.test(await page.locator('[data-testid=live-not-shown]').textContent()), {
    timeout: 30_000,
    message: 'a count of events not shown while paused',
  });
  assert.equal(await page.locator('[data-testid=live-row]').count(), shownWhenPaused, 'a paused view does not move');
  await screenshot(page, 'live-debugger-paused');
  await page.click('[data-testid=live-resume]:visible');

  debug('live: extend the capture');
  await page.click('[data-testid=live-extend]:visible');
  await page.locator('[data-testid=live-countdown]:visible').waitFor();

  debug('data planes: the simulator is listed, running the current config');
  await visit(page, `${server.url}/w/${ws}/data-planes`);
  await hydrated(page);
  const row = page.locator('[data-testid=data-plane-row]').filter({ hasText: 'e2e-simulator' });
  await row.waitFor({ timeout: 20_000 });
  assert.match(await row.textContent(), /wheelhouse-simulator/);
  await screenshot(page, 'data-planes');

  const list = await owner.get(`/api/v1/workspaces/${ws}/data-planes`);
  const simulated = list.dataPlanes.find((d) => d.instanceId === 'e2e-simulator');
  assert.equal(simulated.transport, 'websocket');
  assert.equal(simulated.connected, true);
  assert.ok(simulated.eventsReceived > 0 || simulated.appliedRevision > 0, JSON.stringify(simulated));
  assert.deepEqual(consoleLog.problems(), [], 'no console errors or warnings');
});
