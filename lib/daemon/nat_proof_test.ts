import { assert, assertEquals } from "../../tests/assert.ts";
import { ed25519FromSeed } from "../crypto/ed25519.ts";
import { decodeBeaconMessage, encodeBeaconMessage } from "../beacon/messages.ts";
import { parseProof, seedSigner, verifyProof } from "../beacon/proof.ts";
import { BeaconProofs, PUNCH_ANSWER_WINDOW_MS } from "./nat_proof.ts";

const seed = new Uint8Array(32).fill(7);
const sign = seedSigner(seed);
const command = (token?: Uint8Array) => ({
  kind: "PunchCommand" as const,
  ip: "198.51.100.9",
  port: 4000,
  token,
});
const none = () => new Set<string>();

Deno.test("nat proofs: Discover(our id) and PunchRequest are signed with growing timestamps; the STUN probe is not", () => {
  const proofs = new BeaconProofs();
  const probe = proofs.encode({ kind: "Discover", node: 0 }, sign, 0);
  assertEquals(probe, encodeBeaconMessage({ kind: "Discover", node: 0 }));
  const a = parseProof(proofs.encode({ kind: "Discover", node: 5 }, sign, 0));
  const b = parseProof(proofs.encode({ kind: "PunchRequest", requester: 5, target: 6 }, sign, 0));
  assert(a.kind === "proof" && b.kind === "proof");
  assert(b.proof.timestamp > a.proof.timestamp);
  assertEquals(a.proof.token, proofs.token);
  assert(verifyProof(b.proof, ed25519FromSeed(seed).publicKey));
  // Without a signer (not registered yet) the reference's bytes go out.
  assertEquals(
    decodeBeaconMessage(proofs.encode({ kind: "Discover", node: 5 }, undefined, 0)),
    { kind: "Discover", node: 5 },
  );
});

Deno.test("nat proofs: a PunchCommand is obeyed with our token, toward a peer's endpoint, or once per pending request", () => {
  const proofs = new BeaconProofs();
  const key = "198.51.100.9:4000";
  assertEquals(proofs.vouch(command(), key, none, 0), "unvouched"); // forged: no token, unknown, unasked
  assertEquals(proofs.vouch(command(new Uint8Array(8)), key, none, 0), "unvouched"); // a guessed token
  assertEquals(proofs.vouch(command(proofs.token), key, none, 0), "token");
  assertEquals(proofs.vouch(command(), key, () => new Set(["10.0.0.1:1", key]), 0), "known-peer");
  proofs.encode({ kind: "PunchRequest", requester: 1, target: 2 }, undefined, 1_000);
  assertEquals(proofs.vouch(command(), key, none, 1_500), "requested");
  assertEquals(proofs.vouch(command(), key, none, 1_600), "unvouched", "one answer per request");
  proofs.encode({ kind: "PunchRequest", requester: 1, target: 2 }, undefined, 2_000);
  assertEquals(
    proofs.vouch(command(), key, none, 2_000 + PUNCH_ANSWER_WINDOW_MS + 1),
    "unvouched",
    "too late",
  );
});
