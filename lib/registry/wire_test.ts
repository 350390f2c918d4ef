import fc from "fast-check";
import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { decodeBody, encodeFrame, FrameReader, MAX_REQUEST_BODY, RegistryWireError } from "./wire.ts";

const jsonObject = fc.dictionary(fc.string(), fc.jsonValue());

Deno.test("frames round-trip through a reader fed in arbitrary chunks", () => {
  fc.assert(
    fc.property(fc.array(jsonObject, { maxLength: 5 }), fc.integer({ min: 1, max: 7 }), (msgs, step) => {
      const bytes = msgs.map((m) => encodeFrame(m));
      const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
      let off = 0;
      for (const b of bytes) {
        all.set(b, off);
        off += b.length;
      }
      const reader = new FrameReader(MAX_REQUEST_BODY * 4);
      const out: unknown[] = [];
      for (let i = 0; i < all.length; i += step) {
        reader.push(all.subarray(i, i + step));
        for (let body = reader.next(); body; body = reader.next()) out.push(decodeBody(body));
      }
      assertEquals(reader.buffered, 0);
      assertEquals(out, JSON.parse(JSON.stringify(msgs)));
    }),
  );
});

Deno.test("lend: frames come out the same from a reused read buffer, parsed in place and copied only when partial", () => {
  fc.assert(
    fc.property(fc.array(jsonObject, { maxLength: 5 }), fc.integer({ min: 1, max: 300 }), (msgs, step) => {
      const all = new Uint8Array(msgs.flatMap((m) => [...encodeFrame(m)]));
      const reader = new FrameReader(MAX_REQUEST_BODY * 4);
      const scratch = new Uint8Array(step); // one read buffer, overwritten by every "read"
      const out: unknown[] = [];
      for (let i = 0; i < all.length; i += step) {
        const piece = all.subarray(i, i + step);
        scratch.set(piece);
        reader.lend(scratch.subarray(0, piece.length));
        for (let body = reader.next(); body; body = reader.next()) out.push(decodeBody(body));
        scratch.fill(0xaa); // what the next read would do to bytes the reader did not copy
      }
      assertEquals(reader.buffered, 0);
      assertEquals(out, JSON.parse(JSON.stringify(msgs)));
    }),
  );
});

Deno.test("lend: a whole frame is returned as a view of the lent chunk, not a copy", () => {
  const frame = encodeFrame({ type: "lookup", node_id: 1 });
  const reader = new FrameReader(MAX_REQUEST_BODY);
  reader.lend(frame);
  const body = reader.next();
  assertEquals(body?.buffer, frame.buffer);
  assertEquals(reader.next(), null);
  assertEquals(reader.buffered, 0);
});

Deno.test("the length prefix is big-endian u32", () => {
  const f = encodeFrame({ type: "x" });
  assertEquals([...f.subarray(0, 4)], [0, 0, 0, 12]);
});

Deno.test("an oversized length prefix is refused before the body arrives", () => {
  const reader = new FrameReader(MAX_REQUEST_BODY);
  reader.push(new Uint8Array([0, 1, 0, 1])); // 65537
  assertThrows(() => reader.next(), RegistryWireError, /exceeds/);
  const ok = new FrameReader(MAX_REQUEST_BODY);
  ok.push(new Uint8Array([0, 1, 0, 0])); // exactly 65536: allowed, waits for the body
  assertEquals(ok.next(), null);
});

Deno.test("encodeFrame refuses bodies over the cap", () => {
  assertThrows(() => encodeFrame({ a: "x".repeat(100) }, 50), RegistryWireError);
});

Deno.test("bodies that are not JSON objects are refused with RegistryWireError", () => {
  const enc = new TextEncoder();
  for (const text of ["", "[]", "null", "42", '"s"', "{", '{"a":}']) {
    assertThrows(() => decodeBody(enc.encode(text)), RegistryWireError);
  }
  assertThrows(() => decodeBody(new Uint8Array([0x7b, 0xff, 0x7d])), RegistryWireError, /UTF-8/);
});

Deno.test("random and truncated bytes produce only RegistryWireError or need-more", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    const reader = new FrameReader(1024);
    reader.push(bytes);
    try {
      for (let body = reader.next(); body; body = reader.next()) {
        try {
          decodeBody(body);
        } catch (e) {
          if (!(e instanceof RegistryWireError)) throw e;
        }
      }
    } catch (e) {
      if (!(e instanceof RegistryWireError)) throw e;
    }
  }));
});
