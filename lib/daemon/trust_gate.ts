/**
 * Who may open a stream or send a datagram to this node (docs/protocol/transport.md §1): anyone when
 * the node is public; otherwise nobody our operator revoked (the local deny set, which
 * outranks the registry: its `check_trust` would still admit a revoked peer that shares
 * a network with us), then a node in the local trusted set (the trust handshake's,
 * answered without a round trip), else one the registry reports as trusted (a trust
 * pair, or a shared non-backbone network — `check_trust`). Registry answers are cached
 * briefly so a burst of SYNs costs one call, and refusals are counted and logged once
 * per peer per minute.
 */
import type { Logger } from "../log.ts";
import type { RegistryClient } from "../registry/client.ts";

/** How long a "trusted" answer is reused. */
export const TRUSTED_CACHE_MS = 30_000;
/** How long a "not trusted" answer is reused (short, so a new trust pair takes effect quickly). */
export const UNTRUSTED_CACHE_MS = 2_000;
/** Minimum interval between two refusal log lines for one peer. */
export const REFUSAL_LOG_INTERVAL_MS = 60_000;
/** Most cached answers. */
export const MAX_TRUST_CACHE = 65_536;

interface Verdict {
  trusted: boolean;
  until: number;
}

/** The reachability gate the session manager consults for SYNs and datagrams. */
export class TrustGate {
  readonly #cache = new Map<number, Verdict>();
  readonly #inflight = new Map<number, Promise<boolean>>();
  readonly #lastLogged = new Map<number, number>();
  /** Bumped by every invalidate(), so answers to checks started before it are not cached. */
  #invalidations = 0;
  /** Refusals so far. */
  refused = 0;

  constructor(
    private readonly registry: RegistryClient,
    private readonly selfId: () => number,
    private readonly isPublic: () => boolean,
    private readonly log: Logger,
    /** The local trusted set, consulted before the registry. */
    private readonly isLocallyTrusted: (node: number) => boolean = () => false,
    /** The local deny set (peers our operator revoked), consulted before anything but "public". */
    private readonly isLocallyDenied: (node: number) => boolean = () => false,
  ) {}

  /** True (or a promise of it) when `node` may reach us. */
  allows(node: number): boolean | Promise<boolean> {
    if (this.isPublic() || node === this.selfId()) return true;
    if (this.isLocallyDenied(node)) return this.#refuse(node, "revoked");
    if (this.isLocallyTrusted(node)) return true;
    const now = Date.now();
    const cached = this.#cache.get(node);
    if (cached && cached.until > now) return cached.trusted || this.#refuse(node);
    let p = this.#inflight.get(node);
    if (!p) {
      const mine: Promise<boolean> = this.#ask(node).finally(() => {
        if (this.#inflight.get(node) === mine) this.#inflight.delete(node);
      });
      p = mine;
      this.#inflight.set(node, p);
    }
    return p;
  }

  /**
   * Drops cached answers for `node` (after a trust change). A check already on its way
   * is disowned: its answer is neither cached nor shared with later callers, who ask again.
   */
  invalidate(node: number): void {
    this.#cache.delete(node);
    this.#inflight.delete(node);
    this.#invalidations++;
  }

  async #ask(node: number): Promise<boolean> {
    const epoch = this.#invalidations;
    let trusted = false;
    try {
      const reply = await this.registry.checkTrust(this.selfId(), node);
      trusted = reply.trusted === true;
    } catch (err) {
      this.log.info("check_trust failed; refusing", { node, err });
    }
    if (this.#cache.size >= MAX_TRUST_CACHE) this.#cache.clear();
    // A trust change while we asked may make this answer stale: use it once, do not cache it.
    if (epoch !== this.#invalidations) return trusted || this.#refuse(node);
    this.#cache.set(node, { trusted, until: Date.now() + (trusted ? TRUSTED_CACHE_MS : UNTRUSTED_CACHE_MS) });
    return trusted || this.#refuse(node);
  }

  #refuse(node: number, why: "untrusted" | "revoked" = "untrusted"): false {
    this.refused++;
    const now = Date.now();
    const last = this.#lastLogged.get(node) ?? -Infinity;
    if (now - last >= REFUSAL_LOG_INTERVAL_MS) {
      if (this.#lastLogged.size >= MAX_TRUST_CACHE) this.#lastLogged.clear();
      this.#lastLogged.set(node, now);
      this.log.info(`refused a connection from ${why === "revoked" ? "a revoked" : "an untrusted"} node`, {
        node,
      });
    }
    return false;
  }
}
