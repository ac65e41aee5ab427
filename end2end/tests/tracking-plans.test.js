// Tracking plans, the way a person writes one: from the sidebar, create a plan, add a track event and its
// properties with the editor (a nested object, an array of objects, a rule), check the JSON Schema it writes
// (and edit it as JSON), save, publish version 1, see it among the versions; change a rule, publish version 2
// and read the diff.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  cleanups,
  debug,
  eventually,
  hydrated,
  launchBrowser,
  screenshot,
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

/**
 * Adds a property to the object whose fields `scope` holds (an event's card, or a property's row for its
 * nested properties), names it and picks its type; the new property's row.
 */
async function addProperty(scope, name, type, { required = false } = {}) {
  const rows = scope.locator('[data-testid=tp-property]');
  const before = await rows.count();
  await scope.locator('[data-testid=tp-add-property]').last().click();
  // Rows nested in an earlier row come before a new one of the same level: it is the next in the page.
  const row = rows.nth(before);
  const nameInput = row.locator('[data-testid=tp-prop-name]').first();
  await nameInput.waitFor();
  // The new property's name has the focus.
  await eventually(() => nameInput.evaluate((el) => el === document.activeElement), { message: 'the new property has the focus' });
  await nameInput.fill(name);
  if (type) await row.locator('[data-testid=tp-prop-type]').first().selectOption(type);
  if (required) await row.locator('[data-testid=tp-prop-required]').first().check();
  return row;
}

test('a tracking plan written with the editor, saved, published, changed and diffed', { timeout: 180_000 }, async (t) => {
  const owner = await signIn(server.url);
  const ws = owner.me.workspaces[0].id;

  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLog = watchConsole(page);
  // Publishing asks for confirmation.
  page.on('dialog', (dialog) => dialog.accept());
  await signInThroughUi(page, server.url);

  debug('tracking plans: from the sidebar to a new plan');
  await page.click('nav.sidebar a:has-text("Tracking plans")');
  await page.waitForURL(`**/w/${ws}/tracking-plans`);
  await page.locator('[data-testid=tp-list-empty]').waitFor();
  await page.click('[data-testid=tp-new-open]');
  await page.fill('[data-testid=tp-new-form] #field-name', 'Web app');
  await page.fill('[data-testid=tp-new-form] #field-description', 'Events of the shop website');
  await Promise.all([
    page.waitForURL(new RegExp(`/w/${ws}/tracking-plans/[^/?]+$`)),
    page.click('[data-testid=tp-create]'),
  ]);
  const planId = new URL(page.url()).pathname.split('/').pop();
  await page.locator('[data-testid=tp-no-events]').waitFor();
  assert.equal(await page.textContent('[data-testid=tp-name]'), 'Web app');
  assert.equal(await page.textContent('[data-testid=tp-latest-version]'), 'Not published');
  assert.ok(await page.isDisabled('[data-testid=tp-publish]'), 'nothing to publish yet');

  debug('tracking plans: a track event and its properties');
  await page.click('[data-testid=tp-add-event]');
  const event = page.locator('[data-testid=tp-event]').last();
  const eventName = event.locator('[data-testid=tp-event-name]');
  await eventName.waitFor();
  await eventName.fill('Order Completed');
  await event.locator('[data-testid=tp-event-description]').fill('A checkout went through');
  await addProperty(event, 'order_id', 'string', { required: true });
  const total = await addProperty(event, 'total', 'number', { required: true });
  await total.locator('[data-testid=tp-prop-rules]').first().click();
  await total.locator('[data-testid=tp-rule-minimum]').first().fill('0');
  const currency = await addProperty(event, 'currency', 'string');
  await currency.locator('[data-testid=tp-prop-rules]').first().click();
  await currency.locator('[data-testid=tp-rule-enum]').first().fill('USD, EUR');
  // A nested object with a required property.
  const address = await addProperty(event, 'address', 'object');
  await addProperty(address, 'city', 'string', { required: true });
  // An array of objects, with the items' own properties.
  const products = await addProperty(event, 'products', 'array');
  await products.locator('[data-testid=tp-item-type]').first().selectOption('object');
  await addProperty(products, 'sku', 'string', { required: true });
  await event.locator('[data-testid=tp-allow-unplanned]').last().uncheck();
  assert.match(await page.textContent('[data-testid=tp-savebar]'), /Unsaved changes/);
  await screenshot(page, 'tracking-plan-editor');

  debug('tracking plans: the JSON Schema the form wrote, then an edit of it');
  await event.locator('[data-testid=tp-event-json]').click();
  const raw = event.locator('[data-testid=tp-raw]');
  await raw.waitFor();
  const rules = JSON.parse(await raw.inputValue());
  const fields = rules.properties.properties;
  assert.deepEqual(fields.required, ['order_id', 'total']);
  assert.equal(fields.additionalProperties, false);
  assert.deepEqual(fields.properties.total, { type: 'number', minimum: 0 });
  assert.deepEqual(fields.properties.currency, { type: 'string', enum: ['USD', 'EUR'] });
  assert.deepEqual(fields.properties.address, {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
  });
  assert.deepEqual(fields.properties.products, {
    type: 'array',
    items: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] },
  });
  assert.deepEqual(rules.required, ['properties']);
  // Invalid JSON is said so, and changes nothing.
  await raw.fill('{ "type": ');
  await event.locator('[data-testid=tp-raw-error]').waitFor();
  // A property added (with a keyword the form does not edit) in the JSON shows in the form.
  fields.properties.coupon = { type: 'string', format: 'uuid' };
  await raw.fill(JSON.stringify(rules, null, 2));
  await event.locator('[data-testid=tp-raw-error]').waitFor({ state: 'detached' });
  await eventually(
    async () => (await event.locator('[data-testid=tp-prop-name]').evaluateAll((els) => els.map((e) => e.value))).includes('coupon'),
    { message: 'the property added in the JSON, in the form' },
  );
  await event.locator('[data-testid=tp-event-json]').click();

  debug('tracking plans: save');
  await page.click('[data-testid=tp-save]');
  await eventually(async () => /All changes saved/.test(await page.textContent('[data-testid=tp-savebar]')), {
    message: 'the draft saved',
  });
  const draft = await owner.get(`/api/v1/workspaces/${ws}/tracking-plans/${planId}`);
  assert.equal(draft.events.length, 1);
  assert.equal(draft.events[0].name, 'Order Completed');
  assert.equal(draft.events[0].eventType, 'track');
  assert.equal(draft.events[0].description, 'A checkout went through');
  assert.deepEqual(draft.events[0].rules.properties.properties.properties.coupon, { type: 'string', format: 'uuid' });
  assert.deepEqual(draft.events[0].rules.properties.properties.properties.address.required, ['city']);

  debug('tracking plans: the saved draft, loaded afresh (server-rendered, then hydrated)');
  await visit(page, page.url());
  await hydrated(page);
  assert.equal(await page.textContent('[data-testid=tp-event-title]'), 'Order Completed');
  assert.match(await page.textContent('[data-testid=tp-savebar]'), /All changes saved/);

  debug('tracking plans: publish version 1');
  await page.click('[data-testid=tp-publish]');
  await eventually(async () => (await page.textContent('[data-testid=tp-latest-version]')) === 'Version 1', {
    message: 'version 1 in the header',
  });
  await page.locator('[data-testid=tp-unpublished]').waitFor({ state: 'detached' });
  await page.click('[data-testid=tp-tab-versions]');
  const versionRows = page.locator('[data-testid=version-row]');
  await versionRows.first().waitFor();
  assert.equal(await versionRows.count(), 1);
  assert.match(await versionRows.first().textContent(), /Version 1/);
  await versionRows.first().locator('[data-testid=version-view]').click();
  await page.locator('[data-testid=version] [data-testid=tp-event-title]').waitFor();
  assert.equal(await page.textContent('[data-testid=version] [data-testid=tp-event-title]'), 'Order Completed');
  assert.ok(await page.locator('[data-testid=version] [data-testid=tp-prop-name]').first().isDisabled(), 'a version is read-only');
  await screenshot(page, 'tracking-plan-version-1');

  debug('tracking plans: change a rule, publish version 2, read the diff');
  await page.click('[data-testid=tp-tab-events]');
  const sameEvent = page.locator('[data-testid=tp-event]').first();
  const totalRow = sameEvent.locator('[data-testid=tp-property]').nth(1);
  assert.equal(await totalRow.locator('[data-testid=tp-prop-name]').first().inputValue(), 'total');
  await totalRow.locator('[data-testid=tp-prop-rules]').first().click();
  await totalRow.locator('[data-testid=tp-rule-maximum]').first().fill('10000');
  await page.click('[data-testid=tp-save]');
  await eventually(async () => /All changes saved/.test(await page.textContent('[data-testid=tp-savebar]')), {
    message: 'the change saved',
  });
  await page.locator('[data-testid=tp-unpublished]').waitFor();
  await page.click('[data-testid=tp-publish]');
  await eventually(async () => (await page.textContent('[data-testid=tp-latest-version]')) === 'Version 2', {
    message: 'version 2 in the header',
  });
  await page.click('[data-testid=tp-tab-versions]');
  await eventually(async () => (await page.locator('[data-testid=version-row]').count()) === 2, { message: 'two versions' });
  const rule = page.locator('[data-testid=diff] [data-testid=diff-rule]');
  await rule.first().waitFor();
  const diffText = await page.textContent('[data-testid=diff]');
  assert.match(diffText, /From version 1 to version 2/);
  assert.match(diffText, /Order Completed/);
  assert.match(await rule.first().textContent(), /total.*maximum.*10000/s);
  await screenshot(page, 'tracking-plan-diff');

  debug('tracking plans: the Versions tab loaded directly hydrates and shows the same diff');
  await visit(page, `${server.url}/w/${ws}/tracking-plans/${planId}?tab=versions`);
  await eventually(async () => (await page.locator('[data-testid=version-row]').count()) === 2, { message: 'two versions, loaded directly' });
  await page.locator('[data-testid=diff] [data-testid=diff-rule]').first().waitFor();
  await page.locator('[data-testid=version-row]').first().locator('[data-testid=version-view]').click();
  await page.locator('[data-testid=version] [data-testid=tp-event-title]').waitFor();

  assert.deepEqual(consoleLog.problems(), [], 'no console errors or warnings');
});
