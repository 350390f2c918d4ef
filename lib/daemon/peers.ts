/**
 * Where peers are: resolves a node's UDP endpoint through the registry (privacy rules
 * apply there), hands it to the tunnel, and caches it so a registry outage does not cut
 * existing peers off (docs/protocol/wire.md §8.4: fresh for 5 minutes, used stale when the registry
 * is unreachable). Also answers the tunnel's question "which Ed25519 key does the
 * registry hold for node N" (PILA verification).
 */
import { errorMessage, PilotError } from "../errors.ts";
import { TokenBucket } from "../net/token_bucket.ts";
import { RegistryReplyError } from "../registry/errors.ts";
import { fromBase64 } from "../bytes.ts";
import type { Logger } from "../log.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { Tunnel } from "../tunnel/tunnel.ts";

/** How long a resolved endpoint is trusted without asking the registry again. */
export const ENDPOINT_FRESH_MS = 5 * 60_000;
/** How long a registry key answer is reused (a rotated key is picked up after this). */
export const KEY_CACHE_MS = 5 * 60_000;
/** Most endpoints and keys remembered. */
export const MAX_CACHED_PEERS = 65_536;
/**
 * Key look-ups this daemon sends the registry per second, and burst: well under the registry's
 * own limit for its source (500 queries a minute), so frames naming made-up node IDs cannot get
 * the daemon throttled. A look-up over budget answers "unknown for now" (the peer retries).
 */
export const KEY_LOOKUP_RATE = 3;
export const KEY_LOOKUP_BURST = 30;
/** How long "the registry does not know node N" is believed (negative cache), and its size. */
export const UNKNOWN_KEY_CACHE_MS = 60_000;
export const MAX_UNKNOWN_KEYS = 16_384;

/** A node could not be resolved to an endpoint. */
export class PeerResolveError extends PilotError {}

interface CachedEndpoint {
  endpoint: string;
  at: number;
}

interface CachedKey {
  key: Uint8Array | undefined;
  at: number;
}

/** Resolution and caching of peer endpoints and keys. */
export class PeerDirectory {
  readonly #registry: RegistryClient;
  readonly #tunnel: Tunnel;
  readonly #log: Logger;
  /** Nodes the tunnel has a route to (resolved by us, or learned from their authenticated traffic). */
  readonly #routed = new Set<number>();
  readonly #inflight = new Map<number, Promise<void>>();
  readonly #endpoints = new Map<number, CachedEndpoint>();
  readonly #keys = new Map<number, CachedKey>();
  /** Node IDs the registry said it does not know, with when it said so. */
  readonly #unknownKeys = new Map<number, number>();
  /** Key look-ups in flight, one per node (concurrent callers share it). */
  readonly #keyLookups = new Map<number, Promise<Uint8Array | undefined>>();
  readonly #keyLookupBudget = new TokenBucket(KEY_LOOKUP_RATE, KEY_LOOKUP_BURST, Date.now());
  /** Key look-ups answered without the registry (negative cache, shared, over budget). */
  readonly keyLookupCounters = { sent: 0, unknownCached: 0, coalesced: 0, overBudget: 0 };

  constructor(registry: RegistryClient, tunnel: Tunnel, log: Logger, private readonly selfId: () => number) {
    this.#registry = registry;
    this.#tunnel = tunnel;
    this.#log = log;
  }

  /** True when packets to `node` can be handed to the tunnel right away. */
  isRouted(node: number): boolean {
    return this.#routed.has(node);
  }

  /** Records that the tunnel knows `node` (a packet from it was authenticated). */
  learned(node: number): void {
    if (this.#routed.size < MAX_CACHED_PEERS) this.#routed.add(node);
  }

  /** Forgets a node (its endpoint is looked up again on the next send). */
  forget(node: number): void {
    this.#routed.delete(node);
    this.#endpoints.delete(node);
    this.#keys.delete(node);
    this.#unknownKeys.delete(node);
  }

  /** Number of resolved peers. */
  get size(): number {
    return this.#routed.size;
  }

  /**
   * Makes sure the tunnel has an endpoint for `node`, asking the registry when needed.
   * Concurrent callers share one lookup. Throws PeerResolveError with the reason.
   */
  ensure(node: number): Promise<void> {
    if (this.#routed.has(node) || node === this.selfId()) return Promise.resolve();
    let p = this.#inflight.get(node);
    if (!p) {
      p = this.#resolve(node).finally(() => this.#inflight.delete(node));
      this.#inflight.set(node, p);
    }
    return p;
  }

  async #resolve(node: number): Promise<void> {
    const cached = this.#endpoints.get(node);
    let endpoint: string | undefined;
    if (cached && Date.now() - cached.at < ENDPOINT_FRESH_MS) endpoint = cached.endpoint;
    else {
      try {
        const reply = await this.#registry.resolve(node);
        const real = typeof reply.real_addr === "string" ? reply.real_addr : "";
        if (!real) throw new PeerResolveError(`node ${node} has no real address`);
        endpoint = real;
        this.#remember(this.#endpoints, node, { endpoint, at: Date.now() });
      } catch (err) {
        if (!cached) {
          const why = errorMessage(err);
          throw new PeerResolveError(`resolve node ${node}: ${why}`, { cause: err });
        }
        this.#log.info("registry resolve failed; using cached endpoint", { node, err });
        endpoint = cached.endpoint;
      }
    }
    this.#tunnel.addPeer(node, endpoint);
    this.learned(node);
  }

  /**
   * Asks the registry again for `node`'s endpoint and moves the tunnel there when it
   * changed (a peer that restarted on a new port). Failures are logged, not thrown:
   * the caller is retrying anyway.
   */
  async refresh(node: number): Promise<void> {
    try {
      const reply = await this.#registry.resolve(node);
      const real = typeof reply.real_addr === "string" ? reply.real_addr : "";
      if (!real) return;
      const cached = this.#endpoints.get(node);
      this.#remember(this.#endpoints, node, { endpoint: real, at: Date.now() });
      if (cached?.endpoint !== real) {
        this.#log.info("peer endpoint changed", { node, from: cached?.endpoint ?? "", to: real });
        this.#tunnel.setEndpoint(node, real);
      }
      this.learned(node);
    } catch (err) {
      this.#log.info("endpoint refresh failed", { node, err });
    }
  }

  /**
   * The Ed25519 key the registry holds for `node`, or undefined when it has none. Answers come
   * from the cache first (a key for {@link KEY_CACHE_MS}, "unknown" for
   * {@link UNKNOWN_KEY_CACHE_MS}); concurrent questions about one node share one look-up; and
   * look-ups are held to the daemon's own budget ({@link KEY_LOOKUP_RATE}), beyond which the
   * answer is "unknown for now" and nothing is cached.
   */
  publicKey(node: number): Promise<Uint8Array | undefined> {
    const now = Date.now();
    const cached = this.#keys.get(node);
    if (cached && now - cached.at < KEY_CACHE_MS) return Promise.resolve(cached.key);
    const unknownAt = this.#unknownKeys.get(node);
    if (unknownAt !== undefined && now - unknownAt < UNKNOWN_KEY_CACHE_MS) {
      this.keyLookupCounters.unknownCached++;
      return Promise.resolve(undefined);
    }
    const inflight = this.#keyLookups.get(node);
    if (inflight) {
      this.keyLookupCounters.coalesced++;
      return inflight;
    }
    if (!this.#keyLookupBudget.take(now)) {
      this.keyLookupCounters.overBudget++;
      return Promise.resolve(cached?.key);
    }
    this.keyLookupCounters.sent++;
    const lookup = this.#lookupKey(node, cached).finally(() => this.#keyLookups.delete(node));
    this.#keyLookups.set(node, lookup);
    return lookup;
  }

  async #lookupKey(node: number, cached: CachedKey | undefined): Promise<Uint8Array | undefined> {
    try {
      const reply = await this.#registry.lookup(node);
      const key = typeof reply.public_key === "string" && reply.public_key
        ? fromBase64(reply.public_key)
        : undefined;
      this.#remember(this.#keys, node, { key, at: Date.now() });
      this.#unknownKeys.delete(node);
      return key;
    } catch (err) {
      if (err instanceof RegistryReplyError && err.code === "not_found") {
        this.#remember(this.#unknownKeys, node, Date.now(), MAX_UNKNOWN_KEYS);
        return undefined;
      }
      this.#log.info("registry key lookup failed", { node, err });
      return cached?.key;
    }
  }

  #remember<V>(map: Map<number, V>, node: number, value: V, limit = MAX_CACHED_PEERS): void {
    if (map.size >= limit && !map.has(node)) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    map.set(node, value);
  }
}
