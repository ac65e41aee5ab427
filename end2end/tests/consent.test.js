// Consent management with the real RudderStack JavaScript SDK (@rudderstack/analytics-js, its bundled build),
// against the source config Wheelhouse serves. The workspace uses the custom consent manager (analytics,
// marketing); a device-mode destination that needs analytics, one that needs marketing, and a cloud-mode one.
// Loaded with analytics allowed and marketing denied, the SDK loads only the first in the browser (the other's
// integration script is never requested), and every event carries the `context.consentManagement` that
// rudder-server filters cloud-mode destinations on.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  bearer,
  cleanups,
  eventually,
  launchBrowser,
  random,
  recordingDataPlane,
  sdkPage,
  sdkSite,
  signIn,
  startServer,
  watchConsole,
} from './support.js';

/**
 * Stand-ins for two integration scripts (RudderStack's CDN is not reachable here): the SDK mounts
 * `window.<Name>_RS.<Name>`, constructs it with the destination's browser config and hands it events.
 */
const standIn = (name) => `
window.deviceModeCalls = window.deviceModeCalls || [];
window.${name}_RS = { ${name}: class {
  constructor() { window.deviceModeCalls.push(['constructed', ${JSON.stringify(name)}]); }
  init() {}
  isLoaded() { return true; }
  isReady() { return true; }
  track(event) { window.deviceModeCalls.push(['track', ${JSON.stringify(name)}, event?.message?.event]); }
  page() {}
  identify() {}
  group() {}
  alias() {}
} };
`;

const done = cleanups();
let server;
let browser;
let site;
let dataPlane;
const setup = {};

before(async () => {
  server = await startServer();
  done.add(() => server.stop());
  dataPlane = await recordingDataPlane();
  done.add(() => dataPlane.close());
  // `?allowed=a,b&denied=c`: the consents the page gives the SDK at load.
  site = await sdkSite({
    page: (params, siteUrl) => {
      const ids = (name) => (params.get(name) ? params.get(name).split(',') : []);
      return sdkPage({
        writeKey: params.get('writeKey'),
        dataPlaneUrl: dataPlane.url,
        options: {
          configUrl: server.url,
          destSDKBaseURL: `${siteUrl}/js-integrations`,
          pluginsSDKBaseURL: `${siteUrl}/plugins`,
          logLevel: 'WARN',
          consentManagement: {
            enabled: true,
            provider: 'custom',
            allowedConsentIds: ids('allowed'),
            deniedConsentIds: ids('denied'),
          },
        },
      });
    },
    integrations: { 'Amplitude.min.js': standIn('Amplitude'), 'GA4.min.js': standIn('GA4') },
  });
  done.add(() => site.close());
  browser = await launchBrowser();
  done.add(() => browser.close());

  const session = await signIn(server.url);
  const workspace = await session.post('/api/v1/workspaces', { name: `Consent ${random(3)}` });
  const { token } = await session.post('/api/v1/tokens', { name: 'consent test', workspaceId: workspace.id, role: 'editor' });
  const api = bearer(server.url, token);
  const ws = `/api/v1/workspaces/${workspace.id}`;
  await api.api('PUT', `${ws}/consent`, {
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
  const source = await api.post(`${ws}/sources`, { name: 'Website', type: 'Javascript', config: {} });
  const amplitude = await api.post(`${ws}/destinations`, {
    name: 'Product analytics',
    type: 'AM',
    config: { apiKey: 'amplitude-browser-key', apiSecret: 'amplitude-secret', connectionMode: { web: 'device' } },
  });
  const ga4 = await api.post(`${ws}/destinations`, {
    name: 'Ads measurement',
    type: 'GA4',
    config: { typesOfClient: 'gtag', apiSecret: 'ga4-secret', measurementId: 'G-CONSENT1', connectionMode: { web: 'device' } },
  });
  const webhook = await api.post(`${ws}/destinations`, {
    name: 'Marketing hook',
    type: 'WEBHOOK',
    config: { webhookUrl: 'https://hooks.example.com/marketing' },
  });
  for (const destination of [amplitude, ga4, webhook]) {
    await api.post(`${ws}/connections`, { sourceId: source.id, destinationId: destination.id });
  }
  const requires = (destination, consents, resolutionStrategy) =>
    api.api('PUT', `${ws}/destinations/${destination.id}/consent`, {
      providers: [{ provider: 'custom', consents, resolutionStrategy }],
    });
  await requires(amplitude, ['analytics'], 'and');
  await requires(ga4, ['analytics', 'marketing'], 'and');
  await requires(webhook, ['marketing'], 'or');
  Object.assign(setup, { api, ws, source, amplitude, ga4, webhook });
});

after(() => done.run());

/** Opens the SDK page with these consents; resolves with the page, its console and the source config it got. */
async function openPage(t, { allowed, denied }) {
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLog = watchConsole(page);
  const sourceConfig = [];
  page.on('response', async (response) => {
    if (response.url().startsWith(`${server.url}/sourceConfig`)) sourceConfig.push(await response.json());
  });
  const query = new URLSearchParams({ writeKey: setup.source.writeKey, allowed: allowed.join(','), denied: denied.join(',') });
  await page.goto(`${site.url}/?${query}`);
  await page.waitForFunction(() => window.sdkReady === true, null, { timeout: 20_000 });
  return { page, consoleLog, sourceConfig };
}

const tracked = (event) =>
  dataPlane.received
    .filter((r) => r.method === 'POST' && r.path.startsWith('/v1/track'))
    .map((r) => JSON.parse(r.body))
    .filter((body) => body.event === event);

test('a destination whose consents are denied is not loaded, and events carry the consents', { timeout: 120_000 }, async (t) => {
  const scriptsBefore = site.integrationScripts.length;
  const { page, consoleLog, sourceConfig } = await openPage(t, { allowed: ['analytics'], denied: ['marketing'] });

  // What the SDK read: the provider list where it looks for it, and each device-mode destination's consents.
  await eventually(() => sourceConfig.length === 1, { message: 'the source config' });
  const [config] = sourceConfig;
  assert.deepEqual(config.consentManagementMetadata, { providers: [{ provider: 'custom' }] });
  const byId = Object.fromEntries(config.source.destinations.map((d) => [d.id, d]));
  assert.deepEqual(Object.keys(byId).sort(), [setup.amplitude.id, setup.ga4.id].sort(), 'the webhook is the data plane\'s');
  assert.deepEqual(byId[setup.ga4.id].config.consentManagement, [
    { provider: 'custom', resolutionStrategy: 'and', consents: [{ consent: 'analytics' }, { consent: 'marketing' }] },
  ]);

  // Amplitude (analytics: allowed) is loaded and gets events; GA4 (needs marketing too) is never requested.
  await page.waitForFunction(() => (window.deviceModeCalls ?? []).some(([kind]) => kind === 'constructed'), null, {
    timeout: 10_000,
  });
  await page.evaluate(() => window.analytics.track('Consented Event', { plan: 'pro' }));
  const [event] = await eventually(() => tracked('Consented Event').length && tracked('Consented Event'), {
    timeout: 15_000,
    message: 'POST /v1/track on the data plane',
  });
  await page.waitForFunction(
    () => window.deviceModeCalls.some(([kind, name, event]) => kind === 'track' && name === 'Amplitude' && event === 'Consented Event'),
    null,
    { timeout: 10_000 },
  );
  assert.deepEqual(site.integrationScripts.slice(scriptsBefore), ['/js-integrations/Amplitude.min.js']);
  assert.deepEqual(
    (await page.evaluate(() => window.deviceModeCalls)).filter(([, name]) => name === 'GA4'),
    [],
    'GA4 was never constructed',
  );

  // The context rudder-server filters the webhook on (it needs marketing, denied: dropped there).
  assert.deepEqual(event.context.consentManagement.allowedConsentIds, ['analytics']);
  assert.deepEqual(event.context.consentManagement.deniedConsentIds, ['marketing']);
  assert.equal(event.context.consentManagement.provider, 'custom');
  assert.equal(
    event.context.consentManagement.resolutionStrategy,
    undefined,
    'for custom the SDK sends no strategy: rudder-server takes each destination\'s',
  );

  assert.deepEqual(site.missing, [], 'the SDK requested nothing the site does not have');
  assert.deepEqual(consoleLog.problems(), [], 'the SDK logged no error or warning');

  // Wheelhouse's simulator says the same of this visitor.
  const simulated = await setup.api.post(`${setup.ws}/consent/simulate`, {
    provider: 'custom',
    allowedConsentIds: ['analytics'],
    deniedConsentIds: ['marketing'],
  });
  const receives = Object.fromEntries(simulated.sources[0].destinations.map((d) => [d.destinationId, d.receives]));
  assert.deepEqual(receives, { [setup.amplitude.id]: true, [setup.ga4.id]: false, [setup.webhook.id]: false });
});

test('with every consent allowed, both device-mode destinations are loaded', { timeout: 120_000 }, async (t) => {
  const scriptsBefore = site.integrationScripts.length;
  const { page } = await openPage(t, { allowed: ['analytics', 'marketing'], denied: [] });
  await page.waitForFunction(
    () => ['Amplitude', 'GA4'].every((name) => (window.deviceModeCalls ?? []).some(([kind, n]) => kind === 'constructed' && n === name)),
    null,
    { timeout: 10_000 },
  );
  assert.deepEqual(site.integrationScripts.slice(scriptsBefore).sort(), ['/js-integrations/Amplitude.min.js', '/js-integrations/GA4.min.js']);
});
