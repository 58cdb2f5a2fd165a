// Checks an HTML report of cargo-structlog in a real headless Chromium.
//
//   node check-html.mjs REPORT.html SCREENSHOT.png
//
// Opens the report from its file:// URL with every network request recorded
// (and any other than the file itself stopped), waits for the table, expands
// the first row and takes a full-page screenshot, reads the summary counts
// and the slowest tests
// and, after clearing the filters and paging through the whole table, the test
// ids shown; then shows unexpected results only and checks the rows that
// remain, and searches for one test id. Prints a JSON report on stdout and
// exits non-zero when something is wrong. Chromium is /usr/bin/chromium unless
// $CHROMIUM names another.

import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const [htmlArg, pngArg] = process.argv.slice(2);
if (!htmlArg || !pngArg) {
  console.error("usage: node check-html.mjs REPORT.html SCREENSHOT.png");
  process.exit(2);
}
const url = pathToFileURL(resolve(htmlArg)).href;
const screenshot = resolve(pngArg);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

const problems = [];
const report = { url, screenshot, timings: {} };
let mark = Date.now();
// Milliseconds each step took, in the report.
const lap = (step) => {
  const now = Date.now();
  report.timings[step] = now - mark;
  mark = now;
};
try {
  const context = await browser.newContext({
    viewport: { width: 1366, height: 900 },
    colorScheme: "light",
  });
  const page = await context.newPage();

  // Every request, and whatever the Content-Security-Policy blocked (a
  // blocked load makes no request, but it is still an attempt).
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await context.route("**/*", (route) =>
    route.request().url() === url ? route.continue() : route.abort("blockedbyclient"),
  );
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
  });

  const rendered = () =>
    page.$eval("#test-table", (t) => Number(t.dataset.rendered || 0));
  // Runs an action and waits until the table was drawn again.
  const act = async (action) => {
    const before = await rendered();
    await action();
    await page.waitForFunction(
      (b) => Number(document.getElementById("test-table").dataset.rendered || 0) > b,
      before,
      { timeout: 30_000 },
    );
  };
  const visibleIds = () =>
    page.$$eval("#test-rows tr.row", (rows) => rows.map((r) => r.dataset.test));
  const matching = () =>
    page.$eval("#match-count", (e) => Number(e.dataset.matching));

  const started = Date.now();
  await page.goto(url, { waitUntil: "load", timeout: 120_000 });
  await page.waitForSelector("#test-table[data-rendered]", { timeout: 120_000 });
  report.renderMs = Date.now() - started;
  lap("load");

  report.verdict = await page.$eval("#verdict", (e) => e.textContent.trim());
  // The slowest tests, as shown: [duration, id, status] per row.
  report.slowest = await page.$$eval("#slowest tbody tr", (rows) =>
    rows.map((r) => [...r.cells].map((c) => c.textContent.trim())),
  );
  report.counts = await page.$$eval("[data-count]", (els) =>
    Object.fromEntries(els.map((e) => [e.dataset.count, Number(e.dataset.value)])),
  );
  report.title = await page.title();

  // The screenshot shows the first (most important) row opened.
  const first = await page.$("#test-rows tr.row");
  if (first) {
    await first.click();
    report.firstRowExpanded = await page.$$eval("#test-rows tr.detail", (d) => d.length === 1);
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  lap("screenshot");

  // Every test, all filters cleared, page after page.
  await act(() => page.click("#reset"));
  const sizes = await page.$$eval("#page-size option", (o) => o.map((x) => Number(x.value)));
  const pageSize = Math.max(...sizes);
  const defaultSize = await page.$eval("#page-size", (s) => s.value);
  await act(() => page.selectOption("#page-size", String(pageSize)));
  const ids = [];
  let pages = 0;
  for (;;) {
    ids.push(...(await visibleIds()));
    pages += 1;
    if (await page.$eval("#next", (b) => b.disabled)) break;
    await act(() => page.click("#next"));
  }
  report.pages = pages;
  report.shown = ids.length;
  report.ids = ids;
  report.allMatching = await matching();
  lap("pages");
  if (ids.length !== report.counts.total) {
    problems.push(`${ids.length} rows shown after clearing the filters, the summary says ${report.counts.total}`);
  }
  // A test that ran twice has two rows: ids may repeat.
  report.uniqueIds = new Set(ids).size;

  // Unexpected results only, on pages of the default size: switch every
  // other outcome off.
  await act(() => page.selectOption("#page-size", defaultSize));
  const shownSize = Number(defaultSize);
  const visibleBefore = (await visibleIds()).length;
  const chips = await page.$$eval("#outcome-filters .chip", (c) => c.map((x) => x.dataset.outcome));
  if (chips.includes("unexpected")) {
    for (const o of chips.filter((c) => c !== "unexpected")) {
      await act(() => page.click(`#outcome-filters .chip[data-outcome="${o}"]`));
    }
    const rows = await page.$$eval("#test-rows tr.row", (r) => r.map((x) => x.dataset.outcome));
    const filter = {
      outcome: "unexpected",
      before: report.allMatching,
      visibleBefore,
      matching: await matching(),
      visible: rows.length,
      expected: report.counts.unexpected,
    };
    report.filter = filter;
    if (filter.matching !== filter.expected) {
      problems.push(`the unexpected filter matches ${filter.matching}, the summary says ${filter.expected}`);
    }
    if (filter.visible !== Math.min(filter.expected, shownSize)) {
      problems.push(`the unexpected filter shows ${filter.visible} rows`);
    }
    if (rows.some((o) => o !== "unexpected")) {
      problems.push("the unexpected filter shows other outcomes");
    }
    if (filter.visibleBefore !== Math.min(filter.before, shownSize)) {
      problems.push(`${filter.visibleBefore} rows shown before filtering`);
    }
  } else {
    report.filter = { outcome: "unexpected", skipped: "no unexpected result" };
  }

  lap("filter");
  // A search for one test id finds it.
  if (ids.length > 0) {
    await act(() => page.click("#reset"));
    const wanted = ids[ids.length - 1];
    await act(() => page.fill("#search", wanted));
    const found = await visibleIds();
    report.search = { query: wanted, found: found.length };
    if (!found.includes(wanted)) problems.push(`searching for ${wanted} does not show it`);
  }

  lap("search");

  // The page's own script runs by its hash: one added to it does not (as a
  // test's output would, were it ever to get past the escaping).
  const errorsBefore = pageErrors.length;
  report.injected = await page.evaluate(async () => {
    const before = window.__violations.length;
    const s = document.createElement("script");
    s.textContent = "window.__injected = true;";
    document.body.appendChild(s);
    await new Promise((r) => setTimeout(r, 100));
    const blocked = window.__violations.splice(before);
    return { ran: window.__injected === true, blocked };
  });
  pageErrors.splice(errorsBefore).forEach((e) => {
    if (!/Content Security Policy/.test(e)) pageErrors.push(e);
  });
  if (report.injected.ran) problems.push("an inline script added to the page ran");
  if (!report.injected.blocked.some((v) => v.startsWith("script-src"))) {
    problems.push(`the CSP reported no blocked inline script: ${JSON.stringify(report.injected)}`);
  }
  report.requests = requests;
  report.external = requests.filter((r) => r !== url);
  report.violations = await page.evaluate(() => window.__violations);
  report.pageErrors = pageErrors;
  if (report.external.length) problems.push(`requests left the page: ${report.external.join(", ")}`);
  if (report.violations.length) problems.push(`loads blocked by the CSP: ${report.violations.join(", ")}`);
  if (pageErrors.length) problems.push(`errors in the page: ${pageErrors.join("; ")}`);
} catch (e) {
  problems.push(`check failed: ${e && e.stack ? e.stack : e}`);
} finally {
  await browser.close();
}

report.problems = problems;
report.ok = problems.length === 0;
// Node exits once stdout is drained: process.exit() here could cut a long
// report short on a pipe.
process.stdout.write(JSON.stringify(report) + "\n");
process.exitCode = report.ok ? 0 : 1;
