// Compatibility with the real RudderStack JavaScript SDK (@rudderstack/analytics-js, its bundled build from
// npm): loaded in Chromium from another origin, it pulls its source config from Wheelhouse (CORS preflight
// included), loads the script of the one destination configured in device mode (a stand-in served by the
// test site: the real integrations come from RudderStack's CDN) and of no cloud-mode one, and sends a track
// call to a local data plane and to the device-mode destination.
//
//   page origin  (static server: the page and the SDK)          http://127.0.0.1:A
//   configUrl    (Wheelhouse)                                    http://127.0.0.1:B
//   dataPlaneUrl (a recorder answering like rudder-server)       http://127.0.0.1:C

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
  sdkVersion,
  signIn,
  startServer,
  watchConsole,
} from './support.js';

const SDK_VERSION = sdkVersion();

const done = cleanups();
let server;
let browser;
let site;
let dataPlane;

/**
 * Stands in for RudderStack's Amplitude integration script (its CDN is not reachable here): the SDK mounts
 * `window.Amplitude_RS.Amplitude`, constructs it with the destination's browser config, and hands it events.
 */
const AMPLITUDE_STAND_IN = `
window.deviceModeCalls = window.deviceModeCalls || [];
window.Amplitude_RS = { Amplitude: class {
  constructor(config) { window.deviceModeCalls.push(['constructed', config.apiKey, config.apiSecret === undefined]); }
  init() {}
  isLoaded() { return true; }
  isReady() { return true; }
  track(event) { window.deviceModeCalls.push(['track', event?.message?.event]); }
  page() {}
  identify() {}
  group() {}
  alias() {}
} };
`;
const canary = `CANARY-${random(12)}`;
const setup = {};

before(async () => {
  server = await startServer();
  done.add(() => server.stop());

  dataPlane = await recordingDataPlane();
  done.add(() => dataPlane.close());

  // The page loads the SDK with the load options of a self-hosted control plane.
  site = await sdkSite({
    page: (params, siteUrl) =>
      sdkPage({
        writeKey: params.get('writeKey'),
        dataPlaneUrl: dataPlane.url,
        options: {
          configUrl: server.url,
          destSDKBaseURL: `${siteUrl}/js-integrations`,
          pluginsSDKBaseURL: `${siteUrl}/plugins`,
          logLevel: 'WARN',
        },
      }),
    integrations: { 'Amplitude.min.js': AMPLITUDE_STAND_IN },
  });
  done.add(() => site.close());

  browser = await launchBrowser();
  done.add(() => browser.close());

  // The workspace, through the REST API: sign in, then work with an API token.
  const session = await signIn(server.url);
  const workspace = await session.post('/api/v1/workspaces', { name: `SDK ${random(3)}` });
  const { token } = await session.post('/api/v1/tokens', { name: 'sdk test', workspaceId: workspace.id, role: 'editor' });
  const api = bearer(server.url, token);
  const ws = `/api/v1/workspaces/${workspace.id}`;
  const source = await api.post(`${ws}/sources`, { name: 'Website', type: 'Javascript', config: {} });
  const webhook = await api.post(`${ws}/destinations`, {
    name: 'Order hook',
    type: 'WEBHOOK',
    config: { webhookUrl: 'https://hooks.example.com/orders', headers: [{ from: 'Authorization', to: canary }] },
  });
  // Delivered by the browser itself (device mode), and by the data plane (cloud mode): only the first is the
  // SDK's business. A cloud-mode destination listed to the SDK would get every event twice.
  const amplitude = await api.post(`${ws}/destinations`, {
    name: 'Product analytics',
    type: 'AM',
    config: { apiKey: 'amplitude-browser-key', apiSecret: canary, connectionMode: { web: 'device' } },
  });
  const mixpanel = await api.post(`${ws}/destinations`, {
    name: 'Funnels',
    type: 'MP',
    config: { token: 'mixpanel-token', connectionMode: { web: 'cloud' } },
  });
  for (const destination of [webhook, amplitude, mixpanel]) {
    await api.post(`${ws}/connections`, { sourceId: source.id, destinationId: destination.id });
  }
  Object.assign(setup, { api, ws, workspace, source, webhook, amplitude, mixpanel });
});

after(() => done.run());

/** Opens the SDK page for `writeKey`; resolves with the page and what it fetched from Wheelhouse. */
async function openSdkPage(t, writeKey) {
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLog = watchConsole(page);
  const sourceConfig = { requests: [], responses: [] };
  page.on('request', (request) => {
    if (request.url().startsWith(`${server.url}/sourceConfig`)) sourceConfig.requests.push(request);
  });
  page.on('response', async (response) => {
    if (response.url().startsWith(`${server.url}/sourceConfig`)) {
      sourceConfig.responses.push({
        status: response.status(),
        headers: await response.allHeaders(),
        text: await response.text().catch(() => ''),
      });
    }
  });
  await page.goto(`${site.url}/?writeKey=${encodeURIComponent(writeKey)}`);
  return { page, consoleLog, sourceConfig };
}

const tracks = (event) =>
  dataPlane.received.filter((r) => r.method === 'POST' && r.path.startsWith('/v1/track') && JSON.parse(r.body).event === event);

test('the SDK loads its config from Wheelhouse across origins and sends a track call', { timeout: 120_000 }, async (t) => {
  const { writeKey } = setup.source;
  const { page, consoleLog, sourceConfig } = await openSdkPage(t, writeKey);
  assert.notEqual(new URL(site.url).origin, new URL(server.url).origin, 'the page is on another origin');

  await page.waitForFunction(() => window.sdkReady === true, null, { timeout: 20_000 });

  // What the SDK asked Wheelhouse for, and what it got.
  assert.equal(sourceConfig.requests.length, 1, 'one sourceConfig request');
  const request = sourceConfig.requests[0];
  const url = new URL(request.url());
  assert.equal(url.pathname, '/sourceConfig/');
  assert.equal(url.searchParams.get('writeKey'), writeKey);
  assert.equal(url.searchParams.get('p'), 'npm');
  assert.equal(url.searchParams.get('v'), SDK_VERSION);
  assert.equal(request.headers().authorization, `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`);
  await eventually(() => sourceConfig.responses.length === 1, { message: 'the sourceConfig response' });
  const [{ status, headers, text }] = sourceConfig.responses;
  assert.equal(status, 200);
  // Chromium asks for gzip on its own: the SDK read the gzip representation, decoded by the browser.
  assert.match((await request.allHeaders())['accept-encoding'] ?? '', /gzip/);
  assert.equal(headers['content-encoding'], 'gzip');
  const body = JSON.parse(text);
  assert.equal(body.source.id, setup.source.id);
  assert.equal(body.source.workspaceId, setup.workspace.id);
  assert.equal(body.source.enabled, true);
  assert.deepEqual(
    body.source.destinations.map((d) => d.id),
    [setup.amplitude.id],
    'only the device-mode destination is listed: the webhook and Mixpanel are the data plane\'s',
  );
  const [amplitude] = body.source.destinations;
  assert.equal(amplitude.config.connectionMode, 'device');
  assert.equal(amplitude.destinationDefinition.displayName, 'Amplitude');
  assert.equal(amplitude.config.apiKey, 'amplitude-browser-key', 'a key the browser may see is there');
  assert.equal(amplitude.config.apiSecret, undefined, 'the API secret is not');
  assert.ok(!text.includes(canary), 'no secret anywhere in the source config');
  assert.ok(text.length < 2048, `the source config is small (${text.length} bytes)`);

  // The scripts the SDK loaded: the device-mode destination's, and no cloud-mode one's (Mixpanel is a
  // destination the SDK knows by name: listed, it would have been loaded and sent every event a second time).
  await eventually(() => site.integrationScripts.length > 0, { message: 'the device-mode integration script' });
  await page.waitForFunction(() => (window.deviceModeCalls ?? []).length > 0, null, { timeout: 10_000 });
  assert.deepEqual(await page.evaluate(() => window.deviceModeCalls[0]), ['constructed', 'amplitude-browser-key', true]);

  // A track call reaches the data plane, authenticated with the write key.
  await page.evaluate(() =>
    window.analytics.track('Order Completed', { orderId: 'order-42', revenue: 42.5, currency: 'EUR' }),
  );
  const [track] = await eventually(() => tracks('Order Completed').length && tracks('Order Completed'), {
    timeout: 15_000,
    message: 'POST /v1/track on the data plane',
  });
  assert.equal(track.headers.authorization, `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`);
  const event = JSON.parse(track.body);
  assert.equal(event.type, 'track');
  assert.equal(event.properties.orderId, 'order-42');
  assert.equal(event.properties.revenue, 42.5);
  assert.equal(event.context.library.name, 'RudderLabs JavaScript SDK');
  assert.equal(event.context.library.version, SDK_VERSION);
  // The device-mode destination got it in the browser.
  await page.waitForFunction(
    () => window.deviceModeCalls.some(([kind, name]) => kind === 'track' && name === 'Order Completed'),
    null,
    { timeout: 10_000 },
  );

  assert.deepEqual(site.integrationScripts, ['/js-integrations/Amplitude.min.js'], 'no cloud-mode destination script was loaded');
  assert.deepEqual(site.missing, [], 'the SDK requested nothing the site does not have');
  assert.deepEqual(consoleLog.problems(), [], 'the SDK logged no error or warning');
});

test('a disabled source gets no events through the SDK', { timeout: 120_000 }, async (t) => {
  const { api, ws, source } = setup;
  await api.patch(`${ws}/sources/${source.id}`, { enabled: false });
  t.after(() => api.patch(`${ws}/sources/${source.id}`, { enabled: true }));
  const { page, sourceConfig } = await openSdkPage(t, source.writeKey);

  await eventually(() => sourceConfig.responses.length === 1, { message: 'the sourceConfig response' });
  const [{ status, text }] = sourceConfig.responses;
  if (status === 200) {
    assert.equal(JSON.parse(text).source.enabled, false, 'a disabled source is served as disabled');
  }
  await page.evaluate(() => window.analytics.track('Disabled Source Event', { n: 1 }));
  // The SDK stops at the config: nothing is sent, now or after its retry delays.
  await page.waitForTimeout(2_500);
  assert.equal(await page.evaluate(() => window.sdkReady === true), false, 'the SDK did not become ready');
  assert.deepEqual(tracks('Disabled Source Event'), [], 'no event reached the data plane');
});
