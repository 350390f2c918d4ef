/**
 * Chunked file transfer (ours) between the SDK's sender and the data-exchange server over memory
 * streams: a file stored byte-exact and atomically, a cut connection resumed without resending
 * what arrived, tampered partial data caught by the SHA-256 check, a reference-style receiver
 * detected, and the receiver's limits.
 */
import { createHash } from "node:crypto";
import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { maxFileBytesFromEnv } from "../../lib/services/dataexchange/chunked_receiver.ts";
import { Logger } from "../../lib/log.ts";
import { memoryStreamPair } from "../../lib/services/testing/memory_stream.ts";
import {
  ChunkedUnsupportedError,
  DataExchangeClient,
  type FileSource,
} from "../../lib/sdk/services/dataexchange.ts";
import { Mailbox } from "../../lib/services/dataexchange/mailbox.ts";
import {
  DataExchangeServer,
  type DataExchangeServerOptions,
} from "../../lib/services/dataexchange/server.ts";
import { PartialFiles } from "../../lib/services/dataexchange/partial_files.ts";
import { encodeFrame, FrameType } from "../../lib/services/dataexchange/codec.ts";
import { ChunkedFrameType, encodeOffer } from "../../lib/services/dataexchange/chunked_codec.ts";
import { StreamReader } from "../../lib/services/stream_reader.ts";
import { settleQuietly } from "../../lib/errors.ts";
import { StreamIoError } from "../../lib/services/byte_stream_shape.ts";
import { UnsafeFileNameError } from "../../lib/services/dataexchange/filename.ts";

const quiet = new Logger("test", "silent");
/** Over the sender's window, so flow control (the receiver's progress reports) takes part. */
const SIZE = 21 * 1024 * 1024 + 123;

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

function memorySource(data: Uint8Array, cutAt = Infinity, onCut?: () => void): FileSource {
  return {
    size: data.length,
    readAt(offset, into) {
      if (offset >= cutAt) onCut?.();
      const n = Math.min(into.length, data.length - offset);
      into.set(data.subarray(offset, offset + n));
      return Promise.resolve(n);
    },
  };
}

async function withServer(
  fn: (
    ctx: { dir: string; mailbox: Mailbox; open: () => DataExchangeClient; server: DataExchangeServer },
  ) => Promise<void>,
  options: Partial<DataExchangeServerOptions> = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-dxc-" });
  const mailbox = new Mailbox(dir);
  const server = new DataExchangeServer({ mailbox, log: quiet, ...options });
  const pending: Promise<unknown>[] = [];
  try {
    await fn({
      dir,
      mailbox,
      server,
      open: () => {
        const { a, b } = memoryStreamPair({ chunkSize: 64 * 1024 });
        pending.push(settleQuietly(server.handle(b), "reported elsewhere"));
        return new DataExchangeClient(a);
      },
    });
  } finally {
    await Promise.all(pending);
    await Deno.remove(dir, { recursive: true });
  }
}

const data = Uint8Array.from({ length: SIZE }, (_, i) => (i * 2654435761) >>> 24);

Deno.test("a chunked file is stored byte-exact under the reference's name pattern; no partial is left", async () => {
  await withServer(async ({ open, mailbox, dir, server }) => {
    const client = open();
    const r = await client.sendFileChunked("big.bin", memorySource(data), sha256(data));
    await client.close();
    assertEquals(r.ack.text, `ACK FILE ${SIZE} bytes`);
    assertEquals([r.resumedFrom, r.sentBytes], [0, SIZE]);
    const files = await mailbox.listFiles();
    assertEquals(files.length, 1);
    assert(/^big-\d{8}-\d{6}\.\d{3}\.bin$/.test(files[0].name), files[0].name);
    assertEquals(sha256(await Deno.readFile(files[0].path)), sha256(data));
    assertEquals((await Deno.stat(files[0].path)).mode! & 0o777, 0o600);
    assertEquals([...Deno.readDirSync(`${dir}/partial`)].length, 0);
    assertEquals(server.stats.files, 1);
  });
});

Deno.test("a cut transfer resumes where the receiver stands and sends only the rest", async () => {
  await withServer(async ({ open, mailbox, dir }) => {
    const first = open();
    const half = Math.floor(SIZE / 2);
    await assertRejects(
      () =>
        first.sendFileChunked("big.bin", memorySource(data, half, () => void first.close()), sha256(data)),
      StreamIoError,
    );
    // The server writes what was queued before the cut, notices the end and keeps the partial file.
    const partialSize = () => {
      let size = 0;
      for (const e of Deno.readDirSync(`${dir}/partial`)) {
        size += Deno.statSync(`${dir}/partial/${e.name}`).size;
      }
      return size;
    };
    let partial = -1;
    for (let seen = partialSize(); seen !== partial; seen = partialSize()) {
      partial = seen;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert(partial >= half && partial < SIZE, `partial ${partial}`);
    const second = open();
    const r = await second.sendFileChunked("big.bin", memorySource(data), sha256(data));
    await second.close();
    assertEquals(r.ack.ok, true, r.ack.text);
    assertEquals(r.resumedFrom, partial);
    assertEquals(r.sentBytes, SIZE - partial);
    const files = await mailbox.listFiles();
    assertEquals(sha256(await Deno.readFile(files[0].path)), sha256(data));
  });
});

Deno.test("tampered partial data fails the SHA-256 check, is discarded, and a fresh send succeeds", async () => {
  await withServer(async ({ open, mailbox, dir }) => {
    const first = open();
    await assertRejects(
      () =>
        first.sendFileChunked("big.bin", memorySource(data, 2 << 20, () => void first.close()), sha256(data)),
      StreamIoError,
    );
    await new Promise((r) => setTimeout(r, 100));
    const [entry] = [...Deno.readDirSync(`${dir}/partial`)];
    const path = `${dir}/partial/${entry.name}`;
    const bytes = await Deno.readFile(path);
    bytes[1000] ^= 0xff;
    await Deno.writeFile(path, bytes);
    const second = open();
    const bad = await second.sendFileChunked("big.bin", memorySource(data), sha256(data));
    assertEquals(bad.ack.ok, false);
    assert(bad.ack.text.startsWith("ERR FILE save failed: SHA-256 mismatch"), bad.ack.text);
    assert(bad.resumedFrom > 0);
    assertEquals((await mailbox.listFiles()).length, 0);
    assertEquals([...Deno.readDirSync(`${dir}/partial`)].length, 0);
    // The same connection stays usable: the fresh attempt starts at zero and succeeds.
    const good = await second.sendFileChunked("big.bin", memorySource(data), sha256(data));
    await second.close();
    assertEquals([good.ack.ok, good.resumedFrom], [true, 0]);
    assertEquals(sha256(await Deno.readFile((await mailbox.listFiles())[0].path)), sha256(data));
  });
});

Deno.test("a wrong digest, a size over the limit and too little disk space are refused clearly", async () => {
  await withServer(async ({ open, mailbox }) => {
    const client = open();
    const wrong = await client.sendFileChunked("a.bin", memorySource(data), new Uint8Array(32));
    assertEquals(wrong.ack.ok, false);
    assert(wrong.ack.text.includes("SHA-256 mismatch"), wrong.ack.text);
    const over = await client.sendFileChunked(
      "a.bin",
      memorySource(new Uint8Array(SIZE + 1)),
      new Uint8Array(32),
    );
    assertEquals(
      over.ack.text,
      `ERR FILE save failed: file of ${SIZE + 1} bytes exceeds the receiver's limit of ${SIZE}`,
    );
    await client.close();
    assertEquals((await mailbox.listFiles()).length, 0);
  }, { maxFileBytes: SIZE });
  await withServer(async ({ open }) => {
    const client = open();
    const full = await client.sendFileChunked("a.bin", memorySource(data), sha256(data));
    await client.close();
    assertEquals(full.ack.text, "ERR FILE save failed: not enough disk space");
  }, { freeBytes: () => Promise.resolve(SIZE) });
});

Deno.test("disk space promised to a running transfer is not offered again", async () => {
  const reserve = 64 << 20;
  await withServer(async ({ open, server }) => {
    const { a, b } = memoryStreamPair();
    const first = server.handle(b);
    // The first transfer is accepted and then idles after its offer.
    const offer = encodeOffer({
      size: SIZE,
      sha256: sha256(data),
      nameBytes: new TextEncoder().encode("one.bin"),
    });
    await a.write(encodeFrame(ChunkedFrameType.Offer, offer));
    const reader = new StreamReader(a);
    const head = await reader.readExact(8);
    assertEquals(new DataView(head.buffer).getUint32(0), ChunkedFrameType.Resume);
    await reader.readExact(8);
    const second = open();
    const refused = await second.sendFileChunked("two.bin", memorySource(data), sha256(data));
    assertEquals(refused.ack.text, "ERR FILE save failed: not enough disk space");
    await a.close();
    await first;
    // With the first one gone, the same offer fits.
    const ok = await second.sendFileChunked("two.bin", memorySource(data), sha256(data));
    await second.close();
    assertEquals(ok.ack.ok, true, ok.ack.text);
  }, { freeBytes: () => Promise.resolve(reserve + SIZE + SIZE / 2) });
});

Deno.test("an unsafe name is refused before any chunk; stray chunk frames are refused", async () => {
  await withServer(async ({ open }) => {
    const { a, b } = memoryStreamPair();
    const server = new DataExchangeServer({ mailbox: new Mailbox(await Deno.makeTempDir()), log: quiet });
    const done = server.handle(b);
    const reader = new StreamReader(a);
    await a.write(encodeFrame(0x5046_0003, new Uint8Array(9)));
    const head = await reader.readExact(8);
    const text = new TextDecoder().decode(await reader.readExact(new DataView(head.buffer).getUint32(4)));
    assertEquals(text, "ERR FILE save failed: no file transfer in progress");
    await a.close();
    await done;
    const client = open();
    await assertRejects(
      () => client.sendFileChunked("../x", memorySource(data), sha256(data)),
      UnsafeFileNameError,
    );
    await client.close();
  });
});

Deno.test("a receiver that does not know the offer (the reference) is detected", async () => {
  const { a, b } = memoryStreamPair();
  // What a reference receiver does with an unknown frame type: acknowledge it as UNKNOWN(n).
  const peer = (async () => {
    const reader = new StreamReader(b);
    const head = await reader.readExact(8);
    const view = new DataView(head.buffer);
    await reader.readExact(view.getUint32(4));
    await b.write(
      encodeFrame(FrameType.Text, new TextEncoder().encode(`ACK UNKNOWN(${view.getUint32(0)}) 50 bytes`)),
    );
  })();
  const client = new DataExchangeClient(a);
  await assertRejects(
    () => client.sendFileChunked("big.bin", memorySource(data), sha256(data)),
    ChunkedUnsupportedError,
    /does not support chunked transfers/,
  );
  await peer;
  await client.close();
});

Deno.test("expired partial files are swept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let now = Date.now();
    const partials = new PartialFiles(dir, () => now);
    const offer = { size: 10, sha256: new Uint8Array(32), nameBytes: new TextEncoder().encode("x") };
    const p = await partials.open(partials.keyFor("0:0000.0000.0001", offer), 10);
    await p.file.write(new Uint8Array(3));
    p.file.close();
    assertEquals(await partials.sweep(), 0);
    now += 25 * 60 * 60 * 1000;
    assertEquals(await partials.sweep(), 1);
    // Different senders never share a partial file.
    assert(partials.keyFor("0:0000.0000.0001", offer) !== partials.keyFor("0:0000.0000.0002", offer));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PILOT_MAX_RECEIVE_BYTES sets the receiver's limit; a bad value names the variable", () => {
  assertEquals(maxFileBytesFromEnv(() => undefined), undefined);
  assertEquals(maxFileBytesFromEnv(() => ""), undefined);
  assertEquals(maxFileBytesFromEnv(() => "1073741824"), 1 << 30);
  for (const bad of ["0", "-1", "1e9", "12x", "99999999999999999999"]) {
    assertThrows(() => maxFileBytesFromEnv(() => bad), RangeError, /PILOT_MAX_RECEIVE_BYTES/);
  }
});
