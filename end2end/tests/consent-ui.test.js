// Consent management the way a person sets it up: on the consent page, the custom consent manager with two
// categories (a 422 shown beside the field it names, first); on two destinations' Consent tabs, the consents each
// requires; the config a data plane pulls then carries each destination's `consentManagement`. The simulator
// shows the difference between the data plane's rule (cloud mode: only denied ids count) and the browser
// SDK's (device mode: the ids must be allowed). Removing a category a destination still requires is refused,
// naming the destination.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  cleanups,
  debug,
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

/** Waits for the toast saying `text`. */
async function toast(page, text) {
  await page.locator(`.toast:text-is("${text}")`).waitFor({ timeout: 10_000 });
}

/** On a destination's page: ticks `consents` of the custom consent manager, picks `strategy`, saves. */
async function requireConsents(page, url, consents, strategy) {
  await visit(page, url);
  const custom = page.locator('[data-testid=destination-consent] fieldset[data-provider=custom]');
  await custom.waitFor();
  for (const id of consents) await custom.locator(`input[data-consent="${id}"]`).check();
  await custom.locator(`input[type=radio][value=${strategy}]`).check();
  await page.click('[data-testid=save-consent]');
  await toast(page, 'Consent requirements saved.');
}

/** Marks each category in the simulator, runs it, and returns each destination's row by id. */
async function simulate(page, choices) {
  const simulator = page.locator('[data-testid=consent-simulator]');
  for (const [id, choice] of Object.entries(choices)) {
    const button = simulator.locator(`.consent-choice[data-consent="${id}"] button[data-choice=${choice}]`);
    await button.click();
    assert.equal(await button.getAttribute('aria-pressed'), 'true');
  }
  const before = await page.locator('[data-testid=sim-results]').count();
  await page.click('[data-testid=run-simulation]');
  if (before === 0) await page.locator('[data-testid=sim-results]').waitFor();
  await page.waitForLoadState('networkidle');
  return async (destinationId) => {
    const row = page.locator(`[data-testid=sim-destination][data-destination="${destinationId}"]`);
    await row.waitFor();
    return {
      receives: await row.getAttribute('data-receives'),
      mode: (await row.locator('td').nth(1).textContent()).trim(),
      verdict: (await row.locator('[data-testid=sim-verdict]').textContent()).trim(),
      reason: (await row.locator('[data-testid=sim-reason]').textContent()).trim(),
    };
  };
}

test('consent: settings, a destination\'s consents, the served config and the simulator', { timeout: 180_000 }, async (t) => {
  const owner = await signIn(server.url);
  const ws = owner.me.workspaces[0].id;
  const api = (rest) => `/api/v1/workspaces/${ws}${rest}`;
  const source = await owner.post(api('/sources'), { name: 'Shop website', type: 'Javascript' });
  const webhook = await owner.post(api('/destinations'), {
    name: 'Orders webhook',
    type: 'WEBHOOK',
    config: { webhookUrl: 'https://hooks.example.com/orders', webhookMethod: 'POST', headers: [] },
  });
  const amplitude = await owner.post(api('/destinations'), {
    name: 'Product analytics',
    type: 'AM',
    config: { apiKey: 'amplitude-browser-key', apiSecret: 'amplitude-secret', connectionMode: { web: 'device' } },
  });
  for (const destination of [webhook, amplitude]) {
    await owner.post(api('/connections'), { sourceId: source.id, destinationId: destination.id });
  }
  const { token } = await owner.post(api('/data-plane-tokens'), { name: 'consent checks' });

  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLog = watchConsole(page);
  await signInThroughUi(page, server.url);

  debug("consent: a destination's Consent tab before the workspace has a consent manager");
  await visit(page, `${server.url}/w/${ws}/destinations/${webhook.id}`);
  await page.click('nav.tabs a:text-is("Consent")');
  await page.waitForURL(`${server.url}/w/${ws}/destinations/${webhook.id}/consent`);
  await page.locator('[data-testid=consent-none]').waitFor();
  await screenshot(page, 'destination-consent-none');
  await page.click(`[data-testid=consent-none] a[href="/w/${ws}/consent"]`);

  debug('consent: the page, reached client-side (its chunk is loaded then)');
  await page.waitForURL(`${server.url}/w/${ws}/consent`);
  await page.locator('[data-testid=no-consent-manager]').waitFor();
  assert.equal(await page.locator('nav.sidebar a[aria-current=page]').textContent(), 'Consent');
  await screenshot(page, 'consent-empty');

  debug('consent: the custom consent manager; an empty id is refused beside its input');
  await page.click('[data-add-provider=custom]');
  const custom = page.locator('[data-testid=consent-settings] fieldset[data-provider=custom]');
  await custom.waitFor();
  assert.match(await custom.textContent(), /consent banner/);
  const rows = custom.locator('[data-testid=category-row]');
  assert.equal(await rows.count(), 1, 'a new consent manager starts with one row');
  await page.click('[data-testid=save-consent-settings]');
  const invalidId = rows.nth(0).locator('.field.invalid:has([data-testid=category-id])');
  await invalidId.waitFor();
  assert.ok((await invalidId.locator('.error').textContent()).length > 0, 'the message is beside the id');
  await screenshot(page, 'consent-settings-error');

  debug('consent: two categories, and a third one twice');
  await rows.nth(0).locator('[data-testid=category-id]').fill('analytics');
  await rows.nth(0).locator('[data-testid=category-label]').fill('Analytics');
  await custom.locator('[data-testid=add-category]').click();
  await rows.nth(1).locator('[data-testid=category-id]').fill('marketing');
  await rows.nth(1).locator('[data-testid=category-label]').fill('Marketing');
  await custom.locator('[data-testid=add-category]').click();
  await rows.nth(2).locator('[data-testid=category-id]').fill('marketing');
  await page.click('[data-testid=save-consent-settings]');
  const duplicate = rows.nth(2).locator('.field.invalid:has([data-testid=category-id]) .error');
  await duplicate.waitFor();
  assert.match(await duplicate.textContent(), /twice/);
  assert.equal(await rows.nth(0).locator('.field.invalid').count(), 0, 'the first row is fine now');
  await rows.nth(2).locator('button:text-is("Remove")').click();
  assert.equal(await rows.count(), 2);
  await page.click('[data-testid=save-consent-settings]');
  await toast(page, 'Consent settings saved.');
  assert.equal(await custom.locator('.field.invalid').count(), 0, 'the errors are gone');
  assert.deepEqual(await owner.get(api('/consent')), {
    providers: [
      {
        provider: 'custom',
        categories: [
          { id: 'analytics', label: 'Analytics' },
          { id: 'marketing', label: 'Marketing' },
        ],
      },
    ],
  });
  await screenshot(page, 'consent-settings');

  debug("consent: each destination's consents, set on its page");
  await requireConsents(page, `${server.url}/w/${ws}/destinations/${webhook.id}/consent`, ['marketing'], 'or');
  await screenshot(page, 'destination-consent');
  await requireConsents(page, `${server.url}/w/${ws}/destinations/${amplitude.id}/consent`, ['analytics'], 'and');
  await visit(page, `${server.url}/w/${ws}/destinations/${webhook.id}/consent`);
  const webhookCustom = page.locator('[data-testid=destination-consent] fieldset[data-provider=custom]');
  assert.equal(await webhookCustom.locator('input[data-consent=marketing]').isChecked(), true, 'saved, read back');
  assert.equal(await webhookCustom.locator('input[data-consent=analytics]').isChecked(), false);
  assert.equal(await webhookCustom.locator('input[type=radio][value=or]').isChecked(), true);

  debug('consent: what a data plane pulls');
  const { json: config } = await workspaceConfig(server.url, token);
  const served = (id) => config.sources.flatMap((s) => s.destinations).find((d) => d.id === id);
  assert.deepEqual(served(webhook.id).config.consentManagement, [
    { provider: 'custom', resolutionStrategy: 'or', consents: [{ consent: 'marketing' }] },
  ]);
  assert.deepEqual(served(amplitude.id).config.consentManagement, [
    { provider: 'custom', resolutionStrategy: 'and', consents: [{ consent: 'analytics' }] },
  ]);

  debug('consent: the simulator, marketing denied and analytics not reported');
  await visit(page, `${server.url}/w/${ws}/consent`);
  const outcome = await simulate(page, { marketing: 'denied' });
  assert.match(await page.textContent('[data-testid=sim-context]'), /"deniedConsentIds": \["marketing"\]/);
  const dropped = await outcome(webhook.id);
  assert.equal(dropped.receives, 'false', JSON.stringify(dropped));
  assert.equal(dropped.mode, 'cloud');
  assert.equal(dropped.verdict, 'Excluded');
  assert.match(dropped.reason, /^The data plane drops the event/);
  assert.match(dropped.reason, /marketing/);
  const notLoaded = await outcome(amplitude.id);
  assert.equal(notLoaded.receives, 'false', 'analytics was not denied, but device mode needs it allowed');
  assert.equal(notLoaded.mode, 'device');
  assert.match(notLoaded.reason, /^The SDK does not load it/);
  assert.match(notLoaded.reason, /analytics/);
  assert.match(
    await page.textContent(`[data-testid=sim-source][data-source="${source.id}"] .card-header`),
    /Shop website\s*web/,
    'the source, with its type',
  );
  await screenshot(page, 'consent-simulator-denied');

  debug('consent: analytics allowed, marketing not reported: both receive it');
  const allowed = await simulate(page, { analytics: 'allowed', marketing: 'unknown' });
  await page.locator(`[data-testid=sim-destination][data-destination="${amplitude.id}"][data-receives=true]`).waitFor();
  const delivered = await allowed(webhook.id);
  assert.equal(delivered.receives, 'true', `an id not reported never blocks cloud mode: ${JSON.stringify(delivered)}`);
  assert.equal((await allowed(amplitude.id)).verdict, 'Receives');
  await screenshot(page, 'consent-simulator-allowed');

  debug('consent: a category a destination requires cannot be removed');
  const marketingRow = page.locator('[data-testid=consent-settings] fieldset[data-provider=custom] [data-testid=category-row]').nth(1);
  await marketingRow.locator('button:text-is("Remove")').click();
  await page.click('[data-testid=save-consent-settings]');
  const refused = page.locator('[data-testid=consent-settings] fieldset[data-provider=custom] > .error');
  await refused.waitFor();
  assert.match(await refused.textContent(), /Orders webhook/);
  assert.equal((await owner.get(api('/consent'))).providers[0].categories.length, 2, 'nothing was removed');
  await screenshot(page, 'consent-settings-refused');

  // Chromium logs each refused save (the three 422s above): those, and nothing else.
  const refusedSave = (m) => /status of 422/.test(m.text) && m.location?.url === `${server.url}${api('/consent')}`;
  assert.equal(consoleLog.problems().filter(refusedSave).length, 3, 'the three refused saves');
  assert.deepEqual(consoleLog.problems().filter((m) => !refusedSave(m)), [], 'no other console error, warning or hydration message');
});

test('consent: viewers read the settings and simulate, without changing anything', { timeout: 120_000 }, async (t) => {
  const owner = await signIn(server.url);
  const ws = owner.me.workspaces[0].id;
  const { page, consoleLog } = await signInAsNewViewer(t, browser, server, owner, ws);
  await visit(page, `${server.url}/w/${ws}/consent`);
  await page.locator('[data-testid=consent-settings] fieldset[data-provider=custom]').waitFor();
  assert.equal(await page.locator('[data-testid=save-consent-settings]').count(), 0, 'no save for viewers');
  assert.equal(await page.locator('[data-add-provider]').count(), 0, 'no adding for viewers');
  assert.equal(await page.locator('[data-testid=category-id]').first().isDisabled(), true);
  const outcome = await simulate(page, { analytics: 'denied' });
  const [destination] = (await owner.get(`/api/v1/workspaces/${ws}/destinations`)).filter((d) => d.name === 'Product analytics');
  assert.equal((await outcome(destination.id)).receives, 'false');
  await visit(page, `${server.url}/w/${ws}/destinations/${destination.id}/consent`);
  const checkbox = page.locator('[data-testid=destination-consent] input[data-consent=analytics]');
  assert.equal(await checkbox.isChecked(), true);
  assert.equal(await checkbox.isDisabled(), true);
  assert.equal(await page.locator('[data-testid=save-consent]').count(), 0);
  await screenshot(page, 'destination-consent-viewer');
  assert.deepEqual(consoleLog.problems(), []);
});
