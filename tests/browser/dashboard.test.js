/*
 * The dashboard, end to end: the real `portwatch run` daemon probing a
 * farm of real listeners, and headless Chromium (Debian's) reading the
 * dashboard the daemon serves. Run by run.sh inside a network namespace it
 * creates, so the farm can hold the real ports (135, 445, 1433, 1164 and
 * the 50000-50200 RPC range) on 127.0.1.x without touching the host.
 *
 *   node dashboard.test.js PORTWATCH OUTDIR
 *
 * Checks: the token prompt (the daemon runs with api_token), the grid
 * agrees with /api/v1/status, a host's heatmap has 201 focusable cells
 * navigable with the arrow keys, a listener stopped shows up as an outage
 * without a reload (overview, impact and history), the stale state when
 * the daemon stops answering, the phone layout does not overflow, no
 * console error, and no request leaves the daemon's origin. Screenshots
 * (1280x800 and 390x844) go to OUTDIR.
 */
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const PW = process.argv[2];
const OUT = process.argv[3] || '.';
const LISTEN = '127.0.0.1:8470';
const ORIGIN = `http://${LISTEN}`;
const TOKEN = 'browser-test-token-0123456789abcdef';
const SQL = '127.0.1.1', APP = '127.0.1.2', WEB = '127.0.1.3';
/* run.sh drops these in the namespace's firewall: filtered, so down. */
const DROPPED = { host: APP, lo: 50100, hi: 50119 };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-browser-'));
const servers = new Map();
let daemon = null;
let failures = 0;

function log(...a) { console.log(...a); }

function check(cond, what) {
  if (cond) { log(`ok   ${what}`); return; }
  failures++;
  log(`FAIL ${what}`);
}

function listen(host, port) {
  return new Promise((resolve, reject) => {
    const socks = new Set();
    const srv = net.createServer((s) => { socks.add(s); s.on('close', () => socks.delete(s)); s.on('error', () => {}); });
    srv.socks = socks;
    srv.once('error', reject);
    srv.listen({ host, port, backlog: 511 }, () => { servers.set(`${host}:${port}`, srv); resolve(srv); });
  });
}

function unlisten(host, port) {
  const srv = servers.get(`${host}:${port}`);
  servers.delete(`${host}:${port}`);
  return new Promise((resolve) => { srv.socks.forEach((s) => s.destroy()); srv.close(() => resolve()); });
}

function getJSON(p) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${ORIGIN}${p}`, { headers: { Authorization: `Bearer ${TOKEN}` }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        try { resolve({ status: res.statusCode, body: JSON.parse(body) }); } catch (e) { reject(e); }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await pred(); if (last) return last; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
}

/* The grid's rule (app.js worst()): down, failing, unknown only when no
 * port of the cell was probed, else up. */
function tstatus(t) {
  if (t.status === 'down') return 'down';
  if (t.ok === false) return 'failing';
  if (t.status === 'unknown' || t.state === null) return 'unknown';
  return 'up';
}
function worst(list) {
  const sev = { down: 0, failing: 1, unknown: 2, up: 3 };
  let w = 'up', unknown = 0;
  for (const t of list) {
    const s = tstatus(t);
    if (s === 'unknown') unknown++;
    if (sev[s] < sev[w]) w = s;
  }
  return w === 'unknown' && unknown < list.length ? 'up' : w;
}

async function startFarm() {
  await listen(SQL, 1433);
  await listen(SQL, 135);
  for (let p = 50000; p < 50010; p++) await listen(SQL, p); /* some RPC ports held, the rest refuse */
  await listen(APP, 135);
  await listen(APP, 445);
  for (let p = 50000; p <= 50200; p += 20) if (p < DROPPED.lo || p > DROPPED.hi) await listen(APP, p);
  await listen(WEB, 1164);
}

function startDaemon() {
  const conf = path.join(tmp, 'portwatch.ini');
  fs.writeFileSync(conf, [
    '[portwatch]', `listen = ${LISTEN}`, `database = ${path.join(tmp, 'pw.db')}`,
    'interval = 1s', 'timeout = 400ms', 'fail_after = 2', 'recover_after = 1', `api_token = ${TOKEN}`,
    '[biztalk]',
    `management_database = ${SQL}`, `messagebox_database = ${SQL}`, `tracking_database = ${SQL}`,
    `bam_primary_import_database = ${SQL}`, `rule_engine_database = ${SQL}`,
    `processing_servers = ${APP}`, `iis_servers = ${WEB}`, 'secondary_rpc_ports = 50000-50200', '',
  ].join('\n'));
  daemon = spawn(PW, ['run', '-c', conf], { stdio: ['ignore', 'inherit', 'inherit'] });
  daemon.on('exit', (code, sig) => { if (daemon) log(`daemon exited: ${code ?? sig}`); daemon = null; });
}

async function main() {
  await startFarm();
  startDaemon();
  const first = await waitFor(async () => {
    const r = await getJSON('/api/v1/status');
    return r.status === 200 && r.body.summary.unknown === 0 && r.body.summary.last_sweep.at &&
      r.body.targets.filter((t) => t.host === APP && t.port >= DROPPED.lo && t.port <= DROPPED.hi && t.status === 'down').length === 20 ? r.body : null;
  }, 30000, 'the first sweeps (and the dropped ports down)');
  log(`daemon up: ${first.summary.targets} targets, ${first.summary.down} down`);

  const ctx = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    reducedMotion: 'reduce',
  });
  const consoleErrors = [], foreign = [];
  let tokenPhase = true; /* the 401 that brings up the token prompt is logged by Chromium */
  const watch = (page) => {
    page.on('console', (m) => {
      if (m.type() !== 'error' && m.type() !== 'warning') return;
      if (tokenPhase && /status of 401/.test(m.text())) return;
      consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => { if (!r.url().startsWith(`${ORIGIN}/`)) foreign.push(r.url()); });
  };
  const page = ctx.pages()[0] || await ctx.newPage();
  watch(page);

  /* 1. The token prompt, then the farm. */
  await page.goto(`${ORIGIN}/`);
  await page.waitForSelector('#token-form:not([hidden])', { timeout: 10000 });
  check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'token-input'), 'the token prompt takes focus');
  await page.keyboard.type(TOKEN);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#farm-grid a.cell', { timeout: 10000 });
  tokenPhase = false;
  check(await page.evaluate(() => sessionStorage.getItem('portwatch.token')) === TOKEN, 'the token is kept in sessionStorage');
  await page.evaluate(() => { window.__pwNoReload = 1; });

  /* 2. The grid agrees with /api/v1/status. Compared against a status read
   * between two dashboard polls with nothing changing in the farm. */
  await page.waitForTimeout(5500);
  const st = (await getJSON('/api/v1/status')).body;
  const cells = await page.$$eval('#farm-grid a.cell', (as) => as.map((a) => ({ host: a.dataset.host, role: a.dataset.role, status: a.dataset.status, count: Number(a.dataset.count), text: a.textContent })));
  const expect = new Map();
  for (const t of st.targets) for (const r of t.roles) {
    const k = `${t.host}|${r}`;
    if (!expect.has(k)) expect.set(k, []);
    expect.get(k).push(t);
  }
  check(cells.length === expect.size, `grid has one cell per (host, role) the API lists (${cells.length} vs ${expect.size})`);
  let agree = 0;
  for (const c of cells) {
    const list = expect.get(`${c.host}|${c.role}`) || [];
    if (list.length === c.count && worst(list) === c.status) agree++;
    else log(`  cell ${c.host} ${c.role}: page ${c.status}/${c.count}, API ${worst(list)}/${list.length}`);
  }
  check(agree === cells.length, `every cell's status and port count agree with /api/v1/status (${agree}/${cells.length})`);
  check(cells.every((c) => /Up|Down|Failing|Unknown/.test(c.text)), 'every cell says its status in words, not only by colour');
  const rows = await page.$$eval('#farm-grid tbody tr', (trs) => trs.map((tr) => tr.dataset.host));
  check(rows[0] === APP, `the host with failures comes first (${rows.join(', ')})`);
  const tiles = await page.$eval('.tiles', (el) => el.textContent);
  check(tiles.includes(`${st.summary.down}down`) && tiles.includes(`${st.summary.targets}targets`), 'the counts match the summary');
  check(await page.isVisible('#banner') === false, 'no stale banner while the daemon answers');
  await page.screenshot({ path: path.join(OUT, 'desktop-overview.png'), fullPage: true });

  /* 3. A host: its ports and the 201-cell heatmap, keyboard navigable. */
  await page.click(`#farm-grid tbody tr[data-host="${APP}"] th a`);
  await page.waitForSelector('#heatmap .hm-cell');
  const hm = await page.$$eval('#heatmap .hm-cell', (cs) => cs.map((c) => ({ port: Number(c.dataset.port), status: c.dataset.status, tab: c.tabIndex })));
  check(hm.length === 201, `the heatmap has one cell per port of the range (${hm.length})`);
  check(hm[0].port === 50000 && hm[200].port === 50200, 'the heatmap runs 50000 to 50200');
  check(hm.filter((c) => c.status === 'down').length === DROPPED.hi - DROPPED.lo + 1 &&
    hm.filter((c) => c.status === 'down').every((c) => c.port >= DROPPED.lo && c.port <= DROPPED.hi), 'exactly the dropped ports are down in the heatmap');
  check(hm.filter((c) => c.tab === 0).length === 1, 'one heatmap cell is in the tab order (roving tabindex)');
  const ports = await page.$$eval('#port-table tbody tr', (trs) => trs.map((tr) => Number(tr.dataset.port)));
  check(ports.join(',') === '135,445', `the port table lists the host's single ports (${ports.join(',')})`);
  await page.waitForFunction(() => !document.querySelector('#port-table').textContent.includes('loading'), null, { timeout: 10000 });
  check((await page.textContent('#port-table')).includes('add a new server to the group'), 'the port table shows the catalog reasons');
  check((await page.textContent('#port-table thead')).includes('Service check'), 'the port table has the service check column');
  /* Port 135 here is a plain listener, not an endpoint mapper: the host view
   * says the mapper could not be read, with the reason. */
  await page.waitForSelector('#epm-note, #epm-table', { timeout: 20000 });
  const epm = await page.textContent('#h-epm + *');
  check(/could not be read/.test(epm), `the endpoint mapper panel reports the failed read (${epm.slice(0, 80)})`);
  await page.focus('#heatmap .hm-cell[tabindex="0"]');
  await page.keyboard.press('Control+Home');
  check(await page.evaluate(() => document.activeElement.dataset.port) === '50000', 'Ctrl+Home goes to the first port');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  const f1 = await page.evaluate(() => document.activeElement.dataset.port);
  await page.keyboard.press('ArrowDown');
  const f2 = await page.evaluate(() => document.activeElement.dataset.port);
  check(f1 === '50002', `ArrowRight moves between cells (${f1})`);
  check(Number(f2) > 50002, `ArrowDown moves a row down (${f2})`);
  check((await page.textContent('#hm-detail')).includes(`Port ${f2}`), 'the focused port\'s details are shown');
  await page.hover(`#heatmap .hm-cell[data-port="${DROPPED.lo + 3}"]`);
  await page.waitForTimeout(100);
  const det = await page.textContent('#hm-detail');
  check(det.includes(`Port ${f2}`) || det.includes(`Port ${DROPPED.lo + 3}`), 'hover does not lose the detail panel');
  await page.waitForTimeout(5500); /* a poll redraws the view: focus must survive */
  check(await page.evaluate(() => document.activeElement.dataset.port) === f2, 'focus stays on the same cell across live updates');
  await page.hover(`#heatmap .hm-cell[data-port="${DROPPED.lo + 3}"]`);
  await page.screenshot({ path: path.join(OUT, 'desktop-host.png'), fullPage: true });

  /* 4. Stop a listener: the outage appears without a reload. */
  await page.click('nav a[data-nav="overview"]');
  await page.waitForSelector('#farm-grid');
  await unlisten(WEB, 1164);
  const t0 = Date.now();
  await page.waitForSelector(`#farm-grid a.cell[data-host="${WEB}"][data-role="iis_servers"][data-status="down"]`, { timeout: 20000 });
  log(`     (IIS cell turned down ${Date.now() - t0} ms after the listener stopped)`);
  check(true, 'the stopped listener turns its cell down without a reload');
  check(await page.evaluate(() => window.__pwNoReload === 1), 'the page was not reloaded');
  check((await page.textContent('.failing-list')).includes(`${WEB}`), 'the failing list names the host');
  await page.click('nav a[data-nav="impact"]');
  await page.waitForSelector('#broken-tasks');
  const impact = await page.textContent('main');
  check(impact.includes('pack HTTP or Web Service Ports hosted on the IIS Server into an MSI'), 'impact names the task the IIS port breaks');
  check(impact.includes('add a new server to the group'), 'impact names the task the filtered RPC ports break');
  await page.screenshot({ path: path.join(OUT, 'desktop-impact.png'), fullPage: true });
  await page.click('nav a[data-nav="history"]');
  await page.waitForSelector(`#outage-table tr[data-host="${WEB}"][data-open="1"]`, { timeout: 15000 });
  check(true, 'the history lists the open outage');
  await page.waitForSelector('#latency svg', { timeout: 10000 });
  check(await page.$$eval('#timeline svg g[data-host]', (gs) => gs.length) === 3, 'the timeline has a row per host');
  const tlText = await page.textContent('#timeline');
  check(tlText.includes('monitored throughout'),
    `the hours before portwatch first watched are not a monitoring gap (${tlText.slice(-80)})`);
  check(await page.$$eval('#uptime-host tbody tr', (r) => r.length) === 3, 'availability by host lists the three hosts');
  const upHead = await page.textContent('#uptime-host thead');
  check(upHead.includes('Available') && !upHead.includes('per port'), `availability, not a per-port average (${upHead})`);
  check(await page.$$eval('#latency svg path.lat-line', (p) => p.length) === 1, 'the latency chart draws a line');
  await page.focus('#f-host');
  await page.selectOption('#f-host', WEB);
  await page.waitForFunction((w) => location.hash.includes(`host=${w}`) && document.querySelectorAll('#outage-table tbody tr').length === 1, WEB, { timeout: 10000 });
  check(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'f-host', 'a filter change keeps focus on the filter');
  await page.selectOption('#f-host', '');
  await page.waitForSelector('#outage-table');
  await page.screenshot({ path: path.join(OUT, 'desktop-history.png'), fullPage: true });

  /* 5. Phone size: no page-wide horizontal scrolling. */
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [hash, name] of [['#/', 'overview'], [`#/host/${APP}`, 'host'], ['#/impact', 'impact'], ['#/history', 'history']]) {
    await page.evaluate((h) => { location.hash = h; }, hash);
    await page.waitForTimeout(1500);
    const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    check(over <= 0, `phone ${name}: no horizontal overflow (${over} px)`);
    await page.screenshot({ path: path.join(OUT, `phone-${name}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.evaluate(() => { location.hash = '#/'; });

  /* 6. The daemon stops answering: the data is called stale, then live again. */
  process.kill(daemon.pid, 'SIGSTOP');
  await page.waitForSelector('#banner:not([hidden])', { timeout: 40000 });
  check(await page.evaluate(() => document.body.classList.contains('is-stale')), 'a daemon that stops answering makes the page stale');
  check(/stale/i.test(await page.textContent('#banner')), 'the banner says the data is stale');
  await page.screenshot({ path: path.join(OUT, 'desktop-stale.png'), fullPage: false });
  process.kill(daemon.pid, 'SIGCONT');
  await page.waitForSelector('#banner', { state: 'hidden', timeout: 20000 });
  check(true, 'the stale state clears when the daemon answers again');

  check(consoleErrors.length === 0, `no console errors or warnings${consoleErrors.length ? `: ${consoleErrors.join(' | ')}` : ''}`);
  check(foreign.length === 0, `no request leaves ${ORIGIN}${foreign.length ? `: ${foreign.join(', ')}` : ''}`);
  await ctx.close();
}

async function cleanup() {
  if (daemon) {
    const d = daemon;
    try { process.kill(d.pid, 'SIGCONT'); } catch (e) { /* gone */ }
    d.kill('SIGTERM');
    await Promise.race([new Promise((r) => d.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
    if (daemon) d.kill('SIGKILL');
  }
  for (const k of [...servers.keys()]) { const [h, p] = k.split(':'); await unlisten(h, Number(p)); }
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().then(async () => {
  await cleanup();
  log(failures ? `${failures} check(s) failed` : 'all checks passed');
  process.exit(failures ? 1 : 0);
}, async (e) => {
  log(`FAIL ${e.stack || e}`);
  await cleanup();
  process.exit(1);
});
