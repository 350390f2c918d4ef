/**
 * The agent services end to end between real daemons: a registry and `pilot daemon`
 * subprocesses on loopback (public, so the trust gate stays out of the way), driven through
 * the SDK service clients. Covers data exchange (messages, files, refusals, oversized frames),
 * the event stream, the port-443 secure channel with mutual authentication, standard I/O, the
 * webhooks these services emit, and --no-dataexchange / --no-eventstream.
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { WebhookReceiver } from "../helpers/webhook_receiver.ts";
import { connect, DaemonError, type PilotClient } from "../../lib/sdk/mod.ts";
import { loadIdentityFile } from "../../lib/crypto/identity.ts";
import {
  DataExchangeClient,
  dialSecure,
  EventSubscription,
  exchangeMessage,
  FrameType,
  listenStdio,
  publishEvent,
  receiveMessage,
  SecureAuthError,
  type SecureChannel,
  SecureListener,
  sendFile,
  sendMessage,
} from "../../lib/sdk/services/mod.ts";
import { encodeFileFrame, MAX_PAYLOAD_LENGTH } from "../../lib/services/dataexchange/codec.ts";
import { readFrame } from "../../lib/sdk/services/dataexchange.ts";
import { StreamReader } from "../../lib/services/stream_reader.ts";
import { Mailbox } from "../../lib/services/dataexchange/mailbox.ts";
import { closeQuietly } from "../../lib/errors.ts";

const PUBLIC = ["--public"];
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function identityOf(d: TestDaemon) {
  const id = await loadIdentityFile(join(d.stateDir, "identity.json"));
  return { nodeId: d.nodeId, seed: id.seed, publicKey: id.publicKey };
}

Deno.test({
  name: "services between two daemons: data exchange, event stream, secure channel, stdio, webhooks",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const net = await TestNetwork.start();
    const hooks = WebhookReceiver.start();
    const clients: PilotClient[] = [];
    try {
      const a = await net.addDaemon("a", PUBLIC);
      const b = await net.addDaemon("b", [...PUBLIC, "--webhook", hooks.url]);
      const ca = await connect(a.socket, { timeoutMs: 5_000 });
      const cb = await connect(b.socket, { timeoutMs: 5_000 });
      clients.push(ca, cb);
      const inboxB = new Mailbox(b.stateDir);

      await t.step("data exchange: text, JSON, binary and a file are stored and acknowledged", async () => {
        assertEquals(
          (await sendMessage(ca, b.address, "hello b", { timeoutMs: 20_000 })).text,
          "ACK TEXT 7 bytes",
        );
        const session = await DataExchangeClient.dial(ca, b.address, { timeoutMs: 20_000 });
        assertEquals((await session.sendJson({ n: 1 })).text, "ACK JSON 7 bytes");
        assertEquals((await session.sendBinary(new Uint8Array([0, 255]))).text, "ACK BINARY 2 bytes");
        const body = new Uint8Array(100_000).map((_, i) => i * 7);
        assertEquals((await session.sendFile("report.bin", body)).text, "ACK FILE 100000 bytes");
        await session.close();
        const messages = await inboxB.listMessages();
        assertEquals(messages.map((m) => m.type).sort(), ["BINARY", "JSON", "TEXT"]);
        const text = messages.find((m) => m.type === "TEXT")!;
        assertEquals(text.data, "hello b");
        assertEquals(text.from, a.address);
        const files = await inboxB.listFiles();
        assertEquals(files.length, 1);
        assert(/^report-\d{8}-\d{6}\.\d{3}\.bin$/.test(files[0].name), files[0].name);
        assertEquals(await Deno.readFile(files[0].path), body);
        const hooked = await hooks.waitFor((ev) =>
          ev.filter((e) => e.event === "message.received").length >= 3 &&
          ev.some((e) => e.event === "file.received")
        );
        const file = hooked.find((e) => e.event === "file.received")!.data as Record<string, unknown>;
        assertEquals(file, { filename: "report.bin", size: 100_000, path: files[0].path });
        const msg = hooked.find((e) => e.event === "message.received")!.data as Record<string, unknown>;
        assertEquals(msg.from, a.address);
      });

      await t.step(
        "data exchange: hostile file names are refused and nothing lands outside received/",
        async () => {
          const conn = await ca.dial(b.address, 1001, { timeoutMs: 20_000 });
          const reader = new StreamReader(conn);
          for (const name of ["../../x", "/tmp/evil", "a\0b", "..", "sub/dir.txt"]) {
            await conn.write(encodeFileFrame(enc(name), enc("pwned")));
            const reply = await readFrame(reader, { timeoutMs: 10_000 });
            assert(reply);
            assert(dec(reply.payload).startsWith("ERR FILE save failed:"), dec(reply.payload));
          }
          await conn.close();
          assertEquals((await inboxB.listFiles()).length, 1);
          for await (const e of Deno.readDir(net.dir)) assert(e.name !== "x" && e.name !== "evil", e.name);
          for await (const e of Deno.readDir(b.stateDir)) assert(e.name !== "x", e.name);
          await Deno.stat("/tmp/evil").then(() => assert(false, "/tmp/evil was written"), () => {});
        },
      );

      await t.step(
        "data exchange: an oversized frame is refused without harming another connection",
        async () => {
          const good = await DataExchangeClient.dial(ca, b.address, { timeoutMs: 20_000 });
          assertEquals((await good.sendText("before")).ok, true);
          const bad = await ca.dial(b.address, 1001, { timeoutMs: 20_000 });
          const header = new Uint8Array(8);
          new DataView(header.buffer).setUint32(0, FrameType.Binary);
          new DataView(header.buffer).setUint32(4, MAX_PAYLOAD_LENGTH + 1);
          await bad.write(header);
          const reader = new StreamReader(bad);
          const reply = await readFrame(reader, { timeoutMs: 10_000 });
          assert(reply && dec(reply.payload).startsWith("ERR BINARY save failed: frame of 16777217 bytes"));
          assertEquals(await bad.read({ timeoutMs: 10_000 }), null); // closed by the receiver
          await bad.close();
          assertEquals((await good.sendText("after")).text, "ACK TEXT 5 bytes");
          await good.close();
        },
      );

      await t.step(
        "event stream: exact topic and wildcard subscribers get a publish, the publisher does not",
        async () => {
          const news = await EventSubscription.open(ca, b.address, "news", { timeoutMs: 20_000 });
          const all = await EventSubscription.open(cb, b.address, "*", { timeoutMs: 20_000 });
          // No acknowledgement exists for a subscription: publish until both have one.
          const got = Promise.all([news.next({ timeoutMs: 20_000 }), all.next({ timeoutMs: 20_000 })]);
          let done = false;
          got.finally(() => done = true);
          while (!done) {
            await publishEvent(ca, b.address, "news", "breaking", { timeoutMs: 20_000 });
            await Promise.race([got, new Promise((r) => setTimeout(r, 300))]);
          }
          const [n, w] = await got;
          assertEquals(n?.topic, "news");
          assertEquals(dec(n!.payload), "breaking");
          assertEquals(w?.topic, "news");
          // Publishing on the subscriber's own connection reaches the wildcard one only.
          await news.publish("news", "self");
          let w2 = await all.next({ timeoutMs: 10_000 });
          while (w2 && dec(w2.payload) === "breaking") w2 = await all.next({ timeoutMs: 10_000 });
          assertEquals(dec(w2!.payload), "self");
          await news.close();
          await all.close();
          const ev = await hooks.waitFor((e) =>
            e.some((x) => x.event === "pubsub.published") && e.some((x) => x.event === "pubsub.unsubscribed")
          );
          const sub = ev.find((x) => x.event === "pubsub.subscribed")!.data as Record<string, unknown>;
          assert(/^0:0000\.[0-9A-F]{4}\.[0-9A-F]{4}:\d+$/.test(String(sub.remote)), String(sub.remote));
        },
      );

      await t.step("secure channel on 443 with mutual authentication, data both ways", async () => {
        const ida = await identityOf(a);
        const idb = await identityOf(b);
        const keys = new Map([[a.nodeId, ida.publicKey], [b.nodeId, idb.publicKey]]);
        const lookup = (node: number) => keys.get(node);
        const listener = await SecureListener.open(cb, {
          auth: { identity: { nodeId: b.nodeId, seed: idb.seed }, lookup },
        });
        const accepted = listener.accept({ timeoutMs: 30_000 });
        const channel = await dialSecure(ca, b.address, {
          auth: { identity: { nodeId: a.nodeId, seed: ida.seed }, lookup },
          dialTimeoutMs: 20_000,
        });
        const server: SecureChannel = await accepted;
        assertEquals(channel.peerNodeId, b.nodeId);
        assertEquals(server.peerNodeId, a.nodeId);
        await channel.write(enc("over 443"));
        assertEquals(dec((await server.read({ timeoutMs: 10_000 }))!), "over 443");
        const big = new Uint8Array(300_000).map((_, i) => i);
        const writer = server.writable.getWriter();
        await writer.write(big);
        writer.releaseLock();
        let got = 0;
        const reader = channel.readable.getReader();
        while (got < big.length) got += (await reader.read()).value!.length;
        reader.releaseLock();
        assertEquals(got, big.length);
        await channel.close();
        assertEquals(await server.read({ timeoutMs: 10_000 }), null);

        // A dialer that expects another node is refused, and so is an impostor.
        const failures = listener.handshakeFailures;
        await assertRejects(
          () =>
            dialSecure(ca, b.address, {
              auth: { identity: { nodeId: a.nodeId, seed: ida.seed }, lookup, expectedNodeId: 424242 },
              dialTimeoutMs: 20_000,
            }),
          SecureAuthError,
        );
        const impostor = crypto.getRandomValues(new Uint8Array(32));
        await dialSecure(ca, b.address, {
          auth: { identity: { nodeId: a.nodeId, seed: impostor }, lookup },
          dialTimeoutMs: 20_000,
        }).then((c) => c.close(), () => {});
        for (let i = 0; i < 50 && listener.handshakeFailures < failures + 2; i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assertEquals(listener.handshakeFailures, failures + 2);
        listener.close();
      });

      await t.step("standard I/O on 1000: one message, one reply", async () => {
        const listener = await listenStdio(cb);
        const served = (async () => {
          const conn = await listener.accept({ timeoutMs: 30_000 });
          const msg = await conn.read({ timeoutMs: 10_000 });
          await conn.write(enc(`echo:${dec(msg!)}`));
          await conn.close();
        })();
        const reply = await exchangeMessage(ca, b.address, enc("ping"), { timeoutMs: 20_000 });
        await served;
        assertEquals(dec(reply), "echo:ping");
        // And the other way round: receive one message on a custom port.
        const l2 = await listenStdio(ca, { port: 4100 });
        const received = receiveMessage(l2, { timeoutMs: 30_000 });
        const conn = await cb.dial(a.address, 4100, { timeoutMs: 20_000 });
        await conn.write(enc("raw bytes"));
        const m = await received;
        assertEquals(dec(m.data), "raw bytes");
        assertEquals(m.remoteAddr.toString(), b.address);
        await conn.close();
        listener.close();
        l2.close();
      });

      await t.step("--no-dataexchange and --no-eventstream leave ports 1001 and 1002 closed", async () => {
        const c = await net.addDaemon("c", [...PUBLIC, "--no-dataexchange", "--no-eventstream"]);
        await assertRejects(
          () => sendFile(ca, c.address, "x.txt", enc("x"), { timeoutMs: 20_000 }),
          DaemonError,
        );
        await assertRejects(
          () => EventSubscription.open(ca, c.address, "t", { timeoutMs: 20_000 }),
          DaemonError,
        );
        // Echo still answers there.
        assertEquals(
          dec(await exchangeMessage(ca, c.address, enc("up?"), { port: 7, timeoutMs: 20_000 })),
          "up?",
        );
      });
    } finally {
      for (const c of clients) await closeQuietly(c);
      await hooks.close();
      await net.close();
    }
  },
});
