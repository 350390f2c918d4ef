/**
 * Who may open a stream or send a datagram to this node (transport.md §1): anyone when
 * the node is public; otherwise a node the registry reports as trusted (a trust pair,
 * or a shared non-backbone network — `check_trust`). Answers are cached briefly so a
 * burst of SYNs costs one registry call, and refusals are logged once per peer per minute.
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
  /** Refusals so far. */
  refused = 0;

  constructor(
    private readonly registry: RegistryClient,
    private readonly selfId: () => number,
    private readonly isPublic: () => boolean,
    private readonly log: Logger,
  ) {}

  /** True (or a promise of it) when `node` may reach us. */
  allows(node: number): boolean | Promise<boolean> {
    if (this.isPublic() || node === this.selfId()) return true;
    const now = Date.now();
    const cached = this.#cache.get(node);
    if (cached && cached.until > now) return cached.trusted || this.#refuse(node);
    let p = this.#inflight.get(node);
    if (!p) {
      p = this.#ask(node).finally(() => this.#inflight.delete(node));
      this.#inflight.set(node, p);
    }
    return p;
  }

  /** Drops cached answers for `node` (after a trust change). */
  invalidate(node: number): void {
    this.#cache.delete(node);
  }

  async #ask(node: number): Promise<boolean> {
    let trusted = false;
    try {
      const reply = await this.registry.checkTrust(this.selfId(), node);
      trusted = reply.trusted === true;
    } catch (err) {
      this.log.info("check_trust failed; refusing", { node, err });
    }
    if (this.#cache.size >= MAX_TRUST_CACHE) this.#cache.clear();
    this.#cache.set(node, { trusted, until: Date.now() + (trusted ? TRUSTED_CACHE_MS : UNTRUSTED_CACHE_MS) });
    return trusted || this.#refuse(node);
  }

  #refuse(node: number): false {
    this.refused++;
    const now = Date.now();
    const last = this.#lastLogged.get(node) ?? -Infinity;
    if (now - last >= REFUSAL_LOG_INTERVAL_MS) {
      if (this.#lastLogged.size >= MAX_TRUST_CACHE) this.#lastLogged.clear();
      this.#lastLogged.set(node, now);
      this.log.info("refused a connection from an untrusted node", { node });
    }
    return false;
  }
}
