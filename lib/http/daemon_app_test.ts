import { assertEquals, assertMatch } from "../../tests/assert.ts";
import { daemonHttpApp, type DaemonStatusSource } from "./daemon_app.ts";
import { foldHealth, healthExitCode } from "./health.ts";
import { single } from "./prometheus.ts";
import { serveHttp } from "./server.ts";

function source(registryOk: boolean): DaemonStatusSource {
  return {
    health: () =>
      foldHealth({
        tunnel: { ok: true },
        registry: registryOk ? { ok: true } : { ok: false, reason: "connection refused" },
        ipc: { ok: true },
      }),
    info: () => ({ node_id: 7, address: "0:0000.0000.0007" }),
    metrics: () => [single("pilot_peers", "Tunnel peers", "gauge", 3)],
  };
}

Deno.test("healthz, status and metrics over a real loopback socket", async () => {
  for (const registryOk of [true, false]) {
    const ep = await serveHttp(daemonHttpApp(source(registryOk)).fetch, { hostname: "127.0.0.1", port: 0 });
    try {
      const h = await fetch(`${ep.url}/healthz`);
      const body = await h.json();
      assertEquals(h.status, registryOk ? 200 : 503);
      assertEquals(body.status, registryOk ? "ok" : "degraded");
      if (!registryOk) assertEquals(body.reasons, ["registry: connection refused"]);
      const s = await fetch(`${ep.url}/status`);
      assertEquals((await s.json()).node_id, 7);
      const m = await fetch(`${ep.url}/metrics`);
      assertMatch(m.headers.get("content-type") ?? "", /text\/plain; version=0.0.4/);
      assertMatch(await m.text(), /^pilot_peers 3$/m);
      const nf = await fetch(`${ep.url}/nope`);
      assertEquals(nf.status, 404);
      await nf.body?.cancel();
    } finally {
      await ep.close();
    }
  }
});

Deno.test("health exit codes", () => {
  assertEquals([healthExitCode("ok"), healthExitCode("degraded"), healthExitCode("down")], [0, 1, 2]);
});
