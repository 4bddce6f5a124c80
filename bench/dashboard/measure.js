/*
 * One dashboard measurement for bench/dashboard/run.sh, inside its
 * network namespace:
 *
 *   node measure.js NAME PORTWATCH CONFIG DURATION_S WORKDIR
 *
 * Starts the 1433 listeners (accept, then close) on the 500 hosts and
 * `PORTWATCH run -c CONFIG`, waits for every target to have a result,
 * then opens the dashboard in headless Chromium (1280x800) and prints:
 * first useful paint (navigation start to the hosts x roles grid's first
 * cell drawn: two animation frames after it is in the page), the longest
 * main-thread task during that load, and the longest during DURATION_S of
 * live updates (the page's own polls; the grid scrolled from top to
 * bottom; a host page opened and the overview again), from Chromium's
 * Long Tasks API (every task over 50 ms).
 */
'use strict';

const { spawn } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { chromium } = require(path.join(__dirname, '../../tests/browser/node_modules/playwright-core'));

const [NAME, PW, CONF, DURATION = '60', WORK = '/tmp'] = process.argv.slice(2);
const ORIGIN = 'http://127.0.0.1:8470';
const servers = [];
let daemon = null;

function hostsOf() {
  const out = [];
  for (const n of [2, 3]) for (let i = 1; i <= 250; i++) out.push(`127.0.${n}.${i}`);
  return out;
}

function listen(host, port) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer((s) => { s.on('error', () => {}); s.destroy(); });
    srv.once('error', reject);
    srv.listen({ host, port, backlog: 511 }, () => { servers.push(srv); resolve(); });
  });
}

function getJSON(p) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${ORIGIN}${p}`, { timeout: 10000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => { try { resolve({ status: res.statusCode, body: JSON.parse(body) }); } catch (e) { reject(e); } });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Every target probed once (/api/v1/status, present in every build;
 * ?status= keeps the answers small). */
async function waitProbed() {
  const end = Date.now() + 180000;
  while (Date.now() < end) {
    if (!daemon) throw new Error(`${PW} run exited`);
    try {
      const r = await getJSON('/api/v1/status?status=unknown');
      if (r.status === 200 && r.body.targets.length === 0 && r.body.summary.last_sweep.sweeps > 0) {
        const down = await getJSON('/api/v1/status?status=down');
        return { down: down.body.targets.length, hosts: down.body.summary.hosts };
      }
    } catch (e) { /* not up yet */ }
    await sleep(1000);
  }
  throw new Error('the farm was not probed within 180 s');
}

/* Installed before the page's own scripts: long tasks and the moment the
 * grid's first cell is drawn. */
function instrument() {
  window.__pw = { long: [], gridAt: null };
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) window.__pw.long.push({ start: e.startTime, dur: e.duration });
  }).observe({ type: 'longtask', buffered: true });
  const mo = new MutationObserver(() => {
    if (window.__pw.gridAt === null && document.querySelector('#farm-grid a.cell')) {
      window.__pw.gridAt = -1;
      mo.disconnect();
      requestAnimationFrame(() => requestAnimationFrame(() => { window.__pw.gridAt = performance.now(); }));
    }
  });
  document.addEventListener('DOMContentLoaded', () => mo.observe(document.body, { childList: true, subtree: true }));
}

async function main() {
  for (const h of hostsOf()) await listen(h, 1433);
  daemon = spawn(PW, ['run', '-c', CONF], { stdio: ['ignore', 'ignore', 'inherit'] });
  daemon.on('exit', () => { daemon = null; });
  const sum = await waitProbed();
  const ctx = await chromium.launchPersistentContext(path.join(WORK, `profile-${NAME}`), {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1,
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  await page.addInitScript(instrument);
  await page.goto(`${ORIGIN}/`);
  await page.waitForFunction(() => window.__pw.gridAt > 0, null, { timeout: 60000, polling: 100 });
  const load = await page.evaluate(() => ({ paint: window.__pw.gridAt, long: window.__pw.long.slice() }));
  const t0 = await page.evaluate(() => performance.now());

  /* live updates: polls, the grid scrolled through, a host and back */
  const end = Date.now() + Number(DURATION) * 1000;
  let scrolls = 0;
  const hosts = hostsOf();
  while (Date.now() < end) {
    await page.evaluate(() => {
      const box = document.querySelector('.grid-box') || document.scrollingElement;
      if (box.scrollTop + box.clientHeight >= box.scrollHeight - 1) box.scrollTop = 0; else box.scrollTop += 400;
      if (box === document.scrollingElement) window.scrollBy(0, 400);
    });
    scrolls++;
    if (scrolls % 40 === 20) {
      await page.evaluate((h) => { location.hash = `#/host/${h}`; }, hosts[scrolls % hosts.length]);
      await page.waitForSelector('#heatmap .hm-cell, #port-table', { timeout: 20000 }).catch(() => {});
      await sleep(3000);
      await page.evaluate(() => { location.hash = '#/'; });
    }
    await sleep(250);
  }
  const live = await page.evaluate((t) => window.__pw.long.filter((e) => e.start >= t), t0);
  const cells = await page.$$eval('#farm-grid a.cell', (a) => a.length).catch(() => -1);
  await ctx.close();

  const max = (l) => l.reduce((m, e) => Math.max(m, e.dur), 0);
  const over = (l) => l.filter((e) => e.dur > 200).length;
  console.log(`${NAME}: ${sum.hosts} hosts, ${sum.down} targets down, ${PW}`);
  console.log(`  first useful paint (grid drawn)      ${Math.round(load.paint)} ms`);
  console.log(`  longest task while loading           ${Math.round(max(load.long))} ms (${load.long.length} over 50 ms)`);
  console.log(`  longest task while live-updating     ${Math.round(max(live))} ms over ${DURATION} s (${live.length} over 50 ms, ${over(live)} over 200 ms)`);
  console.log(`  grid cells in the page at the end    ${cells}`);
}

async function cleanup() {
  if (daemon) {
    const d = daemon;
    d.kill('SIGTERM');
    await Promise.race([new Promise((r) => d.once('exit', r)), sleep(10000)]);
  }
  servers.forEach((s) => s.close());
}

main().then(cleanup, async (e) => {
  console.log(`${NAME}: FAILED ${e.stack || e}`);
  await cleanup();
  process.exitCode = 1;
});
