// Opens the report in headless Chromium and checks it as a person would see it.
// Usage: node check.cjs REPORT.html EXPECTED.json SCREENSHOT.png (playwright-core on NODE_PATH)
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const HOSTILE_TEXT = ['<img src=x onerror=alert(1)>', 'db-9"\'</script><b>bold', 'root\\u{1b}[31m'];

(async () => {
  const [report, expectedFile, screenshot] = process.argv.slice(2);
  const expected = JSON.parse(fs.readFileSync(expectedFile, 'utf8'));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  page.on('dialog', (d) => { problems.push(`dialog opened: ${d.message()}`); d.dismiss(); });
  page.on('request', (r) => { if (!r.url().startsWith('file:')) problems.push(`request: ${r.url()}`); });
  await page.goto('file://' + path.resolve(report), { waitUntil: 'load' });

  const dom = await page.evaluate(() => ({
    alertRows: document.querySelectorAll('tr[data-alert-row]').length,
    investigations: document.querySelectorAll('section[data-investigation]').length,
    lanes: Object.fromEntries([...document.querySelectorAll('svg[data-swimlane]')]
      .map((s) => [s.dataset.swimlane, s.querySelectorAll('rect[data-cell]').length])),
    images: document.images.length,
    scripts: document.scripts.length,
    boldElements: document.querySelectorAll('b').length,
    text: document.body.innerText,
    investigationText: [...document.querySelectorAll('section[data-investigation] pre')]
      .map((pre) => pre.innerText).join('\n'),
    brokenLinks: [...document.querySelectorAll('tr[data-alert-row] a')]
      .map((a) => a.getAttribute('href'))
      .filter((href) => !document.getElementById(href.slice(1))),
  }));

  const check = (ok, what) => { if (!ok) problems.push(what); };
  check(dom.alertRows === expected.alerts, `alert rows ${dom.alertRows}, outputs hold ${expected.alerts}`);
  check(dom.investigations === expected.investigations,
    `investigations ${dom.investigations}, expected ${expected.investigations}`);
  for (const [lane, cells] of Object.entries(expected.lanes)) {
    check(dom.lanes[lane] === cells, `swimlane ${lane}: ${dom.lanes[lane]} cells, outputs give ${cells}`);
  }
  check(Object.keys(dom.lanes).length === Object.keys(expected.lanes).length,
    `swimlanes ${Object.keys(dom.lanes)} against ${Object.keys(expected.lanes)}`);
  check(dom.images === 0, `${dom.images} image element(s): an event value became markup`);
  check(dom.scripts === 0, `${dom.scripts} script element(s)`);
  check(dom.boldElements === 0, `${dom.boldElements} <b> element(s): an event value became markup`);
  for (const text of HOSTILE_TEXT) check(dom.text.includes(text), `the literal text ${text} is not shown`);
  check(/\nHISTORY OF /.test(dom.investigationText) && !dom.investigationText.includes('\\u{a}'),
    'an investigation is not laid out in lines');
  check(dom.brokenLinks.length === 0, `alert links without a section: ${dom.brokenLinks}`);

  await page.screenshot({ path: screenshot, fullPage: false });
  await browser.close();
  console.log(JSON.stringify({ alertRows: dom.alertRows, lanes: dom.lanes, screenshot }));
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
})().catch((e) => { console.error(e); process.exit(1); });
