// Opens a cyclegc report page in Debian's chromium and uses it as a person would: clicks a
// finding open, reads its fix, measures its drawing, opens a retainer, searches, and takes a
// screenshot. Prints what it saw as one JSON object; the gtest that runs it asserts on that.
//
//   node click_page.mjs PAGE.html FINDING_ID SEARCH_TEXT SCREENSHOT.png
import puppeteer from 'puppeteer-core';

const [page_path, finding_id, query, screenshot] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({width: 1100, height: 1000});
  await page.goto('file://' + page_path);
  const seen = {};
  const finding = `#${finding_id}`;
  seen.findings = await page.$$eval('details.finding', (all) => all.length);
  seen.open_before = await page.$eval(finding, (d) => d.open);
  await page.click(`${finding} > summary`);
  seen.open_after = await page.$eval(finding, (d) => d.open);
  seen.fix = await page.$eval(finding, (d) => d.querySelector('.fix')?.innerText ?? '');

  // The drawing's boxes as the browser laid them out: every node, every edge label.
  const boxes = await page.$eval(finding, (d) => {
    const box = (el, kind) => {
      const r = el.getBoundingClientRect();
      return {kind, text: el.textContent.trim(), left: r.left, top: r.top, right: r.right,
              bottom: r.bottom};
    };
    // Graphviz's groups, or any drawing's circles and texts (an older page drew its own).
    const nodes = d.querySelectorAll('svg g.node, svg text.name');
    const labels = d.querySelectorAll('svg g.edge text, svg text.label');
    return [...nodes].map((n) => box(n, 'node')).concat([...labels].map((t) => box(t, 'edge label')));
  });
  seen.nodes = boxes.filter((b) => b.kind === 'node').length;
  seen.edge_labels = boxes.filter((b) => b.kind === 'edge label').length;
  seen.overlaps = [];
  for (let i = 0; i < boxes.length; ++i) {
    for (let j = i + 1; j < boxes.length; ++j) {
      const a = boxes[i], b = boxes[j];
      const overlap = Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
                      Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
      if (overlap) seen.overlaps.push(`${a.kind} '${a.text}' and ${b.kind} '${b.text}'`);
    }
  }

  // A retainers view: its first retainer clicked open shows that retainer's own retainers.
  seen.retainers = await page.$$eval(`${finding} ul.retainers > li`, (all) =>
      all.map((li) => li.innerText.split('\n')[0]));
  if (await page.$(`${finding} details.retainer > summary`)) {
    await page.click(`${finding} details.retainer > summary`);
    seen.retainer_opened = await page.$eval(`${finding} details.retainer`, (d) => d.open);
  }

  await page.screenshot({path: screenshot, fullPage: true});

  await page.type('#search', query);
  seen.visible_after_search = await page.$$eval('details.finding', (all) =>
      all.filter((d) => d.style.display !== 'none').map((d) => d.id));
  seen.search_line = await page.$eval('body', (b) => b.querySelector('#shown')?.textContent);
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
