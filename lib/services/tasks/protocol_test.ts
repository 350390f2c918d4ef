import fc from "fast-check";
import { assertEquals, assertRejects } from "../../../tests/assert.ts";
import type { ByteStream } from "../byte_stream.ts";
import { concatBytes } from "../../bytes.ts";
import {
  encodeTaskFrame,
  FRAME_SEND_RESULTS,
  FRAME_STATUS_UPDATE,
  newTaskId,
  submitReplyFrame,
  TaskCodecError,
} from "./codec.ts";
import { MAX_CONTROL_FRAME_BODY, readTaskFrame, submitTask, TaskProtocolError } from "./protocol.ts";

/** A byte stream that hands out pre-cut chunks, then end of stream (or silence). */
class ChunkStream implements ByteStream {
  written: Uint8Array[] = [];
  constructor(private chunks: Uint8Array[], private hangAtEnd = false) {}
  read(options?: { timeoutMs?: number }): Promise<Uint8Array | null> {
    const next = this.chunks.shift();
    if (next) return Promise.resolve(next);
    if (!this.hangAtEnd) return Promise.resolve(null);
    return new Promise((_, reject) =>
      setTimeout(() => reject(new Error("read timed out")), options?.timeoutMs ?? 1000)
    );
  }
  write(data: Uint8Array): Promise<void> {
    this.written.push(data.slice());
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...at, bytes.length]) {
    if (p > prev) out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

Deno.test("task protocol: a frame is reassembled however it is split; bytes after it are ignored", async () => {
  await fc.assert(fc.asyncProperty(
    fc.string({ maxLength: 300 }),
    fc.array(fc.nat(), { maxLength: 10 }),
    async (text, points) => {
      const frame = encodeTaskFrame(FRAME_STATUS_UPDATE, { task_id: newTaskId(), status: "ACCEPTED", text });
      const trailing = encodeTaskFrame(FRAME_STATUS_UPDATE, { x: 1 });
      const got = await readTaskFrame(new ChunkStream(cut(concatBytes(frame, trailing), points)));
      assertEquals(got?.type, FRAME_STATUS_UPDATE);
      assertEquals(got?.body.text, text);
    },
  ));
});

Deno.test("task protocol: end of stream, truncation, limits and silence", async () => {
  assertEquals(await readTaskFrame(new ChunkStream([])), null);
  const frame = encodeTaskFrame(FRAME_STATUS_UPDATE, { a: "b" });
  await assertRejects(
    () => readTaskFrame(new ChunkStream([frame.subarray(0, 10)])),
    TaskProtocolError,
    /ended/,
  );
  await assertRejects(
    () => readTaskFrame(new ChunkStream([frame.subarray(0, 3)], true), 50),
    TaskProtocolError,
  );
  // Only SEND_RESULTS may be large; a big control frame is refused from its header alone.
  const header = (type: number, len: number) => {
    const h = new Uint8Array(8);
    new DataView(h.buffer).setUint32(0, type);
    new DataView(h.buffer).setUint32(4, len);
    return h;
  };
  await assertRejects(
    () => readTaskFrame(new ChunkStream([header(1, MAX_CONTROL_FRAME_BODY + 1)], true)),
    TaskCodecError,
  );
  await assertRejects(
    () => readTaskFrame(new ChunkStream([header(FRAME_SEND_RESULTS, MAX_CONTROL_FRAME_BODY + 1)]), 100),
    TaskProtocolError,
    /ended/,
  );
});

Deno.test("task protocol fuzz: random byte streams raise only codec or protocol errors", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }),
      async (chunks) => {
        try {
          await readTaskFrame(new ChunkStream(chunks.filter((c) => c.length > 0)));
        } catch (err) {
          if (!(err instanceof TaskCodecError || err instanceof TaskProtocolError)) throw err;
        }
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("task protocol: submit writes SUBMIT and parses the reply frame", async () => {
  const id = newTaskId();
  const s = new ChunkStream([submitReplyFrame({ task_id: id, status: 200, message: "ok" })]);
  const reply = await submitTask(s, { task_id: id, task_description: "d", from_addr: "a", to_addr: "b" });
  assertEquals(reply, { task_id: id, status: 200, message: "ok" });
  assertEquals(new DataView(s.written[0].buffer).getUint32(0), 1);
  await assertRejects(
    () =>
      submitTask(new ChunkStream([encodeTaskFrame(3, {})]), {
        task_id: id,
        task_description: "d",
        from_addr: "",
        to_addr: "",
      }),
    TaskProtocolError,
    /expected a submit reply/,
  );
});
