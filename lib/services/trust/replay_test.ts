/** Handshake replay cache: replays refused within the TTL, bounded size, reaping. */
import { assertEquals } from "../../../tests/assert.ts";
import { HandshakeReplayCache, REPLAY_CAPACITY, REPLAY_TTL_MS } from "./replay.ts";

Deno.test("replay: the reference's limits", () => {
  assertEquals([REPLAY_CAPACITY, REPLAY_TTL_MS], [8192, 600_000]);
});

Deno.test("replay: a recorded key is a replay until the TTL passes; unrecorded keys stay new", () => {
  const c = new HandshakeReplayCache(4, 1000);
  assertEquals(c.seen("a", 0), "new");
  assertEquals(c.seen("a", 0), "new"); // seen() alone does not record
  c.record("a", 0);
  assertEquals(c.seen("a", 999), "replay");
  assertEquals(c.seen("a", 1000), "new");
});

Deno.test("replay: when full, new keys are refused rather than evicting live ones", () => {
  const c = new HandshakeReplayCache(3, 1000);
  for (const k of ["a", "b", "c"]) assertEquals(c.record(k, 10), true);
  assertEquals(c.seen("d", 20), "full");
  assertEquals(c.record("d", 20), false);
  assertEquals(c.seen("a", 20), "replay"); // still remembered
  // Once the old entries expire, room is made on demand.
  assertEquals(c.seen("d", 1010), "new");
  assertEquals(c.record("d", 1010), true);
  assertEquals(c.size, 1);
});

Deno.test("replay: reap drops only expired keys", () => {
  const c = new HandshakeReplayCache(10, 1000);
  c.record("old", 0);
  c.record("mid", 500);
  c.record("new", 900);
  assertEquals(c.reap(1499), 1);
  assertEquals(c.size, 2);
  assertEquals(c.seen("mid", 1499), "replay");
  assertEquals(c.reap(5000), 2);
  assertEquals(c.size, 0);
});

Deno.test("replay: re-recording a key refreshes its age", () => {
  const c = new HandshakeReplayCache(10, 1000);
  c.record("a", 0);
  c.record("b", 100);
  c.record("a", 800); // the same message seen again after its first entry expired would be new
  assertEquals(c.reap(1100), 1); // "b" (100) is now the oldest: "a" moved to the back
  assertEquals(c.seen("a", 1100), "replay");
});
