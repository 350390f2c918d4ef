import { assert, assertEquals } from "../../tests/assert.ts";
import { generateEd25519KeyPair, signEd25519 } from "./ed25519.ts";
import { Ed25519Verifier } from "./ed25519_verifier.ts";

const msg = new TextEncoder().encode("hello");

Deno.test("Ed25519Verifier: verifies like verifyEd25519 and prepares each key once", () => {
  const v = new Ed25519Verifier(4);
  const kp = generateEd25519KeyPair();
  const sig = signEd25519(kp.seed, msg);
  assert(v.verify("a", kp.publicKey, msg, sig));
  assert(v.verify("a", kp.publicKey, msg, sig));
  assertEquals(v.prepared, 1);
  assert(!v.verify("a", kp.publicKey, new TextEncoder().encode("hellO"), sig));
  const bad = sig.slice();
  bad[0] ^= 1;
  assert(!v.verify("a", kp.publicKey, msg, bad));
});

Deno.test("Ed25519Verifier: malformed input is false and never cached", () => {
  const v = new Ed25519Verifier(4);
  const kp = generateEd25519KeyPair();
  const sig = signEd25519(kp.seed, msg);
  assert(!v.verify("short", kp.publicKey.subarray(1), msg, sig));
  assert(!v.verify("a", kp.publicKey, msg, sig.subarray(1)));
  assertEquals(v.size, 0);
});

Deno.test("Ed25519Verifier: holds at most `capacity` keys, dropping the oldest", () => {
  const v = new Ed25519Verifier(3);
  const pairs = Array.from({ length: 5 }, () => generateEd25519KeyPair());
  pairs.forEach((kp, i) => assert(v.verify(`k${i}`, kp.publicKey, msg, signEd25519(kp.seed, msg))));
  assertEquals(v.size, 3);
  assertEquals(v.prepared, 5);
  assert(v.verify("k4", pairs[4].publicKey, msg, signEd25519(pairs[4].seed, msg)));
  assertEquals(v.prepared, 5);
  assert(v.verify("k0", pairs[0].publicKey, msg, signEd25519(pairs[0].seed, msg)));
  assertEquals(v.prepared, 6);
});

Deno.test("Ed25519Verifier: a key verified with keep=false is used but not kept; a kept one is reused", () => {
  const v = new Ed25519Verifier(3);
  const kp = generateEd25519KeyPair();
  const sig = signEd25519(kp.seed, msg);
  assert(v.verify("once", kp.publicKey, msg, sig, false));
  assertEquals([v.size, v.prepared], [0, 1]);
  assert(v.verify("once", kp.publicKey, msg, sig));
  assert(v.verify("once", kp.publicKey, msg, sig, false));
  assertEquals([v.size, v.prepared], [1, 2]);
});
