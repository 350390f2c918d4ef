/**
 * What the beacon asks the registry before it binds or discloses anything (docs/compat.md
 * "Hardening: beacon"): a node's Ed25519 key, to check a signed Discover or PunchRequest, and
 * whether a requester may see a target's endpoint, the privacy rule of `resolve` (the target is
 * public, or it and the requester trust each other or share a network). Answers are cached
 * briefly, concurrent questions about the same node are coalesced, and the caches are bounded.
 */
import { fromBase64 } from "../bytes.ts";
import { RegistryClient } from "../registry/client.ts";
import { RegistryReplyError } from "../registry/errors.ts";

/** How long a lookup's visibility, or a visibility decision, is reused. */
export const REGISTRY_VIEW_TTL_MS = 30_000;
/**
 * How long a node's key is reused. Keys rarely change, and every attached node needs its key about
 * twice a minute; the registry allows one source 500 queries a minute. A key that fails to verify
 * is fetched again sooner (see {@link NodeAuthority.publicKey}), so a rotation costs no binding.
 */
export const REGISTRY_KEY_TTL_MS = 10 * 60_000;
/** Most cached lookups and decisions each; the oldest is forgotten beyond this. */
export const REGISTRY_VIEW_MAX_ENTRIES = 16_384;

/** The registry's answers the beacon needs. Rejections mean the registry could not be asked. */
export interface NodeAuthority {
  /**
   * The node's Ed25519 public key, or undefined when the registry does not know the node. With
   * `maxAgeMs`, a cached answer older than that is fetched again.
   */
  publicKey(node: number, maxAgeMs?: number): Promise<Uint8Array | undefined>;
  /** True when {@link publicKey} would answer from its cache (no registry round trip). */
  hasKey(node: number): boolean;
  /** True when `requester` may see `target`'s endpoint (resolve's privacy rule). */
  maySee(requester: number, target: number): Promise<boolean>;
  close(): void;
}

interface NodeInfo {
  key: Uint8Array;
  isPublic: boolean;
}

interface Cached<T> {
  value: T;
  at: number;
}

/** A bounded TTL cache with in-flight coalescing. */
class AskCache<K, T> {
  readonly #entries = new Map<K, Cached<T>>();
  readonly #inflight = new Map<K, Promise<T>>();
  constructor(private readonly ttlMs: number, private readonly max: number) {}

  /** The cached answer if younger than the TTL (and than `maxAgeMs`), else `ask()`'s, shared with concurrent callers. */
  get(key: K, ask: () => Promise<T>, maxAgeMs = this.ttlMs): Promise<T> {
    const hit = this.#entries.get(key);
    if (hit && Date.now() - hit.at < Math.min(maxAgeMs, this.ttlMs)) return Promise.resolve(hit.value);
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const p = ask().then((value) => {
      this.put(key, value);
      return value;
    }).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  has(key: K): boolean {
    const hit = this.#entries.get(key);
    return hit !== undefined && Date.now() - hit.at < this.ttlMs;
  }

  put(key: K, value: T): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, at: Date.now() });
    if (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value!);
  }
}

/** {@link NodeAuthority} over a registry connection (`lookup` and `check_trust`, both unsigned queries). */
export class RegistryNodeAuthority implements NodeAuthority {
  readonly #client: RegistryClient;
  readonly #nodes: AskCache<number, NodeInfo | undefined>;
  readonly #keys: AskCache<number, Uint8Array | undefined>;
  readonly #decisions: AskCache<string, boolean>;

  constructor(options: { registry: string; registryPin?: string; ttlMs?: number }) {
    this.#client = new RegistryClient({
      address: options.registry,
      tls: options.registryPin ? { pin: options.registryPin } : undefined,
    });
    const ttl = options.ttlMs ?? REGISTRY_VIEW_TTL_MS;
    this.#nodes = new AskCache(ttl, REGISTRY_VIEW_MAX_ENTRIES);
    this.#keys = new AskCache(Math.max(ttl, REGISTRY_KEY_TTL_MS), REGISTRY_VIEW_MAX_ENTRIES);
    this.#decisions = new AskCache(ttl, REGISTRY_VIEW_MAX_ENTRIES);
  }

  publicKey(node: number, maxAgeMs?: number): Promise<Uint8Array | undefined> {
    return this.#keys.get(node, async () => (await this.#node(node, maxAgeMs))?.key, maxAgeMs);
  }

  hasKey(node: number): boolean {
    return this.#keys.has(node);
  }

  maySee(requester: number, target: number): Promise<boolean> {
    return this.#decisions.get(`${requester}>${target}`, async () => {
      if (requester === 0 || target === 0) return false;
      const [r, t] = await Promise.all([this.#node(requester), this.#node(target)]);
      if (!r || !t) return false; // a made-up requester or target sees nothing
      if (requester === target || t.isPublic) return true;
      const reply = await this.#client.checkTrust(target, requester);
      return reply.trusted === true;
    });
  }

  close(): void {
    this.#client.close();
  }

  #node(node: number, maxAgeMs?: number): Promise<NodeInfo | undefined> {
    return this.#nodes.get(node, async () => {
      try {
        const reply = await this.#client.lookup(node);
        if (typeof reply.public_key !== "string") return undefined;
        const info = { key: fromBase64(reply.public_key), isPublic: reply.public === true };
        this.#keys.put(node, info.key);
        return info;
      } catch (err) {
        if (err instanceof RegistryReplyError && err.code === "not_found") return undefined;
        throw err;
      }
    }, maxAgeMs);
  }
}
