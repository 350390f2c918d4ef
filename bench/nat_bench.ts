/**
 * NAT traversal figures on loopback: stream throughput and round-trip time between two daemons
 * on a direct path versus relayed through the beacon (`--force-relay`), once with the beacon's
 * default per-node relay limit and once with the limit lifted, plus the beacon's raw relay rate
 * (Relay in, RelayDeliver out) driven by a UDP blaster. Registry, beacons and daemons are real
 * `pilot` subprocesses.
 *
 *   deno run -A bench/nat_bench.ts [--mib 32] [--pings 200] [--blast-seconds 3]
 */
import dgram from "node:dgram";
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { type PilotProcess, startPilot } from "../tests/helpers/network.ts";
import { connect, type PilotClient } from "../lib/sdk/mod.ts";
import { decodeBeaconMessage, encodeBeaconMessage } from "../lib/beacon/messages.ts";
import { closeQuietly, settleQuietly } from "../lib/errors.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "32" },
    pings: { type: "string", default: "200" },
    "blast-seconds": { type: "string", default: "3" },
  },
});
const MIB = 1024 * 1024;
const total = Number(values.mib) * MIB;
const pings = Number(values.pings);
const blastSeconds = Number(values["blast-seconds"]);
const UNLIMITED = "10000000";

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

async function metricLabel(http: string, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${label}} `));
  return line ? Number(line.split(" ")[1]) : NaN;
}

async function metric(http: string, name: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : NaN;
}

const procs: PilotProcess[] = [];
const clients: PilotClient[] = [];
const dir = await Deno.makeTempDir({ prefix: "pilot-natbench-" });

async function daemon(name: string, registry: string, beacon: string, extra: string[] = []) {
  const socket = `${dir}/${name}.sock`;
  const p = await startPilot([
    "daemon",
    "--registry",
    registry,
    "--beacon",
    beacon,
    "--listen",
    "127.0.0.1:0",
    "--socket",
    socket,
    "--state",
    `${dir}/${name}`,
    "--http",
    "off",
    "--public",
    ...extra,
  ]);
  procs.push(p);
  const client = await connect(socket, { timeoutMs: 5_000 });
  clients.push(client);
  return { client, address: String(p.ready.address) };
}

/** Echo RTT percentiles over one stream (64-byte messages, one in flight). */
async function rtt(a: PilotClient, to: string) {
  const conn = await a.dial(to, 7, { timeoutMs: 30_000 });
  const msg = new Uint8Array(64).fill(0x61);
  const samples: number[] = [];
  for (let i = 0; i < pings + 10; i++) {
    const t0 = performance.now();
    await conn.write(msg);
    let got = 0;
    while (got < msg.length) got += (await conn.read({ timeoutMs: 10_000 }))!.length;
    if (i >= 10) samples.push(performance.now() - t0); // the first 10 warm up the path
  }
  await conn.close();
  samples.sort((x, y) => x - y);
  return { p50: pct(samples, 0.5), p99: pct(samples, 0.99) };
}

/** One-way stream of `total` bytes to a sink listener; MiB/s and sha256 check. */
async function throughput(a: PilotClient, b: PilotClient, to: string, port: number) {
  const listener = await b.listen(port);
  const acceptP = listener.accept({ timeoutMs: 30_000 });
  const conn = await a.dial(to, port, { timeoutMs: 30_000 });
  const server = await acceptP;
  const recv = createHash("sha256");
  let received = 0;
  const reading = (async () => {
    while (received < total) {
      const c = await server.read({ timeoutMs: 60_000 });
      if (c === null) break;
      recv.update(c);
      received += c.length;
    }
  })();
  const chunk = new Uint8Array(256 * 1024).map((_, i) => i & 0xff);
  const sent = createHash("sha256");
  const t0 = performance.now();
  for (let n = 0; n < total; n += chunk.length) {
    sent.update(chunk);
    await conn.write(chunk, { timeoutMs: 60_000 });
  }
  await reading;
  const seconds = (performance.now() - t0) / 1000;
  await conn.close();
  await server.close();
  listener.close();
  if (recv.digest("hex") !== sent.digest("hex")) throw new Error("stream corrupted");
  return { mibs: total / MIB / seconds, seconds };
}

/**
 * Relay messages through a beacon as fast as this process can send them. The beacon's own
 * counters give what it took in and relayed per second; the receiving socket's count is lower
 * when this process, busy sending, cannot read everything.
 */
async function blast(beaconAddr: string, http: string, frameBytes: number) {
  const [host, portText] = beaconAddr.split(":");
  const port = Number(portText);
  const open = async () => {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    return s;
  };
  const tx = await open();
  const rx = await open();
  let delivered = 0;
  rx.on("message", (m: Uint8Array) => {
    if (m[0] === 0x06) delivered++;
    else if (m[0] === 0x02) decodeBeaconMessage(new Uint8Array(m)); // discover reply
  });
  const send = (s: dgram.Socket, b: Uint8Array) => new Promise<void>((r) => s.send(b, port, host, () => r()));
  await send(rx, encodeBeaconMessage({ kind: "Discover", node: 9002 }));
  await send(tx, encodeBeaconMessage({ kind: "Discover", node: 9001 }));
  await new Promise((r) => setTimeout(r, 200));
  const frame = new Uint8Array(frameBytes).fill(0x50);
  const relay = encodeBeaconMessage({ kind: "Relay", sender: 9001, dest: 9002, frame });
  let sent = 0;
  const received0 = await metricLabel(http, "pilot_beacon_received_total", 'kind="Relay"');
  const relayed0 = await metric(http, "pilot_beacon_relayed_packets_total");
  const t0 = performance.now();
  const end = t0 + blastSeconds * 1000;
  while (performance.now() < end) {
    // Bursts of 32 with the last send awaited: fast enough to saturate one beacon core, slow
    // enough that this process still reads what comes back.
    for (let i = 0; i < 31; i++) tx.send(relay, port, host);
    await send(tx, relay);
    sent += 32;
  }
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 300));
  const taken = (await metricLabel(http, "pilot_beacon_received_total", 'kind="Relay"')) - received0;
  const relayed = (await metric(http, "pilot_beacon_relayed_packets_total")) - relayed0;
  tx.close();
  rx.close();
  return {
    sentPerSec: sent / seconds,
    takenPerSec: taken / seconds,
    relayedPerSec: relayed / seconds,
    deliveredPerSec: delivered / seconds,
  };
}

try {
  const registry = await startPilot([
    "registry",
    "--listen",
    "127.0.0.1:0",
    "--memory",
    "--rate-limit",
    "off",
  ]);
  procs.push(registry);
  const reg = String(registry.ready.listen);
  const limited = await startPilot(["beacon", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
  const open = await startPilot([
    "beacon",
    "--listen",
    "127.0.0.1:0",
    "--http",
    "127.0.0.1:0",
    "--relay-rate",
    UNLIMITED,
    "--relay-burst",
    UNLIMITED,
  ]);
  procs.push(limited, open);
  const cases = [
    { name: "direct", beacon: limited, extra: [] as string[] },
    { name: "relay, default limit (1000 pkt/s per node)", beacon: limited, extra: ["--force-relay"] },
    { name: "relay, limit lifted", beacon: open, extra: ["--force-relay"] },
  ];
  let port = 6000;
  for (const c of cases) {
    const beaconAddr = String(c.beacon.ready.listen);
    const http = String(c.beacon.ready.http);
    const a = await daemon(`${port}a`, reg, beaconAddr, c.extra);
    const b = await daemon(`${port}b`, reg, beaconAddr, c.extra);
    const r = await rtt(a.client, b.address);
    const before = await metric(http, "pilot_beacon_relayed_packets_total");
    const t = await throughput(a.client, b.client, b.address, port++);
    const relayed = (await metric(http, "pilot_beacon_relayed_packets_total")) - before;
    console.log(
      `${c.name}: echo RTT p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms; ` +
        `${values.mib} MiB one-way ${t.mibs.toFixed(1)} MiB/s` +
        (relayed > 0 ? `; beacon relayed ${Math.round(relayed / t.seconds)} pkt/s` : ""),
    );
  }
  for (const size of [64, 1024, 4096]) {
    const b = await blast(String(open.ready.listen), String(open.ready.http), size);
    console.log(
      `beacon raw relay, ${size}-byte frames: offered ${Math.round(b.sentPerSec)} msg/s, beacon took ` +
        `${Math.round(b.takenPerSec)}/s and relayed ${Math.round(b.relayedPerSec)}/s, ` +
        `receiver read ${Math.round(b.deliveredPerSec)}/s`,
    );
  }
} finally {
  for (const c of clients) await closeQuietly(c);
  for (const p of procs.reverse()) await p.stop("SIGKILL");
  await settleQuietly(Deno.remove(dir, { recursive: true }), "cleanup");
}
