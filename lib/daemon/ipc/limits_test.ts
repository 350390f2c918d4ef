import { assert, assertEquals, assertRejects, assertThrows } from "../../../tests/assert.ts";
import { concatBytes } from "../../bytes.ts";
import { Cmd, encodeFrame, encodeRequest, type IpcReply } from "../../ipc/codec.ts";
import { FrameProgress } from "./frame_progress.ts";
import { INBOUND_ALLOWANCE, limitsFromEnv, resolveLimits } from "./limits.ts";
import { RawClient, startServer } from "./testing/harness.ts";
import { LOOPBACK_ADDRESS, LoopbackHandler } from "./testing/loopback_handler.ts";
import type { HealthReply } from "../../ipc/replies.ts";
import type { IpcClient, IpcHandler } from "./server.ts";
import { until } from "../../../tests/helpers/wait.ts";
import { ignoreRejection, settleQuietly } from "../../errors.ts";

async function expectReply(c: RawClient): Promise<IpcReply> {
  const r = await c.next();
  assert(r !== null, "expected a reply, got EOF");
  return r;
}

Deno.test("FrameProgress follows frame boundaries across any chunking", () => {
  const stream = concatBytes(
    encodeFrame(Cmd.Info),
    new Uint8Array(4), // a length-0 frame
    encodeFrame(Cmd.Bind, new Uint8Array([0, 7])),
  );
  for (let cut = 1; cut < stream.length; cut++) {
    const p = new FrameProgress();
    p.feed(stream.subarray(0, cut));
    p.feed(stream.subarray(cut));
    assertEquals(p.midFrame, false, `cut at ${cut}`);
  }
  const p = new FrameProgress();
  assertEquals(p.feed(stream.subarray(0, 2)), true, "a frame started and is unfinished");
  assertEquals(p.feed(stream.subarray(2, 4)), false, "still the same frame");
  assertEquals(p.midFrame, true);
  // The rest of the first frame, the empty frame and the start of the third: a new frame started.
  assertEquals(p.feed(stream.subarray(4, 11)), true);
  assertEquals(p.feed(stream.subarray(11)), false);
  assertEquals(p.midFrame, false);
});

Deno.test("limits: defaults, validation, and overrides from the environment", () => {
  const env: Record<string, string> = { PILOT_IPC_FRAME_DEADLINE_MS: "2500", PILOT_IPC_MAX_CLIENTS: "3" };
  const limits = resolveLimits(limitsFromEnv((name) => env[name]));
  assertEquals(limits.frameDeadlineMs, 2500);
  assertEquals(limits.maxClients, 3);
  assertThrows(() => limitsFromEnv(() => "ten"), RangeError, /PILOT_IPC_\w+ must be a positive integer/);
  assertThrows(() => resolveLimits({ maxClients: 0 }), RangeError, /maxClients/);
  assertThrows(() => resolveLimits({ outboundHighWater: 2048, outboundHardLimit: 1024 }), RangeError);
});

Deno.test("a frame not finished within the deadline drops the client; whole frames keep it", async () => {
  await using t = await startServer(undefined, { frameDeadlineMs: 200 });
  const slow = await RawClient.connect(t.path);
  const fine = await RawClient.connect(t.path);
  const info = encodeRequest({ cmd: Cmd.Info });
  await slow.write(info.subarray(0, 3));
  await fine.write(info);
  assertEquals((await expectReply(fine)).cmd, Cmd.InfoOK);
  assertEquals(await slow.next(2000), null, "the half-frame client was closed");
  // A frame finished in several pieces within the deadline is fine.
  await fine.write(info.subarray(0, 2));
  await new Promise((r) => setTimeout(r, 100));
  await fine.write(info.subarray(2));
  assertEquals((await expectReply(fine)).cmd, Cmd.InfoOK);
  await new Promise((r) => setTimeout(r, 300));
  await fine.write(info);
  assertEquals((await expectReply(fine)).cmd, Cmd.InfoOK, "an idle client between frames is not dropped");
  assertEquals(t.server.stats().events.frame_deadline, 1);
  slow.close();
  fine.close();
});

Deno.test("the shared input pool holds back clients beyond their allowance until a holder goes", async () => {
  const pool = INBOUND_ALLOWANCE; // room for one more allowance's worth, shared
  await using t = await startServer(undefined, { frameDeadlineMs: 300, inboundPool: pool });
  const holder = await RawClient.connect(t.path);
  // A frame header announcing 1 MiB, then more than allowance + pool of its body: the rest stays unread.
  const head = new Uint8Array(5);
  new DataView(head.buffer).setUint32(0, 1 << 20);
  head[4] = Cmd.Info;
  await holder.write(head);
  ignoreRejection(holder.write(new Uint8Array(4 * INBOUND_ALLOWANCE)), "expected in test");
  await new Promise((r) => setTimeout(r, 100));
  const held = t.server.stats().inboundPoolBytes;
  assert(held > 0 && held <= pool, `the holder draws on the pool but never past its size (${held})`);
  // Small requests from other clients still go through within their own allowance.
  const other = await RawClient.connect(t.path);
  await other.write(encodeRequest({ cmd: Cmd.Info }));
  assertEquals((await expectReply(other)).cmd, Cmd.InfoOK);
  assertEquals(await holder.next(2000), null, "the holder is dropped at its deadline");
  await new Promise((r) => setTimeout(r, 50));
  assertEquals(t.server.stats().inboundPoolBytes, 0, "its share went back to the pool");
  holder.close();
  other.close();
});

Deno.test("datagrams go to the client bound to the port, else to datagram users and clients that bound nothing", async () => {
  await using t = await startServer();
  const bound = await RawClient.connect(t.path);
  const user = await RawClient.connect(t.path);
  const listener = await RawClient.connect(t.path); // the reference's `pilotctl listen`: no Bind, filters itself
  await bound.write(encodeRequest({ cmd: Cmd.Bind, port: 6000 }));
  assertEquals((await expectReply(bound)).cmd, Cmd.BindOK);
  // The user sends a datagram to a port nobody bound; it receives it back (loopback) as a datagram user.
  await user.write(
    encodeRequest({ cmd: Cmd.SendTo, addr: LOOPBACK_ADDRESS, port: 7000, data: new Uint8Array([1]) }),
  );
  assertEquals(t.server.deliverRecvFrom(LOOPBACK_ADDRESS, 50000, 6000, new Uint8Array([6])), 1);
  const toBound = await expectReply(bound);
  assert(toBound.cmd === Cmd.RecvFrom && toBound.dstPort === 6000);
  // Drain what the loopback handler broadcast for the SendTo itself.
  const echoed = await expectReply(user);
  assert(echoed.cmd === Cmd.RecvFrom && echoed.dstPort === 7000);
  await settleQuietly(bound.next(200), "expected in test");
  await settleQuietly(listener.next(200), "expected in test");
  // A port nobody bound: the datagram user and the client that bound nothing, not the binder of 6000.
  assertEquals(t.server.deliverRecvFrom(LOOPBACK_ADDRESS, 50000, 6001, new Uint8Array([7])), 2);
  const toUser = await expectReply(user);
  assert(toUser.cmd === Cmd.RecvFrom && toUser.dstPort === 6001);
  const toListener = await expectReply(listener);
  assert(toListener.cmd === Cmd.RecvFrom && toListener.dstPort === 6001);
  await assertRejects(() => bound.next(200), Error, /no frame/);
  // Once the binder goes, its port is nobody's: datagrams to it go to the user and the listener.
  bound.close();
  await new Promise((r) => setTimeout(r, 100));
  assertEquals(t.server.deliverRecvFrom(LOOPBACK_ADDRESS, 50000, 6000, new Uint8Array([8])), 2);
  assertEquals((await expectReply(user)).cmd, Cmd.RecvFrom);
  assertEquals((await expectReply(listener)).cmd, Cmd.RecvFrom);
  user.close();
  listener.close();
  // Five routed here, plus the loopback handler's reference-style broadcast of the SendTo to all three.
  assertEquals(t.server.stats().datagrams.delivered, 5 + 3);
});

Deno.test("a client that bound nothing and reads nothing holds at most its small allowance of datagrams", async () => {
  await using t = await startServer();
  const idle = await RawClient.connect(t.path);
  await new Promise((r) => setTimeout(r, 50));
  const payload = new Uint8Array(8 * 1024);
  let queued = 0;
  for (let i = 0; i < 2_000; i++) queued += t.server.deliverRecvFrom(LOOPBACK_ADDRESS, 50000, 6001, payload);
  // The kernel's socket buffer takes some; beyond it the queue stops near UNBOUND_DATAGRAM_QUEUE_LIMIT.
  assert(queued < 2_000, `all ${queued} datagrams were queued for a client that never reads`);
  assert(t.server.stats().datagrams.dropped_busy > 0, "the skipped datagrams are counted");
  idle.close();
});

Deno.test("the client cap refuses extra clients with an Error frame and counts them", async () => {
  await using t = await startServer(undefined, { maxClients: 2 });
  const a = await RawClient.connect(t.path);
  const b = await RawClient.connect(t.path);
  await a.write(encodeRequest({ cmd: Cmd.Info }));
  assertEquals((await expectReply(a)).cmd, Cmd.InfoOK);
  const refused = await RawClient.connect(t.path);
  const reply = await expectReply(refused);
  assert(
    reply.cmd === Cmd.Error && /too many IPC clients \(limit 2\)/.test(reply.message),
    JSON.stringify(reply),
  );
  assertEquals(await refused.next(), null);
  assertEquals(t.server.stats().events.client_refused, 1);
  // A slot freed is a slot usable again.
  a.close();
  await new Promise((r) => setTimeout(r, 100));
  const c = await RawClient.connect(t.path);
  await c.write(encodeRequest({ cmd: Cmd.Info }));
  assertEquals((await expectReply(c)).cmd, Cmd.InfoOK);
  for (const x of [b, c, refused]) x.close();
});

Deno.test("a client that reads nothing while its output is over the high-water mark is dropped after the stall limit", async () => {
  let client: IpcClient | null = null;
  const handler: IpcHandler = {
    bind: (c) => {
      client = c;
    },
  };
  await using t = await startServer(handler, { outboundHighWater: 64 * 1024, outboundStallMs: 300 });
  const raw = await RawClient.connect(t.path);
  await raw.write(encodeRequest({ cmd: Cmd.Bind, port: 1 }));
  assertEquals((await expectReply(raw)).cmd, Cmd.BindOK);
  const c = client as IpcClient | null;
  assert(c !== null);
  // Fill the kernel buffers and the queue past the mark; nobody reads.
  const producer = (async () => {
    while (await c.pushRecv(1, new Uint8Array(16 * 1024))) { /* until it stalls or the client goes */ }
  })();
  const started = Date.now();
  await until("the stalled client is dropped", () => c.closed, 3000, 20);
  const waited = Date.now() - started;
  assert(waited >= 250, `dropped after ${waited} ms, before the stall limit`);
  await producer;
  assertEquals(t.server.stats().events.outbound_stall, 1);
  raw.close();
});

Deno.test("whole frames queued behind a slow request take at most the rest of one frame from the shared pool, and all are answered", async () => {
  const loopback = new LoopbackHandler();
  let first = true;
  const handler: IpcHandler = {
    health: async (): Promise<HealthReply> => {
      if (first) {
        first = false;
        await new Promise((r) => setTimeout(r, 300));
      }
      return loopback.health();
    },
  };
  await using t = await startServer(handler, { inboundPool: 1 << 20 });
  const c = await RawClient.connect(t.path);
  const count = Math.ceil((3 * INBOUND_ALLOWANCE) / 5); // 5-byte Health frames, three allowances' worth
  const one = encodeRequest({ cmd: Cmd.Health });
  await c.write(concatBytes(...Array.from({ length: count }, () => one)));
  await new Promise((r) => setTimeout(r, 150));
  // Past its allowance the client reads only to the end of the frame it is in: at most one frame's bytes.
  const held = t.server.stats().inboundPoolBytes;
  assert(held < one.length, `complete frames waiting for the loop took ${held} bytes of the pool`);
  for (let i = 0; i < count; i++) assertEquals((await expectReply(c)).cmd, Cmd.HealthOK);
  c.close();
});

Deno.test("clients sending large frames at once each reserve the rest of theirs whole, so none waits on another's partial share", async () => {
  // Room for one 1 MiB frame beyond the allowance: with shares handed out read by read, three such
  // frames arriving together split the pool, each waiting for bytes another holds, until the deadline.
  await using t = await startServer(undefined, { frameDeadlineMs: 3000, inboundPool: 1 << 20 });
  const frame = new Uint8Array(4 + (1 << 20));
  new DataView(frame.buffer).setUint32(0, 1 << 20);
  frame[4] = Cmd.Info; // an Info request with a body it does not take: answered with an Error frame
  const clients = await Promise.all([0, 1, 2].map(() => RawClient.connect(t.path)));
  for (const c of clients) ignoreRejection(c.write(frame), "expected in test");
  for (const [i, c] of clients.entries()) {
    const reply = await c.next(2500);
    assert(reply !== null, `client ${i} was answered, not dropped`);
  }
  assertEquals(t.server.stats().inboundPoolBytes, 0, "every reservation went back");
  for (const c of clients) c.close();
});
