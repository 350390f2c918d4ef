/**
 * The receiving half of the tunnel's key exchange (docs/protocol/wire.md §5.3–5.4, §6.5): the policy that
 * decides whether a PILA or PILK is accepted, and the per-peer context changes that follow
 * (derive, re-key on a changed key, keep on the same key, rotate before the counter ends).
 *
 * Work for one node runs strictly one item at a time (registry lookups and key import are
 * asynchronous, and peer state must not change under an await), is bounded per node, and is
 * rate-limited overall, because every frame costs a registry lookup and a signature check.
 */
import { bytesEqual } from "../bytes.ts";
import { verifyPila } from "../crypto/pila.ts";
import type { Logger } from "../log.ts";
import type { Endpoint } from "./endpoint.ts";
import {
  type CryptoContext,
  deriveContext,
  type DeriveOptions,
  disposeContext,
  rotateContext,
} from "./key_exchange.ts";
import type { Peer } from "./peer.ts";
import { KeyedRateLimiter, TokenBucket } from "../net/token_bucket.ts";
import type { DropReason } from "./stats.ts";

/** Key-exchange frames processed per second (registry lookup + signature check each), and burst. */
export const KEY_EXCHANGE_WORK_RATE = 200;
export const KEY_EXCHANGE_WORK_BURST = 400;
/**
 * Key-exchange frames accepted per second from one source IP address, and burst: one sender
 * cannot spend the global budget (relayed frames are limited per sender by the beacon instead).
 */
export const KEY_EXCHANGE_SOURCE_RATE = 20;
export const KEY_EXCHANGE_SOURCE_BURST = 40;
/**
 * Key-exchange frames accepted per second claiming one node ID whose key we do not hold yet (each
 * costs a registry look-up), and burst; a real peer sends about one.
 */
export const KEY_EXCHANGE_NODE_RATE = 4;
export const KEY_EXCHANGE_NODE_BURST = 8;
/** Sources and node IDs with a budget at once; beyond, a new key waits until idle ones are swept. */
export const KEY_EXCHANGE_BUDGET_KEYS = 8192;
/** Idle budgets are swept at most this often (when a table is full). */
const BUDGET_SWEEP_INTERVAL_MS = 1_000;
/** Key-exchange frames from one node waiting to be processed; more are dropped. */
export const MAX_KEY_EXCHANGES_PER_NODE = 2;
/**
 * A repeated same-key PILA is answered at most this often (so a peer that lost its context
 * recovers), and at most this many times between two PILS received from that peer.
 */
export const SAME_KEY_REPLY_INTERVAL_MS = 1000;
export const MAX_SAME_KEY_REPLIES = 4;
/** Minimum gap between frames we send to one peer in answer to a refused PILK. */
export const PILK_ANSWER_INTERVAL_MS = 250;
/** Registry keys remembered (the reference caches them for the daemon's lifetime). */
export const MAX_CACHED_KEYS = 65536;
/** Ed25519 public key size, as the registry returns it. */
const ED25519_KEY_SIZE = 32;

/** A received PILA or PILK, fields already copied out of the receive buffer. */
export interface KeyExchangeFrame {
  kind: "PILA" | "PILK";
  sender: number;
  x25519: Uint8Array;
  ed25519?: Uint8Array;
  signature?: Uint8Array;
}

/** What the handshake needs from the tunnel. */
export interface HandshakeHost {
  readonly log: Logger;
  /** Local policy. */
  readonly allowPilk: boolean;
  readonly hasIdentity: boolean;
  readonly privateKey: Uint8Array;
  readonly deriveOptions: DeriveOptions;
  readonly resolvePeerKey?: (nodeId: number) => Promise<Uint8Array | undefined>;
  closed(): boolean;
  /** The peer entry, created when `create` (undefined if the table is full). */
  peer(node: number, create: boolean): Peer | undefined;
  routable(peer: Peer): boolean;
  /** Sends our own key-exchange frame along the peer's path. */
  sendKeyExchange(peer: Peer): void;
  /**
   * An accepted key exchange from `peer` arrived at `from`: fill a missing endpoint and, when
   * `answer`, answer there if it is not where we send (roaming.ts). Never moves the peer.
   */
  keyExchangeFrom(peer: Peer, from: Endpoint, relayed: boolean, answer: boolean): void;
  /** Sends the packets queued for the peer now that it has a context. */
  flushPending(peer: Peer): void;
  drop(reason: DropReason): void;
  /** A key exchange was accepted; `rekey` when it replaced a context with a different key. */
  accepted(rekey: boolean): void;
  /** A context moved to a fresh nonce prefix. */
  rotated(): void;
  /**
   * A key exchange installed a new context for `peer` (not called when a repeated frame kept the
   * same key). `rekeyed` when it replaced a context with another key; `added` when the peer entry
   * was created by this exchange; `relayed` when the exchange came through the beacon.
   */
  established?(
    peer: Peer,
    info: { authenticated: boolean; rekeyed: boolean; added: boolean; relayed: boolean },
  ): void;
}

/** Accepts or refuses key-exchange frames and keeps peer contexts in step with them. */
export class Handshake {
  readonly #host: HandshakeHost;
  readonly #keyCache = new Map<number, Uint8Array>();
  readonly #depth = new Map<number, number>();
  readonly #chains = new Map<number, Promise<void>>();
  readonly #work = new TokenBucket(KEY_EXCHANGE_WORK_RATE, KEY_EXCHANGE_WORK_BURST, Date.now());
  readonly #perSource = new KeyedRateLimiter<string>(
    KEY_EXCHANGE_SOURCE_RATE,
    KEY_EXCHANGE_SOURCE_BURST,
    KEY_EXCHANGE_BUDGET_KEYS,
  );
  readonly #perNode = new KeyedRateLimiter<number>(
    KEY_EXCHANGE_NODE_RATE,
    KEY_EXCHANGE_NODE_BURST,
    KEY_EXCHANGE_BUDGET_KEYS,
  );
  #sweptAt = -Infinity;

  constructor(host: HandshakeHost) {
    this.#host = host;
  }

  /**
   * Queues a received PILA/PILK from `from` (the beacon's address when `relayed`) for processing.
   * Budgets, cheapest and narrowest first: its source address's, its claimed node ID's (unless we
   * hold that node's key), then the
   * queue of that node ({@link MAX_KEY_EXCHANGES_PER_NODE}) and the global rate; a frame over any
   * is dropped and counted.
   */
  receive(frame: KeyExchangeFrame, from: Endpoint, relayed: boolean): void {
    const sender = frame.sender;
    const now = Date.now();
    if (!relayed && !this.#allow(this.#perSource, from.host, now)) {
      return this.#host.drop("kx-source-limited");
    }
    // Only IDs that would cost a registry look-up are charged: a flood naming a peer whose key we
    // hold must not lock that peer out.
    if (!this.#keyCache.has(sender) && !this.#allow(this.#perNode, sender, now)) {
      return this.#host.drop("kx-node-limited");
    }
    const depth = this.#depth.get(sender) ?? 0;
    if (depth >= MAX_KEY_EXCHANGES_PER_NODE || !this.#work.take(now)) {
      return this.#host.drop("kx-rate-limited");
    }
    this.#depth.set(sender, depth + 1);
    const run = () =>
      frame.kind === "PILA"
        ? this.#handlePila(sender, frame.x25519, frame.ed25519!, frame.signature!, from, relayed)
        : this.#handlePilk(sender, frame.x25519, from, relayed);
    this.#serialize(sender, run, () => {
      const left = (this.#depth.get(sender) ?? 1) - 1;
      if (left <= 0) this.#depth.delete(sender);
      else this.#depth.set(sender, left);
    });
  }

  /** Moves `peer` from `ctx` to a fresh nonce prefix (same key), unless a key exchange replaced it. */
  rotate(peer: Peer, ctx: CryptoContext): void {
    if (peer.timers.rotating) return;
    peer.timers.rotating = true;
    this.#serialize(peer.node, async () => {
      let next: CryptoContext;
      try {
        next = await rotateContext(this.#host.privateKey, ctx, this.#host.deriveOptions);
      } finally {
        peer.timers.rotating = false;
      }
      if (peer.session.ctx !== ctx) return disposeContext(next); // replaced by a key exchange meanwhile
      peer.session.ctx = next;
      disposeContext(ctx);
      this.#host.rotated();
      this.#host.flushPending(peer);
    });
  }

  /** Charges `key`'s budget; a full table is swept of idle budgets (at most once per interval) first. */
  #allow<K>(budgets: KeyedRateLimiter<K>, key: K, now: number): boolean {
    if (budgets.allow(key, now)) return true;
    if (budgets.size < budgets.maxKeys || now - this.#sweptAt < BUDGET_SWEEP_INTERVAL_MS) return false;
    this.#sweptAt = now;
    this.#perSource.sweep(now);
    this.#perNode.sweep(now);
    return budgets.allow(key, now);
  }

  /** Forgets the cached registry key of `node` (its peer entry was removed). */
  forget(node: number): void {
    this.#keyCache.delete(node);
  }

  /** Resolves once all queued work has finished (for close). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#chains.values()]);
  }

  /** Runs work for one node strictly one item at a time. */
  #serialize(node: number, work: () => Promise<void>, done?: () => void): void {
    const previous = this.#chains.get(node) ?? Promise.resolve();
    const next = previous.then(() => (this.#host.closed() ? undefined : work())).catch((err) => {
      this.#host.log.warn("key exchange handler failed", { peer: node, err: String(err) });
    }).finally(() => {
      done?.();
      if (this.#chains.get(node) === next) this.#chains.delete(node);
    });
    this.#chains.set(node, next);
  }

  async #registryKey(node: number): Promise<Uint8Array | undefined> {
    const cached = this.#keyCache.get(node);
    if (cached) return cached;
    if (!this.#host.resolvePeerKey) return undefined;
    const key = await this.#host.resolvePeerKey(node);
    if (key === undefined || key.length !== ED25519_KEY_SIZE) return undefined;
    const copy = key.slice();
    if (this.#keyCache.size >= MAX_CACHED_KEYS) this.#keyCache.clear(); // only registered nodes get here
    this.#keyCache.set(node, copy);
    return copy;
  }

  async #handlePila(
    sender: number,
    x25519: Uint8Array,
    ed25519: Uint8Array,
    signature: Uint8Array,
    from: Endpoint,
    relayed: boolean,
  ): Promise<void> {
    const host = this.#host;
    let registered: Uint8Array | undefined;
    try {
      registered = await this.#registryKey(sender);
    } catch (err) {
      host.log.debug("registry key lookup failed", { peer: sender, err: String(err) });
      return host.drop("kx-failed");
    }
    if (host.closed()) return;
    if (!registered) return host.drop("unknown-key");
    if (!bytesEqual(registered, ed25519)) return host.drop("key-mismatch");
    if (!verifyPila(ed25519, sender, x25519, signature)) return host.drop("bad-signature");
    await this.#accept(sender, x25519, true, from, relayed);
  }

  async #handlePilk(sender: number, x25519: Uint8Array, from: Endpoint, relayed: boolean): Promise<void> {
    const host = this.#host;
    // A node with a registered key must authenticate: refuse its PILK and answer with our PILA,
    // but only along a path we already know (the PILK's source is unproven). Without such a path
    // and with PILK not allowed, the registry is not asked at all: its answer would change nothing.
    const known = host.peer(sender, false);
    if (!host.allowPilk && !(host.hasIdentity && known && host.routable(known))) {
      return host.drop("pilk-refused");
    }
    let registered: Uint8Array | undefined;
    if (host.hasIdentity || host.allowPilk) {
      try {
        registered = await this.#registryKey(sender);
      } catch {
        return host.drop("kx-failed");
      }
      if (host.closed()) return;
    }
    const peer = host.peer(sender, false);
    if (registered || !host.allowPilk) {
      if (registered && host.hasIdentity && peer && host.routable(peer)) {
        if (performance.now() - peer.timers.lastKeyExchangeAt >= PILK_ANSWER_INTERVAL_MS) {
          host.sendKeyExchange(peer);
        }
      }
      return host.drop("pilk-refused");
    }
    if (peer?.session.ctx?.authenticated) return host.drop("downgrade");
    await this.#accept(sender, x25519, false, from, relayed);
  }

  /** Installs (or keeps) the context for a peer key that passed the policy checks. */
  async #accept(
    sender: number,
    x25519: Uint8Array,
    authenticated: boolean,
    from: Endpoint,
    relayed: boolean,
  ): Promise<void> {
    const host = this.#host;
    let peer = host.peer(sender, false);
    if (peer?.session.isRetired(x25519)) return host.drop("stale-key");
    const old = peer?.session.ctx;
    if (peer && old && bytesEqual(old.peerKey, x25519)) {
      // Same key: keep the context (and our counter).
      host.accepted(false);
      if (authenticated) old.authenticated = true;
      if (authenticated) peer.session.proven = true;
      peer.lastHeardAt = performance.now();
      const answer = performance.now() - peer.timers.lastSameKeyReplyAt >= SAME_KEY_REPLY_INTERVAL_MS &&
        peer.timers.sameKeyReplies < MAX_SAME_KEY_REPLIES;
      host.keyExchangeFrom(peer, from, relayed, answer);
      // Answer so a peer that lost its context without restarting gets ours again: rate-limited,
      // and capped until the peer shows (with a PILS) that it holds our key, so two peers can
      // never keep answering each other.
      if (answer) {
        peer.timers.lastSameKeyReplyAt = performance.now();
        peer.timers.sameKeyReplies++;
        host.sendKeyExchange(peer);
      }
      host.flushPending(peer);
      return;
    }
    let ctx: CryptoContext;
    try {
      ctx = await deriveContext(host.privateKey, x25519, sender, authenticated, host.deriveOptions);
    } catch (err) {
      host.log.debug("key derivation failed", { peer: sender, err: String(err) });
      return host.drop("kx-failed");
    }
    if (host.closed()) return disposeContext(ctx);
    const added = host.peer(sender, false) === undefined;
    peer = host.peer(sender, true);
    if (!peer) return disposeContext(ctx);
    const replaced = peer.session.ctx;
    if (replaced) {
      peer.session.retire(replaced.peerKey);
      host.log.info("peer key changed; re-keyed", { peer: sender });
    }
    peer.session.ctx = ctx;
    disposeContext(replaced);
    peer.session.plaintext = false;
    peer.timers.rotating = false;
    host.accepted(replaced !== undefined);
    if (authenticated) peer.session.proven = true;
    peer.lastHeardAt = performance.now();
    host.keyExchangeFrom(peer, from, relayed, true);
    host.established?.(peer, { authenticated, rekeyed: replaced !== undefined, added, relayed });
    host.log.debug("key exchange accepted", {
      peer: sender,
      authenticated,
      via: relayed ? "relay" : from.key,
    });
    // New or changed key: the peer needs ours too (docs/protocol/wire.md §6.5), also where its frame came from.
    host.sendKeyExchange(peer);
    host.flushPending(peer);
  }
}
