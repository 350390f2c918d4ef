import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { SynRateLimiter } from "./rate-limit.ts";
import { TokenBucket } from "../net/token_bucket.ts";

Deno.test("rate-limit: bucket drains, refills in whole tokens, caps at capacity", () => {
  const b = new TokenBucket(10, 10, 0, { wholeTokens: true });
  for (let i = 0; i < 10; i++) assert(b.take(0));
  assert(!b.take(50)); // 0.5 token due: nothing added, timestamp stays
  assert(b.take(100)); // 1 token after 100 ms
  assert(!b.take(100));
  assert(b.take(10_000));
  for (let i = 0; i < 9; i++) assert(b.take(10_000)); // capped at 10, one taken before
  assert(!b.take(10_000));
});

Deno.test("rate-limit: fractional elapsed time is not lost", () => {
  const b = new TokenBucket(10, 1, 0, { tokens: 0, wholeTokens: true });
  assert(!b.take(60));
  assert(b.take(110)); // 110 ms since the last refill → 1 token
});

Deno.test("rate-limit: per-source then global, new sources start with capacity − 1", () => {
  const l = new SynRateLimiter(0, 100, 10, 2);
  for (let i = 0; i < 10; i++) assertEquals(l.check(7, 0), "ok");
  assertEquals(l.check(7, 0), "source");
  assertEquals(l.check(8, 0), "ok");
  assertEquals(l.check(9, 0), "source"); // table full
  assertEquals(l.trackedSources, 2);
  l.sweep(10_001);
  assertEquals(l.trackedSources, 0);
  const g = new SynRateLimiter(0, 5, 10);
  for (let i = 0; i < 5; i++) assertEquals(g.check(i, 0), "ok");
  assertEquals(g.check(99, 0), "global");
});

Deno.test("rate-limit: never admits more than capacity + rate × elapsed", () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 400 }), (gaps) => {
    const b = new TokenBucket(10, 10, 0, { wholeTokens: true });
    let now = 0, admitted = 0;
    for (const g of gaps) {
      now += g;
      if (b.take(now)) admitted++;
      assert(admitted <= 10 + Math.floor((now / 1000) * 10));
    }
  }));
});
