/** Bad input, connection limits and throttling: the server never crashes and other clients keep being served. */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import type { RegistryClient } from "../../lib/registry/client.ts";
import { MAX_REQUEST_BODY } from "../../lib/registry/wire.ts";
import { cleanup, newClient, RawConn, registeredClient, startRegistry } from "./helpers.ts";

const frameOf = (text: string) => {
  const body = new TextEncoder().encode(text);
  const f = new Uint8Array(4 + body.length);
  new DataView(f.buffer).setUint32(0, body.length);
  f.set(body, 4);
  return f;
};

Deno.test("malformed frames get an error and a closed connection while another client keeps working", async () => {
  const reg = await startRegistry({ frameTimeoutMs: 300 });
  const good = await registeredClient(reg.address);
  try {
    const cases: [string, Uint8Array, RegExp][] = [
      ["oversized length prefix", new Uint8Array([0x7f, 0xff, 0xff, 0xff]), /exceeds the 65536-byte limit/],
      ["bad JSON", frameOf("{not json"), /not valid JSON/],
      ["JSON array", frameOf("[1,2]"), /must be a JSON object/],
      ["bad UTF-8", new Uint8Array([0, 0, 0, 3, 0x7b, 0xff, 0x7d]), /UTF-8/],
    ];
    for (const [label, bytes, re] of cases) {
      const raw = await RawConn.open(reg.addr.port);
      await raw.writeBytes(bytes);
      const r = await raw.recv();
      assertEquals(r?.type, "error", label);
      assertMatch(String(r?.error), re);
      assertEquals(await raw.recv(), null, `${label}: connection closed`);
      raw.close();
      assertEquals((await good.heartbeat()).type, "heartbeat_ok", `after ${label}`);
    }
    // Exactly the limit is accepted as a frame (and then rejected as JSON).
    const big = await RawConn.open(reg.addr.port);
    const body = new Uint8Array(MAX_REQUEST_BODY).fill(0x20);
    body[0] = 0x7b;
    body[MAX_REQUEST_BODY - 1] = 0x7d;
    const frame = new Uint8Array(4 + body.length);
    new DataView(frame.buffer).setUint32(0, body.length);
    frame.set(body, 4);
    await big.writeBytes(frame);
    assertMatch(String((await big.recv())?.error), /missing message type/);
    big.close();
    // A half frame: the server waits for the frame timeout, then closes.
    const half = await RawConn.open(reg.addr.port);
    await half.writeBytes(new Uint8Array([0, 0, 0, 50, 0x7b]));
    const t0 = Date.now();
    assertEquals(await half.recv(), null);
    assert(Date.now() - t0 >= 200, "closed by the frame deadline, not at once");
    half.close();
    assertEquals((await good.heartbeat()).type, "heartbeat_ok");
  } finally {
    good.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("wrong field types, unknown and unsupported types get errors on a connection that stays open", async () => {
  const reg = await startRegistry();
  const raw = await RawConn.open(reg.addr.port);
  try {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /missing message type/],
      [{ type: 42 }, /missing message type/],
      [{ type: "frobnicate" }, /unknown message type: frobnicate/],
      [{ type: "set_webhook", url: "" }, /admin token required/],
      [{ type: "subscribe_replication", token: "x" }, /not supported/],
      [{ type: "lookup", node_id: "5" }, /invalid field node_id/],
      [{ type: "lookup", node_id: -1 }, /invalid field node_id/],
      [{ type: "lookup", node_id: 2 ** 32 }, /invalid field node_id/],
      [{ type: "lookup", node_id: 1.5 }, /invalid field node_id/],
      [{ type: "lookup" }, /node_id required/],
      [{ type: "set_tags", node_id: 4, tags: "a" }, /invalid field tags/],
      [{ type: "set_visibility", node_id: 4, public: "yes" }, /invalid field public/],
      [{ type: "resolve_hostname", hostname: ["x"] }, /invalid field hostname/],
      [{ type: "list_nodes", network_id: 70000 }, /invalid field network_id/],
      [{ type: "register", public_key: "x".repeat(200) }, /too long/],
    ];
    for (const [msg, re] of cases) {
      const r = await raw.call(msg);
      assertEquals(r.type, "error", JSON.stringify(msg));
      assertMatch(String(r.error), re, JSON.stringify(msg));
    }
    assertEquals((await raw.call({ type: "list_networks" })).type, "list_networks_ok");
  } finally {
    raw.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("idle connections are closed; excess connections are refused with an error", async () => {
  const reg = await startRegistry({ idleTimeoutMs: 300, maxConnections: 3 });
  try {
    const idle = await RawConn.open(reg.addr.port);
    assertEquals(await idle.recv(), null); // closed after ~300 ms of silence
    idle.close();
    const held = await Promise.all([0, 1, 2].map(() => RawConn.open(reg.addr.port)));
    for (const h of held) assertEquals((await h.call({ type: "list_networks" })).type, "list_networks_ok");
    const extra = await RawConn.open(reg.addr.port);
    const r = await extra.recv();
    assertMatch(String(r?.error), /too many connections/);
    assertEquals(await extra.recv(), null);
    extra.close();
    for (const h of held) h.close();
    assert(reg.server.stats.rejectedOverLimit >= 1 && reg.server.stats.timeouts >= 1);
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("throttling: a source over its limit gets a throttle error; other sources are unaffected", async () => {
  const limits = { register: 0, resolve: 0, query: 5, heartbeat: 0, write: 0, read: 0 };
  const reg = await startRegistry({ rateLimits: limits, rateBy: "connection" });
  try {
    const noisy = await RawConn.open(reg.addr.port);
    const quietConn = await RawConn.open(reg.addr.port);
    for (let i = 0; i < 5; i++) {
      assertEquals((await noisy.call({ type: "lookup", node_id: 99 })).code, "not_found");
    }
    const t = await noisy.call({ type: "lookup", node_id: 99 });
    assertEquals(t.code, "throttled");
    assertMatch(String(t.error), /rate limited: too many queries from 127\.0\.0\.1/);
    assert((t.retry_after_ms as number) > 0);
    assertEquals((await quietConn.call({ type: "lookup", node_id: 99 })).code, "not_found");
    // The noisy source recovers once its bucket refills (5/min: one token per 12 s), the quiet one never noticed.
    assertEquals(reg.registry.limiter.denied.query, 1);
    noisy.close();
    quietConn.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("throttling by IP (the default) shares one bucket across a source's connections", async () => {
  const limits = { register: 2, resolve: 0, query: 0, heartbeat: 0, write: 0, read: 0 };
  const reg = await startRegistry({ rateLimits: limits, rateBy: "ip" });
  try {
    const clients: RegistryClient[] = [];
    const results: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = newClient(reg.address);
      clients.push(c);
      results.push(await c.register().then(() => "ok", (e) => e.code));
    }
    assertEquals(results, ["ok", "ok", "throttled"]);
    // Re-registering an already-known key is let through even when throttled (as in the reference).
    assertEquals((await clients[0].register()).type, "register_ok");
    for (const c of clients) c.close();
    assertEquals(reg.registry.limiter.denied.register, 1);
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});
