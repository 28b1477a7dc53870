// Coupon rush: the seed service's k6 scenario against shop, with exactness checked.
//
//   SCENARIO=seed      (default) ramping VUs 10 s -> 100, 20 s -> 300, 30 s -> 500, 20 s at 500,
//                      10 s -> 0; each iteration: a random user 1..500 asks for a random one of
//                      5 coupons of 30, then thinks 0.5-1.5 s. The seed's own run: 15.18 ms avg,
//                      36.26 ms p95, 0 % failures.
//   SCENARIO=no-think  the same stages with no think time (every VU fires back to back).
//   VUS=n [DURATION=30s]  either scenario at a constant n VUs instead of the stages (used for
//                      p99 against 100/500/1,000/2,000 VUs).
//
// Answers: 201 issued, 409 coupon-sold-out, 409 coupon-already-issued are all expected and
// counted apart; anything else (a 5xx, a 503 overloaded, a 409 with another code, a 201
// past the quantity) is an unexpected answer and fails the run. teardown() reads the query
// API until it is stable and fails the run unless every coupon shows exactly its quantity
// issued, remaining 0, and the users together hold exactly that many of each, none twice.
//
// Env: SHOP_COMMAND_URL (comma-separated for several nodes), SHOP_QUERY_URL, SHOP_ADMIN_TOKEN,
// COUPONS (5), QUANTITY (30), USERS (500), USER_BASE (0: users 1..500), P95_MS (5),
// P99_MS (no-think: 100), SUMMARY_JSON, SUMMARY_TEXT.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate } from 'k6/metrics';
import {
  COMMAND_URLS,
  QUERY_URL,
  TREND_STATS,
  adminPost,
  commandKey,
  commandUrl,
  envInt,
  getAll,
  keyed,
  pollStable,
  summarize,
  summaryOutputs,
  waitHealthy,
} from './lib/common.js';

const SCENARIO = __ENV.SCENARIO || 'seed';
if (SCENARIO !== 'seed' && SCENARIO !== 'no-think') {
  throw new Error(`SCENARIO must be seed or no-think, got ${SCENARIO}`);
}
const THINK = SCENARIO === 'seed';
const COUPONS = envInt('COUPONS', 5);
const QUANTITY = envInt('QUANTITY', 30);
const USERS = envInt('USERS', 500);
const USER_BASE = envInt('USER_BASE', 0);
const VUS = envInt('VUS', 0);
const DURATION = __ENV.DURATION || '30s';

const issued = new Counter('coupon_issued');
const soldOut = new Counter('coupon_sold_out');
const alreadyIssued = new Counter('coupon_already_issued');
const unexpected = new Counter('unexpected_answers');
const exact = new Rate('exactness_checks');

const SEED_STAGES = [
  { duration: '10s', target: 100 },
  { duration: '20s', target: 300 },
  { duration: '30s', target: 500 },
  { duration: '20s', target: 500 },
  { duration: '10s', target: 0 },
];

function seconds(d) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`bad duration ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
}

const LOAD_SECONDS = VUS > 0 ? seconds(DURATION) : SEED_STAGES.reduce((s, st) => s + seconds(st.duration), 0);

const latency = THINK
  ? [`p(95)<${envInt('P95_MS', 5)}`]
  : [`p(99)<${envInt('P99_MS', 100)}`];

export const options = {
  scenarios: {
    rush:
      VUS > 0
        ? { executor: 'constant-vus', vus: VUS, duration: DURATION, gracefulStop: '5s', tags: { phase: 'load' } }
        : { executor: 'ramping-vus', startVUs: 0, stages: SEED_STAGES, gracefulRampDown: '5s', tags: { phase: 'load' } },
  },
  thresholds: {
    'http_req_duration{phase:load}': latency,
    'http_req_failed{phase:load}': ['rate==0'],
    unexpected_answers: ['count==0'],
    // Exactly the quantity, counted from the 201 answers themselves...
    coupon_issued: [`count==${COUPONS * QUANTITY}`],
    // ...and from the query API in teardown().
    exactness_checks: ['rate==1'],
  },
  summaryTrendStats: TREND_STATS,
  setupTimeout: '60s',
  teardownTimeout: '120s',
  // The rush is many small requests on few connections; keep k6's own per-request cost low.
  discardResponseBodies: false,
};

// 201 and 409 are the contract's answers to an issue; k6 marks any other status failed.
http.setResponseCallback(http.expectedStatuses(201, 409));

export function setup() {
  waitHealthy(COMMAND_URLS[0], 30);
  waitHealthy(QUERY_URL, 30);
  const couponIds = [];
  for (let i = 0; i < COUPONS; i++) {
    const body = adminPost('/v1/coupons', {
      name: `k6 rush ${i + 1}`,
      discount: { kind: 'fixed', value: 1000 },
      totalQuantity: QUANTITY,
    });
    couponIds.push(body.couponId);
  }
  console.log(`coupons ${couponIds.join(', ')} of ${QUANTITY} each; users ${USER_BASE + 1}..${USER_BASE + USERS}; ${SCENARIO}${VUS ? `, ${VUS} VUs for ${DURATION}` : ', seed stages'}`);
  return { couponIds };
}

export default function (data) {
  const userId = USER_BASE + Math.floor(Math.random() * USERS) + 1;
  const couponId = data.couponIds[Math.floor(Math.random() * data.couponIds.length)];
  const res = http.post(
    `${commandUrl()}/v1/coupons/${couponId}/issue`,
    JSON.stringify({ userId }),
    { headers: keyed(commandKey()), tags: { name: 'POST /v1/coupons/{id}/issue' } },
  );
  const body = res.body || '';
  if (res.status === 201) {
    // Cheap shape check without a full parse on the hot path.
    if (body.indexOf('"userCouponId"') >= 0 && body.indexOf(`"couponId":${couponId}`) >= 0) {
      issued.add(1);
    } else {
      unexpected.add(1, { answer: '201-bad-body' });
    }
  } else if (res.status === 409 && body.indexOf('"code":"coupon-sold-out"') >= 0) {
    soldOut.add(1);
  } else if (res.status === 409 && body.indexOf('"code":"coupon-already-issued"') >= 0) {
    alreadyIssued.add(1);
  } else {
    unexpected.add(1, { answer: String(res.status) });
    if (Math.random() < 0.01) console.warn(`unexpected ${res.status}: ${body.slice(0, 200)}`);
  }
  if (THINK) sleep(0.5 + Math.random());
}

export function teardown(data) {
  // 1. Each coupon's read model: issued == total, remaining 0, stable across two polls.
  const coupons = pollStable(
    () => getAll(data.couponIds.map((id) => `/v1/coupons/${id}`)),
    (list) => JSON.stringify(list.map((c) => (c ? [c.issuedQuantity, c.remaining] : null))),
    (list) => list.every((c) => c && c.issuedQuantity === c.totalQuantity),
    30,
  );
  coupons.forEach((c, i) => {
    const ok = check(c, {
      [`coupon ${data.couponIds[i]}: issued == total, remaining 0`]: (x) =>
        x !== null && x.issuedQuantity === QUANTITY && x.totalQuantity === QUANTITY && x.remaining === 0,
    });
    exact.add(ok);
    if (!ok) console.error(`coupon ${data.couponIds[i]} reads ${JSON.stringify(c)}; expected ${QUANTITY} issued`);
  });

  // 2. The users' side: together they hold exactly QUANTITY of each coupon, none twice.
  const ours = new Set(data.couponIds);
  const paths = [];
  for (let u = USER_BASE + 1; u <= USER_BASE + USERS; u++) paths.push(`/v1/users/${u}/coupons`);
  const held = pollStable(
    () => {
      const perCoupon = {};
      let twice = 0;
      let unreadable = 0;
      for (const body of getAll(paths, 100)) {
        if (!body) {
          unreadable++;
          continue;
        }
        const seen = new Set();
        for (const item of body.items || []) {
          if (!ours.has(item.couponId)) continue;
          if (seen.has(item.couponId)) twice++;
          seen.add(item.couponId);
          perCoupon[item.couponId] = (perCoupon[item.couponId] || 0) + 1;
        }
      }
      return { perCoupon, twice, unreadable };
    },
    (h) => JSON.stringify(h),
    (h) => data.couponIds.every((id) => h.perCoupon[id] === QUANTITY),
    30,
  );
  const okHeld = check(held, {
    'users hold exactly the quantity of each coupon, none twice': (h) =>
      h.twice === 0 && h.unreadable === 0 && data.couponIds.every((id) => h.perCoupon[id] === QUANTITY),
  });
  exact.add(okHeld);
  const summary = data.couponIds.map((id) => `${id}:${(coupons[data.couponIds.indexOf(id)] || {}).issuedQuantity}/${held.perCoupon[id] || 0}`);
  console.log(`exactness (coupon: read-model issued / held by users 1..${USERS}): ${summary.join(' ')}; held twice ${held.twice}; unreadable ${held.unreadable}`);
}

export function handleSummary(data) {
  const title = `coupon-rush ${SCENARIO}${VUS ? ` ${VUS} VUs ${DURATION}` : ' (seed stages, 90 s)'}; ${COUPONS} coupons x ${QUANTITY}, users ${USERS}`;
  const text = summarize(data, title, 'phase:load', LOAD_SECONDS, [
    'coupon_issued',
    'coupon_sold_out',
    'coupon_already_issued',
    'unexpected_answers',
    'exactness_checks',
  ]);
  return summaryOutputs(data, text);
}
