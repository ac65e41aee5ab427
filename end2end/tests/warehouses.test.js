// A warehouse the way a person looks after one: a PostgreSQL destination (this machine's own PostgreSQL, as its
// administrator: every check passes, and the probes are rolled back) is checked from its Warehouse tab and the
// steps arrive with their outcome; a bad user fails the connection step with the warehouse's own words; a key
// that may write to the staging bucket (moto's S3) but not read from it fails the object-storage step; a data
// plane reports a failed upload (rudder-server's reporting) and the tab shows it in the history, failing; the
// alert mail it caused is on the Alerts page; the person unsubscribes from the warehouse and mutes all alert
// mail in their account, and both stick.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, before, test } from 'node:test';

import {
  cleanups,
  debug,
  eventually,
  launchBrowser,
  random,
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
 * moto's S3 server with IAM enforced, holding `bucket` and one user whose only policy is `statement`; its first
 * four calls (the set-up) run unauthenticated, every later one must be signed by that user.
 */
async function startS3({ bucket, statement }) {
  const port = await new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free));
    });
  });
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: '4' },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${url}/moto-api/`).catch(() => null))?.ok, {
    timeout: 30_000,
    message: "moto's server to start (python3 -m pip install 'moto[server]')",
  });
  const iam = async (params) => {
    const answer = await fetch(`${url}/`, {
      method: 'POST',
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0' },
      body: new URLSearchParams({ ...params, Version: '2010-05-08' }),
    });
    const text = await answer.text();
    assert.ok(answer.ok, text);
    return text;
  };
  assert.ok((await fetch(`${url}/${bucket}`, { method: 'PUT' })).ok, 'CreateBucket');
  await iam({ Action: 'CreateUser', UserName: 'loader' });
  await iam({
    Action: 'PutUserPolicy', UserName: 'loader', PolicyName: 'staging',
    PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [statement] }),
  });
  const key = await iam({ Action: 'CreateAccessKey', UserName: 'loader' });
  const element = (name) => key.match(new RegExp(`<${name}>([^<]+)</${name}>`))[1];
  return {
    endPoint: `127.0.0.1:${port}`,
    accessKeyId: element('AccessKeyId'),
    secretAccessKey: element('SecretAccessKey'),
    stop: () => child.kill(),
  };
}

/** The steps as shown: [{name, status, reason, remediation}]. */
async function steps(page) {
  return page.locator('[data-testid=validation-step]').evaluateAll((items) =>
    items.map((li) => ({
      name: li.querySelector('.step-name')?.textContent.trim(),
      status: li.dataset.status,
      reason: li.querySelector('.step-reason')?.textContent.trim() ?? '',
    })),
  );
}

/**
 * Waits for the tab's last validation (the one saving the destination started) to be shown, clicks "Check
 * permissions" and waits for the new one to finish; returns its status and steps.
 */
async function check(page) {
  const status = page.locator('[data-testid=validation-status]');
  await status.waitFor();
  const before = await status.getAttribute('data-job');
  await page.click('[data-testid=validate]');
  const shown = await eventually(
    async () => {
      const job = await status.getAttribute('data-job');
      const state = await status.getAttribute('data-status');
      return job !== before && state !== 'running' ? state : null;
    },
    { timeout: 30_000, interval: 50, message: 'the validation to finish' },
  );
  assert.equal(await status.getAttribute('data-cause'), 'requested');
  return { status: shown, steps: await steps(page) };
}

test('a warehouse is checked step by step, a failed sync shows in its history, and alert settings stick', async () => {
  const owner = await signIn(server.url);
  const ws = owner.me.workspaces[0].id;
  const config = {
    host: '127.0.0.1', port: '5432', database: 'postgres', user: 'postgres', password: 'unused-under-trust',
    sslMode: 'disable', syncFrequency: '30', useRudderStorage: true, namespace: `e2e_${random(4)}`,
  };
  const destination = await owner.post(`/api/v1/workspaces/${ws}/destinations`, { name: 'Warehouse', type: 'POSTGRES', config });
  const broken = await owner.post(`/api/v1/workspaces/${ws}/destinations`, {
    name: 'Broken warehouse', type: 'POSTGRES', config: { ...config, user: `nobody_${random(3)}` },
  });

  const context = await browser.newContext({ viewport: { width: 1360, height: 1000 } });
  const page = await context.newPage();
  const consoleLog = watchConsole(page);
  await signInThroughUi(page, server.url);

  debug('warehouses: the Warehouse tab, and a check whose steps arrive');
  await visit(page, `${server.url}/w/${ws}/destinations/${destination.id}`);
  await page.click('nav.tabs a:text-is("Warehouse")');
  await page.waitForURL(`${server.url}/w/${ws}/destinations/${destination.id}/warehouse`);
  await page.locator('[data-testid=validate]').waitFor();
  const passed = await check(page);
  assert.equal(passed.status, 'passed', JSON.stringify(passed.steps));
  assert.deepEqual(
    passed.steps.map((s) => s.name),
    ['Verifying Object Storage', 'Verifying Connections', 'Verifying Create Schema', 'Verifying Create and Alter Table',
      'Verifying Fetch Schema', 'Verifying Load Table'],
  );
  assert.deepEqual(passed.steps.map((s) => s.status), ['skipped', 'passed', 'passed', 'passed', 'passed', 'passed']);
  assert.match(passed.steps[1].reason, /connected to 127\.0\.0\.1:5432 as postgres/);
  await screenshot(page, 'warehouse-validation-passed');

  debug('warehouses: a user the warehouse does not know fails the connection step');
  await visit(page, `${server.url}/w/${ws}/destinations/${broken.id}/warehouse`);
  const failed = await check(page);
  assert.equal(failed.status, 'failed');
  const connection = failed.steps.find((s) => s.name === 'Verifying Connections');
  assert.equal(connection.status, 'failed');
  assert.match(connection.reason, /does not exist/);
  assert.ok(failed.steps.slice(2).every((s) => s.status === 'skipped'), JSON.stringify(failed.steps));
  await screenshot(page, 'warehouse-validation-failed');

  debug('warehouses: a bucket its key may write to but not read from fails the object-storage step');
  const s3 = await startS3({ bucket: 'e2e-staging', statement: { Effect: 'Allow', Action: ['s3:PutObject'], Resource: ['arn:aws:s3:::e2e-staging/*'] } });
  done.add(() => s3.stop());
  const staged = await owner.post(`/api/v1/workspaces/${ws}/destinations`, {
    name: 'Staged warehouse',
    type: 'POSTGRES',
    config: {
      ...config, useRudderStorage: false, bucketProvider: 'MINIO', bucketName: 'e2e-staging', endPoint: s3.endPoint,
      useSSL: false, accessKeyID: s3.accessKeyId, secretAccessKey: s3.secretAccessKey,
    },
  });
  await visit(page, `${server.url}/w/${ws}/destinations/${staged.id}/warehouse`);
  const refused = await check(page);
  assert.equal(refused.status, 'failed');
  assert.equal(refused.steps[0].status, 'failed', JSON.stringify(refused.steps));
  assert.match(refused.steps[0].reason, /could not read from MinIO e2e-staging: AccessDenied/);
  assert.match(await page.locator('[data-testid=remediation]').textContent(), /"s3:GetObject"/);
  assert.ok(refused.steps.slice(1).every((s) => s.status === 'skipped'), JSON.stringify(refused.steps));
  await screenshot(page, 'warehouse-object-storage-refused');

  debug('warehouses: a data plane reports a failed upload');
  const { token } = await owner.post(`/api/v1/workspaces/${ws}/data-plane-tokens`, { name: 'dp' });
  const now = Date.now();
  const metric = {
    workspaceId: ws, instanceId: 'e2e', sourceId: 'src', destinationId: destination.id, inReportedBy: 'batch_router',
    reportedBy: 'warehouse', terminalState: true, reportedAt: now - (now % 60_000),
    reports: [{ state: 'aborted', count: 12, statusCode: 400, sampleResponse: 'loading table tracks: pq: permission denied for schema e2e', eventName: '', eventType: '' }],
  };
  const reported = await fetch(`${server.url}/metrics?version=v1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${token}:`).toString('base64')}` },
    body: JSON.stringify(metric),
  });
  assert.equal(reported.status, 200, await reported.text());
  await visit(page, `${server.url}/w/${ws}/destinations/${destination.id}/warehouse`);
  const run = page.locator('[data-testid=sync-runs] tr[data-status=failed]');
  await run.waitFor();
  assert.match(await run.textContent(), /permission denied for schema e2e/);
  assert.equal(await page.locator('[data-testid=sync-health]').textContent(), 'failing');
  await page.locator('[data-testid=syncs-chart] canvas').first().waitFor();
  await screenshot(page, 'warehouse-sync-failed');

  debug('warehouses: the alert mail is on the Alerts page');
  await eventually(async () => (await owner.get(`/api/v1/workspaces/${ws}/alerts`)).alerts.some((a) => a.status === 'sent'), {
    timeout: 15_000,
    message: 'the alert to be sent (to the outbox folder)',
  });
  await visit(page, `${server.url}/w/${ws}/alerts`);
  const alert = page.locator('[data-testid=alert-history] tr[data-event=failing]');
  await alert.waitFor();
  assert.match(await alert.textContent(), /owner@e2e\.example\.com/);
  assert.match(await alert.textContent(), /Warehouse/);
  await screenshot(page, 'alerts');

  debug('warehouses: unsubscribe from this warehouse, then mute all alert mail');
  await visit(page, `${server.url}/w/${ws}/destinations/${destination.id}/warehouse`);
  const subscribe = page.locator('[data-testid=subscribe]');
  await subscribe.waitFor();
  assert.equal(await subscribe.isChecked(), true, 'an owner gets alerts by default');
  await subscribe.uncheck();
  await eventually(async () => (await owner.get(`/api/v1/workspaces/${ws}/destinations/${destination.id}/alerts`)).subscribed === false, {
    message: 'the unsubscription to be saved',
  });
  await visit(page, `${server.url}/w/${ws}/destinations/${destination.id}/warehouse`);
  await page.locator('[data-testid=subscribe]').waitFor();
  assert.equal(await page.locator('[data-testid=subscribe]').isChecked(), false);

  await visit(page, `${server.url}/account`);
  const mute = page.locator('[data-testid=mute-all]');
  await mute.waitFor();
  assert.equal(await mute.isChecked(), false);
  await mute.check();
  await page.locator('.toast:text-is("Notification settings saved.")').waitFor({ timeout: 10_000 });
  await visit(page, `${server.url}/account`);
  await page.locator('[data-testid=mute-all]').waitFor();
  assert.equal(await page.locator('[data-testid=mute-all]').isChecked(), true);
  assert.match(await page.locator('[data-testid=subscriptions]').textContent(), /Warehouse: unsubscribed/);
  await screenshot(page, 'account-notifications');

  assert.deepEqual(consoleLog.problems(), [], 'a clean console');
  await context.close();
});
