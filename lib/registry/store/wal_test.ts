import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import {
  decodeSegment,
  encodeRecord,
  parseSegmentName,
  PREALLOCATE_BYTES,
  segmentName,
  WalWriter,
} from "./wal.ts";
import { RegistryStoreError } from "../errors.ts";

const enc = new TextEncoder();

Deno.test("a segment cut at any byte decodes to an intact prefix of its records", () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 8 }),
      fc.nat(),
      (bodies, cutSeed) => {
        const records = bodies.map((b) => encodeRecord(enc.encode(b)));
        const all = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
        let off = 0;
        for (const r of records) {
          all.set(r, off);
          off += r.length;
        }
        const cut = cutSeed % (all.length + 1);
        const got = decodeSegment(all.subarray(0, cut));
        const dec = new TextDecoder();
        const texts = got.records.map((r) => dec.decode(r));
        assertEquals(texts, bodies.slice(0, texts.length));
        // Cut bytes that happen to be zeros (e.g. a length prefix's high bytes) read as free space.
        assertEquals(got.torn, all.subarray(got.validLength, cut).some((b) => b !== 0));
        assert(got.validLength <= cut);
      },
    ),
  );
});

Deno.test("a flipped byte ends the segment at the damaged record", () => {
  const a = encodeRecord(enc.encode("first"));
  const b = encodeRecord(enc.encode("second"));
  const all = new Uint8Array([...a, ...b]);
  all[a.length + 10] ^= 0xff;
  const got = decodeSegment(all);
  assertEquals(got.records.length, 1);
  assertEquals([got.validLength, got.torn], [a.length, true]);
});

Deno.test("segment names sort by their first sequence number", () => {
  assertEquals(segmentName(42), "wal-0000000000000042.log");
  assertEquals(parseSegmentName(segmentName(42)), 42);
  assertEquals(parseSegmentName("snapshot.json"), null);
});

Deno.test("group commit: 200 concurrent appends share far fewer fsyncs, all durable and in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pilot-wal-" });
  try {
    const w = await WalWriter.open(dir, 1);
    await Promise.all(Array.from({ length: 200 }, (_, i) => w.append(enc.encode(`r${i}`))));
    assertEquals(w.records, 200);
    assert(w.syncs < 50, `expected batching, got ${w.syncs} fsyncs for 200 records`);
    await w.rotate(201);
    await w.append(enc.encode("after"));
    await w.close();
    const first = decodeSegment(await Deno.readFile(`${dir}/${segmentName(1)}`));
    assertEquals(
      first.records.map((r) => new TextDecoder().decode(r)),
      Array.from({ length: 200 }, (_, i) => `r${i}`),
    );
    assertEquals(decodeSegment(await Deno.readFile(`${dir}/${segmentName(201)}`)).records.length, 1);
    let failed = false;
    await w.append(enc.encode("closed")).catch(() => failed = true);
    assert(failed, "appends after close are refused");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("preallocated zeros after the records are free space, not damage; anything else there is", () => {
  const a = encodeRecord(enc.encode("first"));
  const spaced = new Uint8Array(a.length + 4096);
  spaced.set(a);
  const got = decodeSegment(spaced);
  assertEquals([got.records.length, got.validLength, got.torn], [1, a.length, false]);
  spaced[a.length + 3000] = 1; // e.g. a later page of an unfinished batch reached the disk first
  assertEquals(decodeSegment(spaced).torn, true);
  assertThrows(() => encodeRecord(new Uint8Array(0)), RegistryStoreError);
});

Deno.test("an unclosed segment is reopened after its records, and closing cuts off the preallocated space", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pilot-wal-" });
  const path = `${dir}/${segmentName(1)}`;
  try {
    const w = await WalWriter.open(dir, 1);
    await Promise.all(Array.from({ length: 10 }, (_, i) => w.append(enc.encode(`r${i}`))));
    // As after a crash: the writer is abandoned with zero-filled space after its records.
    const size = (await Deno.stat(path)).size;
    assert(size >= PREALLOCATE_BYTES, `segment preallocated, size ${size}`);
    const again = await WalWriter.open(dir, 1);
    await again.append(enc.encode("after"));
    await again.close();
    const bytes = await Deno.readFile(path);
    const got = decodeSegment(bytes);
    assertEquals(
      got.records.map((r) => new TextDecoder().decode(r)),
      [...Array.from({ length: 10 }, (_, i) => `r${i}`), "after"],
    );
    assertEquals([got.validLength, got.torn], [bytes.length, false]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("appends made in one turn of the event loop on an idle log share one fsync", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pilot-wal-" });
  try {
    const w = await WalWriter.open(dir, 1);
    await Promise.all([w.append(enc.encode("a")), w.append(enc.encode("b")), w.append(enc.encode("c"))]);
    assertEquals([w.records, w.syncs], [3, 1]);
    await w.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
