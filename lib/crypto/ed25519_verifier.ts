/**
 * Ed25519 verification with a bounded cache of prepared public keys. Turning 32 raw bytes into a
 * node:crypto KeyObject (SPKI wrap and parse) costs about a fifth of a verification, and a
 * registry verifies the same node's key on every signed request it sends; so each key is
 * prepared once and kept while it is among the most recently added `capacity` keys.
 * @module
 */
import { verify } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { publicKeyObject } from "./node_keys.ts";
import { ED25519_PUBLIC_KEY_LENGTH, ED25519_SIGNATURE_LENGTH } from "./ed25519.ts";

/** Keys kept by default: a registry's active nodes, at ~100 bytes of heap each. */
export const DEFAULT_VERIFIER_CAPACITY = 10_000;

/** Verifies Ed25519 signatures, preparing each public key once (up to `capacity` keys kept). */
export class Ed25519Verifier {
  readonly #keys = new Map<string, KeyObject>();
  /** Key preparations (cache misses), for tests and metrics. */
  prepared = 0;

  constructor(readonly capacity: number = DEFAULT_VERIFIER_CAPACITY) {}

  /** Keys held now. */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * True when `signature` is a valid signature of `message` by the public key `raw`; `id` names
   * that key for the cache (e.g. its base64 text) and must always denote the same bytes. `raw` may be
   * a function giving the bytes, called only when the key is not held (decoding is then skipped). False
   * for any malformed input; invalid keys are never cached. With `keep` false a key not held yet is
   * prepared for this call only (a key seen once, e.g. a registration's, would only evict others).
   */
  verify(
    id: string,
    raw: Uint8Array | (() => Uint8Array),
    message: Uint8Array,
    signature: Uint8Array,
    keep = true,
  ): boolean {
    if (signature.length !== ED25519_SIGNATURE_LENGTH) return false;
    let key = this.#keys.get(id);
    try {
      if (key === undefined) {
        const bytes = typeof raw === "function" ? raw() : raw;
        if (bytes.length !== ED25519_PUBLIC_KEY_LENGTH) return false;
        key = publicKeyObject("Ed25519", bytes);
        this.prepared++;
        if (keep) {
          // Oldest first out: Map iterates in insertion order.
          if (this.#keys.size >= this.capacity) this.#keys.delete(this.#keys.keys().next().value!);
          this.#keys.set(id, key);
        }
      }
      return verify(null, message, key, signature);
    } catch {
      return false;
    }
  }
}
