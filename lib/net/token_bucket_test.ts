import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { KeyedRateLimiter, TokenBucket } from "./token_bucket.ts";

Deno.test("token bucket: burst, refill at the configured rate, cap at burst", () => {
  const bucket = new TokenBucket(10, 3, 0);
  assert(bucket.take(0) && bucket.take(0) && bucket.take(0));
  assert(!bucket.take(0));
  assert(!bucket.take(99)); // 0.99 tokens after 99 ms at 10/s
  assert(bucket.take(100));
  assert(!bucket.take(100));
  assert(bucket.isFull(100_000));
  let granted = 0;
  for (let i = 0; i < 10; i++) if (bucket.take(100_000)) granted++;
  assertEquals(granted, 3); // idle time never banks more than `burst`
  assert(!bucket.take(50_000)); // clock going backwards grants nothing
  assertThrows(() => new TokenBucket(0, 1, 0), RangeError);
  assertThrows(() => new TokenBucket(1, 0.5, 0), RangeError);
});

Deno.test("property: grants over an interval never exceed burst + rate × time", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5000 }),
      fc.integer({ min: 1, max: 100 }),
      fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 300 }),
      (rate, burst, gaps) => {
        const bucket = new TokenBucket(rate, burst, 0);
        let now = 0;
        let granted = 0;
        for (const gap of gaps) {
          now += gap;
          if (bucket.take(now)) granted++;
        }
        assert(granted <= burst + (rate * now) / 1000 + 1e-9);
      },
    ),
  );
});

Deno.test("keyed limiter: independent buckets, bounded key table, sweep forgets idle keys", () => {
  const limiter = new KeyedRateLimiter<number>(1, 2, 2);
  assert(limiter.allow(1, 0) && limiter.allow(1, 0));
  assert(!limiter.allow(1, 0));
  assert(limiter.allow(2, 0));
  assert(!limiter.allow(3, 0)); // table full
  assertEquals(limiter.size, 2);
  limiter.sweep(500);
  assertEquals(limiter.size, 2); // neither bucket is full yet
  limiter.sweep(10_000);
  assertEquals(limiter.size, 0);
  assert(limiter.allow(3, 10_000));
});

Deno.test("token bucket: waitMs says how long until a token, without taking one", () => {
  const b = new TokenBucket(2, 1, 0); // one token, refills one every 500 ms
  assertEquals(b.waitMs(0), 0);
  assertEquals(b.take(0), true);
  assertEquals(b.waitMs(0), 500);
  assertEquals(b.waitMs(200), 300);
  assertEquals(b.take(499), false);
  assertEquals(b.take(500), true);
});

Deno.test("token bucket: wholeTokens refills only whole tokens and keeps the fraction for later", () => {
  const b = new TokenBucket(10, 1, 0, { tokens: 0, wholeTokens: true }); // one token per 100 ms
  assertEquals(b.take(99), false, "0.99 of a token is not a token");
  assertEquals(b.take(150), true, "the 99 ms were not lost: 150 ms since the start is 1.5 tokens");
  assertEquals(b.take(199), false);
  assertEquals(b.take(250), true);
  assertEquals(b.lastUsed, 250);
  const fractional = new TokenBucket(10, 1, 0, { tokens: 0 });
  assertEquals(fractional.take(99), false);
  assertEquals(fractional.take(100), true);
});
