/** A refused client honours `retry_after`: it waits (with jitter) and resends once, or fails at once without sending. */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { RegistryReplyError } from "../../lib/registry/client.ts";
import { NODE_LIMITS_OFF, type NodeLimits } from "../../lib/registry/node_limits.ts";
import { cleanup, registeredClient, startRegistry } from "./helpers.ts";

function heartbeatLimit(perMinute: number): NodeLimits {
  const limits = structuredClone(NODE_LIMITS_OFF) as NodeLimits;
  limits.heartbeat = { perMinute, burst: 1 };
  return limits;
}

Deno.test("client back-off: a throttled heartbeat is resent once after retry_after, not hammered", async () => {
  const reg = await startRegistry({ nodeLimits: heartbeatLimit(60) });
  try {
    const c = await registeredClient(reg.address);
    await c.heartbeat();
    const t0 = performance.now();
    assertEquals((await c.heartbeat()).type, "heartbeat_ok");
    const waited = performance.now() - t0;
    assert(
      waited >= 1_000 && waited < 1_700,
      `waited ${waited} ms for a 1 s retry_after (+ up to 50% jitter)`,
    );
    assertEquals(reg.registry.refusals.get("heartbeat|node_budget"), 1);
    assertEquals(reg.registry.counters.get("heartbeat"), {
      ...reg.registry.counters.get("heartbeat")!,
      ok: 2,
      error: 1,
    });
    c.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});

Deno.test("client back-off: a retry_after beyond the call's deadline fails the call, and later calls are not sent", async () => {
  const reg = await startRegistry({ nodeLimits: heartbeatLimit(1) });
  try {
    const c = await registeredClient(reg.address, { timeoutMs: 3_000 });
    await c.heartbeat();
    const err = await assertRejects(() => c.heartbeat(), RegistryReplyError) as RegistryReplyError;
    assertEquals(err.code, "throttled");
    assertEquals(err.reply?.retry_after, 60);
    assertEquals(err.reply?.reason, "node_budget");
    const t0 = performance.now();
    const again = await assertRejects(() => c.heartbeat(), RegistryReplyError) as RegistryReplyError;
    assertEquals(again.code, "throttled");
    assert(performance.now() - t0 < 500, "refused locally, at once");
    assertEquals(
      reg.registry.counters.get("heartbeat")?.error,
      1,
      "the second refusal never reached the registry",
    );
    c.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
  }
});
