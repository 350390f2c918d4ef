import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { fromHex, toHex } from "../bytes.ts";
import { CryptoError } from "./errors.ts";
import { deriveKey, hkdfExpandOneBlock, hkdfExtract, INFO_SECURE, INFO_TUNNEL } from "./hkdf.ts";

// docs/protocol/wire.md §6.2 test vector.
const SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
const PRK = "fd5b81e5379cfe3599ea059945250eabdb0913b8c3ae8bd85d6b735f15538be5";
const K_TUNNEL = "3e765a2f49fe2a9185dd5d57c08a3525060d2d2c2b2a356fadef25f614d38662";
const K_SECURE = "cddb817500383058931b912ed913882f4a6f0facbe47dd907100dac3913a2dbf";

Deno.test("hkdf: PRK matches the docs/protocol/wire.md §6.2 vector", () => {
  assertEquals(toHex(hkdfExtract(fromHex(SHARED))), PRK);
});

Deno.test("hkdf: both K values match the vector", () => {
  assertEquals(toHex(hkdfExpandOneBlock(fromHex(PRK), INFO_TUNNEL)), K_TUNNEL);
  assertEquals(toHex(deriveKey(fromHex(SHARED), INFO_TUNNEL)), K_TUNNEL);
  assertEquals(toHex(deriveKey(fromHex(SHARED), INFO_SECURE)), K_SECURE);
});

Deno.test("hkdf: equals Web Crypto HKDF with an empty salt", async () => {
  for (const info of [INFO_TUNNEL, INFO_SECURE]) {
    const base = await crypto.subtle.importKey(
      "raw",
      fromHex(SHARED) as Uint8Array<ArrayBuffer>,
      "HKDF",
      false,
      ["deriveBits"],
    );
    const bits = await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode(info) },
      base,
      256,
    );
    assertEquals(toHex(new Uint8Array(bits)), toHex(deriveKey(fromHex(SHARED), info)));
  }
});

Deno.test("hkdf: deriveKey zeroes the shared secret it was given", () => {
  const secret = fromHex(SHARED);
  deriveKey(secret, INFO_TUNNEL);
  assertEquals(toHex(secret), "00".repeat(32));
});

Deno.test("hkdf: wrong shared-secret length is a CryptoError", () => {
  assertThrows(() => deriveKey(new Uint8Array(31), INFO_TUNNEL), CryptoError, /32 bytes, got 31/);
});
