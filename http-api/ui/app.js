// rconsul web UI: a small single-page app over the agent's own /v1 HTTP API.
//
// - Routing is on the URL fragment (#/services, #/services/<name>, #/nodes, #/nodes/<name>,
//   #/kv/<path>, #/cluster), so deep links, reloads and the back button work.
// - Every page owns an AbortController; navigating aborts its requests.
// - Lists stay live through Consul's blocking queries: each watch remembers the last
//   X-Consul-Index and asks again with ?index=<i>&wait=30s. No timers poll the API.
// - API errors (status and body) are shown in a banner under the top bar.
'use strict';

// ---------------------------------------------------------------------------------------
// DOM helpers
// ---------------------------------------------------------------------------------------

/** Creates an element: h('a', {href: '#/x', class: 'y'}, 'text', child, [more]). Text is
 *  always set as text (never HTML), so names and values from the API cannot inject markup. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  const add = (c) => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else el.append(c instanceof Node ? c : String(c));
  };
  children.forEach(add);
  return el;
}

const main = document.getElementById('main');
const byName = (a, b) => a.localeCompare(b, undefined, { numeric: true });
const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

/** Resolves once the tab is visible (or the page is left): hidden tabs keep no long
 *  polls open, so several open tabs do not use up the browser's connections. */
const visible = (signal) => new Promise((resolve) => {
  if (!document.hidden) { resolve(); return; }
  const check = () => {
    if (document.hidden && !signal.aborted) return;
    document.removeEventListener('visibilitychange', check);
    resolve();
  };
  document.addEventListener('visibilitychange', check);
  signal.addEventListener('abort', check, { once: true });
});

// ---------------------------------------------------------------------------------------
// Error banner: one entry per source (a watch's URL, an action), cleared on success.
// ---------------------------------------------------------------------------------------

const errors = new Map();

function setError(source, err) { errors.set(source, err); renderErrors(); }
function clearError(source) { if (errors.delete(source)) renderErrors(); }

function renderErrors() {
  const box = document.getElementById('errors');
  box.hidden = errors.size === 0;
  box.replaceChildren(...[...errors.values()].map((e) => h('div', { class: 'error' },
    h('b', {}, e.status ? `${e.status} ${e.statusText || ''}` : 'Error'),
    h('div', {}, h('span', { class: 'mono' }, e.url || ''), e.body ? h('pre', {}, e.body) : null,
      e.retry ? h('div', { class: 'muted' }, e.retry) : null))));
}

/** An error answer from the API. */
class ApiError extends Error {
  constructor(method, url, status, statusText, body) {
    super(`${method} ${url}: ${status} ${body}`);
    Object.assign(this, { url: `${method} ${url}`, status, statusText, body });
  }
}

// ---------------------------------------------------------------------------------------
// API access
// ---------------------------------------------------------------------------------------

/** Percent-encodes each segment of a KV path, keeping the slashes. */
const encPath = (p) => p.split('/').map(encodeURIComponent).join('/');

// ---------------------------------------------------------------------------------------
// ACL token: kept in the browser (localStorage), sent with every request; a 403 asks for it
// ---------------------------------------------------------------------------------------

const TOKEN_KEY = 'rconsul.token';

/** The token the UI sends ('' for none). */
function savedToken() {
  try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

/** Saves (or with '' forgets) the token and reloads the current page's data. */
function saveToken(value) {
  try {
    if (value) localStorage.setItem(TOKEN_KEY, value); else localStorage.removeItem(TOKEN_KEY);
  } catch { /* private mode: the token lasts for this page only */ }
  sessionToken = value;
  showTokenForm(false);
  renderTokenButton();
  route();
}

let sessionToken = savedToken();

function renderTokenButton() {
  const b = document.getElementById('token-button');
  if (b) b.textContent = sessionToken ? 'Token ✓' : 'Token';
}

/** Shows the token form (why: the 403 text), or hides it. */
function showTokenForm(show, why = '') {
  const form = document.getElementById('token-form');
  if (!form) return;
  form.hidden = !show;
  if (!show) return;
  document.getElementById('token-why').textContent = why;
  const input = document.getElementById('token-input');
  input.value = sessionToken;
  input.focus();
}

/** One request. Resolves to {data, index, status}; rejects with ApiError on an error
 *  status (a 404 is data === null when allow404 is set) and with the fetch error otherwise. */
async function api(method, url, { body, signal, allow404 = false } = {}) {
  let resp;
  try {
    const headers = { Accept: 'application/json' };
    if (sessionToken) headers['X-Consul-Token'] = sessionToken;
    resp = await fetch(url, { method, body, signal, headers });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw Object.assign(new Error(e.message), { url: `${method} ${url}`, body: `${e.message} (is the agent running?)` });
  }
  const text = await resp.text();
  if (resp.status === 403) {
    // ACLs: "Permission denied" or "ACL not found". Ask for a token.
    showTokenForm(true, text);
  } else if (!sessionToken && resp.headers.get('X-Consul-Results-Filtered-By-ACLs') === 'true') {
    showTokenForm(true, 'Some results are hidden by ACLs: a token may show them.');
  }
  if (!resp.ok && !(resp.status === 404 && allow404)) {
    throw new ApiError(method, url, resp.status, resp.statusText, text || '(empty body)');
  }
  let data = null;
  if (resp.ok && text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  return { data, status: resp.status, index: Number(resp.headers.get('X-Consul-Index')) || 0 };
}

/** Runs a blocking-query loop on `url` for the current page, calling onData(data) with the
 *  first answer and then after every change of X-Consul-Index. Errors show in the banner
 *  and are retried with a growing back-off; the loop ends when the page is left. */
function watch(page, url, onData, { allow404 = false } = {}) {
  const signal = page.signal;
  (async () => {
    let index = 0;
    let backoff = 0;
    while (!signal.aborted) {
      await visible(signal);
      if (signal.aborted) return;
      const started = Date.now();
      const sep = url.includes('?') ? '&' : '?';
      const full = index > 0 ? `${url}${sep}index=${index}&wait=30s` : url;
      let r;
      try {
        r = await api('GET', full, { signal, allow404 });
      } catch (e) {
        if (signal.aborted) return;
        backoff = Math.min(backoff ? backoff * 2 : 1000, 15000);
        setError(url, Object.assign(e, { retry: `Retrying in ${backoff / 1000}s…` }));
        await sleep(backoff, signal);
        continue;
      }
      backoff = 0;
      clearError(url);
      const changed = index === 0 || r.index !== index;
      // Consul's rules: an index that goes backwards (a restore) starts over from zero.
      index = r.index < index ? 0 : r.index;
      if (changed) onData(r.data);
      if (!r.index) return; // not a blocking endpoint: one answer is all there is
      // Guard against a server that answers at once without blocking: never spin.
      if (!changed && Date.now() - started < 1000) await sleep(1000, signal);
    }
  })();
}

// ---------------------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------------------

// 'none' is the health of something without any checks (Consul counts it as passing).
const RANK = { none: -1, passing: 0, warning: 1, critical: 2 };
const ICON = { passing: '✓', warning: '!', critical: '✕', neutral: '–' };

/** The worst of some statuses: unknown ones count as critical, 'none' only when empty. */
function worstOf(statuses) {
  let w = 'none';
  for (let st of statuses) {
    if (RANK[st] === undefined) st = 'critical';
    if (RANK[st] > RANK[w]) w = st;
  }
  return w;
}
const worst = (checks) => worstOf(checks.map((c) => c.Status));

/** A coloured health badge with an icon and a label (colour is never the only cue). */
function badge(status, label = status === 'none' ? 'no checks' : status) {
  const cls = RANK[status] > RANK.none ? status : 'neutral';
  return h('span', { class: `badge ${cls}`, 'data-status': status },
    h('span', { class: 'icon', 'aria-hidden': 'true' }, ICON[cls]), label);
}

/** Indexes health checks: node-level checks by node, service checks by node + service ID. */
function indexChecks(checks) {
  const node = new Map();
  const svc = new Map();
  for (const c of checks || []) {
    const map = c.ServiceID ? svc : node;
    const key = c.ServiceID ? `${c.Node}\u0000${c.ServiceID}` : c.Node;
    if (!map.has(key)) map.set(key, []);
    map.get(key).push(c);
  }
  return {
    /** All checks that decide an instance's health: its node's plus its own. */
    forInstance: (n, id) => [...(node.get(n) || []), ...(svc.get(`${n}\u0000${id}`) || [])],
    byNode: (n) => [...(node.get(n) || []), ...[...svc.entries()].filter(([k]) => k.startsWith(`${n}\u0000`)).flatMap(([, v]) => v)],
  };
}

/** Counts of instances (or checks) per status, as a row of badges. */
function summary(statuses, noun) {
  if (!statuses.length) return h('span', { class: 'muted' }, `no ${noun}s`);
  const n = { critical: 0, warning: 0, passing: 0, none: 0 };
  statuses.forEach((s) => { n[RANK[s] === undefined ? 'critical' : s] += 1; });
  return h('span', { class: 'health' }, Object.keys(n)
    .filter((s) => n[s]).map((s) => badge(s, `${n[s]} ${s === 'none' ? 'without checks' : s}`)));
}

const tagList = (tags) => (tags && tags.length ? h('div', { class: 'tags' }, tags.map((t) => h('span', { class: 'tag' }, t))) : null);
const props = (obj) => h('dl', { class: 'props' }, Object.entries(obj)
  .filter(([, v]) => v !== undefined && v !== null && v !== '')
  .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
const metaProps = (meta) => (meta && Object.keys(meta).length ? props(meta) : h('span', { class: 'muted' }, 'none'));

/** A table with a header row; each cell's label repeats on phone widths. */
function table(headers, rows) {
  return h('table', { class: 'list' },
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows));
}
const cell = (label, ...content) => h('td', { 'data-label': label }, content);

/** The checks table of a service instance or a node. */
function checksTable(checks, withService) {
  if (!checks.length) return h('div', { class: 'empty' }, 'No health checks.');
  const sorted = [...checks].sort((a, b) => (RANK[b.Status] ?? 2) - (RANK[a.Status] ?? 2) || byName(a.Name, b.Name));
  return table(['Status', 'Check', withService && 'Service', 'Output'].filter(Boolean), sorted.map((c) => h('tr', { 'data-check': c.CheckID },
    cell('Status', badge(c.Status)),
    cell('Check', h('div', {}, h('b', {}, c.Name)), h('div', { class: 'muted mono' }, c.CheckID, c.Type ? ` · ${c.Type}` : ''),
      c.Notes ? h('div', { class: 'muted' }, c.Notes) : null),
    withService ? cell('Service', c.ServiceName ? h('a', { href: `#/services/${encodeURIComponent(c.ServiceName)}` }, c.ServiceName) : h('span', { class: 'muted' }, 'node')) : null,
    cell('Output', c.Output ? h('pre', {}, c.Output) : h('span', { class: 'muted' }, '—')))));
}

// ---------------------------------------------------------------------------------------
// Shared data: instances of every service (for instance counts and node → services)
// ---------------------------------------------------------------------------------------

/** Loads /v1/catalog/service/<name> for each service whenever the service list changes
 *  (two at a time: browsers allow six connections per host and the blocking queries hold
 *  up to three).
 *  Calls onLoad(Map name → [{Node, ServiceID}]) when a round completes. */
function instanceLoader(page, onLoad) {
  let round = 0;
  return async (services) => {
    const mine = ++round;
    const names = Object.keys(services || {});
    const result = new Map();
    const queue = [...names];
    const worker = async () => {
      while (queue.length && round === mine && !page.signal.aborted) {
        const name = queue.shift();
        const url = `/v1/catalog/service/${encodeURIComponent(name)}`;
        try {
          const r = await api('GET', url, { signal: page.signal });
          result.set(name, (r.data || []).map((s) => ({ Node: s.Node, ServiceID: s.ServiceID })));
          clearError('instances');
        } catch (e) {
          if (!page.signal.aborted) setError('instances', e);
        }
      }
    };
    await Promise.all([worker(), worker()]);
    if (round === mine && !page.signal.aborted) onLoad(result);
  };
}

/** Reads and writes the page's own query (#/services?q=web&status=critical) without
 *  adding history entries for every keystroke. */
function setQuery(params) {
  const [path] = location.hash.split('?');
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  history.replaceState(null, '', qs ? `${path}?${qs}` : path);
}

/** A search box plus a health filter (and optionally a sort), bound to the query. */
function toolbar(query, onChange, { sort = false, placeholder }) {
  const state = { q: query.get('q') || '', status: query.get('status') || '', sort: query.get('sort') || '' };
  const changed = (k) => (e) => { state[k] = e.target.value; setQuery(state); onChange(state); };
  const opts = (list, cur) => list.map(([v, label]) => h('option', { value: v, selected: v === cur }, label));
  const bar = h('div', { class: 'toolbar' },
    h('input', { class: 'search', type: 'search', placeholder, value: state.q, 'aria-label': 'Search', oninput: changed('q') }),
    h('select', { 'aria-label': 'Health filter', onchange: changed('status') }, opts([['', 'All health'], ['passing', 'Passing'], ['warning', 'Warning'], ['critical', 'Critical']], state.status)),
    sort ? h('select', { 'aria-label': 'Sort', onchange: changed('sort') }, opts([['', 'Sort by name'], ['health', 'Sort by health']], state.sort)) : null);
  return { bar, state };
}

// ---------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------

/** #/services: every service with tags, instance count and a health summary. */
function servicesPage(page, query) {
  let services = null; let checks = []; let instances = new Map();
  const list = h('div', { class: 'panel' }, h('div', { class: 'empty' }, 'Loading…'));
  const { bar, state } = toolbar(query, draw, { sort: true, placeholder: 'Search by name or tag' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Services')), bar, list);

  function draw() {
    if (!services) return;
    const idx = indexChecks(checks);
    // Instances from the catalog; until they are loaded, the ones the checks name.
    const fromChecks = new Map();
    for (const c of checks) {
      if (!c.ServiceName) continue;
      if (!fromChecks.has(c.ServiceName)) fromChecks.set(c.ServiceName, new Map());
      fromChecks.get(c.ServiceName).set(`${c.Node}\u0000${c.ServiceID}`, { Node: c.Node, ServiceID: c.ServiceID });
    }
    let rows = Object.keys(services).map((name) => {
      const insts = instances.get(name) || [...(fromChecks.get(name) || new Map()).values()];
      const statuses = insts.map((i) => worst(idx.forInstance(i.Node, i.ServiceID)));
      return { name, tags: services[name] || [], insts, statuses, status: worstOf(statuses) };
    });
    const q = state.q.trim().toLowerCase();
    rows = rows.filter((r) => (!q || r.name.toLowerCase().includes(q) || r.tags.some((t) => t.toLowerCase().includes(q)))
      && (!state.status || r.status === state.status));
    rows.sort((a, b) => (state.sort === 'health' ? RANK[b.status] - RANK[a.status] : 0) || byName(a.name, b.name));
    list.replaceChildren(rows.length === 0
      ? h('div', { class: 'empty' }, Object.keys(services).length ? 'No services match.' : 'No services registered.')
      : table(['Service', 'Health', 'Instances'], rows.map((r) => h('tr', { 'data-service': r.name, 'data-status': r.status },
        cell('Service', h('a', { href: `#/services/${encodeURIComponent(r.name)}` }, h('b', {}, r.name)), tagList(r.tags)),
        cell('Health', summary(r.statuses, 'instance')),
        cell('Instances', String(r.insts.length))))));
  }

  const loadInstances = instanceLoader(page, (m) => { instances = m; draw(); });
  watch(page, '/v1/catalog/services', (d) => { services = d || {}; draw(); loadInstances(services); });
  watch(page, '/v1/health/state/any', (d) => { checks = d || []; draw(); });
}

/** #/services/<name>: each instance with node, address, tags, meta and all its checks. */
function servicePage(page, name) {
  const head = h('div', { class: 'page-head' }, h('h1', {}, name));
  const body = h('div', {}, h('div', { class: 'panel empty' }, 'Loading…'));
  main.append(h('div', { class: 'crumbs' }, h('a', { href: '#/services' }, 'Services'), ' / '), head, body);

  watch(page, `/v1/health/service/${encodeURIComponent(name)}`, (list) => {
    list = list || [];
    const statuses = list.map((e) => worst(e.Checks || []));
    head.replaceChildren(h('h1', {}, name), summary(statuses, 'instance'));
    if (!list.length) {
      body.replaceChildren(h('div', { class: 'panel empty' }, 'No instances of this service are registered.'));
      return;
    }
    list.sort((a, b) => byName(a.Node.Node, b.Node.Node) || byName(a.Service.ID, b.Service.ID));
    body.replaceChildren(h('h2', {}, `${list.length} instance${list.length === 1 ? '' : 's'}`), ...list.map((e, i) => {
      const s = e.Service; const n = e.Node;
      const addr = `${s.Address || n.Address}${s.Port ? `:${s.Port}` : ''}`;
      return h('div', { class: `panel instance ${statuses[i]}`, 'data-instance': s.ID },
        h('div', { class: 'panel-head' }, h('h3', {}, s.ID), badge(statuses[i]),
          h('span', { class: 'muted' }, 'on ', h('a', { href: `#/nodes/${encodeURIComponent(n.Node)}` }, n.Node)),
          h('span', { class: 'mono' }, addr)),
        h('div', { class: 'panel-body' }, props({ Tags: tagList(s.Tags) || h('span', { class: 'muted' }, 'none'), Meta: metaProps(s.Meta) })),
        checksTable(e.Checks || [], false));
    }));
  });
}

/** #/nodes: every node with address, health and the services it runs. */
function nodesPage(page, query) {
  let nodes = null; let checks = []; let instances = new Map();
  const list = h('div', { class: 'panel' }, h('div', { class: 'empty' }, 'Loading…'));
  const { bar, state } = toolbar(query, draw, { placeholder: 'Search by name, address or service' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Nodes')), bar, list);

  function draw() {
    if (!nodes) return;
    const idx = indexChecks(checks);
    const services = new Map(); // node → service names
    for (const [name, insts] of instances) {
      for (const i of insts) {
        if (!services.has(i.Node)) services.set(i.Node, new Set());
        services.get(i.Node).add(name);
      }
    }
    let rows = nodes.map((n) => {
      const nc = idx.byNode(n.Node);
      return { n, checks: nc, status: worst(nc), svcs: [...(services.get(n.Node) || [])].sort(byName) };
    });
    const q = state.q.trim().toLowerCase();
    rows = rows.filter((r) => (!q || r.n.Node.toLowerCase().includes(q) || r.n.Address.includes(q) || r.svcs.some((s) => s.toLowerCase().includes(q)))
      && (!state.status || r.status === state.status));
    list.replaceChildren(rows.length === 0 ? h('div', { class: 'empty' }, nodes.length ? 'No nodes match.' : 'No nodes registered.')
      : table(['Node', 'Address', 'Health', 'Services'], rows.map((r) => h('tr', { 'data-node': r.n.Node, 'data-status': r.status },
        cell('Node', h('a', { href: `#/nodes/${encodeURIComponent(r.n.Node)}` }, h('b', {}, r.n.Node))),
        cell('Address', h('span', { class: 'mono' }, r.n.Address)),
        cell('Health', summary(r.checks.map((c) => (RANK[c.Status] === undefined ? 'critical' : c.Status)), 'check')),
        cell('Services', r.svcs.length ? h('div', { class: 'tags' }, r.svcs.map((s) => h('a', { class: 'tag', href: `#/services/${encodeURIComponent(s)}` }, s)))
          : h('span', { class: 'muted' }, '—'))))));
  }

  const loadInstances = instanceLoader(page, (m) => { instances = m; draw(); });
  watch(page, '/v1/catalog/nodes', (d) => { nodes = d || []; draw(); });
  watch(page, '/v1/health/state/any', (d) => { checks = d || []; draw(); });
  watch(page, '/v1/catalog/services', (d) => loadInstances(d || {}));
}

/** #/nodes/<name>: the node's addresses and meta, its checks and its services. */
function nodePage(page, name) {
  let node; let checks = [];
  const head = h('div', { class: 'page-head' }, h('h1', {}, name));
  const body = h('div', {}, h('div', { class: 'panel empty' }, 'Loading…'));
  main.append(h('div', { class: 'crumbs' }, h('a', { href: '#/nodes' }, 'Nodes'), ' / '), head, body);

  function draw() {
    if (node === undefined) return;
    if (node === null) {
      head.replaceChildren(h('h1', {}, name));
      body.replaceChildren(h('div', { class: 'panel empty' }, 'This node is not in the catalog.'));
      return;
    }
    const n = node.Node;
    const idx = indexChecks(checks);
    head.replaceChildren(h('h1', {}, name), badge(worst(checks)));
    const tagged = Object.entries(n.TaggedAddresses || {}).map(([k, v]) => `${k}: ${v}`).join(', ');
    const svcs = Object.values(node.Services || {}).sort((a, b) => byName(a.Service, b.Service) || byName(a.ID, b.ID));
    body.replaceChildren(
      h('div', { class: 'panel panel-body' }, props({ Address: h('span', { class: 'mono' }, n.Address), 'Node ID': n.ID && h('span', { class: 'mono' }, n.ID), Datacenter: n.Datacenter, 'Tagged addresses': tagged, Meta: metaProps(n.Meta) })),
      h('h2', {}, 'Health checks'), h('div', { class: 'panel' }, checksTable(checks, true)),
      h('h2', {}, 'Services'),
      h('div', { class: 'panel' }, svcs.length === 0 ? h('div', { class: 'empty' }, 'No services on this node.')
        : table(['Service', 'Health', 'Address', 'Tags'], svcs.map((s) => h('tr', { 'data-service': s.Service },
          cell('Service', h('a', { href: `#/services/${encodeURIComponent(s.Service)}` }, h('b', {}, s.Service)), s.ID !== s.Service ? h('div', { class: 'muted mono' }, s.ID) : null),
          cell('Health', badge(worst(idx.forInstance(n.Node, s.ID)))),
          cell('Address', h('span', { class: 'mono' }, `${s.Address || n.Address}${s.Port ? `:${s.Port}` : ''}`)),
          cell('Tags', tagList(s.Tags) || h('span', { class: 'muted' }, '—')))))));
  }

  watch(page, `/v1/catalog/node/${encodeURIComponent(name)}`, (d) => { node = d || null; draw(); }, { allow404: true });
  watch(page, `/v1/health/node/${encodeURIComponent(name)}`, (d) => { checks = d || []; draw(); });
}

/** Breadcrumbs for a KV path: Key/Value / a / b / */
function kvCrumbs(path) {
  const parts = path.split('/').filter((p, i, all) => p || i < all.length - 1);
  const out = [h('a', { href: '#/kv/' }, 'Key/Value'), ' / '];
  let acc = '';
  parts.slice(0, -1).forEach((p) => { acc += `${p}/`; out.push(h('a', { href: `#/kv/${encPath(acc)}` }, p), ' / '); });
  return h('div', { class: 'crumbs' }, out);
}

/** Decodes a base64 KV value as UTF-8 text; null when it is not text. */
function decodeValue(b64) {
  if (!b64) return '';
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  try { return new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { return null; }
}

/** The ?flags=&cas= query of a KV write. */
const kvQuery = (flags, cas) => new URLSearchParams({ ...(Number(flags) ? { flags: String(Number(flags)) } : {}), ...(cas !== undefined ? { cas: String(cas) } : {}) }).toString();

/** #/kv/<folder>/: the folder's keys and sub-folders, plus a form to create a key. */
function kvFolderPage(page, prefix) {
  const title = prefix ? prefix.replace(/\/$/, '').split('/').pop() : 'Key/Value';
  const list = h('div', { class: 'panel' }, h('div', { class: 'empty' }, 'Loading…'));
  if (prefix) main.append(kvCrumbs(prefix));
  main.append(h('div', { class: 'page-head' }, h('h1', {}, `${title}${prefix ? '/' : ''}`)), list);

  watch(page, `/v1/kv/${encPath(prefix)}?keys&separator=/`, (keys) => {
    keys = (keys || []).filter((k) => k !== prefix).sort((a, b) => (b.endsWith('/') - a.endsWith('/')) || byName(a, b));
    list.replaceChildren(keys.length === 0 ? h('div', { class: 'empty' }, prefix ? 'This folder is empty.' : 'The store is empty. Create a key below.')
      : table(['Key', 'Type'], keys.map((k) => h('tr', { 'data-key': k },
        cell('Key', h('a', { href: `#/kv/${encPath(k)}` }, h('span', { class: 'kv-icon', 'aria-hidden': 'true' }, k.endsWith('/') ? '▸' : '·'), k.slice(prefix.length))),
        cell('Type', h('span', { class: 'muted' }, k.endsWith('/') ? 'folder' : 'key'))))));
  }, { allow404: true });

  // Create: cas=0 so an existing key is never overwritten by accident.
  const key = h('input', { id: 'kv-new-key', placeholder: 'name, or name/ for a folder', required: true, autocomplete: 'off' });
  const value = h('textarea', { id: 'kv-new-value', placeholder: 'value (text)' });
  const flags = h('input', { id: 'kv-new-flags', type: 'number', min: 0, value: '0' });
  const form = h('form', { class: 'form panel-body', id: 'kv-create-form' },
    h('label', {}, h('span', {}, 'Key ', h('span', { class: 'hint' }, `in ${prefix || '/'}; end with / to create a folder`)), key),
    h('label', {}, 'Value', value),
    h('label', {}, 'Flags', flags),
    h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit', id: 'kv-create' }, 'Create')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const full = prefix + key.value.trim();
    const folder = full.endsWith('/');
    try {
      const r = await api('PUT', `/v1/kv/${encPath(full)}?${kvQuery(folder ? 0 : flags.value, 0)}`, { body: folder ? '' : value.value, signal: page.signal });
      if (r.data !== true) throw Object.assign(new Error('exists'), { url: `PUT /v1/kv/${full}`, body: `The key "${full}" already exists.` });
      clearError('kv-create');
      location.hash = `#/kv/${encPath(full)}`;
    } catch (e) {
      if (!page.signal.aborted) setError('kv-create', e);
    }
  });
  main.append(h('h2', {}, 'Create'), h('div', { class: 'panel' }, form));
}

/** #/kv/<key>: a key's value (as text), flags and indexes; edit and delete. */
function kvKeyPage(page, key) {
  let entry; let editing = false;
  const parent = key.includes('/') ? key.slice(0, key.lastIndexOf('/') + 1) : '';
  const head = h('div', { class: 'page-head' }, h('h1', {}, key.split('/').pop()));
  const body = h('div', {}, h('div', { class: 'panel empty' }, 'Loading…'));
  main.append(kvCrumbs(key), head, body);

  async function write(method, url, what, reqBody) {
    try {
      const r = await api(method, url, { body: reqBody, signal: page.signal });
      if (r.data === false) throw Object.assign(new Error('cas'), { url: `${method} ${url}`, body: `The key changed since it was loaded; ${what} was not applied. Review the new value and try again.` });
      clearError('kv-write');
      return true;
    } catch (e) {
      if (!page.signal.aborted) setError('kv-write', e);
      return false;
    }
  }

  function draw() {
    if (entry === undefined || editing) return;
    if (entry === null) {
      head.replaceChildren(h('h1', {}, key.split('/').pop()));
      body.replaceChildren(h('div', { class: 'panel empty' }, 'This key does not exist. ', h('a', { href: `#/kv/${encPath(parent)}` }, 'Back to the folder')));
      return;
    }
    const text = decodeValue(entry.Value);
    // Deleting takes two clicks: Delete, then the red confirmation button.
    const confirm = h('span', { class: 'confirm', hidden: true },
      h('span', {}, 'Delete this key?'),
      h('button', { class: 'danger solid', id: 'kv-delete-confirm', onclick: async () => {
        if (await write('DELETE', `/v1/kv/${encPath(key)}?cas=${entry.ModifyIndex}`, 'the delete')) location.hash = `#/kv/${encPath(parent)}`;
      } }, 'Delete'),
      h('button', { onclick: () => { confirm.hidden = true; actions.hidden = false; } }, 'Cancel'));
    const actions = h('span', { class: 'confirm' },
      h('button', { id: 'kv-edit', disabled: text === null, onclick: edit }, 'Edit'),
      h('button', { class: 'danger', id: 'kv-delete', onclick: () => { confirm.hidden = false; actions.hidden = true; } }, 'Delete'));
    head.replaceChildren(h('h1', {}, key.split('/').pop()), h('span', { class: 'spacer' }), actions, confirm);
    body.replaceChildren(
      h('div', { class: 'panel panel-body' }, text === null
        ? h('div', { class: 'value-box muted' }, `Binary value (${atob(entry.Value).length} bytes), base64: `, h('span', { class: 'mono' }, entry.Value))
        : h('pre', { class: 'value-box', id: 'kv-value' }, text === '' ? h('span', { class: 'muted' }, '(empty)') : text)),
      h('h2', {}, 'Details'),
      h('div', { class: 'panel panel-body' }, props({ Key: h('span', { class: 'mono' }, entry.Key), Flags: String(entry.Flags), 'Create index': String(entry.CreateIndex), 'Modify index': String(entry.ModifyIndex), 'Lock index': String(entry.LockIndex), Session: entry.Session })));
  }

  // The editor writes with cas=<ModifyIndex it started from>, so a concurrent change is
  // reported instead of overwritten.
  function edit() {
    editing = true;
    const base = entry;
    const value = h('textarea', { id: 'kv-edit-value' });
    value.value = decodeValue(base.Value) || '';
    const flags = h('input', { id: 'kv-edit-flags', type: 'number', min: 0, value: String(base.Flags) });
    const done = () => { editing = false; draw(); };
    head.replaceChildren(h('h1', {}, `Edit ${key.split('/').pop()}`));
    body.replaceChildren(h('div', { class: 'panel' }, h('form', { class: 'form panel-body', id: 'kv-edit-form', onsubmit: async (ev) => {
      ev.preventDefault();
      if (await write('PUT', `/v1/kv/${encPath(key)}?${kvQuery(flags.value, base.ModifyIndex)}`, 'your edit', value.value)) done();
    } }, h('label', {}, 'Value', value), h('label', {}, 'Flags', flags),
    h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit', id: 'kv-save' }, 'Save'), h('button', { type: 'button', onclick: done }, 'Cancel')))));
    value.focus();
  }

  watch(page, `/v1/kv/${encPath(key)}`, (d) => { entry = d ? d[0] : null; draw(); }, { allow404: true });
}

/** #/cluster: datacenter, leader, raft peers and gossip members. Status and member lists
 *  have no blocking form, so they are re-read whenever the health of the catalog changes
 *  (members joining, failing or leaving change their serfHealth checks). */
function clusterPage(page) {
  const body = h('div', {}, h('div', { class: 'panel empty' }, 'Loading…'));
  const refresh = h('button', { onclick: () => load() }, 'Refresh');
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Cluster'), h('span', { class: 'spacer' }), refresh), body);
  const STATUS = { 0: ['none', 'neutral'], 1: ['alive', 'passing'], 2: ['leaving', 'warning'], 3: ['left', 'neutral'], 4: ['failed', 'critical'] };

  async function load() {
    try {
      const get = (u) => api('GET', u, { signal: page.signal }).then((r) => r.data);
      const [self, leader, peers, members] = await Promise.all(['/v1/agent/self', '/v1/status/leader', '/v1/status/peers', '/v1/agent/members'].map(get));
      clearError('cluster');
      const c = self.Config || {};
      const card = (label, value) => h('div', { class: 'panel card' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
      members.sort((a, b) => byName(a.Name, b.Name));
      body.replaceChildren(
        h('div', { class: 'cards' },
          card('Datacenter', c.Datacenter),
          card('Leader', leader ? h('span', { class: 'mono', id: 'cluster-leader' }, leader) : badge('critical', 'no leader')),
          card('This agent', h('span', {}, c.NodeName, h('span', { class: 'muted' }, c.Server ? ' · server' : ' · client'))),
          card('Version', h('span', {}, c.Version, h('div', { class: 'muted', style: 'font-size:13px;font-weight:400' }, c.Revision)))),
        h('h2', {}, `Raft peers (${peers.length})`),
        h('div', { class: 'panel' }, peers.length === 0 ? h('div', { class: 'empty' }, 'No raft peers.')
          : table(['Address', 'Role'], peers.sort(byName).map((p) => h('tr', {}, cell('Address', h('span', { class: 'mono' }, p)),
            cell('Role', p === leader ? badge('passing', 'leader') : h('span', { class: 'muted' }, 'follower')))))),
        h('h2', {}, `Members (${members.length})`),
        h('div', { class: 'panel' }, table(['Name', 'Address', 'Status', 'Role', 'Datacenter', 'Build'], members.map((m) => {
          const [label, cls] = STATUS[m.Status] || [`status ${m.Status}`, 'neutral'];
          const t = m.Tags || {};
          return h('tr', { 'data-member': m.Name },
            cell('Name', h('a', { href: `#/nodes/${encodeURIComponent(m.Name)}` }, h('b', {}, m.Name))),
            cell('Address', h('span', { class: 'mono' }, `${m.Addr}:${m.Port}`)),
            cell('Status', badge(cls === 'neutral' ? label : cls, label)),
            cell('Role', t.role === 'consul' ? 'server' : 'client'),
            cell('Datacenter', t.dc || ''),
            cell('Build', h('span', { class: 'mono' }, t.build || '')));
        }))));
    } catch (e) {
      if (!page.signal.aborted) setError('cluster', e);
    }
  }
  watch(page, '/v1/health/state/any', () => load());
}

// ---------------------------------------------------------------------------------------
// Router
// ---------------------------------------------------------------------------------------

let current = null; // the page being shown: {signal}, with its AbortController

function route() {
  const [path, qs] = location.hash.replace(/^#\/?/, '').split('?');
  const query = new URLSearchParams(qs || '');
  const parts = path.split('/');
  const section = parts[0];
  let rest;
  try {
    rest = parts.slice(1).map(decodeURIComponent).join('/');
  } catch {
    rest = parts.slice(1).join('/'); // a malformed %-escape: take the text as it is
  }
  if (!['services', 'nodes', 'kv', 'cluster'].includes(section)) {
    location.replace('#/services');
    return;
  }
  if (current) current.abort();
  current = new AbortController();
  const page = { signal: current.signal };
  errors.clear();
  renderErrors();
  main.replaceChildren();
  document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === section));
  document.title = `${section === 'kv' ? 'Key/Value' : section[0].toUpperCase() + section.slice(1)}${rest ? ` · ${rest}` : ''} · rconsul`;
  window.scrollTo(0, 0);
  if (section === 'services') (rest ? servicePage(page, rest) : servicesPage(page, query));
  else if (section === 'nodes') (rest ? nodePage(page, rest) : nodesPage(page, query));
  else if (section === 'kv') (rest === '' || rest.endsWith('/') ? kvFolderPage(page, rest) : kvKeyPage(page, rest));
  else clusterPage(page);
}

/** The top bar's "dc1 · node" label, read once. */
async function agentInfo() {
  try {
    const { data } = await api('GET', '/v1/agent/self');
    const c = data.Config || {};
    document.getElementById('agent-info').replaceChildren(h('b', {}, c.Datacenter), ` · ${c.NodeName}${c.Server ? ' (server)' : ''}`);
  } catch (e) {
    setError('agent-info', e);
  }
}

window.addEventListener('hashchange', route);
document.getElementById('token-button').addEventListener('click', () => showTokenForm(true, 'The ACL token this browser sends with every request.'));
document.getElementById('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  saveToken(document.getElementById('token-input').value.trim());
});
document.getElementById('token-clear').addEventListener('click', () => saveToken(''));
renderTokenButton();
route();
agentInfo();
