// Fills one coupon's stream with N issues (users 1..N), for the replay measurement in
// replay-coupon.sh. Env: SHOP_COMMAND_URL, COUPON, N.
import http from 'k6/http';
import exec from 'k6/execution';

const C = __ENV.SHOP_COMMAND_URL;
export const options = {
  scenarios: { fill: { executor: 'shared-iterations', vus: 64, iterations: Number(__ENV.N), maxDuration: '10m' } },
};

export default function () {
  const userId = exec.scenario.iterationInTest + 1;
  const res = http.post(`${C}/v1/coupons/${__ENV.COUPON}/issue`, JSON.stringify({ userId }), {
    headers: { 'Content-Type': 'application/json' },
  });
  if (res.status !== 201) console.error(`${res.status} ${res.body}`);
}
