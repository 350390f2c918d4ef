import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { fromHex, toHex, utf8 } from "../bytes.ts";
import { CryptoError } from "./errors.ts";
import { loadPrimitives, primitives, type SyncPrimitives } from "./primitives.ts";
import { openLibcryptoPrimitives } from "./primitives_libcrypto.ts";
import { nodePrimitives } from "./primitives_node.ts";

const libcrypto = openLibcryptoPrimitives();
const IMPLEMENTATIONS: SyncPrimitives[] = libcrypto ? [libcrypto, nodePrimitives] : [nodePrimitives];

// RFC 7748 §6.1.
const ALICE_PRIVATE = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const ALICE_PUBLIC = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const BOB_PRIVATE = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const BOB_PUBLIC = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

// RFC 8032 §7.1, tests 1 (empty message) and 2 (one byte).
const ED_VECTORS = [
  {
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature:
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature:
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
];

Deno.test("primitives: the process uses libcrypto where it loads", async () => {
  assertEquals(primitives.name, libcrypto ? "libcrypto" : "node");
  assertEquals((await loadPrimitives()).name, primitives.name);
});

for (const p of IMPLEMENTATIONS) {
  Deno.test(`primitives (${p.name}): X25519 RFC 7748 vectors`, () => {
    assertEquals(toHex(p.x25519PublicKey(fromHex(ALICE_PRIVATE))), ALICE_PUBLIC);
    assertEquals(toHex(p.x25519PublicKey(fromHex(BOB_PRIVATE))), BOB_PUBLIC);
    assertEquals(toHex(p.x25519(fromHex(ALICE_PRIVATE), fromHex(BOB_PUBLIC))), SHARED);
    assertEquals(toHex(p.x25519(fromHex(BOB_PRIVATE), fromHex(ALICE_PUBLIC))), SHARED);
  });

  Deno.test(`primitives (${p.name}): X25519 refuses low-order peer keys`, () => {
    for (const low of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      assertThrows(() => p.x25519(fromHex(ALICE_PRIVATE), low), CryptoError, /low order/);
    }
  });

  Deno.test(`primitives (${p.name}): Ed25519 RFC 8032 vectors, and forgeries refused`, () => {
    for (const v of ED_VECTORS) {
      const seed = fromHex(v.seed);
      const message = fromHex(v.message);
      assertEquals(toHex(p.ed25519PublicKey(seed)), v.publicKey);
      assertEquals(toHex(p.ed25519Sign(seed, message)), v.signature);
      assert(p.ed25519Verify(fromHex(v.publicKey), message, fromHex(v.signature)));
      const forged = fromHex(v.signature);
      forged[5] ^= 1;
      assert(!p.ed25519Verify(fromHex(v.publicKey), message, forged), "a changed signature is refused");
      assert(!p.ed25519Verify(fromHex(v.publicKey), utf8("other"), fromHex(v.signature)));
      assert(!p.ed25519Verify(fromHex(v.publicKey).subarray(1), message, fromHex(v.signature)));
      assert(!p.ed25519Verify(fromHex(v.publicKey), message, fromHex(v.signature).subarray(1)));
    }
  });

  Deno.test(`primitives (${p.name}): a seed array rewritten in place signs with its new key`, () => {
    const seed = fromHex(ED_VECTORS[0].seed);
    assertEquals(toHex(p.ed25519Sign(seed, new Uint8Array(0))), ED_VECTORS[0].signature);
    seed.set(fromHex(ED_VECTORS[1].seed));
    assertEquals(toHex(p.ed25519Sign(seed, fromHex("72"))), ED_VECTORS[1].signature);
  });

  Deno.test(`primitives (${p.name}): HMAC-SHA256 and SHA-256 vectors`, () => {
    // RFC 4231 test case 1; RFC 5869 test 3's PRK (an empty key); FIPS 180-2 "abc" and "".
    assertEquals(
      toHex(p.hmacSha256(new Uint8Array(20).fill(0x0b), utf8("Hi There"))),
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    );
    assertEquals(
      toHex(p.hmacSha256(new Uint8Array(0), new Uint8Array(22).fill(0x0b))),
      "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
    );
    assertEquals(
      toHex(p.sha256(utf8("abc"))),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    assertEquals(
      toHex(p.sha256(new Uint8Array(0))),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });

  Deno.test(`primitives (${p.name}): AES-256-GCM engine keeps its own key copy`, () => {
    const key = new Uint8Array(32).fill(7);
    const engine = p.aesGcm(key);
    assertEquals(key, new Uint8Array(32).fill(7), "the caller's key is left for the caller to zero");
    key.fill(0);
    const nonce = new Uint8Array(12).fill(1);
    const sealed = engine.sealSync(nonce, utf8("hello"), utf8("aad"));
    assertEquals(engine.openSync(nonce, sealed, utf8("aad")), utf8("hello"));
    sealed[0] ^= 1;
    assertThrows(() => engine.openSync(nonce, sealed, utf8("aad")), CryptoError);
  });
}

if (libcrypto) {
  const l = libcrypto;
  Deno.test("primitives: libcrypto and node:crypto agree on random keys and messages", () => {
    const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
    fc.assert(
      fc.property(bytes32, bytes32, fc.uint8Array({ maxLength: 300 }), (a, b, message) => {
        const pubB = nodePrimitives.x25519PublicKey(b);
        assertEquals(toHex(l.x25519PublicKey(b)), toHex(pubB));
        let shared: string | undefined;
        try {
          shared = toHex(nodePrimitives.x25519(a, pubB));
        } catch (err) {
          assertThrows(() => l.x25519(a, pubB), CryptoError);
          assert(err instanceof CryptoError);
        }
        if (shared !== undefined) assertEquals(toHex(l.x25519(a, pubB)), shared);
        const sig = l.ed25519Sign(a, message);
        assertEquals(toHex(sig), toHex(nodePrimitives.ed25519Sign(a, message)));
        assert(nodePrimitives.ed25519Verify(l.ed25519PublicKey(a), message, sig));
        assertEquals(toHex(l.hmacSha256(a, message)), toHex(nodePrimitives.hmacSha256(a, message)));
        assertEquals(toHex(l.sha256(message)), toHex(nodePrimitives.sha256(message)));
      }),
      { numRuns: 200 },
    );
  });

  Deno.test("primitives: libcrypto's AES engine opens what node:crypto's sealed and back", () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const a = l.aesGcm(key);
    const b = nodePrimitives.aesGcm(key);
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const text = crypto.getRandomValues(new Uint8Array(1000));
    assertEquals(b.openSync(nonce, a.sealSync(nonce, text, nonce), nonce), text);
    assertEquals(a.openSync(nonce, b.sealSync(nonce, text, nonce), nonce), text);
  });
}
