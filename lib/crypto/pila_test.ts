import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { concatBytes, fromHex, toHex } from "../bytes.ts";
import { ed25519FromSeed } from "./ed25519.ts";
import { CryptoError } from "./errors.ts";
import { pilaMessage, signPila, verifyPila } from "./pila.ts";

// docs/protocol/wire.md §6.2 PILA vector.
const SEED = fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const ED_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const A_PUBLIC = fromHex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
const SIGNATURE = "880af5e2ce0d44fc98432c2ff8c867567f42f442cd9e00c298199823844f1e7d" +
  "54c5560c7c7480b2f90855b73178c665295538bd30e521f794c494e793e7610d";

function flip(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

Deno.test("pila: signed message is 'auth' ‖ node BE ‖ X25519 key", () => {
  const msg = pilaMessage(1, A_PUBLIC);
  assertEquals(msg.length, 40);
  assertEquals(toHex(msg), "61757468" + "00000001" + toHex(A_PUBLIC));
  assertEquals(toHex(pilaMessage(0xfedcba98, A_PUBLIC).subarray(4, 8)), "fedcba98");
});

Deno.test("pila: signature and 136-byte frame match the vector", () => {
  const identity = ed25519FromSeed(SEED);
  assertEquals(toHex(identity.publicKey), ED_PUBLIC);
  const sig = signPila(SEED, 1, A_PUBLIC);
  assertEquals(toHex(sig), SIGNATURE);
  const frame = concatBytes(fromHex("50494C41"), fromHex("00000001"), A_PUBLIC, identity.publicKey, sig);
  assertEquals(frame.length, 136);
  assert(verifyPila(identity.publicKey, 1, A_PUBLIC, sig));
});

Deno.test("pila: any flipped bit in signature, key, node or X25519 key fails", () => {
  const pub = fromHex(ED_PUBLIC);
  const sig = fromHex(SIGNATURE);
  assert(verifyPila(pub, 1, A_PUBLIC, sig));
  const cases: [Uint8Array, number, Uint8Array, Uint8Array][] = [
    [pub, 1, A_PUBLIC, flip(sig, 0)],
    [pub, 1, A_PUBLIC, flip(sig, 300)],
    [pub, 1, A_PUBLIC, flip(sig, 511)],
    [flip(pub, 9), 1, A_PUBLIC, sig],
    [pub, 2, A_PUBLIC, sig],
    [pub, 1 + 2 ** 31, A_PUBLIC, sig],
    [pub, 1, flip(A_PUBLIC, 200), sig],
  ];
  for (const [key, node, x, s] of cases) {
    assert(!verifyPila(key, node, x, s));
  }
});

Deno.test("pila: malformed inputs verify false, build throws CryptoError", () => {
  const pub = fromHex(ED_PUBLIC);
  const sig = fromHex(SIGNATURE);
  assert(!verifyPila(pub, -1, A_PUBLIC, sig));
  assert(!verifyPila(pub, 1, A_PUBLIC.subarray(1), sig));
  assert(!verifyPila(pub, 1, A_PUBLIC, sig.subarray(1)));
  assert(!verifyPila(pub.subarray(1), 1, A_PUBLIC, sig));
  assert(!verifyPila(pub, 2 ** 32, A_PUBLIC, sig));
  assertThrows(() => pilaMessage(2 ** 32, A_PUBLIC), CryptoError, /u32/);
  assertThrows(() => pilaMessage(1.5, A_PUBLIC), CryptoError, /u32/);
  assertThrows(() => pilaMessage(1, new Uint8Array(31)), CryptoError, /got 31/);
});
