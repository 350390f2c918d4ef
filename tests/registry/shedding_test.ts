/**
 * The global budget under a flood: anonymous look-ups are shed before heartbeats, refusals keep the
 * reference's error shape (type "error", text with "rate limited") plus retry_after and reason,
 * and /metrics counts them by category and reason.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { signRequest } from "../../lib/registry/auth.ts";
import { NODE_LIMITS_OFF, type NodeLimits } from "../../lib/registry/node_limits.ts";
import { registryMetrics } from "../../lib/registry/http.ts";
import { renderPrometheus } from "../../lib/http/prometheus.ts";
import { toBase64 } from "../../lib/bytes.ts";
import { generateEd25519KeyPair } from "../../lib/crypto/ed25519.ts";
import { cleanup, RawConn, startRegistry } from "./helpers.ts";

Deno.test("global budget: a look-up flood is shed while heartbeats go through; /metrics shows why", async () => {
  let now = Date.now();
  const reg = await startRegistry({
    clock: () => now,
    nodeLimits: structuredClone(NODE_LIMITS_OFF) as NodeLimits,
    globalLimits: { requestsPerSecond: 20, maxInFlight: 0, maxHeapBytes: 0 },
  });
  try {
    const conn = await RawConn.open(reg.addr.port);
    const nodes: { id: number; seed: Uint8Array }[] = [];
    for (let i = 0; i < 5; i++) {
      const kp = generateEd25519KeyPair();
      now += 1_000;
      const r = await conn.call(
        await signRequest({ type: "register", public_key: toBase64(kp.publicKey) }, kp.seed, now),
      );
      assertEquals(r.type, "register_ok");
      nodes.push({ id: r.node_id as number, seed: kp.seed });
    }
    now += 2_000; // the bucket is full again
    let lookups = 0;
    let shed: Record<string, unknown> | null = null;
    while (!shed) {
      const r = await conn.call({ type: "lookup", node_id: nodes[0].id });
      if (r.type === "error") shed = r;
      else lookups++;
    }
    assertEquals(lookups, 10, "look-ups stop at half of the 20/s budget");
    assertEquals(shed.code, "throttled");
    assertMatch(String(shed.error), /^rate limited: /);
    assertEquals([shed.retry_after, shed.reason], [1, "global_rate"]);
    for (const n of nodes) {
      const r = await conn.call(await signRequest({ type: "heartbeat", node_id: n.id }, n.seed, now));
      assertEquals(r.type, "heartbeat_ok", "heartbeats still fit in the reserve");
    }
    const text = renderPrometheus(registryMetrics(reg.registry, reg.server.stats));
    assertMatch(text, /^pilot_registry_refused_total\{category="lookup",reason="global_rate"\} 1$/m);
    assert(!/^pilot_registry_refused_total\{category="heartbeat"/m.test(text), "no heartbeat was refused");
    conn.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});
