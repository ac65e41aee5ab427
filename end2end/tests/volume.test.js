// Event volume and errors, the way a person reads them: a simulated data plane (`wheelhouse simulate`) reports
// its counts and failures (a `metrics` frame every 10 s); the destination's volume tab charts them and hovering a
// bar shows its exact counts; the table by event name sorts; the errors tab groups the failures, with samples;
// the source's tab counts what it received; the overview lists the destination among the busiest; the workspace
// settings change how long volume is kept.

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
  signInAsNewViewer,
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

/** The chart's legend as {label: value}: each layer's count at the hovered bar (the range's total otherwise). */
async function legend(page, testId) {
  return page.locator(`[data-testid=${testId}-legend]`).evaluate((table) => {
    const values = {};
    for (const row of table.querySelectorAll('.u-series')) {
      values[row.querySelector('.u-label')?.textContent.trim()] = row.querySelector('.u-value')?.textContent.trim();
    }
    return values;
  });
}

const count = (text) => Number(String(text ?? '').replace(/,/g, ''));

/**
 * Hovers the chart's bars from the right (the newest, where the simulator's events are) until the legend shows
 * a bar with events; returns that legend.
 */
async function hoverBarWithEvents(page, testId, layers) {
  const plot = page.locator(`[data-testid=${testId}] .u-over`);
  const box = await plot.boundingBox();
  assert.ok(box && box.width > 100, `the chart has a plotting area: ${JSON.stringify(box)}`);
  for (let x = box.width - 2; x > 0; x -= Math.max(2, box.width / 120)) {
    await page.mouse.move(box.x + x, box.y + box.height - 4);
    const values = await legend(page, testId);
    if (/UTC$/.test(values['Time (UTC)'] ?? '') && layers.some((layer) => count(values[layer]) > 0)) return values;
  }
  throw new Error(`no bar with events under the cursor: ${JSON.stringify(await legend(page, testId))}`);
}

/** Clicks the page's Refresh button until `selector` shows (the simulator reports every 10 s). */
async function refreshUntil(page, selector, message) {
  await eventually(
    async () => {
      if (await page.locator(selector).first().isVisible()) return true;
      await page.click('[data-testid=refresh]');
      await page.waitForLoadState('networkidle');
      return page.locator(selector).first().isVisible();
    },
    { timeout: 60_000, interval: 2_000, message },
  );
}

test('volume and errors show what a data plane reported', { timeout: 240_000 }, async (t) => {
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

  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLog = watchConsole(page);
  await signInThroughUi(page, server.url);

  debug('volume: before any report, the tab says what to do');
  await visit(page, `${server.url}/w/${ws}/destinations/${destination.id}/volume`);
  await page.locator('[data-testid=volume-empty]').waitFor();
  assert.match(await page.locator('[data-testid=volume-empty]').textContent(), /wheelhouse simulate/);

  const simulator = simulate(server, token, done, { instanceId: 'e2e-volume-simulator' });
  debug('volume: the API has the first metrics frame');
  const range = () => {
    const now = Date.now();
    return `from=${new Date(now - 3_600_000).toISOString()}&to=${new Date(now + 60_000).toISOString()}`;
  };
  await eventually(
    async () => {
      const series = await owner.get(`/api/v1/workspaces/${ws}/destinations/${destination.id}/volume?${range()}&groupBy=status`);
      const has = (statuses) => series.rows.some((row) => statuses.includes(row.status) && row.count > 0);
      // The simulator's first frame comes at once, with a few events; the next one, 10 s later, with hundreds.
      const total = series.rows.reduce((sum, row) => sum + row.count, 0);
      return has(['succeeded']) && has(['failed', 'aborted']) && total >= 100;
    },
    { timeout: 60_000, interval: 1_000, message: `a destination's volume (simulator: ${simulator.output()})` },
  );

  debug('volume: the last 24 hours, by the hour');
  await refreshUntil(page, '[data-testid=volume-totals]', 'the volume totals');
  await page.locator('[data-testid=volume-chart-legend]').waitFor({ timeout: 20_000 });
  assert.ok(count(await page.locator('[data-testid=total-delivered]').textContent()) > 0, 'delivered events');
  assert.ok(count(await page.locator('[data-testid=total-failed]').textContent()) > 0, 'failed events');
  const day = await hoverBarWithEvents(page, 'volume-chart', ['Succeeded', 'Failed']);
  debug('volume: hovered', JSON.stringify(day));
  assert.ok(count(day.Succeeded) > 0, `a bar's delivered events in the legend: ${JSON.stringify(day)}`);
  await screenshot(page, 'volume-destination-24h');

  debug('volume: the last hour, by the minute');
  await page.click('[data-testid=range-1h]');
  await eventually(async () => /per minute/.test(await page.locator('[data-testid=volume-totals]').textContent()), {
    timeout: 20_000,
    message: 'the last hour, per minute',
  });
  const hour = await hoverBarWithEvents(page, 'volume-chart', ['Succeeded', 'Failed']);
  assert.ok(count(hour.Succeeded) + count(hour.Failed) > 0, JSON.stringify(hour));
  assert.match(hour['Time (UTC)'], /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
  await screenshot(page, 'volume-destination-1h');

  debug('volume: by event name, sorted by failures');
  const rows = page.locator('[data-testid=volume-event-row]');
  await rows.first().waitFor();
  assert.ok((await rows.count()) >= 2, 'several event names');
  await page.click('[data-testid=sort-failed]');
  assert.equal(await page.locator('th:has([data-testid=sort-failed])').getAttribute('aria-sort'), 'descending');
  const failed = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.children[2].textContent.replace(/,/g, ''))));
  assert.deepEqual(failed, [...failed].sort((a, b) => b - a), `failures, most first: ${failed}`);
  await page.click('[data-testid=sort-failed]');
  assert.equal(await page.locator('th:has([data-testid=sort-failed])').getAttribute('aria-sort'), 'ascending');

  debug('volume: a custom range (UTC)');
  await page.click('[data-testid=range-custom]');
  const from = await page.inputValue('[data-testid=range-from]');
  assert.match(from, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);
  await page.fill('[data-testid=range-to]', from);
  await page.click('[data-testid=range-apply]');
  await page.locator('.custom-range [role=alert]').waitFor();
  await page.fill('[data-testid=range-to]', new Date(Date.now() + 120_000).toISOString().slice(0, 16));
  await page.click('[data-testid=range-apply]');
  await eventually(async () => count(await page.locator('[data-testid=total-delivered]').textContent()) > 0, {
    message: 'the custom range read',
  });

  debug('errors: the failures, grouped, with samples');
  await page.click('nav.tabs a:text-is("Errors")');
  await page.waitForURL(/\/errors$/);
  await refreshUntil(page, '[data-testid=error-group]', 'an error group');
  const group = page.locator('[data-testid=error-group]').first();
  assert.ok(count(await group.locator('[data-testid=error-count]').textContent()) > 0, 'a group counts its failures');
  assert.match(await group.locator('[data-testid=error-status]').textContent(), /^\d{3}$|no status/);
  await group.locator('[data-testid=error-trend-legend]').waitFor({ timeout: 20_000 });
  const samples = group.locator('[data-testid=error-samples]');
  await refreshUntil(page, '[data-testid=error-samples]', 'error samples (owners see them)');
  await samples.locator('summary').click();
  await samples.locator('pre.snippet').first().waitFor();
  await screenshot(page, 'volume-errors');

  debug('volume: the source received events');
  await visit(page, `${server.url}/w/${ws}/sources/${source.id}/volume`);
  await refreshUntil(page, '[data-testid=volume-totals]', "the source's totals");
  assert.ok(count(await page.locator('[data-testid=total-received]').textContent()) > 0, 'received events');
  await page.locator('[data-testid=volume-chart-legend]').waitFor({ timeout: 20_000 });
  const received = await hoverBarWithEvents(page, 'volume-chart', ['Received']);
  assert.ok(count(received.Received) > 0, JSON.stringify(received));
  await screenshot(page, 'volume-source');

  debug('overview: the destination is among the busiest, and leads to its volume');
  await visit(page, `${server.url}/w/${ws}`);
  const busiest = page.locator('[data-testid=busiest-destinations]');
  assert.match(await busiest.textContent(), /Orders webhook/);
  assert.match(await page.locator('[data-testid=failing-destinations]').textContent(), /Orders webhook/);
  await screenshot(page, 'overview-volume');
  await busiest.locator('a:text-is("Orders webhook")').click();
  await page.waitForURL(new RegExp(`/destinations/${destination.id}/volume$`));

  debug('errors and settings as a viewer: no samples, retention read-only');
  const { page: viewerPage, consoleLog: viewerConsole } = await signInAsNewViewer(t, browser, server, owner, ws);
  await visit(viewerPage, `${server.url}/w/${ws}/destinations/${destination.id}/errors`);
  await viewerPage.locator('[data-testid=error-group]').first().waitFor();
  assert.match(await viewerPage.locator('[data-testid=samples-hidden]').textContent(), /editors and admins only/);
  assert.equal(await viewerPage.locator('[data-testid=error-samples]').count(), 0, 'viewers get no samples');
  await screenshot(viewerPage, 'volume-errors-viewer');
  await visit(viewerPage, `${server.url}/w/${ws}/settings`);
  assert.match(await viewerPage.locator('[data-testid=volume-retention]').textContent(), /48 hours/);
  assert.equal(await viewerPage.isDisabled('[data-testid=disable-reporting-pii]'), true);
  assert.equal(await viewerPage.locator('[data-testid=save-volume-settings]').count(), 0);
  assert.deepEqual(viewerConsole.problems(), [], 'no console errors or warnings for the viewer');

  debug('settings: how long volume is kept');
  await visit(page, `${server.url}/w/${ws}/settings`);
  assert.equal(await page.isChecked('[data-testid=disable-reporting-pii]'), false);
  assert.equal(await page.inputValue('#field-volumeMinuteRetentionHours'), '48');
  await page.fill('#field-volumeMinuteRetentionHours', '999');
  await page.click('[data-testid=save-volume-settings]');
  await page.locator('.field.invalid #field-volumeMinuteRetentionHours').waitFor();
  await page.fill('#field-volumeMinuteRetentionHours', '72');
  await page.check('[data-testid=disable-reporting-pii]');
  await page.click('[data-testid=save-volume-settings]');
  await eventually(async () => {
    const workspace = await owner.get(`/api/v1/workspaces/${ws}`);
    return workspace.volumeMinuteRetentionHours === 72 && workspace.disableReportingPii === true;
  }, { message: 'the settings saved' });
  await screenshot(page, 'settings-volume');

  debug('errors: with samples turned off, the page says so');
  await visit(page, `${server.url}/w/${ws}/destinations/${destination.id}/errors`);
  assert.match(await page.locator('[data-testid=samples-hidden]').textContent(), /drops event samples/);

  // Chrome logs the deliberate 422 (the retention out of range) itself; nothing else may appear.
  const deliberate = (m) => m.type === 'error' && /status of 422/.test(m.text) && /\/api\/v1\/workspaces\/[^/]+$/.test(m.location?.url ?? '');
  assert.deepEqual(consoleLog.problems().filter((m) => !deliberate(m)), [], 'no console errors or warnings');
});
