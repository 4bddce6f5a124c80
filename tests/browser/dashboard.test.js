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
 * console error, and no request leaves the daemon's origin. Issue 16's
 * "says it plainly": one clock per page (every "N s ago" from one now),
 * sweep figures per schedule (a 1-minute check is its own line), counts
 * that add up, times in the browser's zone said once (Chromium runs in
 * Asia/Kolkata, UTC+05:30, so a time shown in UTC would be caught),
 * incidents listed first, a target in maintenance shown with its reason
 * and end, and the report view printed to PDF by Chromium (printToPDF).
 * Incidents, maintenance and the report are the daemon's own: a window is
 * opened and ended with `portwatch maintenance`, as an operator would.
 * Screenshots (1280x800 and 390x844) and report.pdf go to OUTDIR.
 */
'use strict';

const { spawn, spawnSync } = require('node:child_process');
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
const ZONE = 'Asia/Kolkata', ZONE_OFFSET_MS = 5.5 * 3600000;
/* A [check] on its own, slower schedule: a second line in Schedules. */
const SLOW = { host: WEB, port: 8080, interval_ms: 60000 };

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

/* The grid's rule (web/api_hosts.c's sets): down, in maintenance, not
 * yet probed (status unknown), failing (status up, last probe failed),
 * else up; a cell is its worst, unknown only when no port was probed. */
function tstatus(t) {
  if (t.status === 'down') return 'down';
  if (t.status === 'maintenance' || t.maintenance) return 'maintenance';
  if (t.status === 'unknown' || t.state === null) return 'unknown';
  if (t.ok === false) return 'failing';
  return 'up';
}
function worst(list) {
  const sev = { down: 0, failing: 1, maintenance: 2, unknown: 3, up: 4 };
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
    `processing_servers = ${APP}`, `iis_servers = ${WEB}`, 'secondary_rpc_ports = 50000-50200',
    '[check slow-web]', `hosts = ${WEB}`, `ports = ${SLOW.port}`, 'expect = reachable', 'interval = 1m', '',
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
    timezoneId: ZONE,
  });
  const consoleErrors = [], foreign = [], notFound = [];
  let tokenPhase = true; /* the 401 that brings up the token prompt is logged by Chromium */
  const watch = (page) => {
    page.on('console', (m) => {
      if (m.type() !== 'error' && m.type() !== 'warning') return;
      if (tokenPhase && /status of 401/.test(m.text())) return;
      /* Chromium logs every 404; which URLs answered 404 is checked below */
      if (/status of 404/.test(m.text())) return;
      consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => { if (!r.url().startsWith(`${ORIGIN}/`)) foreign.push(r.url()); });
    page.on('response', (r) => { if (r.status() === 404) notFound.push(r.url()); });
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
  const rows = await page.$$eval('#farm-grid tbody tr[data-host]', (trs) => trs.map((tr) => tr.dataset.host));
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

  await plainly(page);
  await incidents(page);
  await maintenance(page);
  await report(page);

  /* 6. The daemon stops answering: the data is called stale, then live again. */
  process.kill(daemon.pid, 'SIGSTOP');
  await page.waitForSelector('#banner:not([hidden])', { timeout: 40000 });
  check(await page.evaluate(() => document.body.classList.contains('is-stale')), 'a daemon that stops answering makes the page stale');
  check(/stale/i.test(await page.textContent('#banner')), 'the banner says the data is stale');
  await page.screenshot({ path: path.join(OUT, 'desktop-stale.png'), fullPage: false });
  process.kill(daemon.pid, 'SIGCONT');
  await page.waitForSelector('#banner', { state: 'hidden', timeout: 20000 });
  check(true, 'the stale state clears when the daemon answers again');

  check(notFound.length === 0, `no request answered 404${notFound.length ? ` (${[...new Set(notFound.map((u) => u.replace(/\?.*/, '')))].join(', ')})` : ''}`);
  check(consoleErrors.length === 0, `no console errors or warnings${consoleErrors.length ? `: ${consoleErrors.join(' | ')}` : ''}`);
  check(foreign.length === 0, `no request leaves ${ORIGIN}${foreign.length ? `: ${foreign.join(', ')}` : ''}`);
  await ctx.close();
}

/* "12 s ago", "1 min 5 s ago", "just now": whether text is what d ms
 * reads as (app.js fmtDuration). */
function agoMatches(text, d) {
  if (text === 'just now') return d < 1500;
  const m = /^(?:(\d+) h )?(?:(\d+) min ?)?(?:(\d+) s)? ago$/.exec(text);
  if (!m) return false;
  const s = Math.floor(d / 1000);
  if (m[1]) return Math.floor(s / 3600) === Number(m[1]);
  if (m[2]) return Math.floor(s / 60) === Number(m[2]) && s % 60 === Number(m[3] || 0);
  return s === Number(m[3]);
}

/* 7. Issue 16: one clock, schedules, counts that add up, times in the
 * browser's zone said once. On the overview, the farm steady. */
async function plainly(page) {
  await page.evaluate(() => { location.hash = '#/'; });
  await page.waitForSelector('#schedules tbody tr');
  const who = await page.textContent('#instance');
  check(/\S \u00b7 administration$/.test(who), `the header names this server and its vantage (${who})`);
  for (let round = 0; round < 2; round++) { /* a render, then a tick later */
    const agos = await page.evaluate(() => {
      const now = Number(document.body.dataset.now);
      return [...document.querySelectorAll('.ago[data-at]')].map((e) => ({ d: now - Date.parse(e.dataset.at), text: e.textContent }));
    });
    const bad = agos.filter((a) => !agoMatches(a.text, a.d));
    check(agos.length >= 3 && bad.length === 0,
      `every "ago" on the page reads from one clock (${agos.length} of them${bad.length ? `; off: ${bad.map((b) => `${b.text} for ${b.d} ms`).join(', ')}` : ''})`);
    const header = await page.textContent('#freshness .ago');
    const card = await page.$$eval('#schedules .ago', (es) => es.map((e) => ({ at: e.dataset.at, text: e.textContent })));
    const at = await page.$eval('#freshness .ago', (e) => e.dataset.at);
    const same = card.filter((c) => c.at === at);
    check(same.every((c) => c.text === header), `the header and the schedules say the same age for the same result (${header}${same.length ? '' : '; no shared time'})`);
    await page.waitForTimeout(2200);
  }

  const sched = await page.$$eval('#schedules tbody tr', (trs) => trs.map((tr) => ({ iv: Number(tr.dataset.interval), text: tr.textContent })));
  check(sched.some((r) => r.iv === 1000) && sched.some((r) => r.iv === SLOW.interval_ms),
    `a line per schedule: every 1 s and the 1-minute check apart (${sched.map((r) => r.iv).join(', ')})`);
  const mainText = await page.textContent('main');
  check(!/took \d/.test(mainText), 'no single "last sweep took" figure mixing schedules');

  /* counts: sets that never overlap and add up, and agree with the API */
  const tiles = await page.$$eval('.tile[data-set]', (ts) => Object.fromEntries(ts.map((t) => [t.dataset.set, Number(t.querySelector('.num').textContent.replace(/,/g, ''))])));
  const parts = ['down', 'failing', 'maintenance', 'unknown', 'passing'].reduce((a, k) => a + (tiles[k] || 0), 0);
  check(tiles.targets > 0 && parts === tiles.targets, `the counts add up: ${JSON.stringify(tiles)}`);
  check(!('failing_last_probe' in tiles) && /Each target is in one set/.test(await page.textContent('#count-sum')), 'the page says the sets do not overlap');
  const api = (await getJSON('/api/v1/hosts')).body.summary;
  check(api.down === tiles.down && api.targets === tiles.targets, `the counts are the API's (down ${api.down}/${tiles.down}, targets ${api.targets}/${tiles.targets})`);
  const st = (await getJSON('/api/v1/status')).body;
  check(st.targets.filter((t) => t.status === 'down').length === api.down &&
    st.targets.filter((t) => t.status === 'up' && t.ok === false).length === api.failing,
  `/api/v1/hosts counts the same sets as /api/v1/status (down ${api.down}, failing ${api.failing})`);

  /* zones: said once; every time shown is the browser's zone's */
  const zone = await page.textContent('#zone');
  /* Chromium may name the zone by its older alias, Asia/Calcutta */
  check(/Asia\/(Kolkata|Calcutta) \(UTC\+05:30\)/.test(zone), `the page says its time zone (${zone.trim()})`);
  const body = await page.textContent('body');
  check((body.match(/times in /g) || []).length === 1, 'the zone is said once');
  const times = await page.$$eval('time[datetime]', (ts) => ts.map((t) => ({ iso: t.getAttribute('datetime'), text: t.textContent, title: t.title })));
  const wrong = times.filter((t) => !t.text.includes(new Date(Date.parse(t.iso) + ZONE_OFFSET_MS).toISOString().slice(11, 19)) || t.title !== t.iso);
  check(times.length >= 3 && wrong.length === 0, `every time shown is in ${ZONE}, its UTC time in the tooltip (${times.length}${wrong.length ? `; wrong: ${wrong.map((w) => `${w.text} for ${w.iso}`).join(', ')}` : ''})`);
  await page.screenshot({ path: path.join(OUT, 'desktop-plainly.png'), fullPage: true });
}

/* 8. Incidents first: the daemon's own, from its outages (APP's dropped
 * ports since start, WEB's stopped listener). */
async function incidents(page) {
  const real = await waitFor(async () => {
    const r = await getJSON('/api/v1/incidents?from=-24h');
    return r.status === 200 && r.body.incidents.some((i) => i.open && i.hosts.includes(WEB)) ? r.body : null;
  }, 15000, 'an open incident for the stopped listener');
  const app = real.incidents.find((i) => i.open && i.hosts.includes(APP));
  /* APP's and WEB's began apart: a limit of one keeps the newest and says
   * the other was left out */
  const one = (await getJSON('/api/v1/incidents?from=-24h&limit=1')).body;
  check(real.incidents.length >= 2 && one.count === 1 && one.truncated === true && one.incidents[0].id === real.incidents[0].id,
    `limit=1: the newest incident, truncated (${one.count}, ${one.truncated}, of ${real.incidents.length})`);
  await page.evaluate(() => { location.hash = '#/'; });
  await page.waitForSelector(`#incidents li[data-incident="${app.id}"]`, { timeout: 15000 });
  const items = await page.$$eval('#incidents li[data-incident]', (l) => l.map((li) => ({ id: li.dataset.incident, open: li.dataset.open, text: li.textContent })));
  check(items.length === Math.min(50, real.incidents.length), `the dashboard lists the daemon's incidents (${items.length} of ${real.incidents.length})`);
  const opens = items.map((i) => i.open).join('');
  check(/^1+0*$/.test(opens), `incidents: the open ones first (${opens})`);
  const row = items.find((i) => i.id === app.id).text;
  check(row.includes(app.summary) && row.includes(`${app.target_count} targets on ${APP}`) && row.includes('add a new server'),
    `an incident says what, how many targets, where and what it breaks (${row.slice(0, 120)})`);
  check(await page.$eval('main h1 + *', (e) => e.id) === 'incidents', 'incidents come first on the overview');
  await page.screenshot({ path: path.join(OUT, 'desktop-incidents.png'), fullPage: true });
}

/* `portwatch maintenance` against the running daemon's configuration. */
function maintenanceCli(...args) {
  const r = spawnSync(PW, ['maintenance', ...args, '-c', path.join(tmp, 'portwatch.ini')], { encoding: 'utf8', timeout: 10000 });
  check(r.status === 0, `portwatch maintenance ${args[0]} exits 0 (${r.status}${r.stderr ? `: ${r.stderr.trim()}` : ''})`);
}

/* 9. A target in maintenance: a window opened on WEB (its stopped listener
 * down) with `portwatch maintenance start`, shown with its reason and end,
 * then ended. */
async function maintenance(page) {
  maintenanceCli('start', '--host', WEB, '--for', '2h', '--reason', 'IIS patching', '--name', 'patch-night');
  const m = await waitFor(async () => {
    const r = await getJSON('/api/v1/maintenance');
    return r.status === 200 && r.body.active.find((w) => w.window === 'patch-night');
  }, 10000, 'the daemon to take the window');
  await page.evaluate(() => { location.hash = '#/'; });
  await page.waitForSelector('#maintenance li[data-window="patch-night"]', { timeout: 15000 });
  const ov = await page.textContent('#maintenance');
  check(ov.includes('patch-night') && ov.includes('IIS patching') && ov.includes(new Date(Date.parse(m.ends_at) + ZONE_OFFSET_MS).toISOString().slice(11, 16)),
    `the overview shows the active window, its reason and end (${ov.trim().slice(0, 90)})`);
  await page.evaluate((a) => { location.hash = `#/host/${a}`; }, WEB);
  const rowOf = () => page.$eval('#port-table tr[data-port="1164"]', (tr) => ({ status: tr.dataset.status, text: tr.textContent }));
  await page.waitForSelector('#port-table tr[data-port="1164"][data-status="maintenance"]', { timeout: 15000 });
  const row = await rowOf();
  check(row.text.includes('Maintenance') && row.text.includes('IIS patching') && /\(in (2 h|1 h 59 min)\)/.test(row.text),
    `the port in maintenance is shown as such, with reason and end (${row.text.slice(0, 100)})`);
  check((await page.textContent('.maint-banner')).includes('IIS patching'), 'the host page says the host is in a maintenance window');
  await page.screenshot({ path: path.join(OUT, 'desktop-maintenance.png'), fullPage: true });
  maintenanceCli('end', 'patch-night');
  await page.waitForSelector('#port-table tr[data-port="1164"][data-status="down"]', { timeout: 15000 });
  check(await page.$('.maint-banner') === null, 'the window ended: the port is down again and the banner gone');
}

/* 10. The report of a period, printed to PDF by Chromium. */
async function report(page) {
  const real = await getJSON('/api/v1/report?format=json&from=-7d&to=now');
  await page.evaluate(() => { location.hash = '#/report?from=-7d&to=now'; });
  await page.waitForSelector('#report-hosts tbody tr', { timeout: 15000 });
  const hosts = await page.$$eval('#report-hosts tbody tr', (trs) => trs.map((tr) => tr.dataset.name));
  const want = real.body.availability.hosts.map((h) => h.name);
  check(real.status === 200 && hosts.length === 3 && want.every((n) => hosts.includes(n)),
    `the report lists availability per host, the daemon's (${hosts.join(', ')})`);
  const nInc = await page.$$eval('#report-incidents tbody tr', (trs) => trs.length);
  check(nInc >= 2, `the report lists the period's incidents (${nInc})`);
  check(/times in Asia\/(Kolkata|Calcutta)/.test(await page.textContent('#report-period')), 'the report says its time zone');
  await page.emulateMedia({ media: 'print' });
  const hidden = await page.evaluate(() => ['.top nav', '#report-form', '.foot'].every((q) => getComputedStyle(document.querySelector(q)).display === 'none'));
  check(hidden, 'printing hides the navigation, the period form and the footer');
  const pdf = await page.pdf({ format: 'A4', printBackground: true });
  fs.writeFileSync(path.join(OUT, 'report.pdf'), pdf);
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) || []).length;
  check(pdf.slice(0, 5).toString() === '%PDF-' && pdf.length > 5000 && pages >= 1, `Chromium prints the report to PDF (${pdf.length} bytes, ${pages} page${pages === 1 ? '' : 's'})`);
  await page.emulateMedia({ media: 'screen' });
  await page.evaluate(() => { location.hash = '#/'; });
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
