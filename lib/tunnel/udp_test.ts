import dgram from "node:dgram";
import { assert, assertEquals } from "../../tests/assert.ts";
import { Endpoint } from "./endpoint.ts";
import {
  MAX_DATAGRAM_SIZE,
  openUdpSocket,
  SOCKET_BUFFER_BYTES,
  type UdpBackend,
  type UdpSocket,
} from "./udp.ts";
import { linuxUdpAvailable } from "./udp_linux.ts";

const LOOPBACK = "127.0.0.1";

interface Received {
  bytes: Uint8Array;
  from: Endpoint;
}

async function openCollector(backend: UdpBackend, host = LOOPBACK) {
  const got: Received[] = [];
  let batches = 0;
  let unended = 0;
  let wake: (() => void) | undefined;
  const socket = await openUdpSocket({ listen: { host, port: 0 }, backend }, {
    onDatagram: (bytes, from) => {
      got.push({ bytes: bytes.slice(), from });
      unended++;
    },
    onBatchEnd: () => {
      batches++;
      unended = 0;
      wake?.();
    },
  });
  const waitFor = async (count: number, ms = 3000) => {
    const deadline = Date.now() + ms;
    while (got.length < count && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 20);
      });
    }
    return got;
  };
  /** Datagrams handed up since the last batch end (a batch always ends in the same task). */
  return { socket, got, waitFor, batches: () => batches, unended: () => unended };
}

const backends: UdpBackend[] = linuxUdpAvailable() === undefined ? ["linux", "node"] : ["node"];

for (const backend of backends) {
  Deno.test(`udp ${backend}: datagrams round trip with head ‖ body and the source endpoint`, async () => {
    const a = await openCollector(backend);
    const b = await openCollector(backend);
    try {
      assertEquals(a.socket.backend, backend);
      assert(a.socket.local.port > 0);
      for (let i = 0; i < 10; i++) {
        a.socket.send(Uint8Array.of(0xaa, i), Uint8Array.of(1, 2, 3, i), b.socket.local);
      }
      const got = await b.waitFor(10);
      assertEquals(got.length, 10);
      assertEquals(b.unended(), 0, "every datagram's batch ended");
      const seen = got.map((r) => r.bytes[1]).sort((x, y) => x - y);
      assertEquals(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      for (const r of got) {
        assertEquals([...r.bytes.subarray(2)], [1, 2, 3, r.bytes[1]]);
        assertEquals(r.from.key, a.socket.local.key);
      }
      assertEquals(a.socket.counters.sendErrors, 0);
    } finally {
      await a.socket.close();
      await b.socket.close();
    }
  });

  Deno.test(`udp ${backend}: oversize datagrams are refused and counted, not thrown`, async () => {
    const a = await openCollector(backend);
    try {
      a.socket.send(undefined, new Uint8Array(MAX_DATAGRAM_SIZE + 1), a.socket.local);
      assertEquals(a.socket.counters.oversize, 1);
      // An IPv6 destination from an IPv4 socket is a counted send error.
      a.socket.send(undefined, Uint8Array.of(1), Endpoint.of("::1", 9));
      a.socket.flush();
      assertEquals(a.socket.counters.sendErrors, 1);
    } finally {
      await a.socket.close();
    }
  });

  Deno.test(`udp ${backend}: receives from a foreign socket and answers it`, async () => {
    const a = await openCollector(backend);
    const raw = dgram.createSocket("udp4");
    try {
      await new Promise<void>((resolve) => raw.bind(0, LOOPBACK, () => resolve()));
      const answered = new Promise<Uint8Array>((resolve) => raw.once("message", (m) => resolve(m)));
      raw.send(Uint8Array.of(9, 9, 9), a.socket.local.port, LOOPBACK);
      const [got] = await a.waitFor(1);
      assertEquals([...got.bytes], [9, 9, 9]);
      assertEquals(a.unended(), 0, "a lone datagram's batch ended too");
      assertEquals(got.from.port, raw.address().port);
      a.socket.send(undefined, Uint8Array.of(7), got.from);
      assertEquals([...await answered], [7]);
    } finally {
      raw.close();
      await a.socket.close();
    }
  });
}

if (backends.includes("linux")) {
  Deno.test("udp linux: kernel buffers are sized as asked (capped by rmem_max/wmem_max)", async () => {
    const a = await openCollector("linux");
    try {
      const rmemMax = Number(Deno.readTextFileSync("/proc/sys/net/core/rmem_max"));
      // Linux doubles the value it stores for bookkeeping overhead.
      assertEquals(a.socket.bufferBytes.receive, 2 * Math.min(SOCKET_BUFFER_BYTES, rmemMax));
      assert((a.socket.bufferBytes.send ?? 0) >= 2 * Math.min(SOCKET_BUFFER_BYTES, rmemMax) / 2);
    } finally {
      await a.socket.close();
    }
  });

  Deno.test("udp linux: a 600 × 4 KiB burst (far beyond a default 208 KiB buffer) is batched and arrives without loss", async () => {
    const a = await openCollector("linux");
    const b = await openCollector("linux");
    // Sent without yielding, so the receiver drains only afterwards: the kernel buffer must hold it
    // all (a 4 KiB datagram takes ≈8 KiB of buffer accounting on loopback).
    const count = 600;
    try {
      const body = new Uint8Array(4096);
      for (let i = 0; i < count; i++) {
        body[0] = i & 0xff;
        a.socket.send(undefined, body, b.socket.local);
      }
      a.socket.flush();
      const got = await b.waitFor(count);
      assertEquals(got.length, count);
      assert(b.batches() < count, "datagrams should arrive in batches");
    } finally {
      await a.socket.close();
      await b.socket.close();
    }
  });

  Deno.test("udp linux: dual-stack socket reaches IPv4 peers and reports them as IPv4", async () => {
    const a = await openCollector("linux", "::");
    const b = await openCollector("linux");
    try {
      a.socket.send(undefined, Uint8Array.of(4), b.socket.local);
      const [got] = await b.waitFor(1);
      assertEquals([...got.bytes], [4]);
      b.socket.send(undefined, Uint8Array.of(6), Endpoint.of(LOOPBACK, a.socket.local.port));
      const [back] = await a.waitFor(1);
      assertEquals([...back.bytes], [6]);
      assertEquals(back.from.key, b.socket.local.key);
    } finally {
      await a.socket.close();
      await b.socket.close();
    }
  });
}

for (const backend of backends) {
  Deno.test(`udp ${backend}: close ends a waiting receive loop; later sends are counted, not sent`, async () => {
    const a = await openCollector(backend);
    const b = await openCollector(backend);
    try {
      await a.socket.close(); // nothing had arrived: the loop was waiting
      a.socket.send(undefined, Uint8Array.of(1), b.socket.local);
      a.socket.flush();
      assertEquals(a.socket.counters.sendErrors, 1);
      assertEquals((await b.waitFor(1, 200)).length, 0);
    } finally {
      await a.socket.close();
      await b.socket.close();
    }
  });
}

Deno.test("udp: an explicit listen address that is not an IP literal is refused", async () => {
  let failed = false;
  let socket: UdpSocket | undefined;
  try {
    socket = await openUdpSocket({ listen: { host: "localhost", port: 0 }, backend: "node" }, {
      onDatagram() {},
      onBatchEnd() {},
    });
  } catch {
    failed = true;
  }
  await socket?.close();
  assert(failed);
});
