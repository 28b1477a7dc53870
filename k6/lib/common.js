// Shared plumbing of the shop k6 scenarios: base URLs and the admin token from the
// environment, admin/command/query helpers, polling, and a handleSummary that prints a
// compact text report and writes the whole k6 summary as JSON where SUMMARY_JSON points.
import http from 'k6/http';
import { sleep } from 'k6';
import exec from 'k6/execution';

function trimSlash(url) {
  return url.replace(/\/+$/, '');
}

// SHOP_COMMAND_URL may list several command nodes, comma-separated: each VU sticks to one
// (VU id modulo the list), as clients behind a load balancer would.
export const COMMAND_URLS = (__ENV.SHOP_COMMAND_URL || 'http://127.0.0.1:8080')
  .split(',')
  .map((u) => trimSlash(u.trim()))
  .filter((u) => u.length > 0);
export const QUERY_URL = trimSlash(__ENV.SHOP_QUERY_URL || 'http://127.0.0.1:8081');
export const ADMIN_TOKEN = __ENV.SHOP_ADMIN_TOKEN || '';

export const JSON_HEADERS = { 'Content-Type': 'application/json' };

export function commandUrl() {
  // exec.vu.idInTest is 0 in setup()/teardown(); any node will do there.
  const id = exec.vu.idInTest || 0;
  return COMMAND_URLS[id % COMMAND_URLS.length];
}

export function envInt(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, got ${raw}`);
  return value;
}

export function envFloat(name, fallback) {
  return envInt(name, fallback);
}

// A run id that keeps the ids a client chooses (users, idempotency keys) apart from other
// runs against the same deployment.
export function runId() {
  return __ENV.RUN_ID || `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

// A fresh Idempotency-Key for one intended command: what a client sends, and sends again
// unchanged if it retries that command (retries would answer the first outcome).
const KEY_RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
export function commandKey() {
  return `${KEY_RUN}:${__VU}:${__ITER}:${Math.random().toString(36).slice(2, 10)}`;
}

export function keyed(key) {
  return { ...JSON_HEADERS, 'Idempotency-Key': key };
}

export function parse(res) {
  try {
    return res.json();
  } catch (_) {
    return null;
  }
}

// An admin POST that must succeed: setup() throws (and the run stops) otherwise.
export function adminPost(path, body) {
  if (!ADMIN_TOKEN) throw new Error('SHOP_ADMIN_TOKEN is not set');
  const res = http.post(`${COMMAND_URLS[0]}${path}`, JSON.stringify(body), {
    headers: { ...JSON_HEADERS, Authorization: `Bearer ${ADMIN_TOKEN}` },
    tags: { name: `admin ${path.replace(/\d+/g, '{id}')}` },
  });
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`POST ${path} answered ${res.status}: ${res.body}`);
  }
  return parse(res);
}

export function waitHealthy(url, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const res = http.get(`${url}/healthz`, { tags: { name: 'healthz' } });
    if (res.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url}/healthz answered ${res.status}`);
    sleep(0.2);
  }
}

// Calls `probe()` until it returns the same `key` twice in a row and `done(value)` holds,
// or the deadline passes; returns the last value (the caller judges it).
export function pollStable(probe, keyOf, done, seconds) {
  const deadline = Date.now() + seconds * 1000;
  let last = null;
  let lastKey = null;
  for (;;) {
    const value = probe();
    const key = keyOf(value);
    if (key === lastKey && done(value)) return value;
    last = value;
    lastKey = key;
    if (Date.now() > deadline) return last;
    sleep(0.5);
  }
}

// GETs many query-API paths with http.batch, `chunk` at a time; returns parsed bodies (null
// where the answer was not 200).
export function getAll(paths, chunk = 50, params = {}) {
  const out = [];
  for (let i = 0; i < paths.length; i += chunk) {
    const reqs = paths.slice(i, i + chunk).map((p) => ['GET', `${QUERY_URL}${p}`, null, params]);
    for (const res of http.batch(reqs)) out.push(res.status === 200 ? parse(res) : null);
  }
  return out;
}

export const TREND_STATS = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'];

function fmt(n, digits = 2) {
  if (n === undefined || n === null || Number.isNaN(n)) return '-';
  return Number(n).toFixed(digits);
}

function metric(data, name) {
  return data.metrics[name] ? data.metrics[name].values : undefined;
}

// `main` is the sub-metric tag of the scenario's own requests (setup/teardown excluded), e.g.
// 'scenario:rush'; `seconds` the planned length of the load phase; `counters` the custom
// counters to list.
export function summarize(data, title, main, seconds, counters) {
  const lines = [];
  const reqs = metric(data, `http_reqs{${main}}`) || metric(data, 'http_reqs') || {};
  const dur = metric(data, `http_req_duration{${main}}`) || metric(data, 'http_req_duration') || {};
  const failed = metric(data, `http_req_failed{${main}}`) || metric(data, 'http_req_failed') || {};
  // The latency trend of the load phase counts its requests (http_reqs has no per-phase
  // sub-metric unless a threshold names one).
  const count = dur.count !== undefined ? dur.count : reqs.count || 0;
  lines.push(`== ${title} ==`);
  lines.push(`command API ${COMMAND_URLS.join(', ')}   query API ${QUERY_URL}`);
  lines.push(
    `requests ${count} in the load phase; ${fmt(count / seconds, 0)} req/s over its ${seconds} s ` +
      `(k6's rate over the whole run incl. setup/teardown: ${fmt(reqs.rate, 0)} req/s)`,
  );
  lines.push(
    `latency ms: avg ${fmt(dur.avg)} p50 ${fmt(dur.med)} p90 ${fmt(dur['p(90)'])} ` +
      `p95 ${fmt(dur['p(95)'])} p99 ${fmt(dur['p(99)'])} max ${fmt(dur.max)}`,
  );
  lines.push(`http_req_failed (status outside the expected set): ${fmt((failed.rate || 0) * 100, 3)} %`);
  const vus = metric(data, 'vus_max');
  if (vus) lines.push(`max VUs ${vus.value}`);
  const dropped = metric(data, 'dropped_iterations');
  if (dropped) lines.push(`dropped iterations (generator could not keep the rate) ${dropped.count}`);
  for (const name of counters) {
    const m = metric(data, name);
    if (!m) {
      lines.push(`${name}: 0`);
    } else if (m.count !== undefined) {
      lines.push(`${name}: ${m.count}`);
    } else if (m.rate !== undefined) {
      lines.push(`${name}: ${fmt(m.rate * 100, 2)} % of ${m.passes + m.fails}`);
    } else {
      lines.push(`${name}: ${JSON.stringify(m)}`);
    }
  }
  const checks = metric(data, 'checks');
  if (checks) lines.push(`checks: ${checks.passes} passed, ${checks.fails} failed`);
  let allOk = true;
  for (const [name, m] of Object.entries(data.metrics)) {
    if (!m.thresholds) continue;
    for (const [expr, t] of Object.entries(m.thresholds)) {
      if (!t.ok) allOk = false;
      // Always-true thresholds only keep a sub-metric in the summary.
      if (/>=0$/.test(expr.replace(/\s/g, ''))) continue;
      lines.push(`threshold ${t.ok ? 'ok  ' : 'FAIL'} ${name}: ${expr}`);
    }
  }
  lines.push(allOk ? 'RESULT: all thresholds passed' : 'RESULT: thresholds FAILED');
  return lines.join('\n') + '\n';
}

export function summaryOutputs(data, text) {
  const out = { stdout: text };
  if (__ENV.SUMMARY_JSON) out[__ENV.SUMMARY_JSON] = JSON.stringify(data, null, 2);
  if (__ENV.SUMMARY_TEXT) out[__ENV.SUMMARY_TEXT] = text;
  return out;
}
