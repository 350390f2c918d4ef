import { assert, assertEquals } from "../../tests/assert.ts";
import { KeyedInterval, TokenBucket } from "./rate_limit.ts";

Deno.test("rate limit: token bucket allows the burst, then the rate", () => {
  let now = 0;
  const bucket = new TokenBucket(10, 5, () => now);
  const first = Array.from({ length: 8 }, () => bucket.take());
  assertEquals(first, [true, true, true, true, true, false, false, false]);
  now += 100; // one token
  assert(bucket.take());
  assert(!bucket.take());
  now += 10_000; // refill caps at the burst
  assertEquals(Array.from({ length: 6 }, () => bucket.take()).filter(Boolean).length, 5);
});

Deno.test("rate limit: keyed interval, bounded table that refuses fresh keys when full", () => {
  let now = 0;
  const limit = new KeyedInterval<string>(1000, 2, () => now);
  assert(limit.allow("a"));
  assert(!limit.allow("a"));
  assert(limit.allow("b"));
  assert(!limit.allow("c"), "table full of live entries");
  now += 1000;
  assert(limit.allow("c"), "expired entries are swept");
  assert(limit.allow("a"));
  assert(!limit.allow("a"));
  limit.forget("a");
  assert(limit.allow("a"), "a forgotten key starts afresh");
});
