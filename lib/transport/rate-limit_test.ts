import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { SynRateLimiter, TokenBucket } from "./rate-limit.ts";

Deno.test("rate-limit: bucket drains, refills in whole tokens, caps at capacity", () => {
  const b = new TokenBucket(10, 10, 0);
  for (let i = 0; i < 10; i++) assert(b.tryTake(0));
  assert(!b.tryTake(50)); // 0.5 token due: nothing added, timestamp stays
  assert(b.tryTake(100)); // 1 token after 100 ms
  assert(!b.tryTake(100));
  assert(b.tryTake(10_000));
  assertEquals(b.tokens, 9); // capped at 10, one taken
});

Deno.test("rate-limit: fractional elapsed time is not lost", () => {
  const b = new TokenBucket(1, 10, 0, 0);
  assert(!b.tryTake(60));
  assert(b.tryTake(110)); // 110 ms since the last refill → 1 token
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
    const b = new TokenBucket(10, 10, 0);
    let now = 0, admitted = 0;
    for (const g of gaps) {
      now += g;
      if (b.tryTake(now)) admitted++;
      assert(admitted <= 10 + Math.floor((now / 1000) * 10));
    }
  }));
});
