import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { concatBytes, fromHex } from "../bytes.ts";
import {
  decodeFrame,
  encodeFrame,
  type Frame,
  FrameReader,
  IpcError,
  MAX_FRAME_LENGTH,
  MAX_PAYLOAD_LENGTH,
} from "./frame.ts";

/** Cuts `bytes` at the given (unsorted, possibly repeated) offsets. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.slice(prev, p));
    prev = p;
  }
  return out;
}

function drain(reader: FrameReader): Frame[] {
  const frames: Frame[] = [];
  for (let f = reader.next(); f; f = reader.next()) frames.push({ cmd: f.cmd, payload: f.payload.slice() });
  return frames;
}

Deno.test("encodeFrame writes length = 1 + payload, big-endian, then the command byte", () => {
  assertEquals(encodeFrame(0x01, fromHex("0050")), fromHex("00000003 01 0050"));
  assertEquals(encodeFrame(0x0d), fromHex("00000001 0d"));
});

Deno.test("decodeFrame inverts encodeFrame and rejects bad lengths with IpcError", () => {
  assertEquals(decodeFrame(fromHex("00000003 01 0050")), { cmd: 1, payload: fromHex("0050") });
  assertThrows(() => decodeFrame(fromHex("00000004 01 0050")), IpcError, /length field says 4/);
  assertThrows(() => decodeFrame(fromHex("00000000")), IpcError);
  assertThrows(() => decodeFrame(fromHex("00100001 01")), IpcError, /exceeds/);
});

Deno.test("encodeFrame refuses a payload above the 1 MiB frame limit", () => {
  encodeFrame(0x06, new Uint8Array(MAX_PAYLOAD_LENGTH));
  const err = assertThrows(() => encodeFrame(0x06, new Uint8Array(MAX_PAYLOAD_LENGTH + 1)), IpcError);
  assertEquals((err as IpcError).reason, "frame-too-large");
});

Deno.test("FrameReader skips length-0 frames and waits for whole frames", () => {
  const r = new FrameReader();
  r.push(fromHex("00000000 00000003 01 00"));
  assertEquals(r.next(), null);
  r.push(fromHex("50 00"));
  assertEquals(drain(r), [{ cmd: 1, payload: fromHex("0050") }]);
  r.push(fromHex("00"));
  assertEquals(r.next(), null);
  assertEquals(r.buffered, 2);
});

Deno.test("FrameReader accepts exactly 1 MiB and fails on 1 MiB + 1 as soon as the length arrives", () => {
  const r = new FrameReader();
  const big = encodeFrame(0x07, new Uint8Array(MAX_PAYLOAD_LENGTH).fill(7));
  r.push(big.subarray(0, 1000));
  assertEquals(r.next(), null);
  r.push(big.subarray(1000));
  const f = r.next();
  assert(f !== null);
  assertEquals(f.payload.length, MAX_PAYLOAD_LENGTH);
  const bad = new FrameReader();
  bad.push(fromHex("0010000101"));
  const err = assertThrows(() => bad.next(), IpcError, new RegExp(`exceeds ${MAX_FRAME_LENGTH}`));
  assertEquals((err as IpcError).reason, "frame-too-large");
  assertThrows(() => bad.next(), IpcError); // stays failed: the stream cannot be resynced
});

Deno.test("FrameReader returns a view, not a copy, when the frame sits in one chunk", () => {
  const r = new FrameReader();
  const bytes = encodeFrame(0x06, new Uint8Array(64 * 1024));
  r.push(bytes);
  const f = r.next();
  assert(f !== null);
  assert(f.payload.buffer === bytes.buffer);
});

Deno.test("FrameReader.discard frees unread chunks at once but keeps the one a returned frame views", () => {
  const r = new FrameReader();
  const whole = encodeFrame(0x06, new Uint8Array([1, 2, 3]));
  const half = encodeFrame(0x06, new Uint8Array(1000)).slice(0, 500);
  const lent = new Uint8Array([...whole, ...half.subarray(0, 100)]); // a whole frame, then a partial one
  const rest = half.slice(100);
  r.push(lent);
  r.push(rest);
  const f = r.next();
  assert(f !== null);
  assertEquals(r.next(), null);
  r.discard();
  assertEquals(r.buffered, 0);
  assertEquals(rest.buffer.detached, true, "a chunk nothing views is freed now");
  assertEquals(lent.buffer.detached, false, "the returned frame's chunk is left alone");
  assertEquals([...f.payload], [1, 2, 3]);
  assertEquals(r.next(), null);
  r.push(encodeFrame(0x07));
  assertEquals(r.next()?.cmd, 0x07, "the reader works on after a discard");
});

Deno.test("property: any chunking of a frame stream yields the same frames", () => {
  const frameArb = fc.record({
    cmd: fc.integer({ min: 0, max: 255 }),
    payload: fc.uint8Array({ maxLength: 300 }),
  });
  fc.assert(
    fc.property(
      fc.array(fc.oneof(frameArb, fc.constant(null)), { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (items, cuts) => {
        // null stands for a length-0 frame, which the reader must skip.
        const stream = concatBytes(
          ...items.map((f) => f ? encodeFrame(f.cmd, f.payload) : new Uint8Array(4)),
        );
        const r = new FrameReader();
        const got: Frame[] = [];
        for (const chunk of split(stream, cuts)) {
          r.push(chunk);
          got.push(...drain(r));
        }
        const want = items.filter((f) => f !== null).map((f) => ({ cmd: f.cmd, payload: f.payload }));
        assertEquals(got, want);
        assertEquals(r.buffered, 0);
      },
    ),
  );
});

Deno.test("fuzz: random bytes in random chunks make FrameReader throw only IpcError", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
      const r = new FrameReader();
      try {
        for (const c of chunks) {
          r.push(c);
          drain(r);
        }
      } catch (err) {
        if (!(err instanceof IpcError)) throw err;
      }
    }),
  );
});

Deno.test("FrameReader reassembles 1 MiB frames from 4 KiB chunks in linear time", () => {
  // 16 frames of 1 MiB fed in 4 KiB chunks: quadratic copying would take far longer than linear.
  const frame = encodeFrame(0x06, new Uint8Array(MAX_PAYLOAD_LENGTH).fill(1));
  const r = new FrameReader();
  const started = performance.now();
  let frames = 0;
  for (let n = 0; n < 16; n++) {
    for (let i = 0; i < frame.length; i += 4096) {
      r.push(frame.subarray(i, Math.min(i + 4096, frame.length)));
      while (r.next()) frames++;
    }
  }
  assertEquals(frames, 16);
  assert(performance.now() - started < 2000, "reassembly took too long");
});
