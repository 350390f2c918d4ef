import { assert, assertEquals, assertThrows } from "../tests/assert.ts";
import { ALIGNED_EARLY_SLACK_MS, nextAlignedDeadline, setAlignedInterval } from "./aligned_timer.ts";

Deno.test("nextAlignedDeadline: the next multiple of the period, skipping one that is about to pass", () => {
  assertEquals(nextAlignedDeadline(0, 30_000), 30_000);
  assertEquals(nextAlignedDeadline(1, 30_000), 30_000);
  assertEquals(nextAlignedDeadline(29_000, 30_000), 30_000);
  // A timer that fired a little early does not run again around the same boundary.
  assertEquals(nextAlignedDeadline(29_999.2, 30_000), 60_000);
  assertEquals(nextAlignedDeadline(30_000 - ALIGNED_EARLY_SLACK_MS, 30_000), 60_000);
  assertEquals(nextAlignedDeadline(30_000 - ALIGNED_EARLY_SLACK_MS - 1, 30_000), 30_000);
  // Short periods keep a quarter period of slack.
  assertEquals(nextAlignedDeadline(94, 20), 100);
  assertEquals(nextAlignedDeadline(95, 20), 120);
  // A late one goes on with the next boundary.
  assertEquals(nextAlignedDeadline(30_250, 30_000), 60_000);
  // Chores whose periods divide each other meet on the longer one's boundaries.
  for (const now of [0, 12_345, 59_000, 61_000.5]) {
    const long = nextAlignedDeadline(now, 60_000);
    assertEquals(long % 30_000, 0);
    assert(nextAlignedDeadline(now, 30_000) <= long);
  }
});

Deno.test("setAlignedInterval: keeps calling until stopped", async () => {
  let calls = 0;
  const stop = setAlignedInterval(() => calls++, 30);
  try {
    const end = Date.now() + 10_000;
    while (calls < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert(calls >= 3, `called ${calls} times`);
  } finally {
    stop();
  }
  const after = calls;
  await new Promise((r) => setTimeout(r, 100));
  assertEquals(calls, after, "no call after stop");
  assertThrows(() => setAlignedInterval(() => {}, 0), RangeError);
});
