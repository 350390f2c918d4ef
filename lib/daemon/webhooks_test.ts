import { assert, assertEquals } from "../../tests/assert.ts";
import { WebhookReceiver } from "../../tests/helpers/webhook_receiver.ts";
import { Logger } from "../log.ts";
import { WebhookEmitter, type WebhookOptions } from "./webhooks.ts";

const quiet = new Logger("webhook", "silent");

function emitter(url: string, extra: Partial<WebhookOptions> = {}): WebhookEmitter {
  return new WebhookEmitter({ url, nodeId: () => 42, retryBaseMs: 20, timeoutMs: 500, log: quiet, ...extra });
}

/** A loopback port nobody listens on (bound, then released). */
function deadUrl(): string {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return `http://127.0.0.1:${port}/hook`;
}

Deno.test("webhooks: events arrive in order with the reference envelope", async () => {
  const rx = WebhookReceiver.start();
  const wh = emitter(rx.url);
  try {
    wh.emit("node.registered", { address: "0:0000.0000.002A", endpoint: "127.0.0.1:4000" });
    wh.emit("conn.fin", { remote_addr: "0:0000.0000.0001", remote_port: 7, local_port: 49152, conn_id: 3 });
    const events = await rx.waitFor((e) => e.length === 2);
    assertEquals(events.map((e) => [e.event_id, e.event, e.node_id]), [
      [1, "node.registered", 42],
      [2, "conn.fin", 42],
    ]);
    assertEquals(events[0].data, { address: "0:0000.0000.002A", endpoint: "127.0.0.1:4000" });
    assert(!Number.isNaN(Date.parse(String(events[0].timestamp))));
    assert(String(events[0].timestamp).endsWith("Z"));
  } finally {
    await wh.close();
    assertEquals(wh.stats().delivered, 2);
    await rx.close();
  }
});

Deno.test("webhooks: 5xx is retried with backoff, 4xx is not", async () => {
  const rx = WebhookReceiver.start();
  const wh = emitter(rx.url);
  try {
    rx.mode = { kind: "status", status: 500, times: 2 };
    const t0 = performance.now();
    wh.emit("a", { n: 1 });
    await rx.waitFor((e) => e.length === 1);
    // Two retries after 20 ms and 40 ms.
    assert(performance.now() - t0 >= 55, "retries must back off");
    assertEquals(rx.attempts, 3);
    assertEquals(wh.stats().retries, 2);

    rx.mode = { kind: "status", status: 404, times: 1 };
    wh.emit("b", { n: 2 });
    wh.emit("c", { n: 3 });
    await rx.waitFor((e) => e.length === 2);
    assertEquals(rx.events[1].event, "c");
    assertEquals(rx.attempts, 5);
    assertEquals(wh.stats().failed, 1);
  } finally {
    await wh.close();
    await rx.close();
  }
});

Deno.test("webhooks: gives up after three attempts at a dead endpoint", async () => {
  const wh = emitter(deadUrl());
  wh.emit("x", {});
  const deadline = Date.now() + 5_000;
  while (wh.stats().failed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assertEquals(wh.stats(), { emitted: 1, delivered: 0, failed: 1, dropped: 0, retries: 2, queued: 0 });
  await wh.close();
});

Deno.test("webhooks: a hanging receiver never blocks emit and the queue stays bounded", async () => {
  const rx = WebhookReceiver.start();
  rx.mode = { kind: "hang" };
  const wh = emitter(rx.url, { capacity: 16, timeoutMs: 100 });
  try {
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) wh.emit("data.datagram", { size: i });
    const elapsed = performance.now() - t0;
    assert(elapsed < 500, `10k emits took ${elapsed.toFixed(1)} ms`);
    const s = wh.stats();
    assertEquals(s.queued, 16);
    assertEquals(s.dropped, 10_000 - 16);
    // The hanging request times out and is retried: the loop keeps going, it does not wedge.
    await new Promise((r) => setTimeout(r, 350));
    assert(rx.attempts >= 2, `attempts ${rx.attempts}`);
    assert(wh.stats().retries >= 1);
  } finally {
    const c0 = performance.now();
    await wh.close(200);
    assert(performance.now() - c0 < 1_000, "close must respect its drain deadline");
    assertEquals(wh.stats().queued, 0);
    await rx.close();
  }
});

Deno.test("webhooks: setUrl restarts ids, empty disables, close drains what is queued", async () => {
  const rx = WebhookReceiver.start();
  const wh = emitter("");
  try {
    wh.emit("ignored", {});
    assertEquals(wh.stats().emitted, 0);
    wh.setUrl(rx.url);
    wh.emit("one", {});
    wh.emit("two", {});
    await rx.waitFor((e) => e.length === 2);
    wh.setUrl(rx.url);
    wh.emit("three", {});
    wh.emit("four", {});
    wh.emit("five", {});
    await wh.close();
    assertEquals(rx.events.map((e) => [e.event, e.event_id]), [
      ["one", 1],
      ["two", 2],
      ["three", 1],
      ["four", 2],
      ["five", 3],
    ]);
    wh.emit("after-close", {});
    assertEquals(wh.stats().dropped, 1);
    wh.setUrl("");
    assertEquals(wh.url, "");
  } finally {
    await rx.close();
  }
});

Deno.test("webhooks: unserialisable data fails that event only", async () => {
  const rx = WebhookReceiver.start();
  const wh = emitter(rx.url);
  try {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    wh.emit("bad", { big: 1n });
    wh.emit("bad", cyclic);
    wh.emit("good", { n: 1 });
    await rx.waitFor((e) => e.length === 1);
    assertEquals(rx.events[0].event, "good");
  } finally {
    await wh.close();
    await rx.close();
  }
  assertEquals(wh.stats().failed, 2);
});
