/**
 * Proof of possession for beacon messages (our extension of docs/protocol/wire.md §8, described in
 * docs/compat.md "Hardening: beacon"): a Discover or PunchRequest may carry, after its fixed
 * fields, a trailer signed with the node's Ed25519 identity key, the key the registry holds. The
 * reference decoders read only the fixed fields, so a reference beacon ignores the trailer and a
 * reference daemon never sends one. The trailer also carries the node's echo token, which our
 * beacon copies into the PunchCommands it sends that node, so the daemon can tell a command that
 * answers its own beacon exchange from a forged one. Pure byte work plus the signature.
 *
 * Trailer: version(1) = 1 ‖ timestamp ms (u64) ‖ token(8) ‖ Ed25519 signature(64), 81 bytes.
 * Signed: "pilot-beacon-proof-v1" ‖ the message's fixed fields ‖ version ‖ timestamp ‖ token.
 */
import { signEd25519, verifyEd25519 } from "../crypto/ed25519.ts";
import {
  BEACON_DISCOVER,
  BEACON_PUNCH_REQUEST,
  BeaconMessageError,
  DISCOVER_SIZE,
  PUNCH_REQUEST_SIZE,
} from "./messages.ts";
import { readU64, writeU64 } from "../bytes.ts";

/** The only trailer version. */
export const PROOF_VERSION = 1;
/** Bytes of the echo token. */
export const ECHO_TOKEN_SIZE = 8;
/** Bytes of the signature. */
export const PROOF_SIGNATURE_SIZE = 64;
/** Bytes of the whole trailer: version ‖ timestamp ‖ token ‖ signature. */
export const PROOF_SIZE = 1 + 8 + ECHO_TOKEN_SIZE + PROOF_SIGNATURE_SIZE; // 81
/** A proof whose timestamp is further than this from the beacon's clock is stale (or from the future). */
export const PROOF_MAX_SKEW_MS = 60_000;

const CONTEXT = new TextEncoder().encode("pilot-beacon-proof-v1");

/** A decoded trailer; `signed` is the exact byte string the signature covers. */
export interface BeaconProof {
  timestamp: number;
  token: Uint8Array;
  signature: Uint8Array;
  signed: Uint8Array;
}

/** What the trailer of a received message is. */
export type ProofParse =
  | { kind: "none" } // no bytes after the fixed fields: a reference daemon
  | { kind: "malformed" } // trailing bytes that are not a version-1 trailer
  | { kind: "proof"; proof: BeaconProof };

/** Bytes of the fixed fields of a message type that may carry a proof, or undefined for other types. */
export function fixedSize(type: number): number | undefined {
  if (type === BEACON_DISCOVER) return DISCOVER_SIZE;
  if (type === BEACON_PUNCH_REQUEST) return PUNCH_REQUEST_SIZE;
  return undefined;
}

/** Reads the trailer of a Discover or PunchRequest (`bytes` is the whole datagram). */
export function parseProof(bytes: Uint8Array): ProofParse {
  const fixed = bytes.length > 0 ? fixedSize(bytes[0]) : undefined;
  if (fixed === undefined || bytes.length < fixed) return { kind: "malformed" };
  if (bytes.length === fixed) return { kind: "none" };
  if (bytes.length !== fixed + PROOF_SIZE || bytes[fixed] !== PROOF_VERSION) return { kind: "malformed" };
  const timestamp = Number(readU64(bytes, fixed + 1));
  const tokenAt = fixed + 9;
  const sigAt = tokenAt + ECHO_TOKEN_SIZE;
  return {
    kind: "proof",
    proof: {
      timestamp,
      token: bytes.slice(tokenAt, sigAt),
      signature: bytes.slice(sigAt, sigAt + PROOF_SIGNATURE_SIZE),
      signed: signedBytes(bytes.subarray(0, sigAt)),
    },
  };
}

/**
 * Appends a signed trailer to an encoded Discover or PunchRequest. `timestamp` is ms since the
 * epoch and must grow from one message to the next (the beacon refuses a repeat).
 */
export function appendProof(
  message: Uint8Array,
  timestamp: number,
  token: Uint8Array,
  sign: (bytes: Uint8Array) => Uint8Array,
): Uint8Array<ArrayBuffer> {
  const fixed = message.length > 0 ? fixedSize(message[0]) : undefined;
  if (fixed === undefined || message.length !== fixed) {
    throw new BeaconMessageError("invalid-field", "a proof goes only on a bare Discover or PunchRequest");
  }
  if (token.length !== ECHO_TOKEN_SIZE) {
    throw new BeaconMessageError("invalid-field", `token must be ${ECHO_TOKEN_SIZE} bytes`);
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new BeaconMessageError("invalid-field", `bad timestamp ${timestamp}`);
  }
  const out = new Uint8Array(fixed + PROOF_SIZE);
  out.set(message);
  out[fixed] = PROOF_VERSION;
  writeU64(out, fixed + 1, BigInt(timestamp));
  out.set(token, fixed + 9);
  const sigAt = fixed + 9 + ECHO_TOKEN_SIZE;
  const signature = sign(signedBytes(out.subarray(0, sigAt)));
  if (signature.length !== PROOF_SIGNATURE_SIZE) {
    throw new BeaconMessageError("invalid-field", `signer must return ${PROOF_SIGNATURE_SIZE} bytes`);
  }
  out.set(signature, sigAt);
  return out;
}

/** A signer for {@link appendProof} from an Ed25519 seed. */
export function seedSigner(seed: Uint8Array): (bytes: Uint8Array) => Uint8Array {
  return (bytes) => signEd25519(seed, bytes);
}

/** True when `proof` is signed by `publicKey`. */
export function verifyProof(proof: BeaconProof, publicKey: Uint8Array): boolean {
  return verifyEd25519(publicKey, proof.signed, proof.signature);
}

/** True when `timestamp` is within {@link PROOF_MAX_SKEW_MS} of `now`. */
export function proofFresh(timestamp: number, now: number): boolean {
  return Math.abs(timestamp - now) <= PROOF_MAX_SKEW_MS;
}

function signedBytes(head: Uint8Array): Uint8Array {
  const out = new Uint8Array(CONTEXT.length + head.length);
  out.set(CONTEXT);
  out.set(head, CONTEXT.length);
  return out;
}
