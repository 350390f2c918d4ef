/**
 * Raw 32-byte X25519/Ed25519 keys ⇄ node:crypto KeyObjects. node:crypto only imports these keys
 * wrapped in PKCS#8 (private) or SPKI (public) DER, whose encodings for these two curves are a
 * fixed header followed by the raw key (RFC 8410), so the wrapping is a constant prefix.
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { CryptoInputError } from "./errors.ts";

/** The two curves pilot uses, named by their RFC 8410 algorithm. */
export type OkpCurve = "X25519" | "Ed25519";

/** Raw key length of both curves. */
export const OKP_KEY_LENGTH = 32;

// OID 1.3.101.110 (X25519) and 1.3.101.112 (Ed25519): the only byte that differs.
const CURVE_OID_LAST: Record<OkpCurve, number> = { X25519: 0x6e, Ed25519: 0x70 };
const PKCS8_HEADER = [
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  -1,
  0x04,
  0x22,
  0x04,
  0x20,
];
const SPKI_HEADER = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, -1, 0x03, 0x21, 0x00];

function wrap(header: number[], curve: OkpCurve, raw: Uint8Array): Uint8Array<ArrayBuffer> {
  if (raw.length !== OKP_KEY_LENGTH) {
    throw new CryptoInputError(`${curve} key must be ${OKP_KEY_LENGTH} bytes, got ${raw.length}`);
  }
  const der = new Uint8Array(header.length + OKP_KEY_LENGTH);
  header.forEach((b, i) => der[i] = b === -1 ? CURVE_OID_LAST[curve] : b);
  der.set(raw, header.length);
  return der;
}

/**
 * The PKCS#8 DER of a raw 32-byte private key (CryptoInputError otherwise), the form node:crypto and
 * Web Crypto import. It holds the secret: zero it when done.
 */
export function pkcs8Der(curve: OkpCurve, raw: Uint8Array): Uint8Array<ArrayBuffer> {
  return wrap(PKCS8_HEADER, curve, raw);
}

/** A private KeyObject from a raw 32-byte key (CryptoInputError otherwise); the temporary DER copy is zeroed. */
export function privateKeyObject(curve: OkpCurve, raw: Uint8Array): KeyObject {
  const der = pkcs8Der(curve, raw);
  try {
    return createPrivateKey({ key: Buffer.from(der.buffer), format: "der", type: "pkcs8" });
  } finally {
    der.fill(0);
  }
}

/** The SPKI DER of a raw 32-byte public key (CryptoInputError otherwise). */
export function spkiDer(curve: OkpCurve, raw: Uint8Array): Uint8Array<ArrayBuffer> {
  return wrap(SPKI_HEADER, curve, raw);
}

/** A public KeyObject from a raw 32-byte key; throws if the bytes are not a valid key. */
export function publicKeyObject(curve: OkpCurve, raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: Buffer.from(spkiDer(curve, raw).buffer),
    format: "der",
    type: "spki",
  });
}

/** The raw 32-byte public key of a private or public KeyObject. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const publicKey = key.type === "public" ? key : createPublicKey(key);
  const spki = publicKey.export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - OKP_KEY_LENGTH));
}
