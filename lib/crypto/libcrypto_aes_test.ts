import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { fromHex } from "../bytes.ts";
import { importAesGcmKey } from "./aes_gcm.ts";
import { CryptoError } from "./errors.ts";
import { Libcrypto, libcryptoUnavailable } from "./libcrypto_aes.ts";

const available = libcryptoUnavailable() === undefined && (() => {
  try {
    Libcrypto.open().close();
    return true;
  } catch {
    return false;
  }
})();

// docs/protocol/wire.md §6.2 PILS vector: K(pilot-tunnel-v1), prefix A1B2C3D4, counter 1, AAD = node 1, the §4.1 SYN.
const KEY = "3e765a2f49fe2a9185dd5d57c08a3525060d2d2c2b2a356fadef25f614d38662";
const NONCE = "A1B2C3D40000000000000001";
const SYN = "11010000000000000001000000000002C00003E800000000000000000200145ED874";
const SEALED = "0443BBA68EEBFD923233A502903A7C30A9E289A73D0C94E7CCA9E98EED540FD163A1" +
  "B5B13D992EA53C306E479AF3BF448922";

Deno.test({
  name: "libcrypto AES-GCM: docs/protocol/wire.md PILS vector, in place and allocating",
  ignore: !available,
  fn() {
    const lib = Libcrypto.open();
    try {
      const raw = fromHex(KEY);
      const key = lib.importKey(raw);
      assert(raw.every((b) => b === 0), "raw key zeroed after import");
      const aad = Uint8Array.of(0, 0, 0, 1);
      const out = new Uint8Array(100);
      const n = key.sealInto(fromHex(NONCE), fromHex(SYN), aad, out, 10);
      assertEquals(n, 34 + 16);
      assertEquals([...out.subarray(10, 10 + n)], [...fromHex(SEALED)]);
      assertEquals([...key.sealSync(fromHex(NONCE), fromHex(SYN), aad)], [...fromHex(SEALED)]);
      assertEquals([...key.openSync(fromHex(NONCE), fromHex(SEALED), aad)], [...fromHex(SYN)]);
      const plain = new Uint8Array(34);
      assertEquals(key.openInto(fromHex(NONCE), fromHex(SEALED), aad, plain, 0), 34);
      assertEquals([...plain], [...fromHex(SYN)]);
    } finally {
      lib.close();
    }
  },
});

Deno.test({
  name: "libcrypto AES-GCM: any bit flipped in ciphertext, tag, nonce or AAD fails",
  ignore: !available,
  fn() {
    const lib = Libcrypto.open();
    try {
      const key = lib.importKey(fromHex(KEY));
      const aad = Uint8Array.of(0, 0, 0, 1);
      const sealed = fromHex(SEALED);
      const out = new Uint8Array(64);
      for (let bit = 0; bit < sealed.length * 8; bit += 7) {
        const bad = sealed.slice();
        bad[bit >> 3] ^= 1 << (bit & 7);
        assertEquals(key.openInto(fromHex(NONCE), bad, aad, out, 0), -1);
      }
      const nonce = fromHex(NONCE);
      nonce[11] ^= 1;
      assertEquals(key.openInto(nonce, sealed, aad, out, 0), -1);
      assertEquals(key.openInto(fromHex(NONCE), sealed, Uint8Array.of(0, 0, 0, 2), out, 0), -1);
      assertEquals(key.openInto(fromHex(NONCE), sealed.subarray(0, 15), aad, out, 0), -1);
      assertThrows(() => key.openSync(fromHex(NONCE), sealed.subarray(1), aad), CryptoError);
      assertThrows(() => key.sealInto(new Uint8Array(11), sealed, aad, out, 0), CryptoError);
      assertThrows(() => key.sealInto(fromHex(NONCE), new Uint8Array(60), aad, out, 0), CryptoError);
      // Right after failures the key still works.
      assertEquals(key.openInto(fromHex(NONCE), sealed, aad, out, 0), 34);
    } finally {
      lib.close();
    }
  },
});

Deno.test({
  name: "libcrypto AES-GCM: agrees with Web Crypto both ways for random inputs",
  ignore: !available,
  async fn() {
    const lib = Libcrypto.open();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ minLength: 12, maxLength: 12 }),
          fc.uint8Array({ maxLength: 5000 }),
          fc.uint8Array({ maxLength: 8 }),
          async (rawKey, nonce, plaintext, aad) => {
            const ours = lib.importKey(rawKey.slice());
            const web = await importAesGcmKey(rawKey.slice(), "webcrypto");
            try {
              const a = ours.sealSync(nonce, plaintext, aad);
              const b = await web.seal(nonce, plaintext, aad);
              assertEquals([...a], [...b]);
              assertEquals([...ours.openSync(nonce, b, aad)], [...plaintext]);
            } finally {
              ours.dispose();
            }
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      lib.close();
    }
  },
});

Deno.test({
  name: "libcrypto AES-GCM: disposed keys refuse work; close disposes what is left",
  ignore: !available,
  fn() {
    const lib = Libcrypto.open();
    const a = lib.importKey(fromHex(KEY));
    const b = lib.importKey(fromHex(KEY));
    a.dispose();
    a.dispose(); // idempotent
    assertThrows(() => a.sealSync(fromHex(NONCE), new Uint8Array(1), new Uint8Array(0)), CryptoError);
    lib.close();
    assertThrows(() => b.sealSync(fromHex(NONCE), new Uint8Array(1), new Uint8Array(0)), CryptoError);
    assertThrows(() => lib.importKey(fromHex(KEY)), CryptoError);
    assertThrows(() => lib.importKey(new Uint8Array(16)), CryptoError);
  },
});
