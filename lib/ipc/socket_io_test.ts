import { assert, assertEquals } from "../../tests/assert.ts";
import { FramePool, FrameWriter } from "./socket_io.ts";
import { IpcError } from "./errors.ts";

Deno.test("FrameWriter.hasRoom: true up to the high-water mark, false above it and after a failure", async () => {
  let release = (): void => {};
  const sink = {
    write: (p: Uint8Array) => new Promise<number>((resolve) => release = () => resolve(p.length)),
  };
  const w = new FrameWriter(sink, 100);
  assert(w.hasRoom);
  w.enqueue(new Uint8Array(100));
  assert(w.hasRoom, "at the mark there is room");
  w.enqueue(new Uint8Array(1));
  assert(!w.hasRoom);
  while (w.queuedBytes > 0) {
    await new Promise((r) => setTimeout(r, 0));
    release();
  }
  await w.flush();
  assert(w.hasRoom);
  w.fail(new IpcError("closed", "test"));
  assertEquals(w.hasRoom, false);
});

Deno.test("FramePool: a frame's buffer comes back once the socket took it, and is handed out again", async () => {
  const written: number[][] = [];
  const sink = {
    write: (p: Uint8Array) => {
      written.push([...p]);
      return Promise.resolve(p.length);
    },
  };
  const pool = new FramePool(8, 1);
  const w = new FrameWriter(sink, 100);
  const first = pool.take(3);
  first.set([1, 2, 3]);
  w.enqueue(first, pool);
  await w.flush();
  const second = pool.take(2);
  assert(second.buffer === first.buffer, "the written frame's buffer is reused");
  assertEquals(second.length, 2);
  assert(pool.take(2).buffer !== first.buffer, "an empty pool allocates");
  assertEquals(pool.take(9).length, 9); // larger than the pool's size: a plain allocation
  assertEquals(written, [[1, 2, 3]]);
});
