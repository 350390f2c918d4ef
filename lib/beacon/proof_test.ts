import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { generateEd25519KeyPair } from "../crypto/ed25519.ts";
import { BeaconMessageError, decodeBeaconMessage, encodeBeaconMessage } from "./messages.ts";
import { appendProof, parseProof, PROOF_SIZE, proofFresh, seedSigner, verifyProof } from "./proof.ts";

const keys = generateEd25519KeyPair();
const token = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

Deno.test("beacon proof: a signed Discover verifies, and still decodes as the reference's Discover", () => {
  const bare = encodeBeaconMessage({ kind: "Discover", node: 42 });
  const signed = appendProof(bare, 1_700_000_000_000, token, seedSigner(keys.seed));
  assertEquals(signed.length, bare.length + PROOF_SIZE);
  assertEquals(decodeBeaconMessage(signed), { kind: "Discover", node: 42 }); // trailing bytes ignored
  const parsed = parseProof(signed);
  assert(parsed.kind === "proof");
  assertEquals(parsed.proof.timestamp, 1_700_000_000_000);
  assertEquals(parsed.proof.token, token);
  assert(verifyProof(parsed.proof, keys.publicKey));
  assert(!verifyProof(parsed.proof, generateEd25519KeyPair().publicKey), "another node's key");
});

Deno.test("beacon proof: any changed byte (node, target, timestamp, token) breaks the signature", () => {
  const bare = encodeBeaconMessage({ kind: "PunchRequest", requester: 7, target: 9 });
  const signed = appendProof(bare, 5_000, token, seedSigner(keys.seed));
  for (const at of [1, 5, 8, 10, 20, signed.length - 1]) {
    const tampered = signed.slice();
    tampered[at] ^= 1;
    const parsed = parseProof(tampered);
    assert(parsed.kind === "proof", `byte ${at}`);
    assert(!verifyProof(parsed.proof, keys.publicKey), `byte ${at} changed yet verified`);
  }
});

Deno.test("beacon proof: no trailer is a reference message; a wrong-sized or unknown-version trailer is malformed", () => {
  assertEquals(parseProof(encodeBeaconMessage({ kind: "Discover", node: 1 })).kind, "none");
  const signed = appendProof(
    encodeBeaconMessage({ kind: "Discover", node: 1 }),
    1,
    token,
    seedSigner(keys.seed),
  );
  assertEquals(parseProof(signed.subarray(0, signed.length - 1)).kind, "malformed");
  const v2 = signed.slice();
  v2[5] = 2;
  assertEquals(parseProof(v2).kind, "malformed");
  assertEquals(parseProof(new Uint8Array([0x05, 0, 0, 0, 1])).kind, "malformed"); // not a Discover/PunchRequest
  assertEquals(parseProof(new Uint8Array(0)).kind, "malformed");
});

Deno.test("beacon proof: freshness is a ±60 s window", () => {
  assert(proofFresh(100_000, 100_000 + 59_000));
  assert(proofFresh(100_000 + 59_000, 100_000));
  assert(!proofFresh(100_000, 100_000 + 61_000));
});

Deno.test("beacon proof: bad encoder input raises BeaconMessageError like the message codec", () => {
  const bare = encodeBeaconMessage({ kind: "Discover", node: 42 });
  const sign = seedSigner(keys.seed);
  const refused = (fn: () => unknown) => {
    const err = assertThrows(fn, BeaconMessageError) as BeaconMessageError;
    assertEquals(err.reason, "invalid-field");
  };
  refused(() => appendProof(bare, 1, new Uint8Array(7), sign));
  refused(() => appendProof(bare, -1, token, sign));
  refused(() => appendProof(appendProof(bare, 1, token, sign), 2, token, sign));
  refused(() => appendProof(bare, 1, token, () => new Uint8Array(63)));
});
