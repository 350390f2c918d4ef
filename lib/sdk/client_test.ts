import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { concatBytes, fromUtf8, utf8 } from "../bytes.ts";
import { Address } from "../protocol/address.ts";
import { startServer } from "../daemon/ipc/testing/harness.ts";
import { Cmd, encodeReply } from "../ipc/codec.ts";
import { LOOPBACK_ADDRESS, SLOW_NODE, UNREACHABLE_NODE } from "../daemon/ipc/testing/loopback_handler.ts";
import { connect, type Connection, DaemonError, IpcError } from "./mod.ts";
import { settleQuietly } from "../errors.ts";

const SLOW = new Address(0, SLOW_NODE);

/** Reads until EOF or `n` bytes. */
async function readN(conn: Connection, n: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let got = 0;
  while (got < n) {
    const chunk = await conn.read({ timeoutMs: 5000 });
    if (chunk === null) break;
    parts.push(chunk);
    got += chunk.length;
  }
  return concatBytes(...parts);
}

/** A listening client and a dialing client joined by one connection. */
async function pair(path: string, port = 1000) {
  const server = await connect(path);
  const client = await connect(path);
  const listener = await server.listen(port);
  const [dialed, accepted] = await Promise.all([
    client.dial(LOOPBACK_ADDRESS, port, { timeoutMs: 2000 }),
    listener.accept({ timeoutMs: 2000 }),
  ]);
  return {
    server,
    client,
    listener,
    dialed,
    accepted,
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
    },
  };
}

Deno.test("listen/dial/accept/write/read/close round trip through the real socket", async () => {
  await using t = await startServer();
  await using p = await pair(t.path);
  assertEquals(p.listener.port, 1000);
  assertEquals([p.accepted.localPort, p.accepted.remoteAddr.toString()], [1000, LOOPBACK_ADDRESS.toString()]);
  assertEquals([p.dialed.remotePort, p.dialed.remoteAddr.toString()], [1000, LOOPBACK_ADDRESS.toString()]);
  await p.dialed.write(utf8("hello"));
  assertEquals(fromUtf8(await readN(p.accepted, 5)), "hello");
  await p.accepted.write(utf8("world"));
  assertEquals(fromUtf8(await readN(p.dialed, 5)), "world");
  await p.dialed.close();
  // The peer sees EOF, and writing to a peer-closed connection fails locally.
  assertEquals(await p.accepted.read({ timeoutMs: 2000 }), null);
  await assertRejects(() => p.accepted.write(utf8("late")), IpcError, /closed by the peer/);
  await assertRejects(() => p.dialed.read(), IpcError, /is closed/);
  // Daemon-side ownership follows the close.
  assertEquals(t.handler.closedIds.includes(p.dialed.id), true);
});

Deno.test("Web Streams carry a 5 MiB transfer intact, split into frames under 1 MiB", async () => {
  await using t = await startServer();
  await using p = await pair(t.path);
  const data = crypto.getRandomValues(new Uint8Array(65536)).map((_, i) => i * 7);
  const big = concatBytes(...Array.from({ length: 80 }, () => data)); // 5 MiB
  const writer = p.dialed.writable.getWriter();
  const sending = (async () => {
    await writer.write(big.subarray(0, 3 << 20)); // one 3 MiB write: must be split
    await writer.write(big.subarray(3 << 20));
    await writer.close(); // flush only: the connection stays open
  })();
  const parts: Uint8Array[] = [];
  let got = 0;
  for await (const chunk of p.accepted.readable) {
    parts.push(chunk);
    got += chunk.length;
    if (got >= big.length) break;
  }
  await sending;
  assertEquals(concatBytes(...parts), big);
  assertEquals(t.handler.totalSent, big.length);
});

Deno.test("daemon refusals reject with DaemonError and keep later replies correlated", async () => {
  await using t = await startServer();
  await using a = await connect(t.path);
  await a.listen(7);
  await assertRejects(() => a.listen(7), IpcError, /already has a listener/); // local check, no request
  const [refused, health] = await Promise.allSettled([
    a.dial(LOOPBACK_ADDRESS, 9, { timeoutMs: 2000 }),
    a.health(),
  ]);
  assert(refused.status === "rejected" && refused.reason instanceof DaemonError);
  assertEquals(refused.reason.message, "daemon: connection refused");
  assert(health.status === "fulfilled");
  assertEquals(health.value.status, "ok");
  await using b = await connect(t.path);
  await assertRejects(() => b.listen(7), DaemonError, /^daemon: port 7 already bound$/);
  assertEquals((await b.info()).address, LOOPBACK_ADDRESS.toString());
});

Deno.test("an unsolicited Send error goes to its connection, not to the pending request", async () => {
  await using t = await startServer();
  await using p = await pair(t.path);
  t.handler.forget(p.dialed.id);
  await p.dialed.write(utf8("x")); // fire-and-forget: the daemon answers with an Error
  const info = await p.client.info(); // must not receive that Error
  assertEquals(info.node_id, 42);
  await assertRejects(
    () => p.dialed.write(utf8("y")),
    DaemonError,
    new RegExp(`connection ${p.dialed.id} not found`),
  );
});

Deno.test("SendTo errors go to onAsyncError, not to the pending request", async () => {
  await using t = await startServer();
  const errors: string[] = [];
  await using c = await connect(t.path, { onAsyncError: (e) => errors.push(e.text) });
  await c.sendTo(new Address(0, UNREACHABLE_NODE), 1, utf8("x"));
  assertEquals((await c.health()).status, "ok");
  assertEquals(errors, [`sendto: resolve node ${UNREACHABLE_NODE}: not found`]);
});

Deno.test("Recv pushed before DialOK is buffered and delivered to the connection", async () => {
  await using t = await startServer();
  t.handler.preDialRecv = utf8("early bird");
  await using p = await pair(t.path);
  assertEquals(fromUtf8(await readN(p.dialed, 10)), "early bird");
});

Deno.test("timeouts: accept, read and recvFrom time out; a timed-out dial's late reply is consumed and closed", async () => {
  await using t = await startServer();
  t.handler.slowDialMs = 300;
  await using c = await connect(t.path);
  const l = await c.listen(80);
  await assertRejects(() => l.accept({ timeoutMs: 30 }), IpcError, /timed out after 30 ms/);
  await assertRejects(() => c.recvFrom({ timeoutMs: 0 }), IpcError, /timed out/);
  const err = await assertRejects(() => c.dial(SLOW, 80, { timeoutMs: 50 }), IpcError);
  assertEquals((err as IpcError).reason, "timeout");
  // The daemon is still busy with that dial; the next request waits behind it and gets its own reply.
  const health = await c.health({ timeoutMs: 3000 });
  assertEquals(health.status, "ok");
  // The abandoned dial succeeded late: the SDK closed that connection.
  const late = await l.accept({ timeoutMs: 1000 });
  assertEquals(await late.read({ timeoutMs: 2000 }), null);
});

Deno.test("AbortSignal cancels waits, including an already-aborted one", async () => {
  await using t = await startServer();
  await using c = await connect(t.path);
  const ctl = new AbortController();
  const pending = c.recvFrom({ signal: ctl.signal });
  ctl.abort(new Error("stop"));
  const err = await assertRejects(() => pending, IpcError, /aborted/);
  assertEquals(((err as IpcError).cause as Error).message, "stop");
  await assertRejects(() => c.health({ signal: ctl.signal }), IpcError, /aborted/);
  await assertRejects(() => connect(t.path, { signal: ctl.signal }), IpcError, /aborted/);
});

Deno.test("daemon disconnect fails every waiter with 'daemon disconnected'", async () => {
  const t = await startServer();
  const c = await connect(t.path);
  const p = await pair(t.path, 2000);
  const l = await c.listen(80);
  const waits = [
    l.accept(),
    c.recvFrom(),
    p.accepted.read(),
    c.dial(SLOW, 80),
  ];
  const settled = Promise.allSettled(waits);
  await new Promise((r) => setTimeout(r, 50));
  await t[Symbol.asyncDispose]();
  for (const r of await settled) {
    assert(r.status === "rejected" && r.reason instanceof IpcError, String(r.status));
    assertEquals(r.reason.message, "daemon disconnected");
  }
  assertEquals((await c.closed).reason, "disconnected");
  await assertRejects(() => c.health(), IpcError, /daemon disconnected/);
  await assertRejects(() => p.dialed.write(utf8("x")), IpcError, /daemon disconnected/);
  await c.close();
  await p[Symbol.asyncDispose]();
});

Deno.test("connect to a missing socket fails clearly", async () => {
  const err = await assertRejects(
    () => connect("/nonexistent/pilot.sock"),
    IpcError,
    /cannot connect to the daemon/,
  );
  assertEquals((err as IpcError).reason, "disconnected");
});

Deno.test("datagrams: sendTo reaches every client; broadcast on network 0 is refused locally", async () => {
  await using t = await startServer();
  await using a = await connect(t.path);
  await using b = await connect(t.path);
  await a.sendTo(new Address(1, 5), 4000, utf8("dgram"));
  for (const c of [a, b]) {
    const d = await c.recvFrom({ timeoutMs: 2000 });
    assertEquals([d.dstPort, fromUtf8(d.data), d.src.toString()], [
      4000,
      "dgram",
      LOOPBACK_ADDRESS.toString(),
    ]);
  }
  await assertRejects(() => a.sendTo(new Address(0, 0xffffffff), 1, utf8("x")), IpcError, /backbone/);
  await a.sendTo("3:0003.FFFF.FFFF", 9, utf8("bcast"));
  assertEquals(fromUtf8((await b.recvFrom({ timeoutMs: 2000 })).data), "bcast");
});

Deno.test("status and admin wrappers decode the daemon's JSON", async () => {
  await using t = await startServer();
  await using c = await connect(t.path);
  assertEquals((await c.resolveHostname("loop")).node_id, 42);
  await assertRejects(() => c.resolveHostname("nope"), DaemonError, /hostname "nope" not found/);
  assertEquals(await c.setHostname("x"), { type: "set_hostname_ok", node_id: 42, hostname: "x" });
  assertEquals((await c.setTags(["a", "b"])).tags, ["a", "b"]);
  await assertRejects(() => c.setTags(["a", "b", "c", "d"]), DaemonError, /maximum 3 tags/);
  assertEquals(await c.handshake(9, "please"), { status: "sent", node_id: 9 });
  assertEquals((await c.pendingHandshakes())[0].node_id, 7);
  assertEquals(await c.trustedPeers(), []);
  await assertRejects(() => c.revokeTrust(5), DaemonError, /was not trusted/);
  assertEquals((await c.networkList()).type, "list_networks_ok");
  await assertRejects(() => c.setWebhook("http://x"), DaemonError, /set_webhook: not supported/);
  assertEquals((await c.info()).node_id, 42);
});

Deno.test("closing a listener is local; listening again on the port needs no Bind", async () => {
  await using t = await startServer();
  await using c = await connect(t.path);
  const l = await c.listen(1234);
  const waiting = l.accept();
  l.close();
  await assertRejects(() => waiting, IpcError, /listener on port 1234 is closed/);
  const again = await c.listen(1234);
  await using d = await connect(t.path);
  const conn = await d.dial(LOOPBACK_ADDRESS, 1234);
  const acc = await again.accept({ timeoutMs: 2000 });
  await conn.write(utf8("ok"));
  assertEquals(fromUtf8(await readN(acc, 2)), "ok");
});

Deno.test("write backpressure: writes stall while the daemon is not draining", async () => {
  await using t = await startServer();
  await using p = await pair(t.path);
  let open!: () => void;
  t.handler.sendGate = new Promise((resolve) => open = resolve);
  let written = 0;
  const chunk = new Uint8Array(64 * 1024);
  const total = 32 << 20;
  const reading = readN(p.accepted, total);
  const writing = (async () => {
    while (written < total) {
      await p.dialed.write(chunk, { timeoutMs: 10_000 });
      written += chunk.length;
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  assert(written < 8 << 20, `${written} bytes were accepted while the daemon was not reading`);
  open();
  await writing;
  assertEquals((await reading).length, total);
});

Deno.test("receive backpressure: an unread connection holds the daemon back instead of buffering", async () => {
  await using t = await startServer(undefined, { outboundHighWater: 256 * 1024 });
  await using p = await pair(t.path);
  const chunk = new Uint8Array(64 * 1024);
  let written = 0;
  const writing = (async () => {
    while (written < 64 << 20) {
      await p.dialed.write(chunk, { timeoutMs: 10_000 });
      written += chunk.length;
    }
  })();
  await new Promise((r) => setTimeout(r, 400));
  // Nobody reads `accepted`: the SDK stops at its 4 MiB mark, the daemon stalls, so does the writer.
  assert(written < 16 << 20, `${written} bytes flowed to an unread connection`);
  assertEquals((await readN(p.accepted, 64 << 20)).length, 64 << 20);
  await writing;
});

Deno.test("a reply that fits no outstanding request fails the client as a protocol error", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/fake.sock`;
  const fake = Deno.listen({ transport: "unix", path });
  const serving = (async () => {
    const conn = await fake.accept();
    const buf = new Uint8Array(64);
    await conn.read(buf); // the Health request
    await conn.write(encodeReply({ cmd: Cmd.BindOK, port: 1 }));
    await settleQuietly(conn.read(buf), "expected in test"); // until the client hangs up
    conn.close();
  })();
  const c = await connect(path);
  const err = await assertRejects(() => c.health(), IpcError, /unexpected BindOK reply: expecting HealthOK/);
  assertEquals((err as IpcError).reason, "protocol");
  await c.close();
  await serving;
  fake.close();
  await Deno.remove(dir, { recursive: true });
});
