import { assertEquals, assertRejects, assertThrows } from "../../tests/assert.ts";
import { fromHex, toHex } from "../bytes.ts";
import { type AesGcmBackend, type AesGcmKey, importAesGcmKey, importAesGcmKeySync } from "./aes_gcm.ts";
import { CryptoError } from "./errors.ts";
import { primitives } from "./primitives.ts";

// The GCM specification's (McGrew & Viega) test case 16: AES-256, 96-bit IV, with AAD.
const KEY = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
const IV = fromHex("cafebabefacedbaddecaf888");
const AAD = fromHex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
const PLAINTEXT = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
const SEALED = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" + "76fc6ece0f4e1768cddf8853bb2d551b";

const BACKENDS: AesGcmBackend[] = ["node", "webcrypto", "hybrid"];

for (const backend of BACKENDS) {
  Deno.test(`aes-gcm: GCM spec test case 16 on ${backend}`, async () => {
    const key = await importAesGcmKey(fromHex(KEY), backend);
    // "node" asks for the process's synchronous engine, which names itself (libcrypto or node).
    assertEquals(key.backend, backend === "node" ? primitives.name : backend);
    assertEquals(toHex(await key.seal(IV, fromHex(PLAINTEXT), AAD)), SEALED);
    assertEquals(toHex(await key.open(IV, fromHex(SEALED), AAD)), PLAINTEXT);
    if (key.sync) {
      assertEquals(toHex(key.sealSync(IV, fromHex(PLAINTEXT), AAD)), SEALED);
      assertEquals(toHex(key.openSync(IV, fromHex(SEALED), AAD)), PLAINTEXT);
    }
  });
}

Deno.test("aes-gcm: node and Web Crypto interoperate both ways on random data", async () => {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const node = importAesGcmKeySync(raw.slice());
  const web = await importAesGcmKey(raw, "webcrypto");
  for (const size of [0, 1, 15, 16, 17, 1500, 4130]) {
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const aad = crypto.getRandomValues(new Uint8Array(size % 7));
    const msg = crypto.getRandomValues(new Uint8Array(size));
    assertEquals(toHex(await web.open(nonce, node.sealSync(nonce, msg, aad), aad)), toHex(msg));
    assertEquals(toHex(node.openSync(nonce, await web.seal(nonce, msg, aad), aad)), toHex(msg));
  }
});

Deno.test("aes-gcm: importing zeroes the raw key on every backend", async () => {
  for (const backend of BACKENDS) {
    const raw = fromHex(KEY);
    await importAesGcmKey(raw, backend);
    assertEquals(toHex(raw), "00".repeat(32), backend);
  }
  const raw = fromHex(KEY);
  importAesGcmKeySync(raw);
  assertEquals(toHex(raw), "00".repeat(32));
});

Deno.test("aes-gcm: a tampered message is a CryptoError on every backend and path", async () => {
  for (const backend of BACKENDS) {
    const key: AesGcmKey = await importAesGcmKey(fromHex(KEY), backend);
    const bad = fromHex(SEALED);
    bad[bad.length - 1] ^= 0x80;
    await assertRejects(() => key.open(IV, bad, AAD), CryptoError, /authentication failed/);
    if (key.sync) assertThrows(() => key.openSync(IV, bad, AAD), CryptoError, /authentication failed/);
    else assertThrows(() => key.openSync(IV, bad, AAD), CryptoError, /no synchronous API/);
  }
});

Deno.test("aes-gcm: wrong key, nonce or ciphertext lengths are CryptoErrors", async () => {
  assertThrows(() => importAesGcmKeySync(new Uint8Array(24)), CryptoError, /32 bytes, got 24/);
  await assertRejects(() => importAesGcmKey(new Uint8Array(0), "webcrypto"), CryptoError, /got 0/);
  const key = importAesGcmKeySync(fromHex(KEY));
  assertThrows(
    () => key.sealSync(new Uint8Array(16), new Uint8Array(1), AAD),
    CryptoError,
    /nonce must be 12/,
  );
  assertThrows(() => key.openSync(IV, new Uint8Array(3), AAD), CryptoError, /at least 16/);
});
