import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { Endpoint } from "./endpoint.ts";
import { FaultySocket, SeededRandom } from "./faults.ts";
import type { UdpSocket } from "./udp.ts";

/** An in-memory UdpSocket that records what reaches it (the fault layer is pure logic). */
function recorder(): UdpSocket & { sent: number[] } {
  const sent: number[] = [];
  return {
    sent,
    backend: "node",
    local: Endpoint.of("127.0.0.1", 1),
    bufferBytes: {},
    counters: { sendErrors: 0, oversize: 0 },
    send: (_head, body) => void sent.push(new DataView(body.buffer, body.byteOffset).getUint32(0)),
    flush() {},
    close: () => Promise.resolve(),
  };
}

function body(i: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, i);
  return b;
}

const to = Endpoint.of("127.0.0.1", 2);

Deno.test("faults: seeded generator is deterministic and roughly uniform", () => {
  const a = new SeededRandom(99);
  const b = new SeededRandom(99);
  const xs = Array.from({ length: 10000 }, () => a.next());
  assertEquals(xs.slice(0, 5), Array.from({ length: 5 }, () => b.next()));
  assert(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  assert(new SeededRandom(1).next() !== new SeededRandom(2).next());
});

Deno.test("faults: drop, duplicate and reorder rates match the configuration", async () => {
  const inner = recorder();
  const socket = new FaultySocket(inner, { drop: 0.1, duplicate: 0.05, reorder: 0.1, seed: 3 });
  const n = 20000;
  for (let i = 0; i < n; i++) socket.send(undefined, body(i), to);
  await socket.close(); // held datagrams are discarded on close
  const f = socket.faults;
  // Binomial bounds at ±5σ.
  assert(Math.abs(f.dropped - 2000) < 5 * Math.sqrt(n * 0.1 * 0.9), `dropped ${f.dropped}`);
  assert(Math.abs(f.reordered - 1800) < 5 * Math.sqrt(n * 0.9 * 0.1 * 0.9), `reordered ${f.reordered}`);
  const passed = n - f.dropped - f.reordered;
  assert(Math.abs(f.duplicated - passed * 0.05) < 5 * Math.sqrt(passed * 0.05), `duplicated ${f.duplicated}`);
  const unique = new Set(inner.sent);
  assertEquals(unique.size, n - f.dropped);
  assertEquals(inner.sent.length, n - f.dropped + f.duplicated);
  assert(inner.sent.some((v, i) => i > 0 && v < inner.sent[i - 1]), "something was reordered");
});

Deno.test("faults: a held datagram is released by the timer when nothing follows", async () => {
  const inner = recorder();
  const socket = new FaultySocket(inner, { reorder: 1, seed: 1 });
  socket.send(undefined, body(7), to);
  assertEquals(inner.sent, []);
  await new Promise((r) => setTimeout(r, 30));
  assertEquals(inner.sent, [7]);
  await socket.close();
});

Deno.test("faults: fractions outside [0, 1] are refused", () => {
  assertThrows(() => new FaultySocket(recorder(), { drop: 1.5 }), RangeError);
  assertThrows(() => new FaultySocket(recorder(), { duplicate: -0.1 }), RangeError);
  assertThrows(() => new FaultySocket(recorder(), { reorder: Number.NaN }), RangeError);
});
