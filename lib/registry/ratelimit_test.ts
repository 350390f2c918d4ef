import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { parseRateLimits, RATE_WINDOW_MS, RateLimiter } from "./ratelimit.ts";
import { NonceCache } from "./replay.ts";

Deno.test("token bucket: a burst of `rate`, then one token per window/rate; sources are independent", () => {
  const rl = new RateLimiter({ register: 3, resolve: 0, query: 0, heartbeat: 0, write: 0, read: 0 });
  const t = 1_000_000;
  for (let i = 0; i < 3; i++) assert(rl.take("register", "a", "a", t).ok);
  const denied = rl.take("register", "a", "a", t);
  assert(!denied.ok);
  if (!denied.ok) assertEquals(denied.retryAfterMs, RATE_WINDOW_MS / 3);
  assert(rl.take("register", "b", "b", t).ok, "another source is unaffected");
  assert(!rl.take("register", "a", "a", t + RATE_WINDOW_MS / 3 - 1).ok);
  assert(rl.take("register", "a", "a", t + RATE_WINDOW_MS / 3 + 1).ok);
  assert(rl.take("query", "a", "a", t).ok, "0 = unlimited");
  rl.prune(t + 10 * RATE_WINDOW_MS);
  assertEquals(rl.size, 0);
});

Deno.test("parseRateLimits", () => {
  assertEquals(parseRateLimits("register=5,query=0").register, 5);
  assertEquals(parseRateLimits("off").heartbeat, 0);
  assertEquals(parseRateLimits("").register, 300);
  assertThrows(() => parseRateLimits("nope=1"), RangeError);
  assertThrows(() => parseRateLimits("register=-1"), RangeError);
});

Deno.test("nonce cache: replays refused until expiry, bounded (fails closed when full)", () => {
  const c = new NonceCache(3);
  const now = 5_000_000;
  assertEquals(c.admit("a", now + 60_000, now), "fresh");
  assertEquals(c.admit("a", now + 60_000, now + 1000), "replay");
  assertEquals(c.admit("b", now + 60_000, now), "fresh");
  assertEquals(c.admit("c", now + 60_000, now), "fresh");
  assertEquals(c.admit("d", now + 60_000, now), "full");
  assertEquals(c.admit("a", now + 200_000, now + 62_000), "fresh"); // forgotten after its window
  assertEquals(c.size, 1);
});
