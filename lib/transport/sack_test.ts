import fc from "fast-check";
import { fromHex, toHex } from "../bytes.ts";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { dataLooksLikeSack, decodeSack, encodeSack, isSack, type SackBlock, SackError } from "./sack.ts";

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const block = fc.tuple(u32, u32).map(([left, right]) => ({ left, right }));
const blocks = fc.array(block, { minLength: 1, maxLength: 4 });

Deno.test("sack: spec example (segments 1 and 3 lost)", () => {
  const bytes = encodeSack([{ left: 4097, right: 8193 }, { left: 12289, right: 16385 }]);
  assertEquals(toHex(bytes).toUpperCase(), "5341434B02" + "00001001" + "00002001" + "00003001" + "00004001");
  assertEquals(decodeSack(bytes), [{ left: 4097, right: 8193 }, { left: 12289, right: 16385 }]);
});

Deno.test("sack: each decoding rule has its own error", () => {
  assertThrows(() => decodeSack(fromHex("53414343")), SackError, /at least 5/);
  assertThrows(() => decodeSack(fromHex("5341434C01")), SackError, /'SACK'/);
  assertThrows(() => decodeSack(fromHex("5341434B00")), SackError, /count/);
  assertThrows(() => decodeSack(fromHex("5341434B05")), SackError, /count/);
  assertThrows(() => decodeSack(fromHex("5341434B01000000")), SackError, /needs 13 bytes/);
  assert(!isSack(fromHex("5341434B01000000")));
});

Deno.test("sack: encode refuses bad block counts and values", () => {
  assertThrows(() => encodeSack([]), SackError);
  const five: SackBlock[] = Array.from({ length: 5 }, () => ({ left: 1, right: 2 }));
  assertThrows(() => encodeSack(five), SackError);
  assertThrows(() => encodeSack([{ left: -1, right: 2 }]), SackError);
  assertThrows(() => encodeSack([{ left: 1, right: 2 ** 32 }]), SackError);
  assertThrows(() => encodeSack([{ left: 1.5, right: 2 }]), SackError);
});

Deno.test("sack: trailing bytes are ignored", () => {
  const bytes = new Uint8Array([...encodeSack([{ left: 7, right: 9 }]), 1, 2, 3]);
  assert(isSack(bytes));
  assertEquals(decodeSack(bytes), [{ left: 7, right: 9 }]);
});

Deno.test("sack: round trip", () => {
  fc.assert(fc.property(blocks, (bs) => {
    const enc = encodeSack(bs);
    assertEquals(enc.length, 5 + 8 * bs.length);
    assert(isSack(enc));
    assertEquals(decodeSack(enc), bs);
    assert(dataLooksLikeSack(enc.length, (i) => enc[i]));
  }));
});

Deno.test("sack: random and truncated input only ever throws SackError, and agrees with isSack", () => {
  const check = (bytes: Uint8Array) => {
    let ok = false;
    try {
      decodeSack(bytes);
      ok = true;
    } catch (e) {
      if (!(e instanceof SackError)) throw e;
    }
    assertEquals(ok, isSack(bytes));
    assertEquals(ok, dataLooksLikeSack(bytes.length, (i) => bytes[i]));
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), check), { numRuns: 2000 });
  // Inputs that begin like an option, then get cut or corrupted.
  fc.assert(
    fc.property(blocks, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), (bs, cut, byte, pos) => {
      const enc = encodeSack(bs);
      check(enc.subarray(0, cut % (enc.length + 1)));
      const bad = enc.slice();
      bad[pos % bad.length] = byte;
      check(bad);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("sack: decode tolerates views into larger buffers", () => {
  const enc = encodeSack([{ left: 0xfffffff0, right: 0x10 }]);
  const big = new Uint8Array(enc.length + 10);
  big.set(enc, 7);
  assertEquals(decodeSack(big.subarray(7)), [{ left: 0xfffffff0, right: 0x10 }]);
});
