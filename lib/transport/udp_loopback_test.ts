/**
 * The session layer on real time and real sockets: two managers, each on its
 * own UDP socket on 127.0.0.1 (ephemeral ports), packets through the wire
 * codec (no tunnel encryption), timers driven by startTimerLoop. Checks that
 * nothing relies on the simulator's ordering and measures loopback goodput.
 */
import dgram from "node:dgram";
import { assert, assertEquals } from "../../tests/assert.ts";
import { Address } from "../protocol/address.ts";
import { decodePacket, encodePacket } from "../protocol/packet.ts";
import { SessionManager } from "./manager.ts";
import { startTimerLoop, TimerQueue } from "./timers.ts";
import { patternBytes } from "./testing/sim.ts";

async function bind(): Promise<dgram.Socket> {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  return sock;
}

Deno.test("udp loopback: 16 MiB byte-exact between two managers over real sockets and timers", async () => {
  const timers = new TimerQueue(() => performance.now());
  const stop = startTimerLoop(timers);
  const [sa, sb] = [await bind(), await bind()];
  const port = new Map<number, number>([[1, sa.address().port], [2, sb.address().port]]);
  const mk = (node: number, sock: dgram.Socket) => {
    const m = new SessionManager({
      localAddr: new Address(0, node),
      timers,
      send: (pkt) => sock.send(encodePacket(pkt), port.get(pkt.dst.node)!, "127.0.0.1"),
    });
    sock.on("message", (msg: Uint8Array) => m.onPacket(decodePacket(new Uint8Array(msg))));
    return m;
  };
  const a = mk(1, sa), b = mk(2, sb);
  const total = 16 << 20;
  const done = Promise.withResolvers<void>();
  let received = 0, mismatch = -1;
  const l = b.listen(1000);
  l.onConnection = () => {
    const s = l.accept()!;
    s.onReadable = () => {
      for (let d = s.read(); d; d = s.read()) {
        if (mismatch < 0) {
          const want = patternBytes(received, d.length);
          for (let i = 0; i < d.length; i++) if (d[i] !== want[i]) mismatch = received + i;
        }
        received += d.length;
      }
      if (s.eof) done.resolve();
    };
  };
  const t0 = performance.now();
  const c = await a.connect(new Address(0, 2), 1000);
  let written = 0;
  const pump = () => {
    while (written < total) {
      const n = c.write(patternBytes(written, Math.min(256 << 10, total - written)));
      written += n;
      if (n === 0) return;
    }
    c.close();
  };
  c.onWritable = pump;
  pump();
  const timeout = setTimeout(() => done.reject(new Error(`stalled at ${received}`)), 60_000);
  try {
    await done.promise;
  } finally {
    clearTimeout(timeout);
    a.shutdown();
    b.shutdown();
    stop();
    sa.close();
    sb.close();
  }
  const secs = (performance.now() - t0) / 1000;
  assertEquals([received, mismatch], [total, -1]);
  const st = c.stats();
  console.log(
    `loopback goodput ${(total / 1e6 / secs).toFixed(0)} MB/s (incl. pattern generation/check), ` +
      `retransmits ${st.retransmits}, fast ${st.fastRetx}`,
  );
  assert(secs < 60);
});
