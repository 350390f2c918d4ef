/**
 * Daemons given two registry addresses (a primary and its standby, `--registry a,b`) keep
 * resolving and heartbeating through a failover with no user action: the primary is
 * SIGKILLed, the standby promoted with `pilot registry promote`, and the daemons' calls move
 * to it. A ping between two nodes works before and after, and a node that joins after the
 * failover is resolvable.
 */
import { assert, assertEquals } from "../assert.ts";
import { type PilotProcess, startPilot, type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";

const TOKEN = "daemon-failover-token-0123";
const ADMIN = "daemon-failover-admin-0123";

async function ping(from: TestDaemon, to: TestDaemon): Promise<void> {
  const r = await runPilot([
    "ping",
    to.address,
    "--count",
    "2",
    "--interval",
    "50ms",
    "--socket",
    from.socket,
    "--json",
  ]);
  assertEquals(r.code, 0, r.stderr + r.stdout);
  const results = JSON.parse(r.stdout).data.results as { rtt_ms?: number }[];
  assert(results.some((x) => typeof x.rtt_ms === "number"), r.stdout);
}

async function heartbeatsOk(http: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const m =
    /^pilot_registry_requests_total\{[^}]*type="heartbeat"[^}]*result="ok"[^}]*\} (\S+)$/m.exec(text) ??
      /^pilot_registry_requests_total\{[^}]*result="ok"[^}]*type="heartbeat"[^}]*\} (\S+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

Deno.test({
  name: "daemons with two registry addresses keep resolving and heartbeating through a failover",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const common = ["--replication-token", TOKEN, "--admin-token", ADMIN, "--rate-limit", "off"];
    const net = await TestNetwork.start([...common, "--replication-heartbeat", "1s"]);
    let standby: PilotProcess | null = null;
    try {
      const primaryAddr = net.registryAddr;
      standby = await startPilot([
        "registry",
        "--listen",
        "127.0.0.1:0",
        "--state",
        `${net.dir}/standby`,
        "--standby-of",
        primaryAddr,
        "--http",
        "127.0.0.1:0",
        ...common,
      ]);
      const standbyAddr = String(standby.ready.listen);
      const standbyHttp = `http://${standby.ready.http}`;
      net.registryAddr = `${primaryAddr},${standbyAddr}`;
      const beat = ["--public", "--heartbeat", "1s"];
      const a = await net.addDaemon("a", beat);
      const b = await net.addDaemon("b", beat);
      await ping(a, b);

      await net.registry!.stop("SIGKILL");
      const promoted = await runPilot([
        "registry",
        "promote",
        "--registry",
        standbyAddr,
        "--admin-token",
        ADMIN,
        "--json",
      ]);
      assertEquals(promoted.code, 0, promoted.stderr + promoted.stdout);
      const status = await runPilot(["registry", "status", "--registry", standbyAddr, "--json"]);
      assertEquals(JSON.parse(status.stdout).data.role, "primary");

      const metrics = await (await fetch(`${standbyHttp}/metrics`)).text();
      assert(/^pilot_registry_replication_primary 1$/m.test(metrics), metrics);
      assert(/^pilot_registry_replication_epoch 1$/m.test(metrics), metrics);
      // Both daemons' heartbeats now land on the new primary.
      const before = await heartbeatsOk(standbyHttp);
      const end = Date.now() + 20_000;
      while ((await heartbeatsOk(standbyHttp)) < before + 4) {
        assert(Date.now() < end, "daemons did not heartbeat the new primary");
        await new Promise((r) => setTimeout(r, 200));
      }
      await ping(a, b);
      await ping(b, a);
      // A node joining after the failover registers with the new primary and is resolvable.
      const c = await net.addDaemon("c", beat);
      await ping(a, c);
    } finally {
      await standby?.stop("SIGKILL");
      await net.close();
    }
  },
});
