import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { RTO_INITIAL_MS, RTO_MAX_MS, RTO_MIN_MS, RtoEstimator } from "./rto.ts";

Deno.test("rto: initial value and first sample", () => {
  const r = new RtoEstimator();
  assertEquals(r.rto, RTO_INITIAL_MS);
  r.sample(400);
  assertEquals(r.srtt, 400);
  assertEquals(r.rttvar, 200);
  assertEquals(r.rto, 400 + 800);
});

Deno.test("rto: second sample uses RFC 6298 gains (RTTVAR before SRTT)", () => {
  const r = new RtoEstimator();
  r.sample(400);
  r.sample(200);
  // rttvar = 3/4*200 + 1/4*|400-200| = 200; srtt = 7/8*400 + 1/8*200 = 375
  assertEquals(r.rttvar, 200);
  assertEquals(r.srtt, 375);
  assertEquals(r.rto, 1175);
});

Deno.test("rto: clamps at 200 ms and uses the 10 ms granularity floor", () => {
  const r = new RtoEstimator();
  for (let i = 0; i < 50; i++) r.sample(1);
  assertEquals(r.rto, RTO_MIN_MS);
  const big = new RtoEstimator();
  big.sample(20_000);
  assertEquals(big.rto, RTO_MAX_MS);
});

Deno.test("rto: backoff doubles up to the cap and a sample undoes it", () => {
  const r = new RtoEstimator();
  r.backoff();
  assertEquals(r.rto, 2000);
  for (let i = 0; i < 10; i++) r.backoff();
  assertEquals(r.rto, RTO_MAX_MS);
  r.sample(100);
  assertEquals(r.rto, 300);
});

Deno.test("rto: ignores nonsense samples", () => {
  const r = new RtoEstimator();
  r.sample(-1);
  r.sample(NaN);
  r.sample(Infinity);
  assert(!r.hasSample);
  assertEquals(r.rto, RTO_INITIAL_MS);
});

Deno.test("rto: always within clamps, srtt within sample range", () => {
  fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 60_000, noNaN: true }), { minLength: 1 }), (xs) => {
    const r = new RtoEstimator();
    for (const x of xs) r.sample(x);
    assert(r.rto >= RTO_MIN_MS && r.rto <= RTO_MAX_MS);
    const lo = Math.min(...xs), hi = Math.max(...xs);
    assert(r.srtt >= lo - 1e-6 && r.srtt <= hi + 1e-6);
    assert(r.rttvar >= 0);
  }));
});
