import { assertEquals } from "../../tests/assert.ts";
import { RecentEvents } from "./recent_events.ts";
import { WebhookEmitter } from "./webhooks.ts";

Deno.test("recent events keep the newest, newest first, within capacity", () => {
  let now = 0;
  const recent = new RecentEvents(3, () => ++now);
  for (let i = 1; i <= 5; i++) recent.record(`e${i}`, { i });
  assertEquals(recent.newest(), [
    { t: 5, event: "e5", data: { i: 5 }, count: 1 },
    { t: 4, event: "e4", data: { i: 4 }, count: 1 },
    { t: 3, event: "e3", data: { i: 3 }, count: 1 },
  ]);
});

Deno.test("a repeating event counts up instead of pushing the others out", () => {
  let now = 0;
  const recent = new RecentEvents(3, () => ++now);
  recent.record("handshake.received", { peer: 4 });
  for (let i = 0; i < 10; i++) recent.record("node.reregistered", { address: "a" });
  recent.record("node.reregistered", { address: "b" });
  assertEquals(recent.newest(), [
    { t: 12, event: "node.reregistered", data: { address: "b" }, count: 1 },
    { t: 11, event: "node.reregistered", data: { address: "a" }, count: 10 },
    { t: 1, event: "handshake.received", data: { peer: 4 }, count: 1 },
  ]);
});

Deno.test("the webhook emitter's tap sees events with no URL set, and queues nothing", async () => {
  const recent = new RecentEvents();
  const wh = new WebhookEmitter({ nodeId: () => 1, tap: (e, d) => recent.record(e, d) });
  assertEquals(wh.wanted, true);
  wh.emit("node.registered", { address: "0:0000.0000.0001" });
  assertEquals(recent.newest().map((e) => e.event), ["node.registered"]);
  assertEquals(wh.stats().emitted, 0);
  await wh.close();
  assertEquals(new WebhookEmitter({ nodeId: () => 1 }).wanted, false);
});
