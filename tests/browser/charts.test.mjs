// The SVG charts (Accept: image/svg+xml; core/formats.h) rendered by a real Chromium: each one,
// opened as the service serves it, shows a picture (pixels other than the background, several
// colours) at the size it declares, and carries a <title> and <desc> for screen readers. A
// screenshot of each is kept (tests/browser/lib/browser.mjs, screenshotDir).
//
// CHARTS is the list: a new chart is one line (its name, who may see it, its path from the data
// made in before()).
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';

import { freshDatabase, lit, pg } from '../api/lib/harness.mjs';
import {
  DEPT, EMP, client, loadFixtures, newSigningKey, ok, ownToken, startIdentityService,
} from '../api/lib/identity.mjs';
import { measurePng, newPage, screenshotDir } from './lib/browser.mjs';

const SVG = 'image/svg+xml';

// name: the screenshot's file name; as: an employee of EMP who may see the chart; path(data).
const CHARTS = [
  { name: 'risk-heatmap', as: 'risk', path: () => '/v1/risk-heatmap' },
  { name: 'risk-report-heatmap', as: 'risk', path: (d) => `/v1/risk-reports/${d.reportId}` },
  { name: 'assessment-trend', as: 'hr', path: (d) => `/v1/employees/${EMP.staffA1.id}/assessment-trend?year=${d.year}` },
  { name: 'grade-distribution', as: 'hr', path: (d) => `/v1/departments/${DEPT.A}/grade-distribution?period_id=${d.periodId}` },
  { name: 'case-stats-weekly', as: 'auditor', path: () => '/v1/case-stats/weekly' },
  { name: 'kri-trend', as: 'risk', path: (d) => `/v1/kris/${d.kriId}/trend` },
];

const DB = 'tx_browser_charts';
let svc;
let key;
const data = {};

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  const as = (e) => client(svc, ownToken(key, e));
  // Risks (R1.1, R1.2): reported by staff, assessed by the risk officer, so that the heat map
  // has counts in cells of different levels; then a stored report (R3.1) of that register.
  for (const [likelihood, impact] of [[4, 5], [2, 2], [3, 3]]) {
    const risk = ok(await as(EMP.staffA1).post('/v1/risks', {
      category: 'operational', title: `風險 ${likelihood}x${impact}`, description: 'For the chart test.',
    }), 201);
    ok(await as(EMP.risk).post(`/v1/risks/${risk.id}/assessments`, {
      likelihood, impact, exposure: '1000.00', currency: 'TWD', probability: 0.2, method: '評估會議',
    }), 201);
  }
  data.reportId = ok(await as(EMP.risk).post('/v1/risk-reports', {}), 201).id;
  // Two readings of a shipped indicator (R3.2) for its trend.
  const kri = ok(await as(EMP.staffA1).get('/v1/kris')).items.find((k) => k.code === 'open_escalations');
  for (let i = 0; i < 2; i++) ok(await as(EMP.risk).post(`/v1/kris/${kri.id}/measurements`, {}), 201);
  data.kriId = kri.id;
  // The month that holds today, opened and computed as the job assessment.periods does on the
  // first working day of the next month (its catch-up payload "today"), as the api tier's
  // formats test does: department A's staff get assessments (the trend and the distribution).
  const out = pg(`SELECT assessment.periods_job(jsonb_build_object('today', (
  SELECT min(d)::date FROM generate_series(date_trunc('month', org.company_date()) + interval '1 month',
                                         date_trunc('month', org.company_date()) + interval '1 month 20 days',
                                         interval '1 day') d
   WHERE org.is_workday(d::date))::text))`, { db: DB, user: 'tianxing_app' });
  const label = pg("SELECT to_char(org.company_date(), 'YYYY-MM')", { db: DB, user: 'tianxing_app' });
  data.periodId = pg(`SELECT id FROM assessment.periods WHERE label = ${lit(label)}`, { db: DB });
  assert.match(data.periodId, /^[0-9a-f-]{36}$/, `period ${label} opened: ${out}`);
  data.year = Number(label.slice(0, 4));
});

// Opens `url` in Chromium as the service serves it (with `headers`), screenshots its <svg>, and
// returns what the page and the picture hold.
async function render(url, headers, shot) {
  const page = await newPage();
  try {
    // Chromium sends its own Accept on a navigation (extra headers do not replace it): set them
    // on the request itself.
    await page.route(url, (route) => route.continue({ headers: { ...route.request().headers(), ...headers } }));
    const res = await page.goto(url, { waitUntil: 'load' });
    assert.equal(res.status(), 200, `${url}: ${await res.text()}`);
    assert.equal(res.headers()['content-type'], SVG);
    const doc = await page.evaluate(() => {
      const svg = document.documentElement;
      const kid = (n) => [...svg.children].find((c) => c.localName === n)?.textContent.trim() ?? '';
      const box = svg.getBoundingClientRect();
      return { root: svg.localName, title: kid('title'), desc: kid('desc'), role: svg.getAttribute('role'),
        width: Number(svg.getAttribute('width')), height: Number(svg.getAttribute('height')),
        box: { width: box.width, height: box.height } };
    });
    const png = await page.locator(':root').screenshot({ path: shot });
    const picture = await measurePng(png);
    assert.deepEqual(page.problems, []);
    return { doc, picture };
  } finally {
    await page.close();
  }
}

describe('every SVG chart renders in Chromium', () => {
  for (const chart of CHARTS) {
    test(`${chart.name}: a picture at its declared size, with a title and a description`, async () => {
      const headers = { authorization: `Bearer ${ownToken(key, EMP[chart.as])}`, accept: SVG };
      const shot = path.join(screenshotDir(), `chart-${chart.name}.png`);
      const { doc, picture } = await render(`${svc.url}${chart.path(data)}`, headers, shot);
      assert.equal(doc.root, 'svg');
      assert.equal(doc.role, 'img');
      assert.ok(doc.title.length > 0, 'a <title>');
      assert.ok(doc.desc.length > 0, 'a <desc>');
      assert.ok(doc.width > 0 && doc.height > 0, `declared size ${doc.width}x${doc.height}`);
      assert.deepEqual(doc.box, { width: doc.width, height: doc.height }, 'laid out at its declared size');
      assert.equal(picture.width, doc.width, 'screenshot width');
      assert.equal(picture.height, doc.height, 'screenshot height');
      // Not blank: even a chart of nothing but zeros draws its axes, labels and legend (about 1.4 %
      // of the grade distribution's area); a blank picture has no pixel off the background.
      assert.ok(picture.differing > picture.pixels * 0.005, `drawn pixels: ${picture.differing} of ${picture.pixels}`);
      assert.ok(picture.colours >= 3, `colours: ${picture.colours}`);
    });
  }
});

describe('the blank check itself', () => {
  test('an SVG that draws nothing measures as blank', async () => {
    const page = await newPage();
    await page.setContent('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><title>t</title></svg>');
    const picture = await measurePng(await page.locator('svg').screenshot());
    await page.close();
    assert.equal(picture.differing, 0);
    assert.equal(picture.colours, 1);
  });
});
