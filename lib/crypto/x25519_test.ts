import { x25519 } from "@noble/curves/ed25519.js";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { concatBytes, fromHex, toHex } from "../bytes.ts";
import { CryptoError } from "./errors.ts";
import { INFO_SECURE, INFO_TUNNEL } from "./hkdf.ts";
import {
  deriveSharedKey,
  generateX25519KeyPair,
  x25519FromPrivateKey,
  x25519SharedSecret,
} from "./x25519.ts";

// docs/protocol/wire.md §6.2 (RFC 7748 §6.1 key pairs).
const A_PRIVATE = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const A_PUBLIC = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const B_PRIVATE = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const B_PUBLIC = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
const K_TUNNEL = "3e765a2f49fe2a9185dd5d57c08a3525060d2d2c2b2a356fadef25f614d38662";
const K_SECURE = "cddb817500383058931b912ed913882f4a6f0facbe47dd907100dac3913a2dbf";
const PILK_FROM_NODE_1 = "50494C4B000000018520F0098930A754748B7DDCB43EF75A0DBF3A0D26381AF4EBA4A98EAA9B4E6A";

Deno.test("x25519: public keys and shared secret match the vector", () => {
  assertEquals(toHex(x25519FromPrivateKey(fromHex(A_PRIVATE)).publicKey), A_PUBLIC);
  assertEquals(toHex(x25519FromPrivateKey(fromHex(B_PRIVATE)).publicKey), B_PUBLIC);
  assertEquals(toHex(x25519SharedSecret(fromHex(A_PRIVATE), fromHex(B_PUBLIC))), SHARED);
  assertEquals(toHex(x25519SharedSecret(fromHex(B_PRIVATE), fromHex(A_PUBLIC))), SHARED);
});

Deno.test("x25519: both sides derive the vector's K for each label", () => {
  assertEquals(toHex(deriveSharedKey(fromHex(A_PRIVATE), fromHex(B_PUBLIC), INFO_TUNNEL)), K_TUNNEL);
  assertEquals(toHex(deriveSharedKey(fromHex(B_PRIVATE), fromHex(A_PUBLIC), INFO_TUNNEL)), K_TUNNEL);
  assertEquals(toHex(deriveSharedKey(fromHex(A_PRIVATE), fromHex(B_PUBLIC), INFO_SECURE)), K_SECURE);
});

Deno.test("x25519: PILK bytes from node 1 with A's key", () => {
  const pub = x25519FromPrivateKey(fromHex(A_PRIVATE)).publicKey;
  const frame = concatBytes(fromHex("50494C4B"), fromHex("00000001"), pub);
  assertEquals(frame.length, 40);
  assertEquals(toHex(frame), toHex(fromHex(PILK_FROM_NODE_1)));
});

Deno.test("x25519: generated pairs agree and differ from each other", () => {
  const a = generateX25519KeyPair();
  const b = generateX25519KeyPair();
  assertEquals(a.publicKey.length, 32);
  assert(toHex(a.privateKey) !== toHex(b.privateKey));
  assertEquals(
    toHex(x25519SharedSecret(a.privateKey, b.publicKey)),
    toHex(x25519SharedSecret(b.privateKey, a.publicKey)),
  );
});

Deno.test("x25519: low-order peer keys (all-zero shared secret) are rejected", () => {
  const lowOrder = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p - 1
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p (non-canonical 0)
  ];
  for (const pub of lowOrder) {
    assertThrows(() => x25519SharedSecret(fromHex(A_PRIVATE), fromHex(pub)), CryptoError, /all zeros/);
  }
});

Deno.test("x25519: wrong key lengths are CryptoErrors naming the argument", () => {
  assertThrows(
    () => x25519SharedSecret(new Uint8Array(31), fromHex(B_PUBLIC)),
    CryptoError,
    /private key.*got 31/,
  );
  assertThrows(
    () => x25519SharedSecret(fromHex(A_PRIVATE), new Uint8Array(33)),
    CryptoError,
    /peer public key.*got 33/,
  );
  assertThrows(() => x25519FromPrivateKey(new Uint8Array(0)), CryptoError, /got 0/);
});

Deno.test("x25519: agrees with an independent implementation (@noble/curves)", () => {
  for (let i = 0; i < 16; i++) {
    const a = generateX25519KeyPair();
    const b = generateX25519KeyPair();
    assertEquals(toHex(a.publicKey), toHex(x25519.getPublicKey(a.privateKey)));
    assertEquals(
      toHex(x25519SharedSecret(a.privateKey, b.publicKey)),
      toHex(x25519.getSharedSecret(a.privateKey, b.publicKey)),
    );
  }
});
