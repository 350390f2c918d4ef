import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { concatBytes, fromHex, utf8 } from "../../bytes.ts";
import { Address } from "../../protocol/address.ts";
import { PilotError, settleQuietly } from "../../errors.ts";
import { Cmd, encodeFrame, encodeRequest, IpcError, type IpcReply } from "../../ipc/codec.ts";
import { type IpcClient, type IpcHandler, IpcServer } from "./server.ts";
import { RawClient, startServer } from "./testing/harness.ts";
import { LOOPBACK_ADDRESS, SLOW_NODE } from "./testing/loopback_handler.ts";

const req = encodeRequest;

async function expectReply(c: RawClient): Promise<IpcReply> {
  const r = await c.next();
  assert(r !== null, "expected a reply, got EOF");
  return r;
}

Deno.test("socket is mode 0600, a stale file is replaced, close() unlinks it", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/s.sock`;
  await Deno.writeTextFile(path, "stale");
  await using t = await startServer(undefined, { path });
  assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
  assert((await Deno.lstat(path)).isSocket);
  await t.server.close();
  await assertRejects(() => Deno.lstat(path), Deno.errors.NotFound);
  // A socket file left behind by a killed process is stale too.
  const code = `const l = Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} });
    console.log("up");
    await l.accept();`;
  const child = new Deno.Command(Deno.execPath(), { args: ["eval", code], stdout: "piped" }).spawn();
  const out = child.stdout.getReader();
  await out.read();
  child.kill("SIGKILL");
  await child.status;
  out.releaseLock();
  await child.stdout.cancel();
  assert((await Deno.lstat(path)).isSocket);
  await using again = await startServer(undefined, { path });
  const c = await RawClient.connect(again.path);
  await c.write(req({ cmd: Cmd.Health }));
  assertEquals((await expectReply(c)).cmd, Cmd.HealthOK);
  c.close();
  await again.server.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a second server refuses a path a live server answers on", async () => {
  await using t = await startServer();
  const err = await assertRejects(() => IpcServer.listen({ path: t.path, handler: {} }), IpcError);
  assertEquals((err as IpcError).reason, "socket-in-use");
  // The first server is untouched.
  const c = await RawClient.connect(t.path);
  await c.write(req({ cmd: Cmd.Health }));
  assertEquals((await expectReply(c)).cmd, Cmd.HealthOK);
  c.close();
});

Deno.test("replies come back in request order, with reference texts for bad requests", async () => {
  await using t = await startServer();
  const c = await RawClient.connect(t.path);
  await c.write(concatBytes(
    req({ cmd: Cmd.Bind, port: 1000 }),
    fromHex("00000001 01"), // Bind without a port
    req({ cmd: Cmd.Bind, port: 1000 }),
    fromHex("00000001 ff"),
    fromHex("00000000"), // length 0: ignored
    req({ cmd: Cmd.Health }),
  ));
  assertEquals(await expectReply(c), { cmd: Cmd.BindOK, port: 1000 });
  assertEquals(await expectReply(c), { cmd: Cmd.Error, code: 1, message: "bind: missing port" });
  assertEquals(await expectReply(c), { cmd: Cmd.Error, code: 1, message: "port 1000 already bound" });
  assertEquals(await expectReply(c), { cmd: Cmd.Error, code: 1, message: "unknown command: 0xFF" });
  assertEquals((await expectReply(c)).cmd, Cmd.HealthOK);
  c.close();
});

Deno.test("commands the handler lacks get a clear Error, and the client keeps working", async () => {
  const health = { status: "ok", uptime_seconds: 0, connections: 0, peers: 0, bytes_sent: 0, bytes_recv: 0 };
  await using t = await startServer({ health: () => health } as IpcHandler);
  const c = await RawClient.connect(t.path);
  await c.write(
    concatBytes(
      req({ cmd: Cmd.Info }),
      req({ cmd: Cmd.Send, connId: 1, data: utf8("x") }),
      req({ cmd: Cmd.Health }),
    ),
  );
  assertEquals(await expectReply(c), {
    cmd: Cmd.Error,
    code: 1,
    message: "info: not supported by this daemon",
  });
  assertEquals(await expectReply(c), {
    cmd: Cmd.Error,
    code: 1,
    message: "send: not supported by this daemon",
  });
  assertEquals((await expectReply(c)).cmd, Cmd.HealthOK);
  c.close();
});

Deno.test("Send/SendTo errors without the routing prefix get one", async () => {
  const handler: IpcHandler = {
    send: () => {
      throw new PilotError("boom");
    },
    sendTo: () => {
      throw new PilotError("no route");
    },
  };
  await using t = await startServer(handler);
  const c = await RawClient.connect(t.path);
  await c.write(concatBytes(
    req({ cmd: Cmd.Send, connId: 9, data: utf8("x") }),
    req({ cmd: Cmd.SendTo, addr: new Address(1, 2), port: 7, data: utf8("x") }),
  ));
  assertEquals(await expectReply(c), { cmd: Cmd.Error, code: 1, message: "send: boom" });
  assertEquals(await expectReply(c), { cmd: Cmd.Error, code: 1, message: "sendto: no route" });
  c.close();
});

Deno.test("an oversized frame length drops only that client", async () => {
  await using t = await startServer();
  const good = await RawClient.connect(t.path);
  const bad = await RawClient.connect(t.path);
  await bad.write(req({ cmd: Cmd.Bind, port: 5 }));
  assertEquals(await expectReply(bad), { cmd: Cmd.BindOK, port: 5 });
  await bad.write(fromHex("00100001 06 00000001")); // 1 MiB + 1
  assertEquals(await bad.next(), null);
  await t.handler.waitGone(1);
  assertEquals(t.handler.gone[0].ports, [5]);
  await good.write(req({ cmd: Cmd.Bind, port: 5 })); // released by clientGone
  assertEquals(await expectReply(good), { cmd: Cmd.BindOK, port: 5 });
  good.close();
  bad.close();
});

Deno.test("random garbage affects only the client that sent it", async () => {
  await using t = await startServer();
  const good = await RawClient.connect(t.path);
  for (let round = 0; round < 20; round++) {
    const bad = await RawClient.connect(t.path);
    const junk = crypto.getRandomValues(new Uint8Array(64 + round * 37));
    await settleQuietly(bad.write(junk), "expected in test");
    bad.close();
    await good.write(req({ cmd: Cmd.Health }));
    assertEquals((await expectReply(good)).cmd, Cmd.HealthOK);
  }
  await t.handler.waitGone(20);
  good.close();
});

Deno.test("a client vanishing mid-transfer triggers clientGone with its ports and conns", async () => {
  await using t = await startServer();
  const server = await RawClient.connect(t.path);
  const client = await RawClient.connect(t.path);
  await server.write(req({ cmd: Cmd.Bind, port: 1000 }));
  assertEquals(await expectReply(server), { cmd: Cmd.BindOK, port: 1000 });
  await client.write(req({ cmd: Cmd.Dial, addr: LOOPBACK_ADDRESS, port: 1000 }));
  const dialOK = await expectReply(client);
  assert(dialOK.cmd === Cmd.DialOK);
  const accept = await expectReply(server);
  assert(accept.cmd === Cmd.Accept);
  assertEquals([accept.localPort, accept.remote.toString()], [1000, LOOPBACK_ADDRESS.toString()]);
  // Half of a 64 KiB Send, then the client disappears.
  const frame = req({ cmd: Cmd.Send, connId: dialOK.connId, data: new Uint8Array(65536) });
  await client.write(frame.subarray(0, 30000));
  client.close();
  await t.handler.waitGone(1);
  assertEquals(t.handler.gone[0], { id: t.handler.gone[0].id, ports: [], conns: [dialOK.connId] });
  // The peer saw the connection end.
  assertEquals(await expectReply(server), { cmd: Cmd.CloseOK, connId: accept.connId });
  server.close();
  await t.handler.waitGone(2);
  assertEquals(t.handler.gone[1].ports, [1000]);
});

Deno.test("pushes are not held back by a request that is still running", async () => {
  await using t = await startServer();
  t.handler.slowDialMs = 300;
  const a = await RawClient.connect(t.path);
  const b = await RawClient.connect(t.path);
  await a.write(req({ cmd: Cmd.Bind, port: 80 }));
  assertEquals(await expectReply(a), { cmd: Cmd.BindOK, port: 80 });
  await b.write(req({ cmd: Cmd.Dial, addr: LOOPBACK_ADDRESS, port: 80 }));
  const dialOK = await expectReply(b);
  assert(dialOK.cmd === Cmd.DialOK);
  const accept = await expectReply(a);
  assert(accept.cmd === Cmd.Accept);
  // a starts a slow dial (blocks its request queue), then b sends it data: the Recv arrives first.
  await a.write(req({ cmd: Cmd.Dial, addr: new Address(0, SLOW_NODE), port: 80 }));
  await b.write(req({ cmd: Cmd.Send, connId: dialOK.connId, data: utf8("early") }));
  assertEquals(await expectReply(a), { cmd: Cmd.Recv, connId: accept.connId, data: utf8("early") });
  assertEquals((await expectReply(a)).cmd, Cmd.Accept); // the slow dial's own loopback Accept
  assertEquals((await expectReply(a)).cmd, Cmd.DialOK);
  a.close();
  b.close();
});

Deno.test("a client hanging up aborts its running request", async () => {
  await using t = await startServer();
  const c = await RawClient.connect(t.path);
  await c.write(req({ cmd: Cmd.Dial, addr: new Address(0, SLOW_NODE), port: 80 }));
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  c.close();
  await t.handler.waitGone(1);
  assert(Date.now() - started < 1000, "the slow dial was not abandoned");
});

Deno.test("outbound backpressure: pushRecv waits while the client does not read, hard limit drops it", async () => {
  let client: IpcClient | null = null;
  const handler: IpcHandler = {
    bind: (c) => {
      client = c;
    },
  };
  await using t = await startServer(handler, { outboundHighWater: 64 * 1024, outboundHardLimit: 4 << 20 });
  const raw = await RawClient.connect(t.path);
  await raw.write(req({ cmd: Cmd.Bind, port: 1 }));
  assertEquals(await expectReply(raw), { cmd: Cmd.BindOK, port: 1 });
  const c = client as IpcClient | null;
  assert(c !== null);
  // Awaiting producer: stalls once kernel buffers and the 64 KiB mark are full.
  let pushed = 0;
  const producer = (async () => {
    while (pushed < 64 << 20 && await c.pushRecv(1, new Uint8Array(16 * 1024))) pushed += 16 * 1024;
  })();
  // Wait until the producer stalls (kernel buffers full), then check it stays stalled.
  let stalledAt = -1;
  for (let i = 0; i < 20 && stalledAt !== pushed; i++) {
    stalledAt = pushed;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 200));
  assertEquals(pushed, stalledAt, "producer kept going while the client was not reading");
  assert(stalledAt < 16 << 20, `producer got ${stalledAt} bytes out`);
  // A producer ignoring backpressure crosses the hard limit: the client is dropped.
  for (let i = 0; i < 400 && !c.closed; i++) void c.pushRecv(1, new Uint8Array(16 * 1024));
  assert(c.closed);
  await producer;
  raw.close();
});

Deno.test("shutdown disconnects clients, aborts their requests and calls clientGone", async () => {
  const t = await startServer();
  const a = await RawClient.connect(t.path);
  await a.write(req({ cmd: Cmd.Dial, addr: new Address(0, SLOW_NODE), port: 80 }));
  await new Promise((r) => setTimeout(r, 50));
  await t[Symbol.asyncDispose]();
  assertEquals(await a.next(), null);
  assertEquals(t.handler.gone.length, 1);
  assertEquals(t.server.clients.size, 0);
  a.close();
});

Deno.test("encodeFrame of an unknown command is answered, not fatal", async () => {
  await using t = await startServer();
  const c = await RawClient.connect(t.path);
  await c.write(encodeFrame(0x02, fromHex("0050")));
  assertEquals(await expectReply(c), { cmd: Cmd.Error, code: 1, message: "unknown command: 0x02" });
  c.close();
});

Deno.test("dialAnnounced runs once DialOK is queued, so a push it makes follows the reply", async () => {
  const announced: number[] = [];
  const handler: IpcHandler = {
    dial: (_c, addr) => {
      if (addr.node === SLOW_NODE) throw new PilotError("connection refused");
      return 7;
    },
    dialAnnounced: (c, connId) => {
      announced.push(connId);
      void c.pushRecv(connId, utf8("waiting"));
    },
  };
  await using t = await startServer(handler);
  const c = await RawClient.connect(t.path);
  await c.write(req({ cmd: Cmd.Dial, addr: new Address(0, SLOW_NODE), port: 80 }));
  assertEquals(await expectReply(c), { cmd: Cmd.Error, code: 1, message: "connection refused" });
  await c.write(req({ cmd: Cmd.Dial, addr: LOOPBACK_ADDRESS, port: 80 }));
  assertEquals(await expectReply(c), { cmd: Cmd.DialOK, connId: 7 });
  assertEquals(await expectReply(c), { cmd: Cmd.Recv, connId: 7, data: utf8("waiting") });
  assertEquals(announced, [7]);
  c.close();
});
