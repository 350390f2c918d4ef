/**
 * Which Ed25519 key the registry holds for a node, cached: the tunnel asks it to verify a
 * peer's PILA, the trust service to check a handshake's signer. It needs only the registry,
 * so it exists before the tunnel that calls it (no forward reference at start-up).
 */
import { fromBase64 } from "../bytes.ts";
import type { Logger } from "../log.ts";
import type { RegistryClient } from "../registry/client.ts";

/** How long a registry key answer is reused (a rotated key is picked up after this). */
export const KEY_CACHE_MS = 5 * 60_000;
/** Most keys remembered; the oldest goes first. */
export const MAX_CACHED_KEYS = 65_536;

interface CachedKey {
  key: Uint8Array | undefined;
  at: number;
}

/** Registry key lookups with a cache; a lookup failure falls back to a stale answer. */
export class PeerKeys {
  readonly #registry: Pick<RegistryClient, "lookup">;
  readonly #log: Logger;
  readonly #keys = new Map<number, CachedKey>();

  constructor(registry: Pick<RegistryClient, "lookup">, log: Logger) {
    this.#registry = registry;
    this.#log = log;
  }

  /** The Ed25519 key the registry holds for `node`, or undefined when it has none (or cannot say). */
  async publicKey(node: number): Promise<Uint8Array | undefined> {
    const cached = this.#keys.get(node);
    if (cached && Date.now() - cached.at < KEY_CACHE_MS) return cached.key;
    try {
      const reply = await this.#registry.lookup(node);
      const key = typeof reply.public_key === "string" && reply.public_key
        ? fromBase64(reply.public_key)
        : undefined;
      this.#keys.delete(node);
      if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.delete(this.#keys.keys().next().value!);
      this.#keys.set(node, { key, at: Date.now() });
      return key;
    } catch (err) {
      this.#log.info("registry key lookup failed", { node, err });
      return cached?.key;
    }
  }

  /** Forgets `node`'s key (looked up again next time). */
  forget(node: number): void {
    this.#keys.delete(node);
  }
}
