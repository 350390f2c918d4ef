import { assert, assertEquals } from "../../tests/assert.ts";
import { FrameWriter } from "./socket_io.ts";
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
