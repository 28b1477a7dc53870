// Order mix: charges, orders (with and without coupons, some that must fail for balance or
// stock, some for an unknown product), coupon issues and reads, with every answer checked
// against the contract, and money and stock conservation verified from the query API alone.
//
// How conservation is checkable without listing orders (see k6/README.md):
// - Every charge carries Idempotency-Key `{run}:{user}:{n}` with n in 0..KEYS-1 and an
//   amount fixed per user. VUs charge random (user, n); teardown() then sends every one of
//   the KEYS keys for every user once more. A key already used charges nothing (the
//   contract), an unused one charges now, so afterwards each user has been charged exactly
//   KEYS x amount, whatever the VUs did: total charged C is known.
// - Products are registered in setup() with known stock and distinct prices; sold units per
//   product = registered - stock (reservations of cancelled orders are released).
// - Coupons are fixed-value (500 and 700 KRW) and every order total is >= 1,000 KRW, so a
//   used coupon takes exactly its value; a coupon of a cancelled order is restored, so the
//   USED user coupons (GET /v1/users/{id}/coupons) are exactly the discounts paid.
// => sum(charged) - sum(balance) == sum_p (registered_p - stock_p) x price_p - sum(USED values)
//    and, per product, registered - stock == soldQuantity in the ranking (completed orders).
//    Poor users (charged 1 KRW per key) can never complete an order: their balance must be
//    exactly what they were charged, and any 201 for them fails the run.
//
// Env: SHOP_COMMAND_URL (comma-separated for several nodes), SHOP_QUERY_URL, SHOP_ADMIN_TOKEN,
// VUS (64), DURATION (60s), RICH_USERS (100), POOR_USERS (20), KEYS (50), PRODUCTS (20),
// SCARCE_STOCK (100), USER_BASE (derived from the clock), P95_MS (500), P99_MS (2000),
// SUMMARY_JSON, SUMMARY_TEXT.
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate } from 'k6/metrics';
import {
  COMMAND_URLS,
  JSON_HEADERS,
  QUERY_URL,
  TREND_STATS,
  adminPost,
  commandKey,
  commandUrl,
  envInt,
  getAll,
  keyed,
  parse,
  pollStable,
  runId,
  summarize,
  summaryOutputs,
  waitHealthy,
} from './lib/common.js';

const VUS = envInt('VUS', 64);
const DURATION = __ENV.DURATION || '60s';
const RICH = envInt('RICH_USERS', 100);
const POOR = envInt('POOR_USERS', 20);
const KEYS = envInt('KEYS', 50);
const PRODUCTS = envInt('PRODUCTS', 20);
const SCARCE_STOCK = envInt('SCARCE_STOCK', 100);
const RICH_AMOUNT = 100000;
const POOR_AMOUNT = 1;
const NORMAL_STOCK = 1000000;
const COUPON_A = 500; // issued in setup() to the first half of the rich users
const COUPON_B = 700; // issued during the run
const UNKNOWN_PRODUCT = 9000000000;

const completed = new Counter('orders_completed');
const cancelled = new Counter('orders_cancelled');
const pending = new Counter('orders_pending');
const charges = new Counter('charges_ok');
const issues = new Counter('coupon_issues');
const reads = new Counter('reads_ok');
const paidWon = new Counter('paid_won');
const unexpected = new Counter('unexpected_answers');
const mustFailCompleted = new Counter('must_fail_but_completed');
const conserved = new Rate('conservation_checks');

export const options = {
  scenarios: {
    mix: { executor: 'constant-vus', vus: VUS, duration: DURATION, gracefulStop: '10s', tags: { phase: 'load' } },
  },
  thresholds: {
    'http_req_duration{phase:load}': [`p(95)<${envInt('P95_MS', 500)}`, `p(99)<${envInt('P99_MS', 2000)}`],
    'http_req_failed{phase:load}': ['rate==0'],
    unexpected_answers: ['count==0'],
    must_fail_but_completed: ['count==0'],
    conservation_checks: ['rate==1'],
    // Always true; they make k6 keep these sub-metrics for the summary.
    'http_req_duration{name:POST /v1/orders}': ['max>=0'],
    'orders_cancelled{code:insufficient-stock}': ['count>=0'],
    'orders_cancelled{code:insufficient-balance}': ['count>=0'],
    'orders_cancelled{code:coupon-unavailable}': ['count>=0'],
    'orders_cancelled{code:not-found}': ['count>=0'],
  },
  summaryTrendStats: TREND_STATS,
  setupTimeout: '120s',
  teardownTimeout: '180s',
};

// 200 charge/read, 201 order/issue, 202 pending order, 409 cancelled order / issue refusal.
http.setResponseCallback(http.expectedStatuses(200, 201, 202, 409));

function amountOf(user, data) {
  return user - data.userBase <= RICH ? RICH_AMOUNT : POOR_AMOUNT;
}

function charge(data, user, n, tags) {
  return http.post(
    `${commandUrl()}/v1/users/${user}/points/charge`,
    JSON.stringify({ amount: amountOf(user, data) }),
    {
      headers: { ...JSON_HEADERS, 'Idempotency-Key': `${data.run}:${user}:${n}` },
      tags: tags || { name: 'POST /v1/users/{id}/points/charge' },
    },
  );
}

export function setup() {
  waitHealthy(COMMAND_URLS[0], 30);
  waitHealthy(QUERY_URL, 30);
  const run = runId();
  const userBase = __ENV.USER_BASE ? envInt('USER_BASE', 0) : (Date.now() % 1000000000) * 1000;
  const products = [];
  for (let i = 0; i < PRODUCTS; i++) {
    const price = 1000 * (i + 1);
    const body = adminPost('/v1/products', { name: `k6 ${run} p${i + 1}`, price, stock: NORMAL_STOCK });
    products.push({ id: body.productId, price, stock: NORMAL_STOCK });
  }
  const s = adminPost('/v1/products', { name: `k6 ${run} scarce`, price: 5000, stock: SCARCE_STOCK });
  const scarce = { id: s.productId, price: 5000, stock: SCARCE_STOCK };
  const couponA = adminPost('/v1/coupons', {
    name: `k6 ${run} A`,
    discount: { kind: 'fixed', value: COUPON_A },
    totalQuantity: Math.max(1, Math.floor(RICH / 2)),
  }).couponId;
  const couponB = adminPost('/v1/coupons', {
    name: `k6 ${run} B`,
    discount: { kind: 'fixed', value: COUPON_B },
    totalQuantity: RICH,
  }).couponId;
  const data = { run, userBase, products, scarce, couponA, couponB, heldA: {} };
  // Key 0 of every user, so orders can complete from the start (same key scheme: counted).
  for (let u = userBase + 1; u <= userBase + RICH + POOR; u++) {
    const res = charge(data, u, 0, { name: 'setup charge' });
    if (res.status !== 200) throw new Error(`charge ${u} answered ${res.status}: ${res.body}`);
  }
  for (let u = userBase + 1; u <= userBase + Math.floor(RICH / 2); u++) {
    const res = http.post(`${COMMAND_URLS[0]}/v1/coupons/${couponA}/issue`, JSON.stringify({ userId: u }), {
      headers: keyed(commandKey()),
      tags: { name: 'setup issue' },
    });
    if (res.status !== 201) throw new Error(`issue ${couponA} to ${u} answered ${res.status}: ${res.body}`);
    data.heldA[u] = parse(res).userCouponId;
  }
  console.log(
    `run ${run}: users ${userBase + 1}..${userBase + RICH} rich, ..${userBase + RICH + POOR} poor; ` +
      `products ${products[0].id}..${products[products.length - 1].id}, scarce ${scarce.id}; coupons A ${couponA}, B ${couponB}`,
  );
  return data;
}

const PROBLEM_CODES = ['insufficient-stock', 'insufficient-balance', 'coupon-unavailable', 'not-found'];

// Judges an order answer; returns the parsed body when it is one of the contract's answers.
// `expect`: null (any outcome), or the one cancellation code the order must end with.
function judgeOrder(res, discount, expect, tag) {
  const body = parse(res);
  let ok = false;
  if (res.status === 201 && body) {
    ok =
      body.status === 'COMPLETED' &&
      body.orderId > 0 &&
      body.paidAmount === body.totalAmount - body.discountAmount &&
      body.discountAmount === discount;
    if (ok) {
      completed.add(1);
      paidWon.add(body.paidAmount);
      if (expect) mustFailCompleted.add(1, { kind: tag });
    }
  } else if (res.status === 409 && body) {
    const ct = res.headers['Content-Type'] || '';
    ok =
      ct.indexOf('application/problem+json') === 0 &&
      PROBLEM_CODES.indexOf(body.code) >= 0 &&
      body.status === 409 &&
      body.orderStatus === 'CANCELLED' &&
      body.orderId > 0 &&
      (expect === null || expect.indexOf(body.code) >= 0);
    if (ok) cancelled.add(1, { code: body.code });
  } else if (res.status === 202 && body) {
    ok = body.status === 'PENDING' && body.orderId > 0;
    if (ok) pending.add(1);
  }
  if (!ok) {
    unexpected.add(1, { kind: tag, answer: String(res.status) });
    console.warn(`unexpected order answer (${tag}) ${res.status}: ${(res.body || '').slice(0, 300)}`);
    return null;
  }
  return body;
}

function placeOrder(user, items, userCouponId) {
  const payload = { userId: user, items };
  if (userCouponId) payload.userCouponId = userCouponId;
  return http.post(`${commandUrl()}/v1/orders`, JSON.stringify(payload), {
    headers: keyed(commandKey()),
    tags: { name: 'POST /v1/orders' },
  });
}

function randomItems(data) {
  const n = 1 + Math.floor(Math.random() * 3);
  const picked = {};
  const items = [];
  while (items.length < n) {
    const p = data.products[Math.floor(Math.random() * data.products.length)];
    if (picked[p.id]) continue;
    picked[p.id] = true;
    items.push({ productId: p.id, quantity: 1 + Math.floor(Math.random() * 2) });
  }
  if (Math.random() < 0.1) items.push({ productId: data.scarce.id, quantity: 1 + Math.floor(Math.random() * 3) });
  return items;
}

const rich = (data) => data.userBase + 1 + Math.floor(Math.random() * RICH);
const poor = (data) => data.userBase + RICH + 1 + Math.floor(Math.random() * POOR);

// The last order this VU placed, read back through the query API with its token.
let lastOrder = null;

function readBack() {
  if (!lastOrder) return;
  const res = http.get(`${QUERY_URL}/v1/orders/${lastOrder.body.orderId}`, {
    headers: lastOrder.token ? { 'Consistency-Token': lastOrder.token } : {},
    tags: { name: 'GET /v1/orders/{id}' },
  });
  const body = parse(res);
  const placed = lastOrder.body;
  const ok =
    res.status === 200 &&
    body !== null &&
    body.orderId === placed.orderId &&
    (placed.status === 'PENDING' ||
      (body.status === placed.status && body.paidAmount === placed.paidAmount && body.totalAmount === placed.totalAmount));
  if (ok) reads.add(1);
  else {
    unexpected.add(1, { kind: 'order-read', answer: String(res.status) });
    console.warn(`order ${placed.orderId} placed as ${placed.status} reads ${res.status} ${(res.body || '').slice(0, 300)}`);
  }
  lastOrder = null;
}

function remember(res, body) {
  if (!body) return;
  // A cancelled order's 409 is a problem: its `status` is the HTTP status, the order's
  // state is `orderStatus`.
  const placed = { ...body, status: res.status === 409 ? body.orderStatus : body.status };
  lastOrder = { body: placed, token: res.headers['Consistency-Token'] };
}

export default function (data) {
  const r = Math.random();
  if (r < 0.15) {
    // Charge a random user with one of its keys (repeats charge once).
    const user = Math.random() < 0.8 ? rich(data) : poor(data);
    const res = charge(data, user, Math.floor(Math.random() * KEYS));
    const body = parse(res);
    if (res.status === 200 && body && body.userId === user && body.balance >= 0) charges.add(1);
    else unexpected.add(1, { kind: 'charge', answer: String(res.status) });
  } else if (r < 0.55) {
    // A rich user's order; holders of coupon A present it a third of the time (a used one
    // is refused: coupon-unavailable).
    const user = rich(data);
    const ucid = data.heldA[user] && Math.random() < 0.33 ? data.heldA[user] : null;
    const res = placeOrder(user, randomItems(data), ucid);
    remember(res, judgeOrder(res, ucid ? COUPON_A : 0, null, 'order'));
  } else if (r < 0.6) {
    // Issue coupon B (201, or 409 already issued / sold out), then order with it.
    const user = rich(data);
    const res = http.post(`${commandUrl()}/v1/coupons/${data.couponB}/issue`, JSON.stringify({ userId: user }), {
      headers: keyed(commandKey()),
      tags: { name: 'POST /v1/coupons/{id}/issue' },
    });
    const body = res.body || '';
    if (res.status === 201) {
      issues.add(1, { outcome: 'issued' });
      const ucid = parse(res).userCouponId;
      const order = placeOrder(user, randomItems(data), ucid);
      remember(order, judgeOrder(order, COUPON_B, null, 'order-coupon-b'));
    } else if (res.status === 409 && (body.indexOf('"coupon-already-issued"') >= 0 || body.indexOf('"coupon-sold-out"') >= 0)) {
      issues.add(1, { outcome: 'refused' });
    } else {
      unexpected.add(1, { kind: 'issue', answer: String(res.status) });
    }
  } else if (r < 0.65) {
    // A poor user (at most KEYS KRW ever) can never pay the cheapest line (1,000 KRW).
    const res = placeOrder(poor(data), randomItems(data), null);
    judgeOrder(res, 0, ['insufficient-balance', 'insufficient-stock'], 'poor');
  } else if (r < 0.68) {
    // More of the scarce product than was ever registered: stock must refuse it.
    const res = placeOrder(rich(data), [{ productId: data.scarce.id, quantity: SCARCE_STOCK + 1 }], null);
    judgeOrder(res, 0, ['insufficient-stock'], 'over-stock');
  } else if (r < 0.7) {
    const res = placeOrder(rich(data), [{ productId: UNKNOWN_PRODUCT, quantity: 1 }], null);
    judgeOrder(res, 0, ['not-found'], 'unknown-product');
  } else {
    // Reads: this VU's last order (read-your-writes), a balance, a product.
    readBack();
    const user = Math.random() < 0.8 ? rich(data) : poor(data);
    const p = data.products[Math.floor(Math.random() * data.products.length)];
    const [bal, prod] = http.batch([
      ['GET', `${QUERY_URL}/v1/users/${user}/points`, null, { tags: { name: 'GET /v1/users/{id}/points' } }],
      ['GET', `${QUERY_URL}/v1/products/${p.id}`, null, { tags: { name: 'GET /v1/products/{id}' } }],
    ]);
    const b = parse(bal);
    const q = parse(prod);
    if (bal.status === 200 && b && b.userId === user && b.balance >= 0) reads.add(1);
    else unexpected.add(1, { kind: 'balance-read', answer: String(bal.status) });
    if (prod.status === 200 && q && q.productId === p.id && q.price === p.price && q.stock >= 0) reads.add(1);
    else unexpected.add(1, { kind: 'product-read', answer: String(prod.status) });
  }
}

export function teardown(data) {
  const users = [];
  for (let u = data.userBase + 1; u <= data.userBase + RICH + POOR; u++) users.push(u);

  // 1. Replay every key of every user: afterwards each user was charged exactly KEYS x amount.
  let replayFailures = 0;
  for (let i = 0; i < users.length; i += 5) {
    const reqs = [];
    for (const u of users.slice(i, i + 5)) {
      for (let n = 0; n < KEYS; n++) {
        reqs.push([
          'POST',
          `${COMMAND_URLS[0]}/v1/users/${u}/points/charge`,
          JSON.stringify({ amount: amountOf(u, data) }),
          { headers: { ...JSON_HEADERS, 'Idempotency-Key': `${data.run}:${u}:${n}` }, tags: { name: 'teardown charge' } },
        ]);
      }
    }
    for (const res of http.batch(reqs)) if (res.status !== 200) replayFailures++;
  }
  exact(replayFailures === 0, `replayed every charge key (${replayFailures} failed)`);
  let charged = 0;
  for (const u of users) charged += KEYS * amountOf(u, data);

  // 2. Read balances, products, coupons and the ranking until stable and consistent.
  const all = data.products.concat([data.scarce]);
  const ours = {};
  ours[data.couponA] = true;
  ours[data.couponB] = true;
  const probe = () => {
    const balances = getAll(users.map((u) => `/v1/users/${u}/points`), 100);
    const products = getAll(all.map((p) => `/v1/products/${p.id}`));
    const coupons = getAll(users.slice(0, RICH).map((u) => `/v1/users/${u}/coupons`), 100);
    const ranking = getAll(['/v1/rankings/top-products?days=2&limit=100'])[0];
    let balanceSum = 0;
    let unreadable = 0;
    let poorWrong = 0;
    balances.forEach((b, i) => {
      if (!b) unreadable++;
      else {
        balanceSum += b.balance;
        if (users[i] - data.userBase > RICH && b.balance !== KEYS * POOR_AMOUNT) poorWrong++;
      }
    });
    let soldValue = 0;
    let negative = 0;
    const sold = {};
    products.forEach((p, i) => {
      if (!p) unreadable++;
      else {
        if (p.stock < 0) negative++;
        sold[all[i].id] = all[i].stock - p.stock;
        soldValue += (all[i].stock - p.stock) * all[i].price;
      }
    });
    let discounts = 0;
    let used = 0;
    for (const c of coupons) {
      if (!c) {
        unreadable++;
        continue;
      }
      for (const item of c.items || []) {
        if (ours[item.couponId] && item.status === 'USED') {
          discounts += item.discount.value;
          used++;
        }
      }
    }
    const ranked = {};
    let crowded = false;
    if (ranking) {
      for (const item of ranking.items) ranked[item.productId] = item.soldQuantity;
      crowded = ranking.items.length >= 100;
    } else unreadable++;
    const stockMismatch = all.filter((p) => {
      if (ranked[p.id] !== undefined) return ranked[p.id] !== sold[p.id];
      return sold[p.id] !== 0 && !crowded;
    }).length;
    return { balanceSum, soldValue, discounts, used, sold, unreadable, poorWrong, negative, stockMismatch };
  };
  const moneyOk = (s) => charged - s.balanceSum === s.soldValue - s.discounts;
  const state = pollStable(
    probe,
    (s) => JSON.stringify(s),
    (s) => s.unreadable === 0 && moneyOk(s) && s.stockMismatch === 0,
    90,
  );
  console.log(
    `conservation: charged ${charged} - balances ${state.balanceSum} = ${charged - state.balanceSum}; ` +
      `sold value ${state.soldValue} - discounts ${state.discounts} (${state.used} coupons used) = ${state.soldValue - state.discounts}; ` +
      `units sold ${JSON.stringify(state.sold)}`,
  );
  exact(state.unreadable === 0, `every balance, product, coupon list and the ranking read (${state.unreadable} did not)`);
  exact(moneyOk(state), 'money: sum(charged) - sum(balance) == sum(sold x price) - sum(used coupon values)');
  exact(state.stockMismatch === 0, `stock: registered - stock == units sold in the ranking, per product (${state.stockMismatch} differ)`);
  exact(state.negative === 0, 'no stock below zero');
  exact(state.poorWrong === 0, `poor users kept every won they were charged (${state.poorWrong} did not)`);
}

function exact(ok, what) {
  check(null, { [what]: () => ok });
  conserved.add(ok);
  if (!ok) console.error(`FAILED: ${what}`);
}

export function handleSummary(data) {
  const text = summarize(
    data,
    `order-mix ${VUS} VUs ${DURATION}; ${RICH} rich + ${POOR} poor users, ${PRODUCTS} products + 1 scarce (${SCARCE_STOCK})`,
    'phase:load',
    Number(DURATION.replace(/s$/, '')) || 60,
    [
      'orders_completed',
      'orders_cancelled',
      'orders_pending',
      'charges_ok',
      'coupon_issues',
      'reads_ok',
      'paid_won',
      'unexpected_answers',
      'must_fail_but_completed',
      'conservation_checks',
    ],
  );
  // Orders per second and the cancellation codes, from the tagged counters.
  const extra = [];
  const m = data.metrics;
  const dur = m['http_req_duration{name:POST /v1/orders}'];
  if (dur) extra.push(`POST /v1/orders ms: p50 ${dur.values.med.toFixed(2)} p95 ${dur.values['p(95)'].toFixed(2)} p99 ${dur.values['p(99)'].toFixed(2)}`);
  for (const code of PROBLEM_CODES) {
    const c = m[`orders_cancelled{code:${code}}`];
    extra.push(`cancelled ${code}: ${c ? c.values.count : 0}`);
  }
  return summaryOutputs(data, text + extra.join('\n') + '\n');
}
