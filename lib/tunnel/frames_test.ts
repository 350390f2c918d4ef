import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { bytesEqual, concatBytes, fromHex, toHex, utf8 } from "../bytes.ts";
import { verifyEd25519 } from "../crypto/ed25519.ts";
import {
  classifyDatagram,
  decodeFrame,
  encodeFrame,
  encodePilsInto,
  FrameError,
  MAGIC_PILA,
  MAGIC_PILK,
  MAGIC_PILP,
  MAGIC_PILS,
  MAGIC_PILT,
  PILS_HEADER_SIZE,
  PILS_OVERHEAD,
  pilsAad,
  pilsFrameSize,
  type TunnelFrame,
  writePilsHeader,
} from "./frames.ts";

// Vectors from docs/protocol/wire.md §4.1 and §6.2.
const SYN = fromHex("11010000000000000001000000000002C00003E800000000000000000200145ED874");
const TUNNEL_KEY = fromHex("3e765a2f49fe2a9185dd5d57c08a3525060d2d2c2b2a356fadef25f614d38662");
const A_PUBLIC = fromHex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
const ED_PUBLIC = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const PILA_SIG = fromHex(
  "880af5e2ce0d44fc98432c2ff8c867567f42f442cd9e00c298199823844f1e7d" +
    "54c5560c7c7480b2f90855b73178c665295538bd30e521f794c494e793e7610d",
);
const PILS_VECTOR = fromHex(`
  50494C53 00000001 A1B2C3D40000000000000001
  0443BBA68EEBFD923233A502903A7C30A9E289A73D0C94E7CCA9E98EED540FD163A1
  B5B13D992EA53C306E479AF3BF448922`);
const PILK_VECTOR = fromHex(
  "50494C4B000000018520F0098930A754748B7DDCB43EF75A0DBF3A0D26381AF4EBA4A98EAA9B4E6A",
);

Deno.test("magic constants spell their names", () => {
  const name = (m: number) => String.fromCharCode(m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255);
  assertEquals(
    [MAGIC_PILT, MAGIC_PILS, MAGIC_PILK, MAGIC_PILA, MAGIC_PILP].map(name),
    ["PILT", "PILS", "PILK", "PILA", "PILP"],
  );
});

Deno.test("PILK vector (docs/protocol/wire.md §6.2) encodes and decodes byte for byte", () => {
  const frame: TunnelFrame = { kind: "PILK", sender: 1, x25519: A_PUBLIC };
  assertEquals(toHex(encodeFrame(frame)), toHex(PILK_VECTOR));
  assertEquals(decodeFrame(PILK_VECTOR), frame);
});

Deno.test("PILA vector (docs/protocol/wire.md §6.2) encodes and decodes byte for byte; signature verifies", () => {
  const expected = concatBytes(fromHex("50494C41 00000001"), A_PUBLIC, ED_PUBLIC, PILA_SIG);
  assertEquals(expected.length, 136);
  const frame: TunnelFrame = {
    kind: "PILA",
    sender: 1,
    x25519: A_PUBLIC,
    ed25519: ED_PUBLIC,
    signature: PILA_SIG,
  };
  assertEquals(toHex(encodeFrame(frame)), toHex(expected));
  const decoded = decodeFrame(expected);
  assertEquals(decoded, frame);
  // The signed message is "auth" ‖ sender ‖ x25519 (no colon).
  const message = concatBytes(utf8("auth"), fromHex("00000001"), A_PUBLIC);
  assert(verifyEd25519(ED_PUBLIC, message, PILA_SIG));
});

Deno.test("PILS vector (docs/protocol/wire.md §6.2): layout decodes, re-encodes identically and opens to the SYN", async () => {
  assertEquals(PILS_VECTOR.length, 70);
  assertEquals(pilsFrameSize(SYN.length), 70);
  const frame = decodeFrame(PILS_VECTOR);
  if (frame.kind !== "PILS") throw new Error(`decoded as ${frame.kind}`);
  assertEquals(frame.sender, 1);
  assertEquals(toHex(frame.nonce), "a1b2c3d40000000000000001");
  assertEquals(frame.sealed.length, 34 + 16);
  assertEquals(toHex(frame.sealed.subarray(34)), "b5b13d992ea53c306e479af3bf448922");
  assertEquals(toHex(encodeFrame(frame)), toHex(PILS_VECTOR));

  // Cross-check the layout with the real AEAD: AAD = sender BE, sealed = ciphertext ‖ tag.
  const key = await crypto.subtle.importKey("raw", own(TUNNEL_KEY), "AES-GCM", false, ["decrypt", "encrypt"]);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: own(frame.nonce), additionalData: pilsAad(frame.sender) },
    key,
    own(frame.sealed),
  );
  assertEquals(toHex(new Uint8Array(plain)), toHex(SYN));

  // Hot path: header written in place, sealed copied behind it, same bytes as the vector.
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: own(frame.nonce), additionalData: pilsAad(1) },
      key,
      own(SYN),
    ),
  );
  const out = new Uint8Array(PILS_OVERHEAD + SYN.length + 3);
  assertEquals(encodePilsInto(out, 3, 1, frame.nonce, sealed), 70);
  assertEquals(toHex(out.subarray(3)), toHex(PILS_VECTOR));
  const header = new Uint8Array(PILS_HEADER_SIZE);
  writePilsHeader(header, 0, 1, frame.nonce);
  assertEquals(toHex(header), toHex(PILS_VECTOR.subarray(0, PILS_HEADER_SIZE)));
});

Deno.test("PILP: 4-byte (reference) and 8-byte (draft) forms", () => {
  assertEquals(toHex(encodeFrame({ kind: "PILP", sender: 0x01020304 })), "50494c5001020304");
  assertEquals(toHex(encodeFrame({ kind: "PILP" })), "50494c50");
  assertEquals(decodeFrame(fromHex("50494c5001020304")), { kind: "PILP", sender: 0x01020304 });
  assertEquals(decodeFrame(fromHex("50494c50")), { kind: "PILP" });
  for (const hex of ["50494c5000", "50494c50010203", "50494c500102030405"]) {
    assertEquals(
      (assertThrows(() => decodeFrame(fromHex(hex)), FrameError) as FrameError).reason,
      "bad-length",
    );
  }
});

Deno.test("PILT: minimum 38 bytes, packet is the whole body", () => {
  const frame = encodeFrame({ kind: "PILT", packet: SYN });
  assertEquals(toHex(frame), "50494c54" + toHex(SYN));
  assertEquals(decodeFrame(frame), { kind: "PILT", packet: SYN });
  const err = assertThrows(() => decodeFrame(frame.subarray(0, 37)), FrameError) as FrameError;
  assertEquals(err.reason, "truncated");
  // Trailing bytes stay in the packet; the packet decoder ignores what lies beyond 34+L.
  const longer = concatBytes(frame, fromHex("ffff"));
  const decoded = decodeFrame(longer);
  assert(decoded.kind === "PILT" && decoded.packet.length === 36);
});

Deno.test("minimum sizes: PILS body 32, PILK body 36, PILA body 132; excess ignored for PILK/PILA", () => {
  const pils = concatBytes(fromHex("50494C53"), new Uint8Array(32));
  const minimal = decodeFrame(pils);
  assert(minimal.kind === "PILS" && minimal.sealed.length === 16);
  assertEquals(reasonOf(pils.subarray(0, 35)), "truncated");
  assertEquals(reasonOf(PILK_VECTOR.subarray(0, 39)), "truncated");
  assertEquals(decodeFrame(concatBytes(PILK_VECTOR, fromHex("aabb"))), {
    kind: "PILK",
    sender: 1,
    x25519: A_PUBLIC,
  });
  const pila = concatBytes(fromHex("50494C41 00000001"), A_PUBLIC, ED_PUBLIC, PILA_SIG);
  assertEquals(reasonOf(pila.subarray(0, 135)), "truncated");
  const extended = decodeFrame(concatBytes(pila, fromHex("00")));
  assert(extended.kind === "PILA" && bytesEqual(extended.signature, PILA_SIG));
});

Deno.test("decode rejects short and unknown-magic input", () => {
  assertEquals(reasonOf(new Uint8Array(0)), "short");
  assertEquals(reasonOf(fromHex("50494c")), "short");
  assertEquals(reasonOf(fromHex("50494c5a00000000")), "unknown-magic");
  assertEquals(reasonOf(fromHex("0100000001")), "unknown-magic");
});

Deno.test("classifyDatagram follows the §5 demux order", () => {
  assertEquals(classifyDatagram(new Uint8Array(0)), "empty");
  assertEquals(classifyDatagram(fromHex("01")), "beacon");
  assertEquals(classifyDatagram(fromHex("0f00000000")), "beacon");
  assertEquals(classifyDatagram(fromHex("10")), "short");
  assertEquals(classifyDatagram(fromHex("50494c")), "short");
  assertEquals(classifyDatagram(fromHex("50494c50")), "frame");
  assertEquals(classifyDatagram(PILK_VECTOR), "frame");
  assertEquals(classifyDatagram(fromHex("50494c4b")), "frame"); // truncated, but still a frame
  assertEquals(classifyDatagram(fromHex("deadbeef")), "unknown-magic");
});

Deno.test("encoders reject impossible fields with FrameError", () => {
  const bad: TunnelFrame[] = [
    { kind: "PILT", packet: new Uint8Array(33) },
    { kind: "PILS", sender: 1, nonce: new Uint8Array(11), sealed: new Uint8Array(16) },
    { kind: "PILS", sender: 1, nonce: new Uint8Array(12), sealed: new Uint8Array(15) },
    { kind: "PILS", sender: -1, nonce: new Uint8Array(12), sealed: new Uint8Array(16) },
    { kind: "PILK", sender: 2 ** 32, x25519: A_PUBLIC },
    { kind: "PILK", sender: 1.5, x25519: A_PUBLIC },
    { kind: "PILK", sender: 1, x25519: new Uint8Array(31) },
    { kind: "PILA", sender: 1, x25519: A_PUBLIC, ed25519: ED_PUBLIC, signature: new Uint8Array(63) },
    { kind: "PILA", sender: 1, x25519: A_PUBLIC, ed25519: new Uint8Array(33), signature: PILA_SIG },
    { kind: "PILP", sender: NaN },
  ];
  for (const frame of bad) {
    assertEquals((assertThrows(() => encodeFrame(frame), FrameError) as FrameError).reason, "invalid-field");
  }
  assertThrows(
    () => encodePilsInto(new Uint8Array(40), 0, 1, new Uint8Array(12), new Uint8Array(21)),
    FrameError,
  );
  assertThrows(() => writePilsHeader(new Uint8Array(20), 1, 1, new Uint8Array(12)), FrameError);
});

// ---- properties ----

const u32 = fc.nat({ max: 0xffffffff });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const arbFrame: fc.Arbitrary<TunnelFrame> = fc.oneof(
  fc.record({ kind: fc.constant("PILT" as const), packet: fc.uint8Array({ minLength: 34, maxLength: 200 }) }),
  fc.record({
    kind: fc.constant("PILS" as const),
    sender: u32,
    nonce: bytes(12),
    sealed: fc.uint8Array({ minLength: 16, maxLength: 200 }),
  }),
  fc.record({ kind: fc.constant("PILK" as const), sender: u32, x25519: bytes(32) }),
  fc.record({
    kind: fc.constant("PILA" as const),
    sender: u32,
    x25519: bytes(32),
    ed25519: bytes(32),
    signature: bytes(64),
  }),
  fc.record({ kind: fc.constant("PILP" as const), sender: u32 }),
  fc.constant<TunnelFrame>({ kind: "PILP" }),
);

Deno.test("property: decode(encode(f)) = f and encode(decode(b)) = b for every frame kind", () => {
  fc.assert(
    fc.property(arbFrame, (frame) => {
      const encoded = encodeFrame(frame);
      assertEquals(classifyDatagram(encoded), "frame");
      assertEquals(decodeFrame(encoded), { ...frame }); // spread: fc.record objects have a null prototype
      assertEquals(toHex(encodeFrame(decodeFrame(encoded))), toHex(encoded));
    }),
    { numRuns: 500 },
  );
});

Deno.test("fuzz: random bytes only ever raise FrameError", () => {
  const magics = [MAGIC_PILT, MAGIC_PILS, MAGIC_PILK, MAGIC_PILA, MAGIC_PILP].map((m) =>
    Uint8Array.of(m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255)
  );
  const arbInput = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.tuple(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 200 })).map(([m, rest]) =>
      concatBytes(m, rest)
    ),
  );
  fc.assert(fc.property(arbInput, (input) => decodesOrFrameError(input)), { numRuns: 2000 });
});

Deno.test("fuzz: every truncation of valid encodings decodes or raises FrameError", () => {
  fc.assert(
    fc.property(arbFrame, (frame) => {
      const encoded = encodeFrame(frame);
      for (let n = 0; n <= encoded.length; n++) decodesOrFrameError(encoded.subarray(0, n));
    }),
    { numRuns: 200 },
  );
});

function decodesOrFrameError(input: Uint8Array): void {
  try {
    decodeFrame(input);
  } catch (err) {
    if (!(err instanceof FrameError)) throw err;
  }
}

/** A copy backed by a plain ArrayBuffer, as WebCrypto's typings require. */
function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

function reasonOf(input: Uint8Array): string {
  return (assertThrows(() => decodeFrame(input), FrameError) as FrameError).reason;
}
