import { ed25519 } from "@noble/curves/ed25519.js";
import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/assert.ts";
import { fromHex, toHex } from "../bytes.ts";
import {
  ed25519FromSeed,
  generateEd25519KeyPair,
  signEd25519,
  signEd25519Async,
  verifyEd25519,
  verifyEd25519Async,
} from "./ed25519.ts";
import { CryptoInputError } from "./errors.ts";

// RFC 8032 §7.1 test 2 (one-byte message 0x72).
const SEED = fromHex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
const PUBLIC = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
const MESSAGE = fromHex("72");
const SIGNATURE = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" +
  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

Deno.test("ed25519: RFC 8032 vector, sync and async forms", async () => {
  assertEquals(toHex(ed25519FromSeed(SEED).publicKey), PUBLIC);
  assertEquals(toHex(signEd25519(SEED, MESSAGE)), SIGNATURE);
  assertEquals(toHex(await signEd25519Async(SEED, MESSAGE)), SIGNATURE);
  assert(verifyEd25519(fromHex(PUBLIC), MESSAGE, fromHex(SIGNATURE)));
  assert(await verifyEd25519Async(fromHex(PUBLIC), MESSAGE, fromHex(SIGNATURE)));
  assert(!(await verifyEd25519Async(fromHex(PUBLIC), fromHex("73"), fromHex(SIGNATURE))));
  await assertRejects(() => signEd25519Async(new Uint8Array(1), MESSAGE), CryptoInputError);
});

Deno.test("ed25519: agrees with an independent implementation (@noble/curves) on random keys", () => {
  for (let i = 0; i < 16; i++) {
    const { seed, publicKey } = generateEd25519KeyPair();
    assertEquals(toHex(publicKey), toHex(ed25519.getPublicKey(seed)));
    const msg = crypto.getRandomValues(new Uint8Array(i * 37));
    const sig = signEd25519(seed, msg);
    assertEquals(toHex(sig), toHex(ed25519.sign(msg, seed)));
    assert(verifyEd25519(publicKey, msg, sig));
    const bad = msg.length ? msg.slice() : Uint8Array.of(0);
    bad[0] ^= 1;
    assert(!verifyEd25519(publicKey, bad, sig));
    const badSig = sig.slice();
    badSig[i] ^= 0x10;
    assert(!verifyEd25519(publicKey, msg, badSig));
  }
});

Deno.test("ed25519: malformed keys and signatures verify false; bad seeds throw", () => {
  const pub = fromHex(PUBLIC);
  const sig = fromHex(SIGNATURE);
  assert(!verifyEd25519(pub.subarray(1), MESSAGE, sig));
  assert(!verifyEd25519(pub, MESSAGE, sig.subarray(1)));
  assert(!verifyEd25519(new Uint8Array(32).fill(0xff), MESSAGE, sig));
  assertThrows(() => signEd25519(new Uint8Array(31), MESSAGE), CryptoInputError, /got 31/);
  assertThrows(() => ed25519FromSeed(new Uint8Array(33)), CryptoInputError, /got 33/);
});

Deno.test("ed25519: a seed array rewritten in place signs with its new key, not the one prepared before", () => {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const first = ed25519FromSeed(seed);
  const msg = new TextEncoder().encode("m");
  assert(verifyEd25519(first.publicKey, msg, signEd25519(seed, msg)));
  assert(verifyEd25519(first.publicKey, msg, signEd25519(seed, msg)));
  crypto.getRandomValues(seed);
  const second = ed25519FromSeed(seed);
  const sig = signEd25519(seed, msg);
  assert(verifyEd25519(second.publicKey, msg, sig));
  assert(!verifyEd25519(first.publicKey, msg, sig));
});
