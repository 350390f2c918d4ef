/**
 * The daemon's NAT strategy end to end on loopback (real `pilot` registry, beacon and daemons):
 * a peer whose registered endpoint is wrong is found through the beacon's punch (its PILP names it,
 * an authenticated key exchange confirms it) and the path shows as punched in `pilot info` and the
 * metrics; a dial to a node that is gone runs 3 direct SYNs with punch requests, moves to the relay
 * for the last 3 and then fails to the caller.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { type PilotProcess, startPilot, type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { connect, type PilotClient } from "../../lib/sdk/mod.ts";
import { closeQuietly } from "../../lib/errors.ts";

async function metric(d: TestDaemon, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${d.http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${label}} `));
  return line ? Number(line.split(" ")[1]) : NaN;
}

async function withBeaconNetwork(
  fn: (net: TestNetwork, beacon: string, clients: PilotClient[]) => Promise<void>,
): Promise<void> {
  const net = await TestNetwork.start(["--memory"]);
  let beacon: PilotProcess | undefined;
  const clients: PilotClient[] = [];
  try {
    beacon = await startPilot(["beacon", "--listen", "127.0.0.1:0"]);
    await fn(net, String(beacon.ready.listen), clients);
  } finally {
    for (const c of clients) await closeQuietly(c);
    await beacon?.stop("SIGKILL");
    await net.close();
  }
}

Deno.test({
  name:
    "NAT (daemon): a wrong registered endpoint is corrected by punching; info and metrics show the punched path",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withBeaconNetwork(async (net, beacon, clients) => {
      const a = await net.addDaemon("a", ["--public", "--beacon", beacon]);
      // B advertises a port nothing listens on (as a stale NAT mapping would look).
      const b = await net.addDaemon("b", ["--public", "--beacon", beacon, "--endpoint", "127.0.0.1:9"]);
      const ca = await connect(a.socket, { timeoutMs: 5_000 });
      clients.push(ca);
      const t0 = performance.now();
      const conn = await ca.dial(b.address, 7, { timeoutMs: 20_000 });
      const dialMs = performance.now() - t0;
      await conn.write(new TextEncoder().encode("through the hole"));
      assertEquals(new TextDecoder().decode((await conn.read({ timeoutMs: 10_000 }))!), "through the hole");
      await conn.close();
      assert(
        dialMs >= 900 && dialMs < 7_000,
        `punched after the first SYN timeout, not via relay: ${dialMs} ms`,
      );

      const info = await runPilot(["info", "--socket", a.socket]);
      assertEquals(info.code, 0, info.stderr);
      assertMatch(
        info.stdout,
        new RegExp(`node ${b.nodeId} 127\\.0\\.0\\.1:\\d+ encrypted authenticated punched`),
      );
      assertMatch(
        info.stdout,
        /nat +beacon 127\.0\.0\.1:\d+, endpoint local address; paths 0 direct, 1 punched, 0 relay/,
      );
      assertEquals(await metric(a, "pilot_peer_paths", 'path="punched"'), 1);
      assertEquals(await metric(a, "pilot_peer_paths", 'path="relay"'), 0);
      assert((await metric(a, "pilot_nat_events_total", 'event="punch_request"')) >= 1);
      assertEquals(await metric(a, "pilot_nat_events_total", 'event="relay_fallback"'), 0);
      const bInfo = JSON.parse((await runPilot(["info", "--socket", b.socket, "--json"])).stdout).data;
      assertEquals(bInfo.nat.endpoint_source, "override");
    });
  },
});

Deno.test({
  name:
    "NAT (daemon): a dial to a vanished node tries direct with punching, then the relay, then fails to the caller",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withBeaconNetwork(async (net, beacon, clients) => {
      const a = await net.addDaemon("a", ["--public", "--beacon", beacon]);
      const b = await net.addDaemon("b", ["--public", "--beacon", beacon]);
      await b.process.stop("SIGKILL"); // still registered, still in the beacon's table
      const ca = await connect(a.socket, { timeoutMs: 5_000 });
      clients.push(ca);
      const t0 = performance.now();
      const err = await ca.dial(b.address, 7, { timeoutMs: 60_000 }).then(() => undefined, (e) => e);
      const seconds = (performance.now() - t0) / 1000;
      assert(err instanceof Error, "the dial must fail");
      assertMatch(String(err.message), /timeout/i);
      // 6 SYNs at 0, 1, 3, 7, 15, 23 s; failure when the 6th times out at 31 s.
      assert(seconds > 29 && seconds < 40, `failed after ${seconds.toFixed(1)} s`);
      assertEquals(await metric(a, "pilot_nat_events_total", 'event="punch_request"'), 2);
      assertEquals(await metric(a, "pilot_nat_events_total", 'event="relay_fallback"'), 1);
      assertEquals(await metric(a, "pilot_peer_paths", 'path="relay"'), 1);
    });
  },
});
