import { assert, assertEquals } from "../assert.ts";
import { Logger } from "../../lib/log.ts";
import { ByteBudget } from "../../lib/services/byte_budget.ts";
import { StreamReader } from "../../lib/services/stream_reader.ts";
import { memoryStreamPair } from "../../lib/services/testing/memory_stream.ts";
import { DataExchangeClient, readFrame } from "../../lib/sdk/services/dataexchange.ts";
import {
  encodeFileFrame,
  encodeFrame,
  FrameType,
  MAX_PAYLOAD_LENGTH,
} from "../../lib/services/dataexchange/codec.ts";
import { Mailbox } from "../../lib/services/dataexchange/mailbox.ts";
import { DataExchangeServer } from "../../lib/services/dataexchange/server.ts";
import { settleQuietly } from "../../lib/errors.ts";

const quiet = new Logger("test", "silent");
const enc = (s: string) => new TextEncoder().encode(s);

async function withServer(
  fn: (ctx: {
    server: DataExchangeServer;
    mailbox: Mailbox;
    events: [string, Record<string, unknown>][];
    open: () => {
      client: DataExchangeClient;
      done: Promise<void>;
      raw: ReturnType<typeof memoryStreamPair>["a"];
    };
  }) => Promise<void>,
  budget?: ByteBudget,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-dx-" });
  const mailbox = new Mailbox(dir);
  const events: [string, Record<string, unknown>][] = [];
  const server = new DataExchangeServer({ mailbox, log: quiet, budget, emit: (e, d) => events.push([e, d]) });
  const pending: Promise<void>[] = [];
  try {
    await fn({
      server,
      mailbox,
      events,
      open: () => {
        const { a, b } = memoryStreamPair({ chunkSize: 1000 });
        const done = server.handle(b);
        pending.push(settleQuietly(done, "reported elsewhere")); // the test awaits `done` itself
        return { client: new DataExchangeClient(a), done, raw: a };
      },
    });
  } finally {
    await Promise.all(pending);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("text, JSON, binary and file frames are stored, acknowledged and reported", async () => {
  await withServer(async ({ open, mailbox, events, server }) => {
    const { client, done } = open();
    assertEquals((await client.sendText("hello")).text, "ACK TEXT 5 bytes");
    assertEquals((await client.sendJson({ a: 1 })).text, "ACK JSON 7 bytes");
    assertEquals((await client.sendBinary(new Uint8Array([1, 2]))).text, "ACK BINARY 2 bytes");
    assertEquals((await client.sendFile("notes.txt", enc("file body"))).text, "ACK FILE 9 bytes");
    assertEquals((await client.send(77, new Uint8Array(3))).text, "ACK UNKNOWN(77) 3 bytes");
    await client.close();
    await done;
    const messages = await mailbox.listMessages();
    assertEquals(messages.map((m) => m.type).sort(), ["BINARY", "JSON", "TEXT"]);
    assertEquals(messages.find((m) => m.type === "TEXT")!.from, "0:0000.0000.0001");
    const files = await mailbox.listFiles();
    assertEquals(files.length, 1);
    assert(/^notes-\d{8}-\d{6}\.\d{3}\.txt$/.test(files[0].name), files[0].name);
    assertEquals(await Deno.readTextFile(files[0].path), "file body");
    assertEquals(events.map(([e]) => e), [
      "message.received",
      "message.received",
      "message.received",
      "file.received",
    ]);
    assertEquals(events[3][1], { filename: "notes.txt", size: 9, path: files[0].path });
    assertEquals(server.stats.frames, 5);
  });
});

Deno.test("malicious file names are refused with ERR and nothing is written", async () => {
  await withServer(async ({ open, mailbox, server }) => {
    const { raw, done } = open();
    const client = new DataExchangeClient(raw);
    for (const name of ["../../x", "/etc/passwd", "a\0b", "..", "..\\..\\x"]) {
      const ack = await client.send(FrameType.File, encodeFileFrame(enc(name), enc("pwned")).subarray(8));
      assertEquals(ack.ok, false, name);
      assert(ack.text.startsWith("ERR FILE save failed: "), ack.text);
    }
    // The connection survives the refusals.
    assertEquals((await client.sendText("still here")).ok, true);
    await client.close();
    await done;
    assertEquals(await mailbox.listFiles(), []);
    assertEquals(server.stats.refused, 5);
  });
});

Deno.test("an oversized header is refused and closes only its own connection", async () => {
  await withServer(async ({ open }) => {
    const good = open();
    const bad = open();
    const header = new Uint8Array(8);
    new DataView(header.buffer).setUint32(0, FrameType.Binary);
    new DataView(header.buffer).setUint32(4, MAX_PAYLOAD_LENGTH + 1);
    await bad.raw.write(header);
    const reply = await readFrame(new StreamReader(bad.raw), { timeoutMs: 2000 });
    assert(reply);
    assert(new TextDecoder().decode(reply.payload).startsWith("ERR BINARY save failed: frame of 16777217"));
    await bad.done;
    assertEquals((await good.client.sendText("unaffected")).text, "ACK TEXT 10 bytes");
    await good.client.close();
  });
});

Deno.test("a frame over the shared memory budget is skipped and refused, the stream stays in sync", async () => {
  await withServer(async ({ open, mailbox }) => {
    const { client } = open();
    const ack = await client.sendBinary(new Uint8Array(2000));
    assertEquals(ack.ok, false);
    assert(ack.text.includes("busy"), ack.text);
    assertEquals((await client.sendText("small")).ok, true);
    await client.close();
    assertEquals((await mailbox.listMessages()).length, 1);
  }, new ByteBudget(1000));
});

Deno.test("nameless FILE data is acknowledged but not stored", async () => {
  await withServer(async ({ open, mailbox }) => {
    const { client } = open();
    const frame = encodeFrame(FrameType.File, new Uint8Array([0, 0, 1, 2, 3]));
    assertEquals((await client.send(FrameType.File, frame.subarray(8))).text, "ACK FILE 3 bytes");
    await client.close();
    assertEquals(await mailbox.listFiles(), []);
  });
});
