// Read mix: the query API at a fixed arrival rate, no think time. setup() writes a small
// world through the command API (products, charged users holding a coupon, completed orders
// so the ranking has rows) and waits until the query API shows it; then k6 starts RATE
// iterations a second, each one GET:
//   20 % GET /v1/rankings/top-products?days=3&limit=5
//   25 % GET /v1/users/{id}/points
//   10 % GET /v1/products?page=0&size=20
//   25 % GET /v1/products/{id}
//   10 % GET /v1/users/{id}/coupons
//   10 % GET /v1/products/search?q=... (Korean, English, prefixes; the run's own products)
// Every answer must be a 200 with the expected shape; anything else is unexpected and fails
// the run. `dropped_iterations` counts iterations k6 could not start in time (the load
// generator, not the service, ran out: it shares the machine).
//
// Env: SHOP_COMMAND_URL, SHOP_QUERY_URL, SHOP_ADMIN_TOKEN, RATE (30000/s), DURATION (30s),
// VUS (preallocated, 200), MAX_VUS (1000), PRODUCTS (50), USERS (200), USER_BASE,
// P99_MS (5), SUMMARY_JSON, SUMMARY_TEXT.
import http from 'k6/http';
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';
import {
  COMMAND_URLS,
  JSON_HEADERS,
  QUERY_URL,
  TREND_STATS,
  adminPost,
  envInt,
  getAll,
  runId,
  summarize,
  summaryOutputs,
  waitHealthy,
} from './lib/common.js';

const RATE = envInt('RATE', 30000);
const DURATION = __ENV.DURATION || '30s';
const PRODUCTS = envInt('PRODUCTS', 50);
const USERS = envInt('USERS', 200);

const SEARCH_WORDS = ['카페라떼', '바닐라 라떼', 'Latte Macchiato', '아이스 아메리카노', 'Cold Brew', '치즈케이크'];
// Each finds at least one product of this run's (together with the run id as a second term).
const SEARCHES = ['라떼', '카페', 'latt', 'macchiato', '아메리카노', 'cold', '케이크', '바닐라 latte'];

const ok = new Counter('reads_ok');
const unexpected = new Counter('unexpected_answers');

export const options = {
  scenarios: {
    reads: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: envInt('VUS', 200),
      maxVUs: envInt('MAX_VUS', 1000),
      gracefulStop: '5s',
      tags: { phase: 'load' },
    },
  },
  thresholds: {
    'http_req_duration{phase:load}': [`p(99)<${envInt('P99_MS', 5)}`],
    'http_req_failed{phase:load}': ['rate==0'],
    unexpected_answers: ['count==0'],
    // Always true; they keep the per-endpoint latencies in the summary.
    'http_req_duration{name:ranking}': ['max>=0'],
    'http_req_duration{name:balance}': ['max>=0'],
    'http_req_duration{name:product-page}': ['max>=0'],
    'http_req_duration{name:product}': ['max>=0'],
    'http_req_duration{name:user-coupons}': ['max>=0'],
    'http_req_duration{name:search}': ['max>=0'],
  },
  summaryTrendStats: TREND_STATS,
  setupTimeout: '180s',
};

export function setup() {
  waitHealthy(COMMAND_URLS[0], 30);
  waitHealthy(QUERY_URL, 30);
  const run = runId();
  const userBase = __ENV.USER_BASE ? envInt('USER_BASE', 0) : (Date.now() % 1000000000) * 1000;
  const C = COMMAND_URLS[0];
  const products = [];
  for (let i = 0; i < PRODUCTS; i++) {
    // Korean and English words, so the searches below find these products.
    const word = SEARCH_WORDS[i % SEARCH_WORDS.length];
    products.push(adminPost('/v1/products', { name: `k6 ${run} ${word} r${i + 1}`, price: 1000 + 100 * i, stock: 100000 }).productId);
  }
  const coupon = adminPost('/v1/coupons', {
    name: `k6 ${run} read`,
    discount: { kind: 'percent', value: 10 },
    totalQuantity: USERS,
  }).couponId;
  const users = [];
  for (let u = userBase + 1; u <= userBase + USERS; u++) users.push(u);
  const post = (path, body, name) => ['POST', `${C}${path}`, JSON.stringify(body), { headers: JSON_HEADERS, tags: { name } }];
  const batch = (reqs, what) => {
    for (let i = 0; i < reqs.length; i += 50) {
      for (const res of http.batch(reqs.slice(i, i + 50))) {
        if (res.status >= 300) throw new Error(`${what} answered ${res.status}: ${res.body}`);
      }
    }
  };
  batch(users.map((u) => post(`/v1/users/${u}/points/charge`, { amount: 1000000 }, 'setup charge')), 'charge');
  batch(users.map((u) => post(`/v1/coupons/${coupon}/issue`, { userId: u }, 'setup issue')), 'issue');
  // Orders with a skewed product choice, so the ranking has a clear top 5.
  const orders = users.map((u, i) =>
    post('/v1/orders', { userId: u, items: [{ productId: products[Math.min(i % 7, PRODUCTS - 1)], quantity: 1 + (i % 3) }] }, 'setup order'),
  );
  batch(orders, 'order');
  // Wait until the query API shows the world: the last user's coupon and a ranking.
  const deadline = Date.now() + 60000;
  for (;;) {
    const [uc, rank] = getAll([`/v1/users/${users[users.length - 1]}/coupons`, '/v1/rankings/top-products?days=3&limit=5']);
    if (uc && uc.items.length > 0 && rank && rank.items.length > 0) break;
    if (Date.now() > deadline) throw new Error('the query API never showed the setup data');
    sleep(0.5);
  }
  console.log(`run ${run}: ${PRODUCTS} products from ${products[0]}, users ${users[0]}..${users[users.length - 1]}; ${RATE} reads/s for ${DURATION}`);
  return { products, users };
}

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

function get(path, name, marker) {
  const res = http.get(`${QUERY_URL}${path}`, { tags: { name } });
  if (res.status === 200 && (res.body || '').indexOf(marker) >= 0) ok.add(1);
  else {
    unexpected.add(1, { name, answer: String(res.status) });
    if (Math.random() < 0.01) console.warn(`${path} answered ${res.status}: ${(res.body || '').slice(0, 200)}`);
  }
}

export default function (data) {
  const r = Math.random();
  if (r < 0.2) get('/v1/rankings/top-products?days=3&limit=5', 'ranking', '"items"');
  else if (r < 0.45) get(`/v1/users/${pick(data.users)}/points`, 'balance', '"balance"');
  else if (r < 0.55) get('/v1/products?page=0&size=20', 'product-page', '"items"');
  else if (r < 0.8) get(`/v1/products/${pick(data.products)}`, 'product', '"stock"');
  else if (r < 0.9) get(`/v1/users/${pick(data.users)}/coupons`, 'user-coupons', '"items"');
  else get(`/v1/products/search?q=${encodeURIComponent(pick(SEARCHES))}&size=20`, 'search', '"productId"');
}

function seconds(d) {
  const m = /^(\d+(?:\.\d+)?)(s|m)$/.exec(d);
  return m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : 30;
}

export function handleSummary(data) {
  const text = summarize(data, `read-mix ${RATE}/s for ${DURATION}`, 'phase:load', seconds(DURATION), [
    'reads_ok',
    'unexpected_answers',
  ]);
  const lines = [];
  for (const name of ['ranking', 'balance', 'product-page', 'product', 'user-coupons', 'search']) {
    const m = data.metrics[`http_req_duration{name:${name}}`];
    if (m) {
      const v = m.values;
      lines.push(`${name} ms: p50 ${v.med.toFixed(2)} p95 ${v['p(95)'].toFixed(2)} p99 ${v['p(99)'].toFixed(2)} max ${v.max.toFixed(2)} (${v.count})`);
    }
  }
  return summaryOutputs(data, text + lines.join('\n') + '\n');
}
