/**
 * The daemon data plane end to end: a registry and daemons as real `pilot` subprocesses on
 * loopback, driven through the SDK over their IPC sockets.
 */
import dgram from "node:dgram";
import { assert, assertEquals } from "../assert.ts";
import { type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { anonymousBytes } from "../helpers/memory.ts";
import { runPilot } from "../helpers/pilot.ts";
import { transfer } from "../helpers/transfer.ts";
import { connect, type Connection, type PilotClient } from "../../lib/sdk/mod.ts";
import { Address } from "../../lib/protocol/address.ts";
import { closeQuietly, ignoreRejection, settleQuietly } from "../../lib/errors.ts";

const MIB = 1024 * 1024;

async function metric(d: TestDaemon, name: string, label?: string): Promise<number> {
  const text = await (await fetch(`${d.http}/metrics`)).text();
  const re = new RegExp(`^${name}${label ? `\\{[^}]*${label}[^}]*\\}` : ""} (\\S+)$`, "m");
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
}

async function withNetwork(
  daemonArgs: string[][],
  fn: (net: TestNetwork, d: TestDaemon[], c: PilotClient[]) => Promise<void>,
): Promise<void> {
  const net = await TestNetwork.start();
  const clients: PilotClient[] = [];
  try {
    const daemons: TestDaemon[] = [];
    for (const [i, args] of daemonArgs.entries()) daemons.push(await net.addDaemon(`d${i}`, args));
    for (const d of daemons) clients.push(await connect(d.socket, { timeoutMs: 5_000 }));
    await fn(net, daemons, clients);
  } finally {
    for (const c of clients) await closeQuietly(c);
    await net.close();
  }
}

const PUBLIC = ["--public"];

Deno.test({
  name: "echo on port 7 and a 64 MiB stream arrive byte-exact (sha256)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withNetwork([PUBLIC, PUBLIC], async (_net, [, b], [ca, cb]) => {
      const echo = await ca.dial(b.address, 7, { timeoutMs: 10_000 });
      await echo.write(new TextEncoder().encode("hello pilot"));
      const back = await echo.read({ timeoutMs: 10_000 });
      assertEquals(new TextDecoder().decode(back!), "hello pilot");
      await echo.close();

      const r = await transfer(ca, cb, b.address, 5000, 64 * MIB);
      assertEquals(r.bytes, 64 * MIB);
      assertEquals(r.received, r.sent);
    });
  },
});

Deno.test({
  name: "64 MiB byte-exact under 10% loss, 5% reorder and 1% duplication; duplicates are dropped as replays",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const faults = ["--fault-drop", "0.1", "--fault-reorder", "0.05", "--fault-duplicate", "0.01"];
    await withNetwork([[...PUBLIC, ...faults, "--fault-seed", "7"], [
      ...PUBLIC,
      ...faults,
      "--fault-seed",
      "9",
    ]], async (
      _net,
      [a, b],
      [ca, cb],
    ) => {
      const r = await transfer(ca, cb, b.address, 5001, 64 * MIB);
      assertEquals(r.bytes, 64 * MIB);
      assertEquals(r.received, r.sent);
      const info = await ca.info();
      assert(info.pkts_sent > 0);
      // Injected duplicates reach the receiver as replayed PILS frames and must be refused.
      assert(
        (await metric(b, "pilot_tunnel_drops_total", 'reason="replay"')) > 0,
        "receiver counted replays",
      );
      assert((await metric(a, "pilot_tunnel_drops_total", 'reason="replay"')) > 0, "sender counted replays");
    });
  },
});

Deno.test({
  name: "datagrams, 100 concurrent connections, and tampered PILS frames dropped and counted",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withNetwork([PUBLIC, PUBLIC], async (_net, [a, b], [ca, cb]) => {
      // Datagrams: b receives what a sends to port 6000 (its client binds the port to get them).
      await cb.listen(6000);
      const payload = new TextEncoder().encode("datagram-1");
      let got;
      for (let attempt = 0; attempt < 20 && !got; attempt++) {
        await ca.sendTo(b.address, 6000, payload);
        got = await settleQuietly(cb.recvFrom({ timeoutMs: 500 }), "expected in test"); // lost: send again
      }
      assert(got, "a datagram arrived");
      assertEquals(got.dstPort, 6000);
      assertEquals(got.src.node, a.nodeId);
      assertEquals(new TextDecoder().decode(got.data), "datagram-1");

      // 100 concurrent echo connections, each with its own message.
      const conns: Connection[] = await Promise.all(
        Array.from({ length: 100 }, () => ca.dial(b.address, 7, { timeoutMs: 30_000 })),
      );
      // IPC Health counts what Info counts (Health reads counters only, not Info's rows).
      const health = await ca.health();
      const info = await ca.info();
      assertEquals(health.connections, info.connections);
      assert(health.connections >= 100, `${health.connections} connections counted`);
      assertEquals(health.peers, info.peers);
      assert(health.bytes_sent > 0 && health.bytes_sent <= info.bytes_sent, "bytes sent counted");
      assert(health.bytes_recv > 0 && health.bytes_recv <= info.bytes_recv, "bytes received counted");
      assert(Math.abs(health.uptime_seconds - info.uptime_secs) <= 1, "same uptime");
      const replies = await Promise.all(conns.map(async (c, i) => {
        const msg = `conn-${i}-${"x".repeat(i * 10)}`;
        await c.write(new TextEncoder().encode(msg));
        let text = "";
        while (text.length < msg.length) {
          const chunk = await c.read({ timeoutMs: 30_000 });
          if (chunk === null) break;
          text += new TextDecoder().decode(chunk);
        }
        await c.close();
        return text === msg;
      }));
      assertEquals(replies.filter(Boolean).length, 100);

      // A forged PILS frame claiming to come from a: b fails to authenticate it and counts it.
      const bInfo = await cb.info();
      const peerA = bInfo.peer_list.find((p) => p.node_id === a.nodeId);
      assert(peerA, "b knows a");
      const bTunnel = (await ca.info()).peer_list.find((p) => p.node_id === b.nodeId)!.endpoint;
      const [host, port] = [
        bTunnel.slice(0, bTunnel.lastIndexOf(":")),
        Number(bTunnel.slice(bTunnel.lastIndexOf(":") + 1)),
      ];
      const before = await metric(b, "pilot_tunnel_drops_total", 'reason="auth-failure"');
      const sock = dgram.createSocket("udp4");
      try {
        const frame = new Uint8Array(20 + 34 + 16);
        frame.set([0x50, 0x49, 0x4c, 0x53]);
        new DataView(frame.buffer).setUint32(4, a.nodeId);
        crypto.getRandomValues(frame.subarray(8));
        for (let i = 0; i < 5; i++) {
          await new Promise<void>((res, rej) =>
            sock.send(frame, port, host, (err) => err ? rej(err) : res())
          );
        }
      } finally {
        sock.close();
      }
      let after = before;
      for (let i = 0; i < 20 && after < before + 5; i++) {
        await new Promise((r) => setTimeout(r, 50));
        after = await metric(b, "pilot_tunnel_drops_total", 'reason="auth-failure"');
      }
      assertEquals(after - before, 5);
      // The real peer is unaffected.
      const echo = await ca.dial(b.address, 7, { timeoutMs: 10_000 });
      await echo.write(new Uint8Array([1, 2, 3]));
      assertEquals([...(await echo.read({ timeoutMs: 10_000 }))!], [1, 2, 3]);
      await echo.close();
    });
  },
});

Deno.test({
  name: "a slow reader (zero window) loses nothing and the sender's memory stays bounded",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withNetwork([PUBLIC, PUBLIC], async (_net, [a, b], [ca, cb]) => {
      const rssOf = (d: TestDaemon) => anonymousBytes(d.process.child.pid);
      const rssBefore = rssOf(a);
      let sentWhileStalled = 0;
      const stalledAt = performance.now() + 3000;
      const r = await transfer(ca, cb, b.address, 5002, 48 * MIB, {
        readDelayMs: 3000,
        onProgress: (sent) => {
          if (performance.now() < stalledAt) sentWhileStalled = sent;
        },
      });
      assertEquals(r.received, r.sent);
      // While nobody read, the writer was held back by flow control, not buffered without bound.
      assert(sentWhileStalled < 16 * MIB, `writer pushed ${sentWhileStalled} bytes into a stalled stream`);
      const growth = (rssOf(a)) - rssBefore;
      assert(growth < 96 * MIB, `sender daemon grew by ${growth} bytes`);
    });
  },
});

Deno.test({
  name: "a daemon restarted with the same identity keeps its address; peers re-key and connect again",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withNetwork([PUBLIC, PUBLIC], async (net, [, b], [ca]) => {
      const first = await ca.dial(b.address, 7, { timeoutMs: 10_000 });
      await first.write(new Uint8Array([9]));
      assertEquals([...(await first.read({ timeoutMs: 10_000 }))!], [9]);
      const oldAddress = b.address;
      await net.restartDaemon(b);
      assertEquals(b.address, oldAddress);
      const again = await ca.dial(b.address, 7, { timeoutMs: 30_000 });
      await again.write(new Uint8Array([7, 7]));
      assertEquals([...(await again.read({ timeoutMs: 10_000 }))!], [7, 7]);
      await again.close();
    });
  },
});

Deno.test({
  name:
    "IPC: garbage and oversized frames drop only that client; a vanished client's ports and conns are freed",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withNetwork([PUBLIC, PUBLIC], async (_net, [a, b], [ca]) => {
      // Ports the built-in services listen on (echo, tasks, ...).
      const builtinPorts = (await ca.info()).ports;
      for (
        const junk of [
          new Uint8Array([0, 0, 0, 5, 0xee, 1, 2, 3, 4]),
          new Uint8Array([0xff, 0xff, 0xff, 0xff, 1]),
        ]
      ) {
        const raw = await Deno.connect({ transport: "unix", path: a.socket });
        await raw.write(junk);
        const buf = new Uint8Array(256);
        await settleQuietly(raw.read(buf), "expected in test");
        raw.close();
      }
      // A client that binds a port and opens a transfer, then vanishes mid-transfer.
      const doomed = await connect(a.socket);
      await doomed.listen(7777);
      const conn = await doomed.dial(b.address, 7, { timeoutMs: 10_000 });
      ignoreRejection(conn.write(new Uint8Array(4 * MIB)), "expected in test");
      await new Promise((r) => setTimeout(r, 200));
      (doomed as unknown as { close(): Promise<void> }).close();
      let info = await ca.info();
      for (let i = 0; i < 50 && (info.ports > builtinPorts || info.connections > 0); i++) {
        await new Promise((r) => setTimeout(r, 100));
        info = await ca.info();
      }
      assertEquals(info.ports, builtinPorts, "only the built-in services' ports remain bound");
      assertEquals(info.connections, 0, "the vanished client's connection was closed");
      // Port 7777 can be bound again by someone else, and the daemon still serves.
      const l = await ca.listen(7777);
      assertEquals(l.port, 7777);
      const echo = await ca.dial(b.address, 7, { timeoutMs: 10_000 });
      await echo.write(new Uint8Array([42]));
      assertEquals([...(await echo.read({ timeoutMs: 10_000 }))!], [42]);
      await echo.close();
    });
  },
});

Deno.test({
  name: "pilot health: 0 healthy, 1 when the registry is down, 2 with no daemon",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const net = await TestNetwork.start();
    try {
      const d = await net.addDaemon("h", ["--heartbeat", "200ms"]);
      const healthy = await runPilot(["health", "--socket", d.socket, "--json"]);
      assertEquals(healthy.code, 0, healthy.stdout + healthy.stderr);
      assertEquals(JSON.parse(healthy.stdout).data.status, "ok");
      const http = await fetch(`${d.http}/healthz`);
      assertEquals(http.status, 200);
      await http.body?.cancel();

      await net.registry!.stop("SIGKILL");
      let degraded = await runPilot(["health", "--socket", d.socket, "--json"]);
      // The registry client retries a lost registry for ~10 s before a heartbeat counts as failed.
      for (const until = Date.now() + 30_000; Date.now() < until && degraded.code !== 1;) {
        await new Promise((r) => setTimeout(r, 200));
        degraded = await runPilot(["health", "--socket", d.socket, "--json"]);
      }
      assertEquals(degraded.code, 1, degraded.stdout);
      assertEquals(JSON.parse(degraded.stdout).data.status, "degraded");
      const http503 = await fetch(`${d.http}/healthz`);
      assertEquals(http503.status, 503);
      assert((await http503.json()).reasons[0].startsWith("registry:"));

      const down = await runPilot(["health", "--socket", `${net.dir}/nothing.sock`, "--json"]);
      assertEquals(down.code, 2);
      assertEquals(JSON.parse(down.stdout).data.status, "down");
    } finally {
      await net.close();
    }
  },
});

Deno.test({
  name: "pilot ping and pilot bench (reference --json keys) against a second daemon",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withNetwork([PUBLIC, PUBLIC], async (_net, [a, b]) => {
      const ping = await runPilot([
        "ping",
        b.address,
        "--count",
        "3",
        "--interval",
        "50ms",
        "--socket",
        a.socket,
        "--json",
      ]);
      assertEquals(ping.code, 0, ping.stderr);
      const p = JSON.parse(ping.stdout).data;
      assertEquals(p.results.length, 3);
      assert(p.results.every((r: { rtt_ms?: number }) => typeof r.rtt_ms === "number"));
      const bench = await runPilot(["bench", String(b.nodeId), "4", "--socket", a.socket, "--json"]);
      assertEquals(bench.code, 0, bench.stderr);
      const data = JSON.parse(bench.stdout).data;
      assertEquals(
        Object.keys(data).sort(),
        [
          "recv_bytes",
          "send_duration_ms",
          "send_mbps",
          "sent_bytes",
          "target",
          "total_duration_ms",
          "total_mbps",
        ],
      );
      assertEquals(data.sent_bytes, 4 * MIB);
      assertEquals(data.recv_bytes, 4 * MIB);
      assertEquals(data.target, new Address(0, b.nodeId).toString());
    });
  },
});
