// The browser tier's harness: Debian's Chromium (/usr/bin/chromium, from
// deploy/local/lib.sh tx_ensure_packages) driven by playwright-core (pinned in tests/package.json;
// it never downloads a browser of its own), against a tianxingd started by the api tier's harness
// (tests/api/lib/harness.mjs).
//
// As root (CI), Chromium runs as the unprivileged `nobody` user through
// tests/browser/chromium-unprivileged, with its sandbox on: Chromium refuses to sandbox itself as
// root, and --no-sandbox is the one thing these tests do not want to need. As any other user it
// runs directly, sandbox on too.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { env } from '../../api/lib/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';

let launched = null;
const homes = new Set();

/**
 * Starts one headless Chromium for this test file (once; later calls return the same) and gives
 * its browser context. Closed, and its profile removed, when the file's tests end.
 */
export async function browser() {
  if (launched) return launched;
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: deploy/local/lib.sh tx_ensure_packages installs chromium`);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tx-chromium-'));
  homes.add(home);
  const profile = path.join(home, 'profile');
  fs.mkdirSync(profile);
  let executablePath = CHROMIUM;
  const extraEnv = {};
  if (process.getuid() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
    for (const d of [home, profile]) fs.chownSync(d, uid, gid);
    executablePath = path.join(HERE, '..', 'chromium-unprivileged');
    extraEnv.TX_CHROMIUM_HOME = home;
  }
  launched = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    env: { ...process.env, ...extraEnv },
    // No GPU here; no background traffic to Google (there is no internet, and the tests must see
    // only the requests the page makes).
    args: ['--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-default-apps', '--disable-sync', '--no-first-run', '--metrics-recording-only'],
    viewport: { width: 1280, height: 900 },
    timeout: 30000,
  });
  return launched;
}

after(async () => {
  if (launched) await launched.close().catch(() => {});
  for (const d of homes) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * A new page that records what would show in its developer console as a problem: console errors
 * (CSP violations included), uncaught exceptions, and requests that failed or answered >= 400.
 * `page.problems` is that list (strings); `allow(re)` tolerates the messages matching `re`.
 */
export async function newPage() {
  const ctx = await browser();
  const page = await ctx.newPage();
  const problems = [];
  const allowed = [];
  const note = (s) => { if (!allowed.some((re) => re.test(s))) problems.push(s); };
  page.on('console', (m) => { if (m.type() === 'error') note(`console: ${m.text()}`); });
  page.on('pageerror', (e) => note(`exception: ${e.message}`));
  page.on('requestfailed', (r) => note(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) note(`answer ${r.status()}: ${r.request().method()} ${r.url()}`); });
  page.problems = problems;
  page.allow = (re) => allowed.push(re);
  return page;
}

/** Where screenshots go: beside the api tier's recordings (kept with TX_KEEP_TMP=1), else a temp dir. */
export function screenshotDir() {
  const base = env.recordDir || fs.mkdtempSync(path.join(os.tmpdir(), 'tx-shots-'));
  const dir = path.join(base, 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * What a PNG shows, measured by Chromium itself (no image library needed): its size, how many
 * pixels differ from the top-left one (the background), and how many distinct colours it has.
 */
export async function measurePng(png) {
  const ctx = await browser();
  const page = await ctx.newPage();
  try {
    return await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const bg = [d[0], d[1], d[2], d[3]];
      let differing = 0;
      const colours = new Set();
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] !== bg[0] || d[i + 1] !== bg[1] || d[i + 2] !== bg[2] || d[i + 3] !== bg[3]) differing++;
        if (colours.size < 1000) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      }
      return { width: c.width, height: c.height, pixels: c.width * c.height, differing, colours: colours.size };
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}
