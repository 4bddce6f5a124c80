/*
 * portwatch dashboard: reads the daemon's JSON API (README.md, "HTTP API") and draws
 * the farm overview, a host's ports with the secondary RPC range as a
 * heatmap, the administrative tasks that failing ports break, and the
 * history (outage timeline, outage table, uptime, latency).
 *
 * Served from the daemon itself under a strict Content-Security-Policy:
 * no inline code or styles, nothing fetched from another origin, no eval,
 * no HTML parsed from strings (every element is built with the DOM, so
 * host names and reasons are always text). Routing is by location.hash; the status is
 * polled every few seconds and the current view redrawn in place, keeping
 * focus and scroll where the user left them.
 */
'use strict';

(function () {
  const POLL_MS = 5000;
  const FAIL_STALE_MS = 15000;      /* no answer this long: the data is stale */
  const HISTORY_REFRESH_MS = 30000;
  const FETCH_TIMEOUT_MS = 8000;
  const TOKEN_KEY = 'portwatch.token';
  const SVGNS = 'http://www.w3.org/2000/svg';

  /* The biztalk-admin catalog's roles (config/catalog.c), in its order. */
  const ROLES = [
    ['management_database', 'BizTalk Management database'],
    ['bam_primary_import_database', 'BAM Primary Import database'],
    ['messagebox_database', 'MessageBox database'],
    ['processing_servers', 'Processing server'],
    ['rule_engine_database', 'Business Rule Engine database'],
    ['tracking_database', 'Tracking database'],
    ['iis_servers', 'IIS Server'],
  ];
  const ROLE_TITLE = new Map(ROLES);
  const ROLE_RANK = new Map(ROLES.map((r, i) => [r[0], i]));

  const STATE_TEXT = {
    open: 'open: accepted the connection',
    closed: 'refused: nothing listens (the path is open)',
    filtered: 'filtered: no answer within the timeout (a firewall drops it)',
    unreachable: 'unreachable: the host or network is unreachable',
    dns_error: 'name does not resolve',
    error: 'error',
  };
  const STATE_SHORT = {
    open: 'open', closed: 'refused', filtered: 'filtered', unreachable: 'unreachable',
    dns_error: 'DNS error', error: 'error',
  };
  const STATUS_WORD = { down: 'Down', failing: 'Failing', maintenance: 'Maintenance', unknown: 'Unknown', up: 'Up' };
  const SEVERITY = { down: 0, failing: 1, maintenance: 2, unknown: 3, up: 4 };
  /* The server's count sets (api/v1/hosts) by the names tstatus uses. */
  const SET_OF = { down: 'down', failing: 'failing', maintenance: 'maintenance', unknown: 'unknown', up: 'passing' };
  const GRID_ROW_PX = 52;   /* a grid row's height (app.css table.grid tr) */
  const LIST_PAGE = 100;    /* failing groups shown before "show more" */
  const RANGES = {
    '24h': { span: 86400000, step: '5m', label: '24 hours' },
    '7d': { span: 7 * 86400000, step: '1h', label: '7 days' },
    '90d': { span: 90 * 86400000, step: '6h', label: '90 days' },
  };

  const app = {
    farm: null,            /* the last /api/v1/hosts document (the overview's) */
    hostDoc: null,         /* {host, doc}: /api/v1/status?host= of the host view */
    incidents: null,       /* /api/v1/incidents (last 24 h), or null: no such endpoint */
    maint: null,           /* /api/v1/maintenance, or null: no such endpoint */
    now: 0,                /* the page's one clock (server time), set per render */
    okAt: 0,               /* client time of the last good answer */
    error: null,           /* why the last poll failed, or null */
    skew: 0,               /* server clock - client clock, from Date headers */
    needToken: false,
    pollTimer: 0,
    reasons: new Map(),    /* target id -> reasons[] (a plan's reasons do not change) */
    reasonFetch: new Set(),
    hm: { host: null, port: null, pinned: false },
    hist: null,            /* history view state */
    report: null,          /* report view state */
    afterSwap: [],         /* run once the new view is in the page */
    failingShown: 0,
    lastDown: -1,
  };

  /* ---- small helpers ---------------------------------------------------- */

  function h(tag, props) {
    const svg = tag.startsWith('svg:');
    const el = svg ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
    if (props) {
      for (const k of Object.keys(props)) {
        const v = props[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === 'text') el.textContent = String(v);
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (let i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }

  function add(el, kid) {
    if (kid === null || kid === undefined || kid === false) return;
    if (Array.isArray(kid)) { kid.forEach((k) => add(el, k)); return; }
    el.append(kid instanceof Node ? kid : String(kid));
  }

  function serverNow() { return Date.now() + app.skew; }

  /* One clock per page: every time and "N s ago" of a render is computed
   * from app.now, set once per render (and per one-second tick, which
   * updates every relative time at once), so no two agree to differ. */
  function tickNow() {
    app.now = serverNow();
    document.body.dataset.now = String(app.now);
  }

  /* The browser's time zone, said once on the page (the header); every
   * time shown is in it, and each carries its UTC time as a tooltip. */
  let zoneMemo = { at: -Infinity, text: '' };
  function zoneName() {
    /* asked every second by the header: worked out once a minute (an
     * offset changes at a daylight-saving switch, never faster) */
    if (Math.abs(Date.now() - zoneMemo.at) < 60000) return zoneMemo.text;
    let z = '';
    try { z = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { z = ''; }
    const off = -new Date(app.now || Date.now()).getTimezoneOffset();
    const hm = `${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
    zoneMemo = { at: Date.now(), text: z ? `${z} (UTC${hm})` : `UTC${hm}` };
    return zoneMemo.text;
  }
  function ms(iso) { return iso ? Date.parse(iso) : NaN; }
  function pad(n) { return String(n).padStart(2, '0'); }

  function fmtTime(iso, withDate) {
    const t = ms(iso);
    if (!Number.isFinite(t)) return '\u2014';
    const d = new Date(t), now = new Date(app.now || serverNow());
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    const sameDay = d.toDateString() === now.toDateString();
    return sameDay && !withDate ? hm : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
  }

  function timeEl(iso, withDate) {
    if (!iso) return h('span', { class: 'muted', text: '\u2014' });
    return h('time', { datetime: iso, title: iso }, fmtTime(iso, withDate));
  }

  function fmtDuration(d) {
    if (!Number.isFinite(d)) return '\u2014';
    d = Math.max(0, d);
    if (d < 1000) return `${Math.round(d)} ms`;
    const s = Math.floor(d / 1000);
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
    const hr = Math.floor(m / 60);
    if (hr < 48) return m % 60 ? `${hr} h ${m % 60} min` : `${hr} h`;
    const dd = Math.floor(hr / 24);
    return hr % 24 ? `${dd} d ${hr % 24} h` : `${dd} d`;
  }

  function ago(iso) {
    const t = ms(iso);
    if (!Number.isFinite(t)) return '';
    const d = app.now - t;
    return d < 1500 ? 'just now' : `${fmtDuration(d)} ago`;
  }

  /* "12 s ago", kept moving by the tick (data-at) from the page's clock. */
  function agoEl(iso) {
    return h('span', { class: 'ago', dataset: { at: iso || '' } }, ago(iso));
  }

  function tick() {
    tickNow();
    document.querySelectorAll('.ago[data-at]').forEach((el) => {
      const t = ago(el.dataset.at);
      if (el.textContent !== t) el.textContent = t;
    });
    drawFreshness();
  }

  function fmtLatency(v) {
    if (v === null || v === undefined) return '\u2014';
    return v < 10 ? `${v.toFixed(2)} ms` : v < 100 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
  }

  function roleTitle(key) { return ROLE_TITLE.get(key) || `check ${key}`; }

  function roleSort(a, b) {
    const ra = ROLE_RANK.has(a) ? ROLE_RANK.get(a) : 100, rb = ROLE_RANK.has(b) ? ROLE_RANK.get(b) : 100;
    return ra - rb || a.localeCompare(b);
  }

  /* One collator: localeCompare with options builds one per call. */
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  function hostSort(a, b) { return collator.compare(a, b); }

  /* A target's status for the eye, the server's sets (web/api_hosts.c):
   * down, maintenance (inside a maintenance window), failing (status up,
   * last probe failed: flap control still counting), unknown (not probed
   * yet) or up. Each target is in exactly one. */
  function tstatus(t) {
    if (t.status === 'down') return 'down';
    if (t.status === 'maintenance' || t.maintenance) return 'maintenance';
    if (t.status === 'unknown' || t.state === null) return 'unknown';
    if (t.ok === false) return 'failing';
    return 'up';
  }

  function worst(list) {
    let w = 'up', unknown = 0;
    for (const t of list) {
      const st = tstatus(t);
      if (st === 'unknown') unknown++;
      if (SEVERITY[st] < SEVERITY[w]) w = st;
    }
    if (w === 'unknown' && unknown < list.length) w = 'up'; /* some probed, all passing */
    return w;
  }

  /* "patch-night: SQL patching, until 14:00:00 (in 2 h)" */
  function maintText(m) {
    if (!m) return null;
    const end = ms(m.ends_at);
    return h('span', { class: 'maint-note' }, h('strong', { text: m.window || 'maintenance' }),
      m.reason ? `: ${m.reason}` : '', m.ends_at ? [', until ', timeEl(m.ends_at, true),
        Number.isFinite(end) && end > app.now ? ` (in ${fmtDuration(end - app.now)})` : ''] : '');
  }

  function badge(st, text) {
    return h('span', { class: `badge s-${st}` }, text || STATUS_WORD[st]);
  }

  /* "50000-50200" from a sorted list of ports. */
  function portRanges(ports) {
    const out = [];
    for (let i = 0; i < ports.length;) {
      let j = i;
      while (j + 1 < ports.length && ports[j + 1] === ports[j] + 1) j++;
      out.push(j > i ? `${ports[i]}\u2013${ports[j]}` : String(ports[i]));
      i = j + 1;
    }
    return out.join(', ');
  }

  function sig(t) { return `${t.expect}|${(t.roles || []).join(',')}`; }

  function hostPath(host, role) {
    return `#/host/${encodeURIComponent(host)}${role ? `?role=${encodeURIComponent(role)}` : ''}`;
  }

  /* ---- the API ---------------------------------------------------------- */

  class AuthError extends Error {}

  async function api(path) {
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    let resp;
    try {
      /* A daemon that accepts but never answers (stopped, overloaded) must
       * not leave the poll hanging: give up and call the data stale. */
      resp = await fetch(path, { headers, cache: 'no-store', credentials: 'same-origin', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    } catch (e) {
      throw new Error(e && e.name === 'TimeoutError' ? `no answer within ${FETCH_TIMEOUT_MS / 1000} s` : 'portwatch does not answer (network error)');
    }
    const date = Date.parse(resp.headers.get('Date') || '');
    if (Number.isFinite(date)) app.skew = date - Date.now();
    if (resp.status === 401) {
      askToken(!!token);
      throw new AuthError('unauthorized');
    }
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) {
      const why = body && (body.detail || body.error);
      throw new Error(`HTTP ${resp.status}${why ? `: ${why}` : ''}`);
    }
    if (body === null) throw new Error('the answer is not JSON');
    return body;
  }

  function iso(t) { return new Date(t).toISOString(); }

  /* ---- token prompt ------------------------------------------------------ */

  function askToken(refused) {
    const form = document.getElementById('token-form');
    const why = document.getElementById('token-why');
    app.needToken = true;
    why.textContent = refused
      ? 'portwatch refused the token (401 Unauthorized). Enter the api_token from its configuration.'
      : 'The server answered 401 Unauthorized. Enter the api_token from its configuration. It is kept for this browser tab only.';
    if (form.hidden) {
      form.hidden = false;
      document.getElementById('token-input').focus();
    }
  }

  function setupToken() {
    const form = document.getElementById('token-form');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = document.getElementById('token-input');
      const v = input.value.trim();
      if (!v) return;
      sessionStorage.setItem(TOKEN_KEY, v);
      input.value = '';
      form.hidden = true;
      app.needToken = false;
      poll();
      if (route().view === 'history') loadHistory(true);
    });
  }

  /* ---- polling and freshness -------------------------------------------- */

  /* An optional endpoint: its document, or null when this portwatch has
   * no such endpoint (404): the part of the page it feeds is absent. A
   * polled one that answered 404 is asked again only every few minutes
   * (the daemon may be upgraded under an open page). */
  const ABSENT_RETRY_MS = 300000;
  const absent = new Map();
  async function optional(path, polled) {
    const key = path.replace(/\?.*/, '');
    if (polled && Date.now() - (absent.get(key) || -Infinity) < ABSENT_RETRY_MS) return null;
    try {
      const doc = await api(path);
      absent.delete(key);
      return doc;
    } catch (e) {
      if (!/^HTTP 404/.test(e.message || '')) throw e;
      if (polled) absent.set(key, Date.now());
      return null;
    }
  }

  /* The last 24 hours' incidents: the newest INCIDENTS_SHOWN and every
   * open one (up to as many), which may be older than those; null while
   * the daemon has no /api/v1/incidents. */
  const INCIDENTS_SHOWN = 50;
  async function recentIncidents() {
    const q = `api/v1/incidents?from=-24h&limit=${INCIDENTS_SHOWN}`;
    const [newest, open] = await Promise.all([optional(q, true), optional(`${q}&state=open`, true)]);
    if (!newest) return null;
    const seen = new Set(newest.incidents.map((i) => i.id));
    const older = open ? open.incidents.filter((i) => !seen.has(i.id)) : [];
    return { ...newest, incidents: newest.incidents.concat(older) };
  }

  /* One poll: the farm summary (never every target: /api/v1/hosts is
   * summarised server-side), the open host's targets, incidents and
   * maintenance windows. */
  async function poll() {
    clearTimeout(app.pollTimer);
    const r = route();
    try {
      const [farm, hostDoc, incidents, maint] = await Promise.all([
        api('api/v1/hosts'),
        r.view === 'host' ? optional(`api/v1/status?host=${encodeURIComponent(r.host)}`) : null,
        recentIncidents().catch((e) => ({ error: e.message })),
        optional('api/v1/maintenance', true).catch(() => null),
      ]);
      app.farm = farm;
      showInstance(farm.instance);
      app.hostDoc = r.view === 'host' ? { host: r.host, doc: hostDoc || { targets: [] } } : null;
      app.incidents = incidents;
      app.maint = maint;
      app.okAt = Date.now();
      app.error = null;
      if (r.view === 'host' && hostDoc && hostDoc.targets.some((t) => t.port === 135))
        await pollEndpoints(r.host);
      else
        app.epm = null;
    } catch (e) {
      if (!(e instanceof AuthError)) app.error = e.message;
    }
    redraw();
    if (!app.needToken) app.pollTimer = setTimeout(poll, POLL_MS);
  }

  /* Who watches: this server's name and vantages, as /metrics labels them
   * (a fleet's dashboards tell its servers apart by them). */
  function showInstance(inst) {
    const el = document.getElementById('instance');
    if (!el || !inst) return;
    const v = inst.vantages.length ? ` \u00b7 ${inst.vantages.join(', ')}` : '';
    el.textContent = `${inst.instance_name}${v}`;
  }

  /* Why the data on screen should not be trusted, or null. */
  function staleness() {
    if (!app.farm) return app.error ? `No data: ${app.error}` : null;
    const since = Date.now() - app.okAt;
    if (app.error && since > FAIL_STALE_MS) {
      return `Data is stale: portwatch has not answered for ${fmtDuration(since)} (${app.error}). ` +
        `Showing what it said at ${fmtTime(iso(app.okAt + app.skew))}.`;
    }
    const s = app.farm.summary, ls = s.last_sweep;
    if (ls && ls.at) {
      const iv = Number.isFinite(s.interval_ms) ? s.interval_ms : null;
      const limit = iv ? 2 * iv + 30000 : 15 * 60000;
      const age = app.now - ms(ls.at);
      if (age > limit) {
        return `Data is stale: the last result came in ${fmtDuration(age)} ago` +
          (iv ? ` (the shortest schedule is every ${fmtDuration(iv)}).` : '.') + ' Probing seems to have stopped.';
      }
    }
    return null;
  }

  function drawFreshness() {
    const el = document.getElementById('freshness');
    const banner = document.getElementById('banner');
    const stale = staleness();
    document.body.classList.toggle('is-stale', !!stale);
    banner.hidden = !stale;
    if (stale && banner.textContent !== stale) banner.textContent = stale;
    el.classList.toggle('stale', !!stale);
    const zone = h('span', { id: 'zone', class: 'zone' }, ` \u00b7 times in ${zoneName()}`);
    if (!app.farm) {
      el.replaceChildren(app.needToken ? 'Waiting for an API token' : (app.error ? 'No data' : 'Loading\u2026'), zone);
      return;
    }
    const ls = app.farm.summary.last_sweep;
    el.replaceChildren();
    add(el, [stale ? 'Stale \u00b7 ' : 'Live \u00b7 ', 'last result ',
      ls && ls.at ? [timeEl(ls.at), ' (', agoEl(ls.at), ')'] : 'none yet', zone]);
  }

  /* ---- routing ------------------------------------------------------------ */

  function route() {
    const raw = location.hash.replace(/^#/, '') || '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    const parts = path.split('/').filter(Boolean).map((p) => {
      try { return decodeURIComponent(p); } catch (e) { return p; }
    });
    if (parts.length === 0 || parts[0] === 'overview') return { view: 'overview', params };
    if (parts[0] === 'host' && parts[1]) return { view: 'host', host: parts[1], params };
    if (parts[0] === 'impact') return { view: 'impact', params };
    if (parts[0] === 'history') return { view: 'history', params };
    if (parts[0] === 'report') return { view: 'report', params };
    return { view: 'notfound', params, path };
  }

  function setHashParams(view, params) {
    const q = params.toString();
    const next = `#/${view}${q ? `?${q}` : ''}`;
    if (location.hash !== next) location.hash = next;
  }

  /* Replaces main's content, keeping focus (by data-key), the page scroll
   * and horizontal scroll of scrolled tables. */
  function swapMain(content) {
    const main = document.getElementById('main');
    const active = document.activeElement;
    const key = active && main.contains(active) && active.dataset ? active.dataset.key : null;
    const scrolls = new Map();
    main.querySelectorAll('[data-scroll]').forEach((s) => scrolls.set(s.dataset.scroll, [s.scrollLeft, s.scrollTop]));
    const y = window.scrollY;
    main.replaceChildren(content);
    main.querySelectorAll('[data-scroll]').forEach((s) => {
      if (scrolls.has(s.dataset.scroll)) [s.scrollLeft, s.scrollTop] = scrolls.get(s.dataset.scroll);
    });
    /* virtual lists draw their window once they have a size */
    app.afterSwap.splice(0).forEach((f) => f());
    if (key) {
      const el = main.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (el) el.focus({ preventScroll: true });
    }
    window.scrollTo(window.scrollX, y);
  }

  function redraw() {
    tickNow();
    app.afterSwap = [];
    drawFreshness();
    const r = route();
    document.querySelectorAll('[data-nav]').forEach((a) => {
      const on = a.dataset.nav === r.view || (a.dataset.nav === 'overview' && r.view === 'host');
      if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    const s = app.farm && app.farm.summary;
    document.title = s ? `${s.down ? `(${s.down} down) ` : ''}portwatch` : 'portwatch';
    if (r.view === 'history') {
      drawHistory(r);
      return;
    }
    app.hist = null;
    if (r.view === 'report') {
      drawReport(r);
      return;
    }
    app.report = null;
    if (!app.farm) {
      swapMain(h('section', { class: 'panel' },
        h('p', { class: app.error ? 'error-note' : 'muted' },
          app.needToken ? 'Enter the API token above to see the farm.' :
            app.error ? `Cannot read the farm\u2019s status: ${app.error}. Retrying every ${POLL_MS / 1000} s.` :
              'Loading the farm\u2019s status\u2026')));
      return;
    }
    if (r.view === 'overview') swapMain(viewOverview());
    else if (r.view === 'host') swapMain(viewHost(r.host, r.params.get('role')));
    else if (r.view === 'impact') swapMain(viewImpact());
    else swapMain(h('section', { class: 'panel' }, h('h1', { text: 'Not found' }),
      h('p', null, 'No view is called ', h('code', { text: r.path }), '. ', h('a', { href: '#/' }, 'Back to the overview'))));
  }

  /* ---- overview ------------------------------------------------------------ */

  function tile(num, label, cls, set) {
    return h('div', { class: `tile ${cls || ''}`, dataset: set ? { set } : null },
      h('span', { class: 'num', text: num.toLocaleString('en-US') }), h('span', { class: 'lbl', text: label }));
  }

  function storageBadge(stg) {
    if (!stg) return badge('unknown', 'unknown');
    if (stg.state === 'ok') return badge('up', 'OK');
    if (stg.state === 'degraded') return badge('down', 'Degraded');
    return badge('failing', stg.state === 'unavailable' ? 'Unavailable' : stg.state);
  }

  /* The counts as sets that never overlap and add up to the targets:
   * "4 down" beside "4 failing" can never mean the same four twice. */
  function summaryTiles(s) {
    const n = (k) => s[k] || 0;
    const parts = [['down', 'down'], ['failing', 'failing, not yet down'], ['maintenance', 'in maintenance'],
      ['unknown', 'not yet probed'], ['passing', 'passing']].filter(([k]) => k !== 'maintenance' || n(k));
    return h('section', { class: 'counts', 'aria-label': 'Counts' },
      h('div', { class: 'tiles', role: 'group', 'aria-label': 'Targets by status' },
        tile(s.targets, `targets on ${s.hosts.toLocaleString('en-US')} host${s.hosts === 1 ? '' : 's'}`, '', 'targets'),
        parts.map(([k, label]) => tile(n(k), label, n(k) && k !== 'passing' ? `s-${k === 'passing' ? 'up' : k}` :
          k === 'passing' && n(k) === s.targets && s.targets ? 's-up' : '', k)),
        h('div', { class: 'tile' }, h('span', { class: 'lbl', text: 'Storage' }),
          h('span', { class: 'num small' }, storageBadge(s.storage)),
          h('span', { class: 'sub' }, s.storage && s.storage.message ? s.storage.message :
            s.storage && s.storage.since ? ['since ', timeEl(s.storage.since, true)] : ''))),
      h('p', { class: 'small muted', id: 'count-sum' },
        `${s.targets.toLocaleString('en-US')} targets = `,
        parts.map(([k, label], i) => `${i ? ' + ' : ''}${n(k).toLocaleString('en-US')} ${label}`).join(''),
        '. Each target is in one set: down after fail_after failed probes in a row; failing while its last probe failed but it is not down yet.'));
  }

  function everyText(iv) { return Number.isFinite(iv) ? `every ${fmtDuration(iv)}` : 'no interval'; }

  /* Sweep figures per schedule: how fresh each schedule's results are. A
   * 1-minute check is its own line, never "the last sweep took 1 ms". */
  function schedulesPanel(doc) {
    const scheds = (doc.schedules || []).slice().sort((a, b) => a.interval_ms - b.interval_ms || a.rpc_range - b.rpc_range);
    const body = h('tbody');
    for (const sc of scheds) {
      const oldest = ms(sc.oldest_result_at);
      const behind = Number.isFinite(oldest) ? app.now - oldest - sc.interval_ms : NaN;
      /* a result older than its interval (plus its timeout's worth of
       * slack, 5 s) means that schedule is not keeping up */
      const fresh = sc.probed === sc.targets && behind <= 5000;
      add(body, h('tr', { dataset: { interval: sc.interval_ms, range: sc.rpc_range ? '1' : '0' } },
        h('td', { 'data-label': 'Schedule' }, h('strong', { text: everyText(sc.interval_ms) }),
          sc.rpc_range ? h('div', { class: 'small muted', text: 'secondary RPC range (rolling)' }) : null),
        h('td', { 'data-label': 'Targets', class: 'num', text: sc.targets.toLocaleString('en-US') }),
        h('td', { 'data-label': 'Newest result' }, sc.newest_result_at ? [timeEl(sc.newest_result_at), ' (', agoEl(sc.newest_result_at), ')'] : 'none yet'),
        h('td', { 'data-label': 'Oldest result' }, sc.oldest_result_at ? [timeEl(sc.oldest_result_at), ' (', agoEl(sc.oldest_result_at), ')'] : 'none yet'),
        h('td', { 'data-label': 'Keeping up' }, sc.probed < sc.targets ? `${(sc.targets - sc.probed).toLocaleString('en-US')} not probed yet` :
          fresh ? badge('up', 'yes') : badge('failing', `${fmtDuration(behind)} behind`))));
    }
    const ls = doc.summary.last_sweep || {};
    return h('section', { class: 'panel', 'aria-labelledby': 'h-sched' },
      h('h2', { id: 'h-sched', text: 'Schedules' }),
      h('div', { class: 'scroll' }, h('table', { class: 'stack', id: 'schedules' },
        h('thead', null, h('tr', null, ['Schedule', 'Targets', 'Newest result', 'Oldest result', 'Keeping up']
          .map((c) => h('th', { scope: 'col', class: c === 'Targets' ? 'num' : null, text: c })))), body)),
      h('p', { class: 'small muted' }, 'A schedule keeps up when every one of its targets has a result younger than its interval.',
        ls.overruns ? ` ${ls.overruns} round${ls.overruns === 1 ? '' : 's'} overran their interval since start.` : ' No round has overrun its interval since start.'));
  }

  /* ---- incidents ---- */

  function incidentItem(inc) {
    const planned = inc.planned;
    const st = inc.open ? (planned ? 'maintenance' : 'down') : 'up';
    const tasks = inc.tasks || [];
    return h('li', { dataset: { incident: inc.id, open: inc.open ? '1' : '0' } },
      badge(st, inc.open ? (planned ? 'Planned' : 'Open') : 'Ended'),
      h('strong', { text: inc.summary || `${(inc.hosts || []).join(', ')}: ${inc.cause}` }),
      h('span', { class: 'muted' }, inc.open ? ['since ', timeEl(inc.started_at, true), ' (for ', fmtDuration(inc.duration_ms), ')'] :
        [timeEl(inc.started_at, true), ' to ', timeEl(inc.ended_at, true), ` (${fmtDuration(inc.duration_ms)})`]),
      h('span', { class: 'small', text: `${inc.target_count} target${inc.target_count === 1 ? '' : 's'} on ${(inc.hosts || []).join(', ')}${planned ? ' \u00b7 inside a maintenance window' : ''}` }),
      tasks.length ? h('span', { class: 'small muted', text: `breaks: ${tasks.slice(0, 3).join('; ')}${tasks.length > 3 ? `; and ${tasks.length - 3} more` : ''}` }) : null);
  }

  /* Incidents of the last 24 hours, open ones first: what happened, not a
   * list of ports. Absent while the daemon has no /api/v1/incidents. */
  function incidentsPanel() {
    const doc = app.incidents;
    if (!doc) return null;
    const sec = h('section', { class: 'panel', id: 'incidents', 'aria-labelledby': 'h-inc' },
      h('h2', { id: 'h-inc', text: 'Incidents, last 24 hours' }));
    if (doc.error) {
      add(sec, h('p', { class: 'error-note', text: `Cannot read the incidents: ${doc.error}` }));
      return sec;
    }
    const list = (doc.incidents || []).slice().sort((a, b) => (b.open - a.open) || ms(b.started_at) - ms(a.started_at));
    if (!list.length) {
      add(sec, h('p', { class: 'ok-note', text: 'No incident in the last 24 hours.' }));
      return sec;
    }
    const open = list.filter((i) => i.open).length;
    const ended = list.length - open;
    add(sec, h('p', { class: 'small', text: doc.truncated ? `${open} open; the ${ended} newest ended.` : `${open} open, ${ended} ended.` }));
    add(sec, h('ul', { class: 'failing-list incident-list' }, list.slice(0, INCIDENTS_SHOWN).map(incidentItem)));
    if (list.length > INCIDENTS_SHOWN || doc.truncated) add(sec, h('p', { class: 'small muted', text: 'Older ones: see the report.' }));
    add(sec, h('p', { class: 'small' }, h('a', { href: '#/report' }, 'Report of a period (printable) \u2192')));
    return sec;
  }

  /* Active maintenance windows (GET /api/v1/maintenance), when any. */
  function maintenancePanel() {
    const act = app.maint && app.maint.active;
    if (!act || !act.length) return null;
    return h('section', { class: 'panel maint', id: 'maintenance', 'aria-labelledby': 'h-maint' },
      h('h2', { id: 'h-maint', text: 'Maintenance now' }),
      h('ul', { class: 'failing-list' }, act.map((m) => h('li', { dataset: { window: m.window } }, badge('maintenance'), maintText(m),
        h('span', { class: 'small muted', text: [(m.hosts || []).join(', '), (m.roles || []).map(roleTitle).join(', ')].filter(Boolean).join(' \u00b7 ') }),
        ' ', h('span', { class: 'small muted' }, 'from ', timeEl(m.started_at, true))))));
  }

  /* ---- failing targets ---- */

  /* Failing targets, consecutive ports of one host in the same condition
   * folded into one line (a 201-port range that is filtered is one line). */
  function foldFailing(targets) {
    const groups = new Map();
    for (const t of targets) {
      const st = tstatus(t);
      if (st !== 'down' && st !== 'failing' && st !== 'maintenance') continue;
      const why = t.reasons ? t.reasons.map((r) => `${r.role}/${r.text}`).join('|') : `#${t.id}`;
      const key = `${t.host}|${st}|${t.state}|${t.detail}|${sig(t)}|${why}|${t.maintenance ? t.maintenance.window : ''}`;
      let g = groups.get(key);
      if (!g) { g = { key, st, host: t.host, state: t.state, detail: t.detail, maint: t.maintenance, targets: [] }; groups.set(key, g); }
      g.targets.push(t);
    }
    const out = [...groups.values()];
    for (const g of out) {
      g.targets.sort((a, b) => a.port - b.port);
      g.ports = g.targets.map((t) => t.port);
      g.since = g.targets.reduce((m, t) => (t.since && (!m || t.since < m) ? t.since : m), null);
    }
    out.sort((a, b) => SEVERITY[a.st] - SEVERITY[b.st] || hostSort(a.host, b.host) || a.ports[0] - b.ports[0]);
    return out;
  }

  function failingItem(g) {
    const n = g.ports.length, t0 = g.targets[0];
    return h('li', { dataset: { failing: `${g.host}:${g.ports[0]}`, status: g.st } },
      badge(g.st),
      h('a', { href: hostPath(g.host), 'data-key': `f-${g.key}` }, h('strong', { text: g.host }),
        `: port${n > 1 ? 's' : ''} ${portRanges(g.ports)}${n > 1 ? ` (${n} ports)` : ''}`),
      h('span', { text: STATE_TEXT[g.state] || g.state || '' }),
      g.detail ? h('span', { class: 'muted mono', text: g.detail }) : null,
      g.st === 'maintenance' ? maintText(g.maint) :
        h('span', { class: 'muted' }, g.st === 'down' ? ['down since ', timeEl(g.since), ' (', agoEl(g.since), ')'] :
          `${t0.consecutive_failures} failed probe${t0.consecutive_failures === 1 ? '' : 's'} in a row, not yet down`),
      h('span', null, (t0.roles || []).map((r) => h('span', { class: 'role-tag', text: roleTitle(r) }))));
  }

  function failingPanel(doc) {
    const groups = foldFailing(doc.trouble || []);
    const s = doc.summary;
    const sec = h('section', { class: 'panel', 'aria-labelledby': 'h-failing' },
      h('h2', { id: 'h-failing', text: 'Failing targets' }));
    if (!groups.length) {
      add(sec, h('p', { class: 'ok-note', text: 'Every probed target meets its expectation.' }));
      return sec;
    }
    add(sec, h('p', { class: 'small muted', id: 'failing-count', text: `The ${s.down || 0} down and ${s.failing || 0} failing (not yet down)` +
      `${s.maintenance ? ` and ${s.maintenance} in maintenance` : ''} targets, ${groups.length} line${groups.length === 1 ? '' : 's'}` +
      `${doc.trouble_left_off ? `; ${doc.trouble_left_off} more not listed` : ''}.` }));
    /* Long lists grow on request: the page never builds thousands of
     * lines at once. */
    const ul = h('ul', { class: 'failing-list' });
    let shown = 0;
    const more = h('button', { type: 'button', class: 'plain', 'data-key': 'failing-more' });
    const grow = () => {
      const next = groups.slice(shown, shown + (app.failingShown || LIST_PAGE));
      add(ul, next.map(failingItem));
      shown += next.length;
      more.hidden = shown >= groups.length;
      more.textContent = `Show ${Math.min(LIST_PAGE, groups.length - shown)} more of ${groups.length - shown}`;
    };
    grow();
    more.addEventListener('click', () => { app.failingShown = shown + LIST_PAGE; grow(); });
    add(sec, [ul, more]);
    add(sec, h('p', { class: 'small' }, h('a', { href: '#/impact' }, 'What these failures break \u2192')));
    return sec;
  }

  /* ---- hosts x roles grid, summarised server-side, rows virtualized ---- */

  function countsWorst(c) {
    if (!c) return 'unknown';
    if (c.down) return 'down';
    if (c.failing) return 'failing';
    if (c.maintenance) return 'maintenance';
    return c.unknown === c.targets ? 'unknown' : 'up';
  }

  /* A list of targets counted in the server's sets. */
  function countsOf(list) {
    const c = { targets: list.length, down: 0, failing: 0, maintenance: 0, unknown: 0, passing: 0 };
    list.forEach((t) => { c[SET_OF[tstatus(t)]]++; });
    return c;
  }

  function cellText(c) {
    const n = c.targets, parts = [];
    if (c.down) parts.push(`${c.down} of ${n} down`);
    if (c.failing) parts.push(`${c.failing} failing`);
    if (c.maintenance) parts.push(`${c.maintenance} in maintenance`);
    if (c.unknown) parts.push(`${c.unknown} not probed`);
    if (!parts.length) parts.push(n === 1 ? '1 port passes' : `${n} ports pass`);
    return parts.join(', ');
  }

  function gridRow(ho, roleList, index) {
    const c = ho.counts;
    const tr = h('tr', { 'aria-rowindex': index + 2, dataset: { host: ho.name } },
      h('th', { scope: 'row' }, h('a', { href: hostPath(ho.name), 'data-key': `h-${ho.name}` }, ho.name),
        h('div', { class: 'small' }, badge(ho.w), ` ${c.targets} port${c.targets === 1 ? '' : 's'}`)));
    for (const r of roleList) {
      const rc = ho.roles[r];
      if (!rc) {
        add(tr, h('td', { class: 'empty' }, h('span', { 'aria-label': 'not this role', text: '\u2013' })));
        continue;
      }
      const w = countsWorst(rc);
      const label = `${ho.name}, ${roleTitle(r)}: ${STATUS_WORD[w]}, ${cellText(rc)}`;
      add(tr, h('td', null, h('a', {
        class: `cell s-${w}`, href: hostPath(ho.name, r), 'aria-label': label, title: label,
        'data-key': `c-${ho.name}-${r}`, dataset: { host: ho.name, role: r, status: w, count: rc.targets },
      }, h('span', { class: `cell-status s-${w}`, text: STATUS_WORD[w] }),
      h('span', { class: 'cell-sub', text: cellText(rc) }))));
    }
    return tr;
  }

  /* Only the rows in (and near) the scroll box exist; rows that stay in
   * the window are kept, not rebuilt, so focus survives scrolling. */
  function virtualRows(box, tbody, rows, make, cols) {
    const built = new Map();
    const spacer = () => h('tr', { class: 'spacer', 'aria-hidden': 'true' }, h('td', { colspan: cols }));
    const top = spacer(), bottom = spacer();
    tbody.append(top, bottom);
    let pending = 0;
    const render = () => {
      pending = 0;
      const view = box.clientHeight || 600;
      const first = Math.max(0, Math.floor(box.scrollTop / GRID_ROW_PX) - 10);
      const last = Math.min(rows.length, Math.ceil((box.scrollTop + view) / GRID_ROW_PX) + 10);
      const want = [];
      for (let i = first; i < last; i++) {
        if (!built.has(i)) built.set(i, make(rows[i], i));
        want.push(built.get(i));
      }
      const keep = new Set(want);
      for (const tr of [...tbody.children]) if (tr !== top && tr !== bottom && !keep.has(tr)) tr.remove();
      let ref = top.nextSibling;
      for (const tr of want) {
        if (tr === ref) { ref = ref.nextSibling; continue; }
        tbody.insertBefore(tr, ref);
      }
      top.firstChild.style.height = `${first * GRID_ROW_PX}px`;
      bottom.firstChild.style.height = `${(rows.length - last) * GRID_ROW_PX}px`;
      top.hidden = first === 0;
      bottom.hidden = last === rows.length;
    };
    box.addEventListener('scroll', () => { if (!pending) pending = requestAnimationFrame(render); });
    return render;
  }

  function gridPanel(doc) {
    const roleList = (doc.roles || []).slice().sort(roleSort);
    const hosts = doc.hosts.map((ho) => Object.assign({ w: countsWorst(ho.counts) }, ho))
      .sort((a, b) => SEVERITY[a.w] - SEVERITY[b.w] || hostSort(a.name, b.name));
    const head = h('tr', { 'aria-rowindex': 1 }, h('th', { scope: 'col', text: 'Host' }),
      roleList.map((r) => h('th', { scope: 'col', title: r }, roleTitle(r))));
    const body = h('tbody');
    const box = h('div', { class: 'scroll grid-box', tabindex: 0, 'data-scroll': 'grid', role: 'region', 'aria-label': 'Hosts by roles grid' },
      h('table', { class: 'grid', id: 'farm-grid', 'aria-rowcount': hosts.length + 1 }, h('thead', null, head), body));
    box.firstChild.style.setProperty('--grid-min', `${10.5 + 8 * roleList.length}rem`);
    const render = virtualRows(box, body, hosts, (ho, i) => gridRow(ho, roleList, i), roleList.length + 1);
    app.afterSwap.push(render);
    return h('section', { class: 'panel', 'aria-labelledby': 'h-grid' },
      h('h2', { id: 'h-grid', text: `Hosts \u00d7 roles (${hosts.length} host${hosts.length === 1 ? '' : 's'})` }),
      h('p', { class: 'small muted', text: 'Each cell is the worst status of the host\u2019s ports serving that role. Hosts with failures come first.' }),
      box);
  }

  function viewOverview() {
    const doc = app.farm;
    return h('div', null,
      h('h1', { text: 'Farm overview' }),
      incidentsPanel(),
      maintenancePanel(),
      summaryTiles(doc.summary),
      failingPanel(doc),
      gridPanel(doc),
      schedulesPanel(doc));
  }

  /* ---- host view ----------------------------------------------------------- */

  /* Which of a host's targets are the secondary RPC range: the API's
   * rpc_range flag when it sends one, else the ports that share one
   * profile (roles and expectation) with many others. */
  function splitRange(list) {
    if (list.some((t) => typeof t.rpc_range === 'boolean')) {
      return { range: list.filter((t) => t.rpc_range), single: list.filter((t) => !t.rpc_range) };
    }
    const bySig = new Map();
    list.forEach((t) => { const k = sig(t); bySig.set(k, (bySig.get(k) || 0) + 1); });
    let best = null;
    for (const [k, n] of bySig) if (n >= 8 && (!best || n > bySig.get(best))) best = k;
    return best ? { range: list.filter((t) => sig(t) === best), single: list.filter((t) => sig(t) !== best) }
      : { range: [], single: list };
  }

  /* Reasons of a target: its own when the status sent them (it does for
   * failing ones), else fetched once from /api/v1/targets/{id}. Null
   * while the fetch is under way (the view is redrawn when it lands). */
  function reasonsOf(t) {
    if (t.reasons) { app.reasons.set(t.id, t.reasons); return t.reasons; }
    if (app.reasons.has(t.id)) return app.reasons.get(t.id);
    if (!app.reasonFetch.has(t.id)) {
      app.reasonFetch.add(t.id);
      api(`api/v1/targets/${t.id}`).then((full) => {
        app.reasons.set(t.id, full.reasons || []);
        redraw();
      }).catch(() => app.reasonFetch.delete(t.id));
    }
    return null;
  }

  /* Reasons with the same text (one task named under several roles) as
   * one entry listing every role and service. */
  function mergeReasons(reasons) {
    const m = new Map();
    for (const r of reasons || []) {
      const k = r.text || r.service;
      if (!m.has(k)) m.set(k, { text: k, roles: [], services: [] });
      const e = m.get(k);
      if (!e.roles.includes(r.role)) e.roles.push(r.role);
      if (r.service && !e.services.includes(r.service)) e.services.push(r.service);
    }
    return [...m.values()];
  }

  function reasonItem(e) {
    return h('li', null, e.text,
      h('span', { class: 'task-role', text: ` (${e.roles.map(roleTitle).join(', ')}${e.services.length ? `; ${e.services.join(', ')}` : ''})` }));
  }

  function reasonList(reasons) {
    if (!reasons) return h('span', { class: 'muted', text: 'loading\u2026' });
    if (!reasons.length) return h('span', { class: 'muted', text: '\u2014' });
    return h('ul', { class: 'reasons' }, mergeReasons(reasons).map(reasonItem));
  }

  function stateCell(t) {
    if (!t.state) return h('span', { class: 'muted', text: 'not probed yet' });
    return h('span', null, h('strong', { text: STATE_SHORT[t.state] || t.state }),
      t.detail ? h('span', { class: 'muted mono', text: ` ${t.detail}` }) : null);
  }

  /* What the service check after connecting found: "verified · TDS 16.0". */
  function verifyText(t) {
    if (!t.verify || t.verify === 'off') return '';
    if (t.verify === 'no_reply') return 'no reply (connected, but nothing answered)';
    return t.verify_info ? `${t.verify.replace('_', ' ')} \u00b7 ${t.verify_info}` : t.verify.replace('_', ' ');
  }

  function portTable(list) {
    const body = h('tbody');
    for (const t of list) {
      const st = tstatus(t);
      add(body, h('tr', { dataset: { port: t.port, status: st } },
        h('td', { 'data-label': 'Port', class: 'num' }, h('strong', { text: t.port })),
        h('td', { 'data-label': 'Status' }, badge(st), t.maintenance ? h('div', { class: 'small' }, maintText(t.maintenance)) : null),
        h('td', { 'data-label': 'State', title: STATE_TEXT[t.state] || '' }, stateCell(t)),
        h('td', { 'data-label': 'Latency', class: 'num', text: fmtLatency(t.latency_ms) }),
        h('td', { 'data-label': 'Since' }, timeEl(t.since), t.since ? h('div', { class: 'small muted' }, agoEl(t.since)) : null),
        h('td', { 'data-label': 'Last checked' }, timeEl(t.last_checked)),
        h('td', { 'data-label': 'Expects', text: t.expect }),
        h('td', { 'data-label': 'Service check', class: t.verify === 'mismatch' ? 'error-note' : null, text: verifyText(t) }),
        h('td', { 'data-label': 'Roles' }, (t.roles || []).map((r) => h('span', { class: 'role-tag', text: roleTitle(r) }))),
        h('td', { 'data-label': 'Why it matters' }, reasonList(reasonsOf(t)))));
    }
    return h('div', { class: 'scroll', 'data-scroll': 'ports' },
      h('table', { class: 'stack', id: 'port-table' }, h('thead', null, h('tr', null,
        ['Port', 'Status', 'State', 'Latency', 'Since', 'Last checked', 'Expects', 'Service check', 'Roles', 'Why it matters']
          .map((c) => h('th', { scope: 'col', class: c === 'Port' || c === 'Latency' ? 'num' : null, text: c })))), body));
  }

  function portDetail(t) {
    if (!t) return h('p', { class: 'muted', text: 'Hover over a port, or focus one (Tab, then the arrow keys), to see its details.' });
    const st = tstatus(t);
    return h('div', null,
      h('p', { class: 'row' }, h('strong', { text: `Port ${t.port}` }), badge(st),
        h('span', { text: t.state ? STATE_TEXT[t.state] || t.state : 'not probed yet' })),
      t.maintenance ? h('p', { class: 'small' }, 'In maintenance: ', maintText(t.maintenance)) : null,
      h('p', { class: 'row small' },
        h('span', null, 'latency ', h('strong', { text: fmtLatency(t.latency_ms) })),
        h('span', null, `${STATUS_WORD[st].toLowerCase()} since `, timeEl(t.since), t.since ? [' (', agoEl(t.since), ')'] : ''),
        h('span', null, 'last checked ', timeEl(t.last_checked)),
        h('span', { text: `expects ${t.expect}` }),
        t.consecutive_failures ? h('span', { text: `${t.consecutive_failures} failed in a row` }) : null,
        t.detail ? h('span', { class: 'mono', text: t.detail }) : null));
  }

  function heatmapPanel(host, range) {
    range.sort((a, b) => a.port - b.port);
    const counts = {};
    range.forEach((t) => { const k = t.state || 'not probed'; counts[k] = (counts[k] || 0) + 1; });
    const sel = app.hm.host === host ? range.find((t) => t.port === app.hm.port) : null;
    const activePort = sel ? sel.port : range[0].port;
    const detail = h('div', { class: 'hm-detail', id: 'hm-detail', 'aria-live': 'polite' }, portDetail(sel));
    const grid = h('div', {
      class: 'heatmap', id: 'heatmap', role: 'grid',
      'aria-label': `Secondary RPC ports ${portRanges(range.map((t) => t.port))} on ${host}; arrow keys move between ports`,
    });
    const row = h('div', { role: 'row', class: 'hm-row' });
    for (const t of range) {
      const st = tstatus(t);
      add(row, h('div', {
        role: 'gridcell', class: `hm-cell s-${st} ${t.state || ''}`, tabindex: t.port === activePort ? 0 : -1,
        'aria-selected': sel && sel.port === t.port ? 'true' : 'false',
        'aria-label': `Port ${t.port}: ${STATUS_WORD[st]}, ${t.state ? STATE_SHORT[t.state] : 'not probed'}, ${fmtLatency(t.latency_ms)}`,
        title: `${t.port}: ${STATUS_WORD[st]}, ${t.state ? STATE_SHORT[t.state] : 'not probed'}`,
        'data-key': `p-${t.port}`, dataset: { port: t.port, status: st },
      }));
    }
    /* One ARIA row keeps the grid valid; visually the cells wrap. */
    row.classList.add('hm-flow');
    grid.append(row);
    const show = (port, pin) => {
      const t = range.find((x) => x.port === port);
      if (!t) return;
      app.hm.host = host;
      if (pin || !app.hm.pinned || app.hm.port === port) app.hm.port = port;
      if (pin) app.hm.pinned = true;
      detail.replaceChildren(portDetail(range.find((x) => x.port === app.hm.port)));
      grid.querySelectorAll('.hm-cell').forEach((c) => {
        c.setAttribute('aria-selected', Number(c.dataset.port) === app.hm.port ? 'true' : 'false');
      });
    };
    grid.addEventListener('mouseover', (ev) => {
      const c = ev.target.closest('.hm-cell');
      if (c) show(Number(c.dataset.port), false);
    });
    grid.addEventListener('click', (ev) => {
      const c = ev.target.closest('.hm-cell');
      if (c) { c.focus(); show(Number(c.dataset.port), true); }
    });
    grid.addEventListener('focusin', (ev) => {
      const c = ev.target.closest('.hm-cell');
      if (!c) return;
      grid.querySelectorAll('.hm-cell[tabindex="0"]').forEach((x) => x.setAttribute('tabindex', '-1'));
      c.setAttribute('tabindex', '0');
      app.hm.pinned = false;
      show(Number(c.dataset.port), true);
    });
    grid.addEventListener('keydown', (ev) => {
      const c = ev.target.closest('.hm-cell');
      if (!c) return;
      const cells = [...grid.querySelectorAll('.hm-cell')];
      const i = cells.indexOf(c);
      const top = cells[0].offsetTop;
      let cols = cells.findIndex((x) => x.offsetTop !== top);
      if (cols <= 0) cols = cells.length;
      const moves = {
        ArrowRight: i + 1, ArrowLeft: i - 1, ArrowDown: i + cols, ArrowUp: i - cols,
        Home: ev.ctrlKey ? 0 : i - (i % cols), End: ev.ctrlKey ? cells.length - 1 : Math.min(cells.length - 1, i - (i % cols) + cols - 1),
        PageDown: Math.min(cells.length - 1, i + cols * 5), PageUp: Math.max(0, i - cols * 5),
      };
      if (!(ev.key in moves)) return;
      ev.preventDefault();
      const j = moves[ev.key];
      if (j >= 0 && j < cells.length) cells[j].focus();
    });
    const countText = Object.keys(counts).sort().map((k) => `${counts[k]} ${STATE_SHORT[k] || k}`).join(', ');
    const t0 = range[0];
    return h('section', { class: 'panel', 'aria-labelledby': 'h-range' },
      h('h2', { id: 'h-range', text: `Secondary RPC range ${portRanges(range.map((t) => t.port))} (${range.length} ports)` }),
      h('p', { class: 'small' }, `Expects ${t0.expect}`,
        t0.expect === 'reachable' ? ': open or refused both pass (the firewall lets it through); only silence fails. ' : '. ',
        h('span', { id: 'hm-counts', text: countText })),
      h('ul', { class: 'legend', 'aria-label': 'Legend' },
        h('li', null, h('span', { class: 'hm-cell s-up open', 'aria-hidden': 'true' }), 'open (passes)'),
        h('li', null, h('span', { class: 'hm-cell s-up closed', 'aria-hidden': 'true' }), 'refused (passes when reachable is enough)'),
        h('li', null, h('span', { class: 'hm-cell s-failing', 'aria-hidden': 'true' }), 'failing, not yet down'),
        h('li', null, h('span', { class: 'hm-cell s-down', 'aria-hidden': 'true' }), 'down'),
        h('li', null, h('span', { class: 'hm-cell s-unknown', 'aria-hidden': 'true' }), 'not probed yet')),
      grid, detail,
      h('h3', { text: 'Why the range matters' }), reasonList(reasonsOf(t0)));
  }

  /* The endpoint mapper's registrations for a host, read by poll() while the
   * host view is open (api/v1/rpc/endpoints?host=). */
  function endpointsPanel(name) {
    const e = app.epm && app.epm.host.toLowerCase() === name.toLowerCase() ? app.epm : null;
    if (!e) return null;
    if (e.error) {
      return h('section', { class: 'panel', 'aria-labelledby': 'h-epm' },
        h('h2', { id: 'h-epm', text: 'RPC endpoint mapper' }), h('p', { class: 'muted', text: e.error }));
    }
    const hd = e.doc;
    const eps = (hd.endpoints || []).slice().sort((a, b) => (a.port || 0) - (b.port || 0));
    if (!eps.length) {
      return h('section', { class: 'panel', 'aria-labelledby': 'h-epm' },
        h('h2', { id: 'h-epm', text: 'RPC endpoint mapper' }),
        h('p', { class: hd.error ? 'error-note' : 'muted', id: 'epm-note',
          text: hd.error ? `The endpoint mapper on port 135 could not be read: ${hd.error}` : 'Not read yet.' }));
    }
    const body = h('tbody');
    for (const ep of eps) {
      add(body, h('tr', { dataset: { port: ep.port || '' } },
        h('td', { 'data-label': 'Port', class: 'num' }, ep.port ? h('strong', { text: ep.port }) : '\u2013'),
        h('td', { 'data-label': 'Protocol', class: 'mono', text: ep.protocol || '' }),
        h('td', { 'data-label': 'Interface' }, h('span', { text: ep.name || ep.annotation || '' }),
          h('div', { class: 'small muted mono', text: `${ep.interface} v${ep.version}` })),
        h('td', { 'data-label': 'Status' }, ep.status ? badge(ep.status === 'up' ? 'up' : ep.status === 'down' ? 'down' : 'unknown') : h('span', { class: 'muted', text: 'not probed' })),
        h('td', { 'data-label': 'Firewall range' }, ep.outside_range
          ? h('strong', { class: 'error-note', text: 'outside the RPC range' }) : h('span', { class: 'muted', text: ep.port ? 'inside' : '' })),
        h('td', { 'data-label': 'Seen' }, timeEl(ep.first_seen), ' \u2013 ', timeEl(ep.last_seen))));
    }
    const outside = eps.filter((ep) => ep.outside_range).length;
    return h('section', { class: 'panel', 'aria-labelledby': 'h-epm' },
      h('h2', { id: 'h-epm', text: 'RPC endpoint mapper' }),
      h('p', { class: 'small' }, `${eps.length} registered endpoint${eps.length === 1 ? '' : 's'}`,
        outside ? h('strong', { class: 'error-note', text: ` \u00b7 ${outside} outside the firewall range` }) : null,
        hd.looked_up ? h('span', { class: 'muted' }, ' \u00b7 read ', timeEl(hd.looked_up)) : null,
        hd.from_store ? h('span', { class: 'muted', text: ' (kept from before the last restart; not read again yet)' }) : null,
        hd.error ? h('strong', { class: 'error-note', text: ` \u00b7 last read failed: ${hd.error}` }) : null),
      h('div', { class: 'scroll', 'data-scroll': 'epm' },
        h('table', { class: 'stack', id: 'epm-table' }, h('thead', null, h('tr', null,
          ['Port', 'Protocol', 'Interface', 'Status', 'Firewall range', 'Seen']
            .map((c) => h('th', { scope: 'col', class: c === 'Port' ? 'num' : null, text: c })))), body)));
  }

  async function pollEndpoints(host) {
    try {
      const doc = await api(`api/v1/rpc/endpoints?host=${encodeURIComponent(host)}`);
      const hd = (doc.hosts || [])[0];
      app.epm = hd ? { host, doc: hd } : null;
    } catch (e) {
      /* 404: the host has no 135 in the plan, or no read yet */
      app.epm = /HTTP 404/.test(e.message || '') ? null : { host, error: `Cannot read the endpoints: ${e.message}` };
    }
  }

  function viewHost(host, roleFilter) {
    const hd = app.hostDoc && app.hostDoc.host.toLowerCase() === host.toLowerCase() ? app.hostDoc.doc : null;
    const crumbs = h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Overview'), ' \u203a ', host);
    if (!hd) return h('div', null, crumbs, h('h1', { text: host }), h('p', { class: 'muted', text: 'Loading the host\u2019s ports\u2026' }));
    const all = hd.targets;
    if (!all.length) {
      return h('div', null, crumbs, h('h1', { text: host }),
        h('section', { class: 'panel' }, h('p', null, 'portwatch watches no port on this host. ', h('a', { href: '#/' }, 'Back to the overview'))));
    }
    const name = all[0].host;
    const roles = [...new Set(all.flatMap((t) => t.roles || []))].sort(roleSort);
    const role = roleFilter && roles.includes(roleFilter) ? roleFilter : null;
    const list = (role ? all.filter((t) => (t.roles || []).includes(role)) : all).slice().sort((a, b) => a.port - b.port);
    const { range, single } = splitRange(list);
    const w = worst(all);
    const windows = new Map();
    all.forEach((t) => { if (t.maintenance) windows.set(t.maintenance.window, t.maintenance); });
    const chips = h('div', { class: 'row', role: 'group', 'aria-label': 'Show ports of role' },
      h('a', { href: hostPath(name), 'aria-current': role ? null : 'true', class: 'role-tag', text: 'All roles' }),
      roles.map((r) => h('a', { href: hostPath(name, r), 'aria-current': r === role ? 'true' : null, class: 'role-tag', text: roleTitle(r) })));
    return h('div', null, crumbs,
      h('h1', { class: 'row' }, h('span', { text: name }), badge(w)),
      h('p', { class: 'status-line' }, `${all.length} port${all.length === 1 ? '' : 's'} watched \u00b7 ${cellText(countsOf(all))} \u00b7 `,
        h('a', { href: `#/history?host=${encodeURIComponent(name)}` }, 'history of this host')),
      [...windows.values()].map((m) => h('p', { class: 'maint-banner', dataset: { window: m.window } }, badge('maintenance'), ' ', maintText(m))),
      chips,
      h('section', { class: 'panel', 'aria-labelledby': 'h-ports' },
        h('h2', { id: 'h-ports', text: role ? `Ports for ${roleTitle(role)}` : 'Ports' }),
        single.length ? portTable(single) : h('p', { class: 'muted', text: 'Only the secondary RPC range serves this role here.' })),
      range.length ? heatmapPanel(name, range) : null,
      endpointsPanel(name));
  }

  /* ---- impact -------------------------------------------------------------- */

  function viewImpact() {
    const groups = foldFailing(app.farm.trouble || []);
    const head = h('h1', { text: 'Impact: what breaks' });
    if (!groups.length) {
      return h('div', null, head, h('section', { class: 'panel' },
        h('p', { class: 'ok-note', text: 'Nothing is failing: every administrative task\u2019s ports answer as expected.' })));
    }
    /* Tasks first (deduplicated), then each failing target with its tasks. */
    const tasks = new Map();
    const items = [];
    for (const g of groups) {
      const raw = reasonsOf(g.targets[0]);
      const reasons = mergeReasons(raw);
      for (const r of reasons) {
        if (!tasks.has(r.text)) tasks.set(r.text, { text: r.text, roles: new Set(), where: new Set(), st: g.st });
        const e = tasks.get(r.text);
        r.roles.forEach((x) => e.roles.add(x));
        e.where.add(`${g.host}:${portRanges(g.ports)}`);
        if (SEVERITY[g.st] < SEVERITY[e.st]) e.st = g.st;
      }
      const n = g.ports.length;
      items.push(h('article', { class: `impact-item st-${g.st}`, dataset: { host: g.host, ports: portRanges(g.ports) } },
        h('h3', null, badge(g.st), h('a', { href: hostPath(g.host) }, g.host),
          h('span', { text: `port${n > 1 ? 's' : ''} ${portRanges(g.ports)}${n > 1 ? ` (${n} ports)` : ''}` })),
        h('p', { class: 'small' }, STATE_TEXT[g.state] || g.state || '', g.detail ? ` (${g.detail})` : '',
          g.st === 'down' ? [' \u00b7 down since ', timeEl(g.since), ' (', agoEl(g.since), ')'] : g.st === 'maintenance' ? [' \u00b7 in maintenance: ', maintText(g.maint)] : ' \u00b7 not yet down'),
        h('p', { class: 'small muted', text: 'Breaks:' }),
        h('ul', { class: 'task-list' }, raw ? reasons.map(reasonItem) : h('li', { class: 'muted', text: 'loading\u2026' }))));
    }
    const taskList = h('ul', { class: 'task-list', id: 'broken-tasks' });
    for (const t of [...tasks.values()].sort((a, b) => SEVERITY[a.st] - SEVERITY[b.st])) {
      add(taskList, h('li', null, badge(t.st), ' ', h('strong', { text: t.text }),
        h('div', { class: 'small muted', text: `${[...t.roles].map(roleTitle).join(', ')} \u00b7 via ${[...t.where].join('; ')}` })));
    }
    return h('div', null, head,
      h('section', { class: 'panel', 'aria-labelledby': 'h-tasks' },
        h('h2', { id: 'h-tasks', text: `Administrative tasks affected (${tasks.size})` }), taskList),
      h('section', { class: 'panel', 'aria-labelledby': 'h-by-target' },
        h('h2', { id: 'h-by-target', text: 'By failing target' }), items));
  }

  /* ---- history ------------------------------------------------------------- */

  function histParams(r) {
    const p = r.params;
    const range = RANGES[p.get('range')] ? p.get('range') : '24h';
    return {
      range, host: p.get('host') || '', role: p.get('role') || '',
      open: ['open', 'ended'].includes(p.get('open')) ? p.get('open') : '',
      target: p.get('target') || '',
    };
  }

  function drawHistory(r) {
    const hp = histParams(r);
    const key = JSON.stringify(hp);
    if (!app.hist || app.hist.key !== key) {
      app.hist = { key, hp, data: null, error: null, loading: false, at: 0 };
      swapMain(historySkeleton(hp));
      loadHistory(true);
      return;
    }
    /* A status change that may have opened or closed an outage. */
    const down = app.farm ? app.farm.summary.down : -1;
    if (down !== app.lastDown || Date.now() - app.hist.at > HISTORY_REFRESH_MS) loadHistory(false);
    app.lastDown = down;
    fillTargetSelect(hp);
  }

  function historySkeleton(hp) {
    const set = (k, v) => {
      const p = new URLSearchParams();
      const next = Object.assign({}, hp, { [k]: v });
      for (const f of ['range', 'host', 'role', 'open', 'target']) if (next[f]) p.set(f, next[f]);
      setHashParams('history', p);
    };
    const hosts = farmHosts();
    const roles = app.farm ? app.farm.roles.slice().sort(roleSort) : [];
    if (hp.host && !hosts.includes(hp.host)) hosts.push(hp.host);
    if (hp.role && !roles.includes(hp.role)) roles.push(hp.role);
    const seg = h('div', { class: 'seg', role: 'group', 'aria-label': 'Time range' },
      Object.keys(RANGES).map((k) => h('button', {
        type: 'button', class: 'plain', 'aria-pressed': k === hp.range ? 'true' : 'false', 'data-key': `r-${k}`,
        onclick: () => set('range', k), text: k.replace('h', ' h').replace('d', ' d'),
      })));
    const sel = (label, id, value, options, k) => h('label', { for: id }, label,
      h('select', { id, 'data-key': id, onchange: (ev) => set(k, ev.target.value) },
        options.map(([v, t]) => h('option', { value: v, selected: v === value, text: t }))));
    return h('div', null,
      h('h1', { text: 'History' }),
      h('div', { class: 'toolbar' },
        h('div', null, h('div', { class: 'small muted', text: 'Range', id: 'range-label' }), seg),
        sel('Host', 'f-host', hp.host, [['', 'All hosts']].concat(hosts.map((x) => [x, x])), 'host'),
        sel('Role', 'f-role', hp.role, [['', 'All roles']].concat(roles.map((x) => [x, roleTitle(x)])), 'role'),
        sel('Outages', 'f-open', hp.open, [['', 'Open and ended'], ['open', 'Open only'], ['ended', 'Ended only']], 'open')),
      h('p', { class: 'small muted', id: 'hist-status', 'aria-live': 'polite', text: 'Loading\u2026' }),
      h('section', { class: 'panel', 'aria-labelledby': 'h-timeline' },
        h('h2', { id: 'h-timeline', text: `Outage timeline, last ${RANGES[hp.range].label}` }),
        h('ul', { class: 'legend', 'aria-label': 'Legend' },
          h('li', null, h('span', { class: 'down-swatch', 'aria-hidden': 'true' }), 'outage (a port of the host was down)'),
          h('li', null, h('span', { class: 'nm-swatch', 'aria-hidden': 'true' }), 'not monitored (portwatch was not running)')),
        h('div', { id: 'timeline' })),
      h('section', { class: 'panel', 'aria-labelledby': 'h-outages' },
        h('h2', { id: 'h-outages', text: 'Outages' }), h('div', { id: 'outages' })),
      h('div', { class: 'cols2' },
        h('section', { class: 'panel', 'aria-labelledby': 'h-up-host' },
          h('h2', { id: 'h-up-host', text: 'Availability by host' }), h('div', { id: 'uptime-host' })),
        h('section', { class: 'panel', 'aria-labelledby': 'h-up-role' },
          h('h2', { id: 'h-up-role', text: 'Availability by role' }), h('div', { id: 'uptime-role' }))),
      h('section', { class: 'panel', 'aria-labelledby': 'h-latency' },
        h('h2', { id: 'h-latency', text: 'Latency' }),
        h('label', { for: 'f-target', class: 'small muted' }, 'Target '),
        h('select', { id: 'f-target', 'data-key': 'f-target', onchange: (ev) => set('target', ev.target.value) }),
        h('div', { id: 'latency' })));
  }

  function farmHosts() { return app.farm ? app.farm.hosts.map((x) => x.name).sort(hostSort) : []; }

  /* Targets worth a latency chart: single ports first, then one per range. */
  function chartTargets(hp) {
    if (!app.hist || !app.hist.targets) return [];
    let list = app.hist.targets.slice();
    if (hp.host) list = list.filter((t) => t.host === hp.host);
    if (hp.role) list = list.filter((t) => (t.roles || []).includes(hp.role));
    list.sort((a, b) => hostSort(a.host, b.host) || a.port - b.port);
    return list;
  }

  function fillTargetSelect(hp) {
    const sel = document.getElementById('f-target');
    if (!sel) return null;
    const list = chartTargets(hp);
    let chosen = list.find((t) => String(t.id) === hp.target);
    if (!chosen) {
      chosen = list.find((t) => t.latency_ms !== null && t.state === 'open' && t.expect === 'listening') ||
        list.find((t) => t.latency_ms !== null) || list[0];
    }
    const want = list.map((t) => `${t.id}`).join(',');
    if (sel.dataset.ids !== want) {
      sel.replaceChildren(...list.map((t) => h('option', { value: t.id, text: `${t.host}:${t.port}` })));
      sel.dataset.ids = want;
    }
    if (chosen) sel.value = String(chosen.id);
    return chosen || null;
  }

  async function loadHistory(first) {
    const hs = app.hist;
    if (!hs || hs.loading) return;
    hs.loading = true;
    const hp = hs.hp, span = RANGES[hp.range].span;
    const to = serverNow(), from = to - span;
    const range = `from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}`;
    const scope = `${hp.host ? `&host=${encodeURIComponent(hp.host)}` : ''}${hp.role ? `&role=${encodeURIComponent(hp.role)}` : ''}`;
    const open = hp.open === 'open' ? '&open=true' : hp.open === 'ended' ? '&open=false' : '';
    const status = document.getElementById('hist-status');
    if (first && status) status.textContent = 'Loading\u2026';
    try {
      /* the latency chart's choice: one host's targets, never the farm's */
      const chartHost = hp.host || farmHosts()[0];
      if (!hs.targets && chartHost) {
        const doc = await optional(`api/v1/status?host=${encodeURIComponent(chartHost)}`);
        hs.targets = doc ? doc.targets : [];
      }
    } catch (e) {
      hs.targets = [];
    }
    const target = fillTargetSelect(hp);
    try {
      const [out, upHost, upRole, hist] = await Promise.all([
        api(`api/v1/outages?${range}${scope}${open}&limit=5000`),
        api(`api/v1/uptime?${range}&by=host`),
        api(`api/v1/uptime?${range}&by=role`),
        target ? api(`api/v1/targets/${target.id}/history?${range}&step=${RANGES[hp.range].step}`) : Promise.resolve(null),
      ]);
      if (app.hist !== hs) return;
      hs.data = { out, upHost, upRole, hist, from, to, target };
      hs.error = null;
    } catch (e) {
      if (app.hist !== hs) return;
      hs.error = e instanceof AuthError ? 'an API token is needed' : e.message;
    } finally {
      hs.loading = false;
      hs.at = Date.now();
    }
    drawHistoryData(hs);
  }

  /* Charts are drawn at their box's width in CSS pixels, so text keeps
   * its size on a phone instead of shrinking with the drawing. */
  function chartWidth(id) {
    const el = document.getElementById(id);
    return Math.max(300, Math.min(1600, el ? el.clientWidth : 1000));
  }

  function drawHistoryData(hs) {
    const status = document.getElementById('hist-status');
    if (!status) return;
    if (hs.error) {
      status.textContent = `Could not load the history: ${hs.error}.`;
      status.className = 'small error-note';
      if (!hs.data) return;
    } else {
      status.className = 'small muted';
      status.textContent = `Updated ${fmtTime(iso(serverNow()))}; refreshes every ${HISTORY_REFRESH_MS / 1000} s and when a target goes down or comes back.`;
    }
    const d = hs.data;
    const keep = (id, node) => {
      const el = document.getElementById(id);
      if (!el) return;
      const y = window.scrollY;
      el.replaceChildren(node);
      window.scrollTo(window.scrollX, y);
    };
    keep('timeline', timeline(d, hs.hp, chartWidth('timeline')));
    keep('outages', outageTable(d.out, hs.hp));
    keep('uptime-host', uptimeTable(d.upHost, 'Host', (k) => h('a', { href: hostPath(k) }, k)));
    keep('uptime-role', uptimeTable(d.upRole, 'Role', (k) => roleTitle(k)));
    keep('latency', latencyChart(d, chartWidth('latency')));
  }

  /* Not-monitored spans from a target's history (points with less
   * monitored time than their step); coverage is the same for every
   * target that was in the plan. Time before portwatch first watched
   * (monitored_since) is neither: it is not shown as a gap. */
  function notMonitored(hist, from, to) {
    const spans = [];
    if (!hist || !hist.points) return spans;
    const since = hist.monitored_since ? ms(hist.monitored_since) : to;
    for (const p of hist.points) {
      const t = ms(p.t);
      /* the part of the step that could have been watched: after
       * monitoring began, and not in the future of a step still running */
      const a = Math.max(t, from, since), b = Math.min(t + hist.step_ms, to);
      if (b <= a || (b - a) - p.monitored_ms <= Math.max((b - a) * 0.1, 5000)) continue;
      const last = spans[spans.length - 1];
      if (last && last[1] >= a) last[1] = b;
      else spans.push([a, b]);
    }
    return spans;
  }

  let hatchSeq = 0;

  /* An SVG chart with its own hatch pattern (for not-monitored time);
   * svg.hatch is the fill that refers to it. */
  function svgEl(w, hgt, label) {
    const svg = h('svg:svg', { class: 'chart', viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': label, preserveAspectRatio: 'xMinYMin meet' });
    const id = `pw-hatch-${++hatchSeq}`;
    svg.hatch = `url(#${id})`;
    svg.append(h('svg:defs', null, h('svg:pattern', { id, width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      h('svg:line', { class: 'hatch-line', x1: 0, y1: 0, x2: 0, y2: 6 }))));
    return svg;
  }

  /* Tick times for an axis of `px` pixels: steps of whole hours or days,
   * about one label per 70 pixels. */
  function timeTicks(from, to, px) {
    const span = to - from, want = span / Math.max(2, Math.floor(px / 70));
    const steps = [3600000, 2 * 3600000, 3 * 3600000, 6 * 3600000, 12 * 3600000, 86400000, 2 * 86400000,
      7 * 86400000, 15 * 86400000, 30 * 86400000];
    const step = steps.find((x) => x >= want) || steps[steps.length - 1];
    const ticks = [];
    const first = Math.ceil(from / step) * step;
    for (let t = first; t <= to; t += step) ticks.push(t);
    return ticks;
  }

  function tickLabel(t, span) {
    const d = new Date(t);
    return span <= 86400000 ? `${pad(d.getHours())}:${pad(d.getMinutes())}` : `${d.getMonth() + 1}/${d.getDate()}`;
  }

  function timeline(d, hp, W) {
    const outs = d.out.outages || [];
    let hosts = farmHosts();
    outs.forEach((o) => { if (!hosts.includes(o.host)) hosts.push(o.host); });
    if (hp.host) hosts = hosts.filter((x) => x === hp.host);
    hosts.sort(hostSort);
    const L = W < 600 ? 92 : 130, R = 10, ROW = 22, TOP = 8;
    const H = TOP + (hosts.length + 1) * ROW + 24;
    const x = (t) => L + ((Math.min(Math.max(t, d.from), d.to) - d.from) / (d.to - d.from)) * (W - L - R);
    const nm = notMonitored(d.hist, d.from, d.to);
    const svg = svgEl(W, H, `Outage timeline for ${hosts.length} hosts over the last ${RANGES[hp.range].label}: ${outs.length} outages`);
    const rows = [{ label: 'monitoring', host: null }].concat(hosts.map((x2) => ({ label: x2, host: x2 })));
    rows.forEach((row, i) => {
      const y = TOP + i * ROW;
      const g = h('svg:g', { dataset: row.host ? { host: row.host } : { monitoring: '1' } });
      const max = W < 600 ? 12 : 18;
      g.append(h('svg:text', { class: 'tl-label', x: L - 6, y: y + 15, 'text-anchor': 'end' }, row.label.length > max ? `${row.label.slice(0, max - 1)}\u2026` : row.label));
      g.append(h('svg:rect', { class: 'tl-bg', x: L, y: y + 3, width: W - L - R, height: ROW - 6 }));
      if (row.host) {
        for (const o of outs.filter((o2) => o2.host === row.host)) {
          const s = ms(o.start), e = o.end ? ms(o.end) : d.to;
          if (e < d.from || s > d.to) continue;
          const r = h('svg:rect', { class: 'tl-down', x: x(s), y: y + 3, width: Math.max(2, x(e) - x(s)), height: ROW - 6 });
          r.append(h('svg:title', null, `${o.host}:${o.port} ${o.state}, ${fmtTime(o.start, true)} to ${o.end ? fmtTime(o.end, true) : 'now'}`));
          g.append(r);
        }
      }
      for (const [a, b] of nm) {
        g.append(h('svg:rect', { class: 'tl-nm-bg', x: x(a), y: y + 3, width: Math.max(1, x(b) - x(a)), height: ROW - 6 }));
        g.append(h('svg:rect', { class: 'tl-nm', fill: svg.hatch, x: x(a), y: y + 3, width: Math.max(1, x(b) - x(a)), height: ROW - 6 },
          h('svg:title', null, `not monitored ${fmtTime(iso(a), true)} to ${fmtTime(iso(b), true)}`)));
      }
      svg.append(g);
    });
    const axisY = TOP + rows.length * ROW + 2;
    svg.append(h('svg:line', { class: 'axis', x1: L, x2: W - R, y1: axisY, y2: axisY }));
    for (const t of timeTicks(d.from, d.to, W - L - R)) {
      svg.append(h('svg:line', { class: 'axis', x1: x(t), x2: x(t), y1: axisY, y2: axisY + 4 }));
      svg.append(h('svg:text', { x: x(t), y: axisY + 16, 'text-anchor': 'middle' }, tickLabel(t, d.to - d.from)));
    }
    const nmTotal = nm.reduce((s, [a, b]) => s + (b - a), 0);
    return h('div', null, h('div', { class: 'scroll', 'data-scroll': 'timeline' }, svg),
      h('p', { class: 'small muted' }, `${outs.length} outage${outs.length === 1 ? '' : 's'} in range`,
        nmTotal ? `; not monitored for about ${fmtDuration(nmTotal)}` : '; monitored throughout',
        d.hist ? '' : ' (coverage unknown: no target to read it from)'));
  }

  /* Outages of consecutive ports of one host that started and ended
   * together (a whole range behind one firewall rule) are one row. */
  function foldOutages(outs) {
    const groups = new Map();
    for (const o of outs) {
      const k = `${o.host}|${o.state}|${Math.round(ms(o.start) / 60000)}|${o.end ? Math.round(ms(o.end) / 60000) : 'open'}`;
      if (!groups.has(k)) groups.set(k, { first: o, ports: [], items: [] });
      const g = groups.get(k);
      g.ports.push(o.port);
      g.items.push(o);
    }
    return [...groups.values()].map((g) => { g.ports.sort((a, b) => a - b); return g; });
  }

  function outageTable(doc, hp) {
    const outs = doc.outages || [];
    if (!outs.length) {
      return h('p', { class: 'ok-note', text: `No outage${hp.open === 'open' ? ' is open' : ''} in this range${hp.host ? ` on ${hp.host}` : ''}${hp.role ? ` for ${roleTitle(hp.role)}` : ''}.` });
    }
    const body = h('tbody');
    for (const g of foldOutages(outs)) {
      const o = g.first, n = g.ports.length;
      const dur = Math.max(...g.items.map((x) => x.duration_ms));
      add(body, h('tr', { dataset: { outage: o.id, host: o.host, open: o.open ? '1' : '0' } },
        h('td', { 'data-label': 'Target' }, h('a', { href: hostPath(o.host) }, o.host), `:${portRanges(g.ports)}`, n > 1 ? h('div', { class: 'small muted', text: `${n} ports` }) : null),
        h('td', { 'data-label': 'Start' }, timeEl(o.start, true)),
        h('td', { 'data-label': 'End' }, o.open ? badge('down', 'ongoing') : timeEl(o.end, true)),
        h('td', { 'data-label': 'Duration', class: 'num', text: fmtDuration(dur) }),
        h('td', { 'data-label': 'Cause' }, h('strong', { text: STATE_SHORT[o.state] || o.state }),
          h('div', { class: 'small muted', text: `${STATE_TEXT[o.state] || ''}${o.detail ? ` (${o.detail})` : ''}` })),
        h('td', { 'data-label': 'Failed probes', class: 'num', text: g.items.reduce((s, x) => s + x.failed_probes, 0) })));
    }
    return h('div', null, h('div', { class: 'scroll', 'data-scroll': 'outages' },
      h('table', { class: 'stack', id: 'outage-table' }, h('thead', null, h('tr', null,
        ['Target', 'Start', 'End', 'Duration', 'Cause', 'Failed probes'].map((c) => h('th', { scope: 'col', class: c === 'Duration' || c === 'Failed probes' ? 'num' : null, text: c })))), body)),
      doc.truncated ? h('p', { class: 'small muted', text: 'Only the newest outages are listed; narrow the range or the filters.' }) : null);
  }

  function uptimeTable(doc, label, keyCell) {
    const groups = (doc.groups || []).slice().sort((a, b) => (a.uptime_pct ?? 101) - (b.uptime_pct ?? 101));
    if (!groups.length) return h('p', { class: 'muted', text: 'No data in this range.' });
    const body = h('tbody');
    for (const g of groups) {
      const pct = g.uptime_pct;
      const bar = h('span', { class: 'bar' });
      if (pct !== null) bar.style.setProperty('--w', `${Math.max(0, Math.min(100, pct))}%`);
      add(body, h('tr', { dataset: { group: g.key } },
        h('td', { 'data-label': label }, keyCell(g.key)),
        h('td', { 'data-label': 'Available', class: 'num' }, pct === null ? h('span', { class: 'muted', text: 'not monitored' }) :
          h('span', null, h('span', { class: 'bar-track', 'aria-hidden': 'true' }, bar), `${pct >= 99.995 ? '100' : pct.toFixed(pct >= 99 ? 3 : 2)} %`)),
        h('td', { 'data-label': 'Unavailable', class: 'num', text: fmtDuration(g.down_ms) }),
        h('td', { 'data-label': 'Not monitored', class: 'num', text: fmtDuration(g.not_monitored_ms) })));
    }
    return h('div', { class: 'scroll' }, h('table', { class: 'stack' },
      h('thead', null, h('tr', null, [label, 'Available', 'Unavailable (any target down)', 'Not monitored'].map((c, i) => h('th', { scope: 'col', class: i ? 'num' : null, text: c })))), body));
  }

  function latencyChart(d, W) {
    const hist = d.hist;
    if (!hist || !d.target) return h('p', { class: 'muted', text: 'No target to chart.' });
    const pts = hist.points || [];
    const H = W < 600 ? 200 : 240, L = 56, R = 10, T = 10, B = 26;
    const from = ms(hist.from), to = ms(hist.to);
    const x = (t) => L + ((t - from) / (to - from)) * (W - L - R);
    let max = 0;
    pts.forEach((p) => { if (p.latency_ms) max = Math.max(max, p.latency_ms.max === null ? 0 : p.latency_ms.max); });
    const nice = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000];
    const ymax = nice.find((v) => v >= max * 1.1) || max * 1.1 || 1;
    const y = (v) => T + (1 - v / ymax) * (H - T - B);
    const svg = svgEl(W, H, `Connect latency of ${d.target.host}:${d.target.port}, up to ${fmtLatency(max)}`);
    for (let k = 0; k <= 4; k++) {
      const v = (ymax * k) / 4;
      svg.append(h('svg:line', { class: 'grid-line', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.append(h('svg:text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmtLatency(v)));
    }
    for (const p of pts) { /* down time and unmonitored time behind the line */
      const t = ms(p.t), wd = Math.max(1, x(t + hist.step_ms) - x(t));
      if (p.down_ms > 0) svg.append(h('svg:rect', { class: 'lat-down', x: x(t), y: T, width: wd, height: H - T - B }, h('svg:title', null, `down for ${fmtDuration(p.down_ms)}`)));
    }
    for (const [a, b] of notMonitored(hist, from, to))
      svg.append(h('svg:rect', { class: 'tl-nm', fill: svg.hatch, x: x(a), y: T, width: Math.max(1, x(b) - x(a)), height: H - T - B }));
    let band = '', line = '', lo = [], pen = false;
    const flush = () => {
      if (lo.length) band += `${lo.reverse().join(' L')} Z `;
      lo = [];
    };
    for (const p of pts) {
      const t = ms(p.t) + hist.step_ms / 2;
      if (!p.latency_ms || p.latency_ms.avg === null) { pen = false; flush(); continue; }
      const cmd = pen ? ' L' : ' M';
      line += `${cmd}${x(t).toFixed(1)},${y(p.latency_ms.avg).toFixed(1)}`;
      band += `${cmd}${x(t).toFixed(1)},${y(p.latency_ms.max).toFixed(1)}`;
      lo.push(`${x(t).toFixed(1)},${y(p.latency_ms.min).toFixed(1)}`);
      pen = true;
    }
    flush();
    if (band) svg.append(h('svg:path', { class: 'lat-band', d: band.replace(/Z M/g, 'Z M').trim() }));
    if (line) svg.append(h('svg:path', { class: 'lat-line', d: line.trim() }));
    const axisY = H - B;
    svg.append(h('svg:line', { class: 'axis', x1: L, x2: W - R, y1: axisY, y2: axisY }));
    for (const t of timeTicks(from, to, W - L - R)) {
      svg.append(h('svg:text', { x: x(t), y: axisY + 16, 'text-anchor': 'middle' }, tickLabel(t, to - from)));
    }
    const avgs = pts.filter((p) => p.latency_ms && p.latency_ms.avg !== null).map((p) => p.latency_ms.avg);
    const mean = avgs.length ? avgs.reduce((a, b) => a + b, 0) / avgs.length : null;
    return h('div', null, h('div', { class: 'scroll', 'data-scroll': 'latency' }, svg),
      h('p', { class: 'small muted' }, `${d.target.host}:${d.target.port} \u00b7 line: average connect time per ${fmtDuration(hist.step_ms)}; band: minimum to maximum; red: down; hatched: not monitored`,
        mean !== null ? ` \u00b7 mean ${fmtLatency(mean)}, max ${fmtLatency(max)}` : ' \u00b7 no connection in this range'));
  }

  /* ---- report: a period, printable ---------------------------------------- */

  /* The period of #/report?from=&to= (RFC 3339 or the API's relative
   * times), the last 7 days by default. */
  function reportParams(r) {
    return { from: r.params.get('from') || '-7d', to: r.params.get('to') || 'now' };
  }

  function drawReport(r) {
    const rp = reportParams(r);
    const key = location.hash; /* a poll redraws, never refetches; a new address does */
    if (app.report && app.report.key === key) return;
    const rs = app.report = { key, rp, doc: null, error: null };
    swapMain(reportSkeleton(rp));
    optional(`api/v1/report?format=json&from=${encodeURIComponent(rp.from)}&to=${encodeURIComponent(rp.to)}`)
      .then((doc) => { rs.doc = doc; }, (e) => { rs.error = e instanceof AuthError ? 'an API token is needed' : e.message; })
      .then(() => { if (app.report === rs) fillReport(rs); });
  }

  function reportSkeleton(rp) {
    const field = (label, id, value) => h('label', { for: id }, label,
      h('input', { id, 'data-key': id, value, size: 26, spellcheck: 'false' }));
    const form = h('form', { class: 'toolbar no-print', id: 'report-form' },
      field('From', 'rep-from', rp.from), field('To', 'rep-to', rp.to),
      h('button', { type: 'submit', text: 'Show' }),
      h('button', { type: 'button', class: 'plain', id: 'rep-print', onclick: () => window.print(), text: 'Print or save as PDF' }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const p = new URLSearchParams();
      p.set('from', document.getElementById('rep-from').value.trim() || '-7d');
      p.set('to', document.getElementById('rep-to').value.trim() || 'now');
      setHashParams('report', p);
    });
    return h('div', { class: 'report' },
      h('h1', { text: 'Report' }),
      h('p', { class: 'small muted no-print', text: 'Times are RFC 3339 (2026-12-01T00:00:00Z), "now", or relative: -24h, -7d.' }),
      form,
      h('div', { id: 'report-body', 'aria-live': 'polite' }, h('p', { class: 'muted', text: 'Loading the report\u2026' })));
  }

  function pctText(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return 'not monitored';
    const p = v <= 1 ? v * 100 : v;
    return `${p >= 99.995 ? '100' : p.toFixed(p >= 99 ? 3 : 2)} %`;
  }

  function availTable(rows, label, id) {
    if (!rows || !rows.length) return h('p', { class: 'muted', text: 'No data in this period.' });
    return h('table', { class: 'report-table', id },
      h('thead', null, h('tr', null, [label, 'Available', 'Unavailable', 'Monitored', 'Not monitored', 'Planned']
        .map((c, i) => h('th', { scope: 'col', class: i ? 'num' : null, text: c })))),
      h('tbody', null, rows.map((a) => h('tr', { dataset: { name: a.name } },
        h('th', { scope: 'row', text: label === 'Role' ? roleTitle(a.name) : a.name }),
        h('td', { class: 'num', text: pctText(a.availability) }),
        h('td', { class: 'num', text: fmtDuration(a.monitored_ms - a.available_ms) }),
        h('td', { class: 'num', text: fmtDuration(a.monitored_ms) }),
        h('td', { class: 'num', text: fmtDuration(a.unmonitored_ms) }),
        h('td', { class: 'num', text: fmtDuration(a.planned_ms) })))));
  }

  function reportIncidents(list) {
    if (!list || !list.length) return h('p', { class: 'ok-note', text: 'No incident in this period.' });
    return h('table', { class: 'report-table', id: 'report-incidents' },
      h('thead', null, h('tr', null, ['Started', 'Ended', 'Duration', 'What', 'Targets', 'Breaks']
        .map((c) => h('th', { scope: 'col', class: c === 'Duration' || c === 'Targets' ? 'num' : null, text: c })))),
      h('tbody', null, list.map((inc) => h('tr', { dataset: { incident: inc.id } },
        h('td', null, timeEl(inc.started_at, true)),
        h('td', null, inc.ended_at ? timeEl(inc.ended_at, true) : 'ongoing'),
        h('td', { class: 'num', text: fmtDuration(inc.duration_ms) }),
        h('td', null, inc.summary || inc.cause, inc.planned ? h('div', { class: 'small', text: 'planned (maintenance window)' }) : null),
        h('td', { class: 'num', text: inc.target_count }),
        h('td', { class: 'small', text: (inc.tasks || []).join('; ') })))));
  }

  function reportOutages(list) {
    if (!list || !list.length) return h('p', { class: 'muted', text: 'No outage in this period.' });
    const groups = foldOutages(list);
    return h('table', { class: 'report-table', id: 'report-outages' },
      h('thead', null, h('tr', null, ['Target', 'Start', 'End', 'Duration', 'Cause']
        .map((c) => h('th', { scope: 'col', class: c === 'Duration' ? 'num' : null, text: c })))),
      h('tbody', null, groups.map((g) => h('tr', null,
        h('td', { text: `${g.first.host}:${portRanges(g.ports)}` }),
        h('td', null, timeEl(g.first.start, true)),
        h('td', null, g.first.end ? timeEl(g.first.end, true) : 'ongoing'),
        h('td', { class: 'num', text: fmtDuration(Math.max(...g.items.map((x) => x.duration_ms))) }),
        h('td', { text: STATE_SHORT[g.first.state] || g.first.state })))));
  }

  function fillReport(rs) {
    const el = document.getElementById('report-body');
    if (!el) return;
    if (rs.error) { el.replaceChildren(h('p', { class: 'error-note', text: `Cannot read the report: ${rs.error}.` })); return; }
    if (!rs.doc) {
      el.replaceChildren(h('p', { class: 'muted', text: 'This portwatch has no report endpoint (/api/v1/report).' }));
      return;
    }
    const d = rs.doc, av = d.availability || {};
    tickNow();
    el.replaceChildren(
      h('p', { class: 'report-period', id: 'report-period' }, 'Period ', timeEl(d.from, true), ' to ', timeEl(d.to, true),
        ` (${fmtDuration(ms(d.to) - ms(d.from))}); times in ${zoneName()}; printed from portwatch at `, timeEl(iso(app.now), true), '.'),
      h('p', { class: 'small muted', text: 'Available: every target the host or role needs passes. Unavailable is monitored time that was not. Time portwatch was not running is not monitored and is left out of the ratio.' }),
      h('section', { class: 'panel' }, h('h2', { text: 'Availability by host' }), availTable(av.hosts, 'Host', 'report-hosts')),
      h('section', { class: 'panel' }, h('h2', { text: 'Availability by role' }), availTable(av.roles, 'Role', 'report-roles')),
      h('section', { class: 'panel' }, h('h2', { text: `Incidents (${(d.incidents || []).length})` }), reportIncidents(d.incidents)),
      h('section', { class: 'panel' }, h('h2', { text: `Outages (${(d.outages || []).length})` }), reportOutages(d.outages)));
  }

  /* ---- start ----------------------------------------------------------------- */

  function viewKey(r) { return `${r.view}|${r.host || ''}`; }

  function start() {
    setupToken();
    /* A new view moves focus to its heading (as a page load would); a
     * filter change within a view leaves it on the control. */
    let shown = viewKey(route());
    window.addEventListener('hashchange', () => {
      const r = route();
      /* a host view reads that host's targets: fetch them now */
      if (r.view === 'host' && !(app.hostDoc && app.hostDoc.host === r.host) && app.farm) poll();
      redraw();
      const now = viewKey(route());
      if (now === shown) return;
      shown = now;
      const h1 = document.querySelector('main h1');
      if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus(); } else document.getElementById('main').focus();
    });
    let resizeTimer = 0;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if (app.hist && app.hist.data) drawHistoryData(app.hist); }, 200);
    });
    /* Every relative time on the page moves together, once a second. */
    setInterval(tick, 1000);
    poll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}());
