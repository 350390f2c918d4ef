import { assertEquals, assertMatch } from "../../tests/assert.ts";
import { daemonHttpApp, type DaemonStatusSource } from "./daemon_app.ts";
import { foldHealth, healthExitCode } from "./health.ts";
import { single } from "./prometheus.ts";
import { serveHttp } from "./server.ts";
import { sampleDaemonView } from "./testing/sample_views.ts";

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
    page: () => sampleDaemonView(),
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

Deno.test("/ serves the status page as HTML on a loopback bind, with no token", async () => {
  const ep = await serveHttp(daemonHttpApp(source(true), { bound: "127.0.0.1", names: [] }, "secret").fetch, {
    hostname: "127.0.0.1",
    port: 0,
  });
  try {
    const res = await fetch(`${ep.url}/`);
    assertEquals(res.status, 200);
    assertMatch(res.headers.get("content-type") ?? "", /^text\/html; charset=utf-8/);
    assertMatch(await res.text(), /<title>pilot node alpha \(0:0000\.0000\.0007\)<\/title>/);
  } finally {
    await ep.close();
  }
});

Deno.test("on a non-loopback bind the page and /status need the token; healthz and metrics do not", async () => {
  // Served on loopback, but told it is bound to a wildcard: the guard goes by the configured bind.
  const app = daemonHttpApp(source(true), { bound: "0.0.0.0", names: [] }, "s3cret");
  const ep = await serveHttp(app.fetch, { hostname: "127.0.0.1", port: 0 });
  try {
    for (const path of ["/", "/status"]) {
      const none = await fetch(`${ep.url}${path}`);
      assertEquals(none.status, 401, path);
      assertEquals(none.headers.get("www-authenticate"), 'Bearer realm="pilot"');
      await none.body?.cancel();
      const wrong = await fetch(`${ep.url}${path}?token=s3cre`);
      assertEquals(wrong.status, 401, path);
      await wrong.body?.cancel();
      const query = await fetch(`${ep.url}${path}?token=s3cret`);
      assertEquals(query.status, 200, path);
      await query.body?.cancel();
      const bearer = await fetch(`${ep.url}${path}`, { headers: { authorization: "Bearer s3cret" } });
      assertEquals(bearer.status, 200, path);
      await bearer.body?.cancel();
    }
    for (const path of ["/healthz", "/metrics"]) {
      const res = await fetch(`${ep.url}${path}`);
      assertEquals(res.status, 200, path);
      await res.body?.cancel();
    }
  } finally {
    await ep.close();
  }
  // No token configured on a non-loopback bind: the page is refused with what to do.
  const open = daemonHttpApp(source(true), { bound: "0.0.0.0", names: [] });
  const res = await open.request("http://127.0.0.1/", { headers: { host: "127.0.0.1" } });
  assertEquals(res.status, 403);
  assertMatch((await res.json()).error, /--http-token/);
});

Deno.test("health exit codes", () => {
  assertEquals([healthExitCode("ok"), healthExitCode("degraded"), healthExitCode("down")], [0, 1, 2]);
});
