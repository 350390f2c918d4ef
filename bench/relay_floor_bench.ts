/**
 * The floor under the latency goals on this machine: the same processes, sockets and hops as a dial
 * and an echo, with no protocol work at all.
 *
 * A client talks over a Unix socket to a relay (daemon a's place), which forwards each message by
 * UDP, through the tunnel's own binding (lib/tunnel/udp.ts), to a peer (daemon b's place) that sends
 * it straight back; the relay writes the answer to the client. Both run with the daemons' V8 flags.
 * No parsing, sealing, state or timers: each hop is one read, one write and the wake-ups between.
 *
 * - `exchange`: client → relay → peer → relay → client, as a dial's Dial → SYN → SYN+ACK → DialOK;
 * - `two exchanges`: two back to back, as `pilot ping`'s dial + echo;
 * - `ipc`: client → relay → client, as an IPC round trip such as Health.
 *
 * Each shape runs spaced (ops `--spacing` ms apart, 110 as the latency benches space dials, so the
 * processes sleep between) and back to back (as the open-connection echo). Prints p50/p90 in µs.
 *
 * `deno run -A bench/relay_floor_bench.ts [--ops 200] [--spacing 110] [--backend linux|node]`
 * (`--backend node`: node:dgram instead of the libc binding, lib/tunnel/udp_node.ts)
 * @module
 */
import { parseArgs } from "node:util";
import { openUdpSocket, type UdpSocket } from "../lib/tunnel/udp.ts";
import { Endpoint } from "../lib/tunnel/endpoint.ts";
import { DAEMON_V8_FLAGS } from "../cli/daemon_process.ts";
import { median } from "./compare/table.ts";
import { ignoreRejection } from "../lib/errors.ts";

/** Every message is 64 bytes, the latency benches' probe. */
const MESSAGE_BYTES = 64;
/** First byte of a message: forward it to the peer, or answer it at once. */
const VIA_PEER = 1;
const RELAY_ONLY = 2;
/** Unmeasured operations per shape before the measured ones. */
const WARM_OPS = 50;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    role: { type: "string", default: "client" },
    socket: { type: "string" },
    peer: { type: "string" },
    ops: { type: "string", default: "200" },
    spacing: { type: "string", default: "110" },
    backend: { type: "string", default: "linux" },
  },
});

const backend = values.backend === "node" ? "node" : "linux";

/** Waits for the line a child prints once it listens. */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("child exited before it was ready");
    text += value;
  }
  reader.releaseLock();
  return text.split("\n")[0];
}

async function runPeer(): Promise<void> {
  // Nothing can reach the socket before its port is printed, so the handler never runs before the assignment.
  const socket: UdpSocket = await openUdpSocket({ listen: { host: "127.0.0.1", port: 0 }, backend }, {
    onDatagram: (bytes, from) => socket.send(undefined, bytes, from),
    onBatchEnd: () => {},
  });
  console.log(String(socket.local.port));
  await new Promise(() => {}); // until killed
}

async function runRelay(path: string, peerPort: number): Promise<void> {
  const listener = Deno.listen({ transport: "unix", path });
  console.log("ready");
  const conn = await listener.accept();
  const peer = Endpoint.of("127.0.0.1", peerPort);
  const udp = await openUdpSocket({ listen: { host: "127.0.0.1", port: 0 }, backend }, {
    onDatagram: (bytes) => ignoreRejection(conn.write(bytes.slice()), "peer gone"), // the client left
    onBatchEnd: () => {},
  });
  const buf = new Uint8Array(MESSAGE_BYTES);
  for (;;) {
    let got = 0;
    while (got < MESSAGE_BYTES) {
      const n = await conn.read(buf.subarray(got));
      if (n === null) Deno.exit(0);
      got += n;
    }
    if (buf[0] === VIA_PEER) udp.send(undefined, buf, peer);
    else await conn.write(buf);
  }
}

/** One client → relay (→ peer) → client exchange; microseconds taken. */
async function exchange(
  conn: Deno.Conn,
  kind: number,
  message: Uint8Array,
  reply: Uint8Array,
): Promise<number> {
  const t0 = performance.now();
  message[0] = kind;
  await conn.write(message);
  for (let got = 0; got < MESSAGE_BYTES;) {
    const n = await conn.read(reply.subarray(got));
    if (n === null) throw new Error("relay went away");
    got += n;
  }
  return (performance.now() - t0) * 1000;
}

async function runClient(): Promise<void> {
  const ops = Number(values.ops);
  const spacingMs = Number(values.spacing);
  const dir = await Deno.makeTempDir({ prefix: "relay-floor-" });
  const path = `${dir}/relay.sock`;
  const self = new URL(import.meta.url).pathname;
  const spawn = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `--v8-flags=${DAEMON_V8_FLAGS.join(",")}`, self, "--backend", backend, ...args],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  const peer = spawn(["--role", "peer"]);
  const relay = spawn(["--role", "relay", "--socket", path, "--peer", await firstLine(peer.stdout)]);
  try {
    await firstLine(relay.stdout);
    const conn = await Deno.connect({ transport: "unix", path });
    const message = new Uint8Array(MESSAGE_BYTES).fill(0x61);
    const reply = new Uint8Array(MESSAGE_BYTES);
    const shapes: [string, (() => Promise<number>)][] = [
      ["exchange (dial-shaped)", () => exchange(conn, VIA_PEER, message, reply)],
      [
        "two exchanges (ping-shaped)",
        async () =>
          (await exchange(conn, VIA_PEER, message, reply)) + (await exchange(conn, VIA_PEER, message, reply)),
      ],
      ["ipc round trip", () => exchange(conn, RELAY_ONLY, message, reply)],
    ];
    const rows: string[] = [];
    for (const [name, op] of shapes) {
      for (const spaced of [true, false]) {
        const label = `${name}, ${spaced ? `${spacingMs} ms apart` : "back to back"}`;
        console.error(`[floor] ${label}: ${WARM_OPS} unmeasured, ${ops} measured`);
        const samples: number[] = [];
        for (let i = 0; i < WARM_OPS + ops; i++) {
          const us = await op();
          if (i >= WARM_OPS) samples.push(us);
          if (spaced) await new Promise((r) => setTimeout(r, spacingMs));
        }
        samples.sort((x, y) => x - y);
        const p90 = samples[Math.floor(samples.length * 0.9)];
        rows.push(
          `| ${label.padEnd(48)} | ${median(samples)!.toFixed(0).padStart(5)} | ${
            p90.toFixed(0).padStart(5)
          } |`,
        );
      }
    }
    conn.close();
    console.log(`| shape${" ".repeat(43)} | p50 µs | p90 µs |`);
    console.log(`| ${"-".repeat(48)} | -----: | -----: |`);
    for (const row of rows) console.log(row);
  } finally {
    for (const child of [relay, peer]) {
      try {
        child.kill();
      } catch {
        // already gone
      }
      await child.status;
    }
    await Deno.remove(dir, { recursive: true });
  }
}

if (values.role === "peer") await runPeer();
else if (values.role === "relay") await runRelay(values.socket!, Number(values.peer));
else await runClient();
