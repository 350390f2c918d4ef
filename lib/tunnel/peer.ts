/**
 * Per-peer tunnel state (docs/protocol/wire.md §6.5), keyed by node ID and grouped by concern: the path frames
 * take (endpoint, relay flag), the session (crypto context, plaintext fallback, retired keys), the
 * key-exchange timers, and the packets waiting for a key exchange. Plain data plus the bounded
 * queue and key-history rules; the tunnel's stages drive it.
 */
import { bytesEqual } from "../bytes.ts";
import type { Endpoint } from "./endpoint.ts";
import type { CryptoContext } from "./key_exchange.ts";

/** Packets queued per peer while its key exchange runs; the oldest is dropped beyond this. */
export const MAX_PENDING_PER_PEER = 64;
/** Peers that may have queued packets at once; a send needing a new queue beyond this is dropped. */
export const MAX_QUEUED_PEERS = 256;
/**
 * Peer X25519 keys remembered after a re-key. A PILA carrying one of them is a replay of an old
 * frame (a restarted daemon always makes a new key), so it must not switch us back.
 */
export const MAX_RETIRED_PEER_KEYS = 8;
/**
 * After authenticated traffic arrived from a peer directly, relayed frames from it do not switch
 * it back to the relay for this long: they are stragglers from the moment both sides moved to a
 * punched path (docs/protocol/wire.md §8.2's sticky relay, relaxed so a punched path can take over).
 */
export const DIRECT_HOLD_MS = 10_000;

/** Where a peer's frames go. Read by the one routing decision, `routeTo` in route.ts. */
export class PathState {
  /** Where direct frames go; learnt from the daemon or from authenticated traffic only. */
  endpoint?: Endpoint;
  /** Every frame goes through the beacon (set by a RelayDeliver, docs/protocol/wire.md §8.2; cleared when a direct path proves itself). */
  relay = false;
  /** When an authenticated frame last arrived directly (performance.now() ms). */
  lastDirectAt = -Infinity;
  /** The daemon set this path (registry, NAT code): the entry is kept even if nothing authenticates. */
  vouched = false;
  /** When a path probe (roaming.ts) was last sent for this peer (performance.now() ms). */
  lastPathProbeAt = -Infinity;

  /**
   * A frame from this peer came through the relay: answer through it too, unless the direct path
   * carried authenticated traffic within {@link DIRECT_HOLD_MS}.
   */
  relayedFrameSeen(now: number): void {
    if (now - this.lastDirectAt > DIRECT_HOLD_MS) this.relay = true;
  }
}

/** The keys shared with a peer. */
export class SessionState {
  /** The crypto context of the last accepted key exchange; undefined before one. */
  ctx?: CryptoContext;
  /** Plaintext chosen after a failed key exchange (only with allowPlaintext). */
  plaintext = false;
  /** A PILS from this peer opened, or its PILA verified: the entry is no longer a stranger's. */
  proven = false;
  /** Peer X25519 keys replaced by a re-key, oldest first (bounded by MAX_RETIRED_PEER_KEYS). */
  readonly #retiredKeys: Uint8Array[] = [];

  /** True when packets can be sealed now. */
  get ready(): boolean {
    return this.ctx !== undefined && !this.ctx.cipher.exhausted;
  }

  /** True when `key` is one this peer used before the current context. */
  isRetired(key: Uint8Array): boolean {
    return this.#retiredKeys.some((k) => bytesEqual(k, key));
  }

  /** Remembers a key the peer no longer uses (bounded, oldest forgotten). */
  retire(key: Uint8Array): void {
    if (this.isRetired(key)) return;
    this.#retiredKeys.push(key);
    if (this.#retiredKeys.length > MAX_RETIRED_PEER_KEYS) this.#retiredKeys.shift();
  }
}

/** Key-exchange timing and throttles for one peer. */
export class KeyExchangeTimers {
  /** When we last sent our key-exchange frame to this peer (performance.now() ms). */
  lastKeyExchangeAt = -Infinity;
  /** Retries done for the packets now waiting; reset when the queue empties or the path changes. */
  keyExchangeAttempts = 0;
  /** The pending retry, while packets wait for a key exchange. */
  retryTimer?: ReturnType<typeof setTimeout>;
  /** A rotation to a fresh nonce prefix is running. */
  rotating = false;
  /** When we last answered a PILA that repeated the key we already hold (rate limit). */
  lastSameKeyReplyAt = -Infinity;
  /** Same-key answers since the peer last showed (with a PILS) that it holds our key. */
  sameKeyReplies = 0;
}

/** Encoded packets (header ‖ payload) waiting for a key exchange. */
export class PendingQueue {
  /** Oldest first; at most {@link MAX_PENDING_PER_PEER}. */
  packets: Uint8Array[] = [];

  get length(): number {
    return this.packets.length;
  }

  /**
   * Queues an encoded packet; returns true when the oldest one had to go to make room. The caller
   * enforces {@link MAX_QUEUED_PEERS} before the first packet.
   */
  enqueue(packet: Uint8Array): boolean {
    this.packets.push(packet);
    if (this.packets.length <= MAX_PENDING_PER_PEER) return false;
    this.packets.shift();
    return true;
  }

  /** Takes every queued packet. */
  take(): Uint8Array[] {
    const items = this.packets;
    this.packets = [];
    return items;
  }
}

/** One peer's state, in named parts. */
export class Peer {
  /** Where frames go. */
  readonly path = new PathState();
  /** Keys and session. */
  readonly session = new SessionState();
  /** Key-exchange timers. */
  readonly timers = new KeyExchangeTimers();
  /** Packets waiting for the session. */
  readonly pending = new PendingQueue();
  /** When a frame from this peer was last accepted (performance.now() ms; creation counts). */
  lastHeardAt: number;

  constructor(readonly node: number, now = performance.now()) {
    this.lastHeardAt = now;
  }

  /**
   * True for an entry nobody vouched for and nothing authenticated, idle for `ttlMs` and with
   * nothing queued: it may be forgotten.
   */
  isStale(now: number, ttlMs: number): boolean {
    return !this.path.vouched && !this.session.proven && this.pending.length === 0 &&
      now - this.lastHeardAt >= ttlMs;
  }
}
