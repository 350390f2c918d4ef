import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { DEFAULT_NODE_LIMITS, nodeCategory, NodeLimiter, type NodeLimits } from "./node_limits.ts";
import { LoadShedder } from "./load_shed.ts";
import { parseRateLimitFlag } from "./limits_flag.ts";

const T = 1_000_000;

Deno.test("node budgets: each node has its own; polls never draw on heartbeats; refusal says when to retry", () => {
  const limits = structuredClone(DEFAULT_NODE_LIMITS) as NodeLimits;
  limits.heartbeat = { perMinute: 6, burst: 2 };
  const nl = new NodeLimiter(limits);
  assert(nl.take("heartbeat", 1, T).ok && nl.take("heartbeat", 1, T).ok);
  const refused = nl.take("heartbeat", 1, T);
  assertEquals(refused, { ok: false, retryAfterMs: 10_000 });
  assert(nl.take("heartbeat", 2, T).ok, "another node behind the same address is unaffected");
  for (let i = 0; i < 60; i++) assert(nl.take("poll", 1, T).ok, "polls have their own budget");
  assert(nl.take("heartbeat", 1, T + 10_000).ok, "one token back after 10 s");
  assertEquals(nl.denied.heartbeat, 1);
  nl.prune(T + 3_600_000);
  assertEquals(nl.size, 0);
  assertEquals(nodeCategory("poll_handshakes", "read"), "poll");
  assertEquals(nodeCategory("heartbeat", "heartbeat"), "heartbeat");
  assertEquals(nodeCategory("resolve", "resolve"), "lookup");
  assertEquals(nodeCategory("set_tags", "write"), "write");
});

Deno.test("node budgets: the daemon's default cadence (heartbeat + two polls every 30 s) is never refused", () => {
  const nl = new NodeLimiter();
  for (let t = 0; t < 24 * 3_600_000; t += 30_000) {
    assert(nl.take("heartbeat", 7, T + t).ok);
    assert(nl.take("poll", 7, T + t).ok && nl.take("poll", 7, T + t).ok);
  }
});

Deno.test("global budget: look-ups are shed first, then writes, heartbeats last", () => {
  const g = new LoadShedder({ requestsPerSecond: 10, maxInFlight: 0, maxHeapBytes: 0 }, () => 0, T);
  const count = (cls: "expensive" | "standard" | "essential") => {
    let n = 0;
    while (g.charge(cls, T).ok) n++;
    return n;
  };
  assertEquals(count("expensive"), 5, "look-ups stop at half the budget");
  assertEquals(count("standard"), 3, "writes stop at 80%");
  assertEquals(count("essential"), 2, "heartbeats use the rest");
  assertEquals(g.charge("essential", T), { ok: false, reason: "global_rate", retryAfterMs: 1_000 });
});

Deno.test("global budget: heap pressure sheds all but essential work; in-flight caps by class", () => {
  let heap = 900;
  const g = new LoadShedder({ requestsPerSecond: 0, maxInFlight: 4, maxHeapBytes: 1000 }, () => heap, T);
  assertEquals(g.admit("expensive", T), { ok: false, reason: "memory", retryAfterMs: 5_000 });
  assertEquals(g.admit("standard", T), { ok: false, reason: "memory", retryAfterMs: 5_000 });
  assert(g.admit("essential", T).ok);
  g.done();
  heap = 0;
  assert(g.admit("expensive", T + 1_000).ok && g.admit("expensive", T + 1_000).ok);
  assertEquals(g.admit("expensive", T + 1_000).ok, false, "look-ups hold at most half the slots");
  assert(g.admit("essential", T + 1_000).ok && g.admit("essential", T + 1_000).ok);
  assertEquals(g.admit("essential", T + 1_000), { ok: false, reason: "in_flight", retryAfterMs: 1_000 });
  g.done();
  assert(g.admit("essential", T + 1_000).ok);
  assertEquals(g.inFlight, 4);
});

Deno.test("--rate-limit: per-address, node.* and global.* entries; off; errors name the entry", () => {
  const l = parseRateLimitFlag(
    "register=20,node.heartbeat=10:3,node.poll=40,global.rps=100,global.heap_mb=64",
  );
  assertEquals(l.address.register, 20);
  assertEquals(l.node.heartbeat, { perMinute: 10, burst: 3 });
  assertEquals(l.node.poll, { perMinute: 40, burst: 10 });
  assertEquals(l.global.requestsPerSecond, 100);
  assertEquals(l.global.maxHeapBytes, 64 * 1024 * 1024);
  assertEquals(parseRateLimitFlag("").node.heartbeat, DEFAULT_NODE_LIMITS.heartbeat);
  const off = parseRateLimitFlag("off");
  assertEquals([off.address.register, off.node.write.perMinute, off.global.requestsPerSecond], [0, 0, 0]);
  assertThrows(() => parseRateLimitFlag("node.bogus=1"), RangeError, /node categories/);
  assertThrows(() => parseRateLimitFlag("global.cpu=1"), RangeError, /global keys/);
  assertThrows(() => parseRateLimitFlag("bogus=1"), RangeError, /bad rate limit/);
});
