/**
 * Gateway figures on loopback: a registry and two encrypted daemons as real `pilot` subprocesses,
 * the far one exposing a local HTTP server (`pilot expose`), the near one running the gateway
 * (`pilot daemon --gateway`, subnet 127.77.0.0/16). Prints:
 *   - curl download throughput through gateway+expose, next to curl straight to the server and
 *     `pilot bench` (echo port) between the same two daemons;
 *   - connection setup through the gateway: curl's time to first byte for a small request;
 *   - daemon RSS with N idle bridged connections (each sends a byte a minute, since the overlay
 *     closes a stream idle for 120 s).
 *
 *   deno run -A bench/gateway_bench.ts [--mib 100] [--runs 3] [--idle 1000]
 */
import { parseArgs } from "node:util";
import { createServer } from "node:net";
import { TestNetwork } from "../tests/helpers/network.ts";
import { runPilot } from "../tests/helpers/pilot.ts";
import { bigBody, curl, HttpOrigin, rssKiB } from "../tests/helpers/http_origin.ts";
import { ignoreRejection } from "../lib/errors.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "100" },
    runs: { type: "string", default: "3" },
    idle: { type: "string", default: "1000" },
  },
});
const mib = Number(values.mib);
const runs = Number(values.runs);
const idleCount = Number(values.idle);
const P = 20080;
const Q = 20081;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function pilotJson(args: string[]): Promise<Record<string, unknown>> {
  const r = await runPilot([...args, "--json"], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`pilot ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout).data;
}

const origin = await HttpOrigin.start(bigBody(mib * 1024 * 1024));
const sink = createServer((s) => s.on("data", () => {}).on("error", () => {}));
await new Promise<void>((r) => sink.listen(0, "127.0.0.1", () => r()));
const sinkPort = (sink.address() as { port: number }).port;
const net = await TestNetwork.start();
try {
  const far = await net.addDaemon("far", ["--public"]);
  const near = await net.addDaemon("near", [
    "--gateway",
    "--gateway-subnet",
    "127.77.0.0/16",
    "--gateway-ports",
    `${P},${Q}`,
  ]);
  await pilotJson(["expose", String(P), `127.0.0.1:${origin.port}`, "--socket", far.socket]);
  await pilotJson(["expose", String(Q), `127.0.0.1:${sinkPort}`, "--socket", far.socket]);
  const { local_ip: ip } = await pilotJson(["gateway", "map", far.address, "--socket", near.socket]);

  // Idle connections first, on fresh daemons, so RSS is not inflated by the transfers' garbage.
  if (idleCount > 0) {
    const nearPid = near.process.child.pid;
    const farPid = far.process.child.pid;
    const before = { near: rssKiB(nearPid), far: rssKiB(farPid) };
    const conns: Deno.Conn[] = [];
    const t0 = performance.now();
    const keepalive = setInterval(() => {
      for (const c of conns) ignoreRejection(c.write(new Uint8Array([1])), "peer gone");
    }, 60_000);
    for (let i = 0; i < idleCount; i++) conns.push(await Deno.connect({ hostname: String(ip), port: Q }));
    // Wait until every connection is bridged or refused (the gateway paces its dials to the far
    // side's SYN limit, so this takes N / 8 seconds; `active` counts bridges, not queued dials).
    let bridged = 0;
    let failed = 0;
    for (;;) {
      const m = await (await fetch(`${near.http}/metrics`)).text();
      bridged = Number(/pilot_gateway_active_connections\{[^}]*\} (\d+)/.exec(m)?.[1] ?? 0);
      failed = Number(/pilot_gateway_errors_total\{[^}]*kind="dial"\} (\d+)/.exec(m)?.[1] ?? 0);
      if (bridged + failed >= idleCount) break;
      if (performance.now() - t0 > 400_000) throw new Error(`only ${bridged} of ${idleCount} bridged`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (failed) {
      console.log(near.process.stderrLines.filter((l) => l.includes("dial failed")).slice(0, 3).join("\n"));
    }
    const setupS = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 3000));
    const after = { near: rssKiB(nearPid), far: rssKiB(farPid) };
    console.log(
      `${bridged} idle bridged connections (${failed} of ${idleCount} dials failed; all settled after ${
        setupS.toFixed(0)
      } s): ` +
        `near (gateway) RSS ${before.near >> 10} → ${after.near >> 10} MiB ` +
        `(${((after.near - before.near) / bridged).toFixed(1)} KiB each), ` +
        `far (expose) RSS ${before.far >> 10} → ${after.far >> 10} MiB ` +
        `(${((after.far - before.far) / bridged).toFixed(1)} KiB each)`,
    );
    clearInterval(keepalive);
    for (const c of conns) c.close();
    await new Promise((r) => setTimeout(r, 2000));
  }
  const speed = async (url: string) => {
    const r = await curl(["-sS", "-o", "/dev/null", "-w", "%{speed_download}", url], 300_000);
    if (r.code !== 0) throw new Error(r.stderr);
    return Number(r.stdout) / 1048576;
  };
  const via: number[] = [];
  const direct: number[] = [];
  const bench: number[] = [];
  for (let i = 0; i < runs; i++) {
    via.push(await speed(`http://${ip}:${P}/big`));
    direct.push(await speed(`http://127.0.0.1:${origin.port}/big`));
    const b = await pilotJson(["bench", far.address, String(mib), "--socket", near.socket]);
    bench.push(Number(b.send_mbps));
  }
  console.log(`download ${mib} MiB, median of ${runs}:`);
  console.log(
    `  curl through gateway+expose : ${median(via).toFixed(1)} MiB/s  (runs ${
      via.map((v) => v.toFixed(1)).join(", ")
    })`,
  );
  console.log(`  curl straight to the server : ${median(direct).toFixed(1)} MiB/s`);
  console.log(
    `  pilot bench (echo, send)    : ${median(bench).toFixed(1)} MiB/s  (runs ${
      bench.map((v) => v.toFixed(1)).join(", ")
    })`,
  );

  const ttfb = async (url: string) => {
    const out: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await curl(["-sS", "-o", "/dev/null", "-w", "%{time_starttransfer}", url]);
      if (r.code !== 0) throw new Error(r.stderr);
      out.push(Number(r.stdout) * 1000);
      await new Promise((res) => setTimeout(res, 200)); // below the gateway's dial pacing
    }
    return out;
  };
  const tVia = await ttfb(`http://${ip}:${P}/small`);
  const tDirect = await ttfb(`http://127.0.0.1:${origin.port}/small`);
  console.log(
    `connection setup + small request, time to first byte (median of 8): gateway ${
      median(tVia).toFixed(1)
    } ms, ` +
      `direct ${median(tDirect).toFixed(2)} ms`,
  );
} finally {
  await net.close();
  await origin.close();
  sink.close();
}
