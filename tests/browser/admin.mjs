// Drives headless Chromium through easd's /admin and /account pages for tests/admin_browser.rs.
// The Rust test owns the server and the phones: at each checkpoint this script prints
// "STEP <name>" and waits for "go" on stdin while the test checks what the phone sees.
// Screenshots go to OUT_DIR. Any failed expectation ends the script with a non-zero status.
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const base = env('EASD_URL');
const outDir = env('OUT_DIR');
const admin = { name: env('ADMIN_NAME'), password: env('ADMIN_PASSWORD') };
const user = { email: env('USER_EMAIL'), password: env('USER_PASSWORD') };
const blockDevice = env('BLOCK_DEVICE'); // user/id
const wipeDevice = env('WIPE_DEVICE'); // id, owned by USER_EMAIL
const domain = user.email.split('@')[1];

const lines = createInterface({ input: process.stdin });
const input = lines[Symbol.asyncIterator]();
async function checkpoint(name) {
  console.log(`STEP ${name}`);
  const { value, done } = await input.next();
  if (done || value.trim() !== 'go') throw new Error(`the test answered ${JSON.stringify(value)} at ${name}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
}

async function expectText(locator, text) {
  await locator.waitFor();
  const got = await locator.innerText();
  assert.ok(got.includes(text), `expected ${JSON.stringify(text)} in ${JSON.stringify(got)}`);
}

mkdirSync(outDir, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'easd-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  viewport: { width: 1280, height: 900 },
});
context.setDefaultTimeout(15000);

try {
  const page = await context.newPage();

  // Log in to the console.
  await page.goto(`${base}/admin/login`);
  await page.getByLabel('Administrator name').fill(admin.name);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${base}/admin/activesync`);
  await expectText(page.locator('main'), '/Microsoft-Server-ActiveSync');
  await shot(page, '01-activesync');

  // Devices tab: filter on the device, block it.
  await page.getByRole('link', { name: 'Devices', exact: true }).click();
  await page.getByLabel('Device, user, type, model or OS contains').fill(blockDevice.split('/')[1]);
  await page.getByRole('button', { name: 'Refresh' }).click();
  const row = page.locator(`tr[data-device="${blockDevice}"]`);
  await row.getByRole('button', { name: 'Block' }).click();
  await expectText(page.getByRole('status').first(), `${blockDevice}: block`);
  await row.getByRole('img', { name: 'blocked' }).waitFor();
  await shot(page, '02-device-blocked');
  await checkpoint('blocked');

  // A policy at domain level, then the user level inherits it.
  await page.getByRole('link', { name: 'Security policy' }).click();
  await page.getByRole('link', { name: `domain:${domain}` }).click();
  await expectText(page.locator('#inheritance'), 'inherited from the default level');
  await page.getByLabel(/A device password is required/).check();
  await page.getByLabel(/Minimum password length/).fill('6');
  await page.getByRole('button', { name: 'Save' }).click();
  await expectText(page.locator('#inheritance'), 'specific to this level');
  assert.ok(await page.getByRole('button', { name: 'Inherit' }).isEnabled());
  await shot(page, '03-policy-domain');
  await page.getByRole('link', { name: `user:${user.email}` }).click();
  await expectText(page.locator('#inheritance'), `inherited from level domain:${domain}`);
  assert.equal(await page.getByLabel(/Minimum password length/).inputValue(), '6');
  assert.ok(await page.getByLabel(/A device password is required/).isChecked());
  assert.ok(await page.getByRole('button', { name: 'Inherit' }).isDisabled());
  await shot(page, '04-policy-user-inherits');
  await checkpoint('policy');

  // ABQ rules: add, disable, edit, delete; the list shows each rule's icon.
  await page.getByRole('link', { name: 'ABQ rules' }).click();
  await page.getByRole('link', { name: 'Add rule' }).click();
  await page.getByLabel('Description').fill('Old phones');
  await page.getByLabel('Characteristic').selectOption('model');
  await page.getByLabel('Value').fill('Nexus');
  await page.getByLabel('Action').selectOption('quarantine');
  await page.getByRole('button', { name: 'Save' }).click();
  await expectText(page.getByRole('status').first(), 'added model rule 1');
  const rule = page.locator('tbody tr', { hasText: 'Nexus' });
  await rule.getByRole('img', { name: 'quarantined' }).waitFor();
  await rule.getByRole('button', { name: 'Disable' }).click();
  await expectText(page.getByRole('status').first(), 'rule 1 disabled');
  await rule.getByRole('link', { name: /^Edit/ }).click();
  assert.ok(!(await page.getByLabel('Active').isChecked()));
  await page.getByLabel('Active').check();
  await page.getByLabel('Action').selectOption('block');
  await page.getByRole('button', { name: 'Save' }).click();
  await expectText(page.getByRole('status').first(), 'changed model rule 1 (block "Nexus")');
  await rule.getByRole('img', { name: 'blocked' }).waitFor();
  await shot(page, '09-abq-rules');
  await rule.getByRole('button', { name: 'Delete' }).click();
  await expectText(page.getByRole('status').first(), 'removed rule 1');
  await checkpoint('abq');

  // The device window: folder options, the EAS log, the rule for similar devices.
  await page.getByRole('link', { name: 'Devices', exact: true }).click();
  await page.locator(`tr[data-device="${blockDevice}"]`).getByRole('link', { name: /^Manage/ }).click();
  await page.getByLabel('Mail folders').selectOption('default');
  await page.getByLabel('Mail sync period (days)').fill('14');
  await page.getByRole('button', { name: 'Save folder options' }).click();
  await expectText(page.getByRole('status').first(), 'mail_sync_days=14');
  assert.equal(await page.getByLabel('Mail sync period (days)').inputValue(), '14');
  await page.getByLabel('Devices with the same').selectOption('type');
  await page.getByRole('button', { name: 'Create rule' }).click();
  await expectText(page.getByRole('status').first(), 'added type rule');
  await shot(page, '10-device-window');
  await page.getByRole('link', { name: 'Logs' }).click();
  await expectText(page.locator('pre.log'), blockDevice.split('/')[1]);
  await shot(page, '11-device-log');
  await checkpoint('device');

  // The user's own page, on a phone-sized screen: wipe the lost device after confirming.
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(`${base}/account/login`);
  await phone.getByLabel('Email address').fill(user.email);
  await phone.getByLabel('Password').fill(user.password);
  await phone.getByRole('button', { name: 'Log in' }).click();
  await phone.waitForURL(`${base}/account`);
  const mine = phone.locator(`tr[data-device="${wipeDevice}"]`);
  await mine.waitFor();
  await expectText(phone.locator('dd[data-key="min_password_length"]'), '6');
  await shot(phone, '05-account-phone');
  await mine.getByRole('link', { name: /^Wipe…/ }).click();
  await expectText(phone.getByRole('heading', { level: 2 }), 'Hard wipe');
  await shot(phone, '06-account-confirm-wipe');
  await phone.getByRole('button', { name: 'Yes, wipe the device' }).click();
  await phone.waitForURL(`${base}/account`);
  await expectText(phone.getByRole('status').first(), 'remote wipe pending');
  await expectText(mine, 'pending (remote wipe)');
  await shot(phone, '07-account-wipe-pending');
  await checkpoint('wiped');

  // Once the phone has acknowledged, the device is listed as wiped.
  await phone.reload();
  await expectText(phone.locator('main'), 'remote wipe done');
  await shot(phone, '08-account-wiped');
  console.log('DONE');
} finally {
  lines.close();
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
