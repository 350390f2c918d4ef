import { assert } from "../../tests/assert.ts";
import { KeyedInterval } from "./rate_limit.ts";

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
