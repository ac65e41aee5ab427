// Tracking plans as a person uses them with a data plane: a plan created and published through the API is
// linked to a source on the source's page, with settings; the data plane's config then carries the link
// (`dgSourceTrackingPlanConfig`, as rudder-server decodes it); on the plan's page, an invalid event pasted into
// "Check an event" comes back with its violation beside the offending property.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  cleanups,
  debug,
  eventually,
  launchBrowser,
  screenshot,
  signIn,
  signInAsNewViewer,
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

/** An order event's rules: JSON Schema over the whole message, properties under `properties.properties`. */
const ORDER_COMPLETED = {
  name: 'Order Completed',
  eventType: 'track',
  description: 'A customer completed a checkout.',
  rules: {
    type: 'object',
    properties: {
      properties: {
        type: 'object',
        properties: {
          order_id: { type: 'string' },
          revenue: { type: 'number' },
          currency: { type: 'string', enum: ['USD', 'EUR'] },
        },
        required: ['order_id', 'revenue', 'currency'],
        additionalProperties: false,
      },
    },
    required: ['properties'],
  },
};

/** The event as the preview shows it: each line's code and the violation types beside it. */
async function annotatedLines(page) {
  return page.locator('[data-testid=preview-result] .json-row').evaluateAll((rows) =>
    rows.map((row) => ({
      code: row.querySelector('.json-code')?.textContent.trim(),
      flagged: row.classList.contains('flagged'),
      notes: [...row.querySelectorAll('[data-testid=violation] .vt-badge')].map((b) => b.textContent.trim()),
    })),
  );
}

test('a source is linked to a published plan in the UI, the data plane gets it, and the preview flags a property', { timeout: 180_000 }, async (t) => {
  const owner = await signIn(server.url);
  const ws = owner.me.workspaces[0].id;
  const api = `/api/v1/workspaces/${ws}`;
  const source = await owner.post(`${api}/sources`, { name: 'Shop website', type: 'Javascript' });
  const plan = await owner.post(`${api}/tracking-plans`, {
    name: 'Checkout',
    description: 'What the shop sends when people buy.',
    events: [ORDER_COMPLETED],
  });
  const published = await owner.post(`${api}/tracking-plans/${plan.id}/publish`, {});
  assert.equal(published.version, 1);
  const { token } = await owner.post(`${api}/data-plane-tokens`, { name: 'rudder-server' });

  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLog = watchConsole(page);
  await signInThroughUi(page, server.url);

  debug('link: the source page says it is not linked');
  await visit(page, `${server.url}/w/${ws}/sources/${source.id}`);
  const card = page.locator('[data-testid=source-tracking-plan]');
  await card.locator('[data-testid=tp-unlinked]').waitFor();

  debug('link: choose the plan (its latest version comes with it) and two settings');
  await card.locator('[data-testid=tp-plan]').selectOption(plan.id);
  await eventually(async () => (await card.locator('[data-testid=tp-version]').inputValue()) === '1', {
    message: 'the latest version chosen with the plan',
  });
  await card.locator('[data-testid=tp-setting-global-anyOtherViolation]').selectOption('drop');
  await card.locator('[data-testid=tp-setting-track-allowUnplannedEvents]').selectOption('false');
  await card.locator('[data-testid=tp-setting-global-sendViolatedEventsTo]').selectOption('procerrors');
  await card.scrollIntoViewIfNeeded();
  await screenshot(page, 'tracking-plan-source-link-form');
  await card.locator('[data-testid=tp-save]').click();
  const linked = card.locator('[data-testid=tp-linked]');
  await linked.waitFor();
  assert.match(await linked.textContent(), /Checkout.*version 1/);
  assert.equal(await card.locator(`[data-testid=tp-linked] a[href="/w/${ws}/tracking-plans/${plan.id}"]`).count(), 1);

  const link = await owner.get(`${api}/sources/${source.id}/tracking-plan`);
  assert.equal(link.trackingPlanId, plan.id);
  assert.equal(link.version, 1);

  debug('link: the data plane config carries it');
  const expected = {
    sourceId: source.id,
    version: link.linkVersion,
    config: {
      global: {
        allowUnplannedEvents: 'true',
        unplannedProperties: 'forward',
        anyOtherViolation: 'drop',
        sendViolatedEventsTo: 'procerrors',
        propagateValidationErrors: 'true',
      },
      track: { allowUnplannedEvents: 'false' },
    },
    mergedConfig: null,
    deleted: false,
    trackingPlan: { id: plan.id, version: 1 },
  };
  const served = await eventually(
    async () => {
      const { json } = await workspaceConfig(server.url, token);
      return json.sources.find((s) => s.id === source.id)?.dgSourceTrackingPlanConfig;
    },
    { timeout: 10_000, message: 'dgSourceTrackingPlanConfig in /workspaceConfig' },
  );
  assert.deepEqual(served, expected);

  debug('link: a reload shows what was saved');
  await visit(page, `${server.url}/w/${ws}/sources/${source.id}`);
  await card.locator('[data-testid=tp-linked]').waitFor();
  assert.equal(await card.locator('[data-testid=tp-setting-global-anyOtherViolation]').inputValue(), 'drop');
  assert.equal(await card.locator('[data-testid=tp-setting-track-allowUnplannedEvents]').inputValue(), 'false');
  assert.equal(await card.locator('[data-testid=tp-setting-page-allowUnplannedEvents]').inputValue(), '', 'page follows all types');
  await card.scrollIntoViewIfNeeded();
  await screenshot(page, 'tracking-plan-source-linked');

  debug('preview: an order with a revenue of the wrong type');
  await visit(page, `${server.url}/w/${ws}/tracking-plans/${plan.id}?tab=preview`);
  const preview = page.locator('[data-testid=validate-preview]');
  await preview.waitFor();
  const invalid = {
    type: 'track',
    event: 'Order Completed',
    userId: 'user-1042',
    properties: { order_id: 'o-50314', revenue: '25.50', currency: 'USD' },
    context: { library: { name: 'RudderLabs JavaScript SDK', version: '3.34.1' } },
  };
  await preview.locator('[data-testid=preview-event]').fill(JSON.stringify(invalid, null, 2));
  await preview.locator('[data-testid=preview-version]').selectOption('1');
  await preview.locator('[data-testid=preview-validate]').click();
  await preview.locator('[data-testid=preview-result]').waitFor();
  assert.match(await preview.locator('[data-testid=preview-summary]').textContent(), /1 violation against version 1/);
  const lines = await annotatedLines(page);
  const revenue = lines.find((l) => l.code === '"revenue": "25.50",');
  assert.ok(revenue, `the revenue line: ${JSON.stringify(lines)}`);
  assert.deepEqual(revenue.notes, ['Datatype-Mismatch'], 'the violation is beside the revenue');
  assert.ok(revenue.flagged);
  assert.deepEqual(lines.filter((l) => l.notes.length).map((l) => l.code), ['"revenue": "25.50",'], 'and nowhere else');
  await screenshot(page, 'tracking-plan-preview-datatype');

  debug('preview: a missing property and an extra one, against the draft');
  const missing = { ...invalid, properties: { order_id: 'o-50314', revenue: 25.5, coupon: 'WINTER10' } };
  await preview.locator('[data-testid=preview-event]').fill(JSON.stringify(missing, null, 2));
  await preview.locator('[data-testid=preview-version]').selectOption('');
  await preview.locator('[data-testid=preview-validate]').click();
  await eventually(async () => /against the draft/.test(await preview.locator('[data-testid=preview-summary]').textContent()), {
    message: 'the draft result',
  });
  const draftLines = await annotatedLines(page);
  const properties = draftLines.find((l) => l.code === '"properties": {');
  assert.ok(properties?.notes.includes('Required-Missing'), `the missing currency is beside its object: ${JSON.stringify(draftLines)}`);
  const coupon = draftLines.find((l) => l.code === '"coupon": "WINTER10"');
  assert.deepEqual(coupon?.notes, ['Additional-Properties'], `the extra coupon is beside it: ${JSON.stringify(draftLines)}`);
  await screenshot(page, 'tracking-plan-preview-draft');

  debug('preview: an event the plan does not name is about the whole event');
  const unplanned = { ...invalid, event: 'Order Refunded' };
  await preview.locator('[data-testid=preview-event]').fill(JSON.stringify(unplanned, null, 2));
  await preview.locator('[data-testid=preview-validate]').click();
  const whole = preview.locator('[data-testid=whole-event-violations]');
  await whole.waitFor();
  assert.match(await whole.textContent(), /Unplanned-Event/);

  debug('preview: what is not JSON is said so, before anything is sent');
  await preview.locator('[data-testid=preview-event]').fill('{"type": "track",');
  await preview.locator('[data-testid=preview-validate]').click();
  assert.match(await preview.locator('[data-testid=preview-invalid]').textContent(), /not valid JSON/);

  debug('a viewer sees the link, cannot change it, and can check an event');
  const { page: viewerPage, consoleLog: viewerConsole } = await signInAsNewViewer(t, browser, server, owner, ws);
  await visit(viewerPage, `${server.url}/w/${ws}/sources/${source.id}`);
  const viewerCard = viewerPage.locator('[data-testid=source-tracking-plan]');
  await viewerCard.locator('[data-testid=tp-linked]').waitFor();
  assert.equal(await viewerCard.locator('[data-testid=tp-setting-global-anyOtherViolation]').inputValue(), 'drop');
  assert.equal(await viewerCard.locator('[data-testid=tp-setting-global-anyOtherViolation]').isDisabled(), true);
  assert.equal(await viewerCard.locator('[data-testid=tp-plan]').isDisabled(), true);
  assert.equal(await viewerCard.locator('[data-testid=tp-save], [data-testid=tp-unlink]').count(), 0, 'no save or unlink');
  await visit(viewerPage, `${server.url}/w/${ws}/tracking-plans/${plan.id}?tab=preview`);
  await viewerPage.locator('[data-testid=preview-event]').fill(JSON.stringify(invalid, null, 2));
  await viewerPage.locator('[data-testid=preview-validate]').click();
  assert.match(await viewerPage.locator('[data-testid=preview-summary]').textContent(), /1 violation against the draft/);
  assert.deepEqual(viewerConsole.problems(), [], 'no console errors or warnings for the viewer');

  debug('unlink');
  await visit(page, `${server.url}/w/${ws}/sources/${source.id}`);
  page.once('dialog', (dialog) => dialog.accept());
  await card.locator('[data-testid=tp-unlink]').click();
  await card.locator('[data-testid=tp-unlinked]').waitFor();
  const { json } = await workspaceConfig(server.url, token);
  const gone = json.sources.find((s) => s.id === source.id).dgSourceTrackingPlanConfig;
  assert.ok(!gone?.trackingPlan?.id || gone.deleted === true, `no link served: ${JSON.stringify(gone)}`);

  assert.deepEqual(consoleLog.problems(), [], 'no console errors or warnings');
});
