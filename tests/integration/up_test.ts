/**
 * `pilot up` as a real subprocess: it starts registry, beacon and daemon in one process, answers
 * `pilot info` and `pilot health`, serves its status page, a second `pilot up` falls back to
 * other ports, and a second daemon started with the printed command line reaches the first
 * node's echo service.
 */
import { assert, assertEquals, assertNotEquals } from "../assert.ts";
import { type PilotProcess, startPilot } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { connect } from "../../lib/sdk/mod.ts";
import { settleQuietly } from "../../lib/errors.ts";

Deno.test({
  name:
    "pilot up: one process answers info/health, a second up falls back to free ports, a second daemon echoes",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pilot-up-" });
    const procs: PilotProcess[] = [];
    try {
      const up = await startPilot([
        "up",
        "--state",
        `${dir}/one/up`,
        "--socket",
        `${dir}/one.sock`,
        "--http",
        "127.0.0.1:0",
      ]);
      procs.push(up);
      const r = up.ready;
      assert(/^0:0000\.0000\.[0-9a-f]{4}$/.test(String(r.address)), String(r.address));
      assert(String(r.registry).startsWith("127.0.0.1:"));
      assert(String(r.beacon).startsWith("127.0.0.1:"));

      const info = await runPilot(["info", "--socket", `${dir}/one.sock`, "--json"]);
      assertEquals(info.code, 0, info.stderr);
      const infoData = JSON.parse(info.stdout).data;
      assertEquals(infoData.address, r.address);
      assertEquals(infoData.nat.beacon, r.beacon);
      const health = await runPilot(["health", "--socket", `${dir}/one.sock`, "--json"]);
      assertEquals(health.code, 0, health.stderr);
      assertEquals(JSON.parse(health.stdout).data.status, "ok");
      // The printed status URL is the page; its JSON twin is /status.
      const page = await (await fetch(String(r.status_url))).text();
      assert(page.includes(String(r.address)), "the status page shows the node's address");
      const status = await (await fetch(new URL("status", String(r.status_url)))).json();
      assertEquals(status.node_id, r.node_id);

      // Whatever the first one got, a second `pilot up` cannot have the same ports.
      const again = await startPilot([
        "up",
        "--state",
        `${dir}/two/up`,
        "--socket",
        `${dir}/two.sock`,
        "--http",
        "127.0.0.1:0",
      ]);
      procs.push(again);
      assertNotEquals(again.ready.registry, r.registry);
      assertNotEquals(again.ready.beacon, r.beacon);

      // The printed line, as a user would paste it (plus --json for the ready envelope).
      const line = String(r.second_node);
      assert(line.startsWith("pilot daemon ") && line.includes(`--registry ${r.registry}`), line);
      assert(line.includes(`--beacon ${r.beacon}`), line);
      const second = await startPilot(line.split(" ").slice(1));
      procs.push(second);
      const client = await connect(String(second.ready.socket), { timeoutMs: 5_000 });
      try {
        const conn = await client.dial(String(r.address), 7, { timeoutMs: 15_000 });
        await conn.write(new TextEncoder().encode("hello up"));
        const back = await conn.read({ timeoutMs: 10_000 });
        assertEquals(new TextDecoder().decode(back!), "hello up");
        await conn.close();
      } finally {
        await client.close();
      }

      const stopped = await up.stop("SIGTERM");
      assertEquals(stopped.code, 0);
    } finally {
      for (const p of procs.reverse()) await p.stop("SIGKILL");
      await settleQuietly(Deno.remove(dir, { recursive: true }), "cleanup");
    }
  },
});
