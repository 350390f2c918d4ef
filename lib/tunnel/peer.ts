/**
 * Per-peer tunnel state (wire.md §6.5), keyed by node ID: where to send (endpoint, relay flag),
 * the crypto context, the packets waiting for a key exchange, and the peer X25519 keys we have
 * moved away from. Plain data plus the bounded-queue and key-history rules; tunnel.ts drives it.
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
 * punched path (wire.md §8.2's sticky relay, relaxed so a punched path can take over).
 */
export const DIRECT_HOLD_MS = 10_000;

/** One peer's state. */
export class Peer {
  /** Where direct frames go; learnt from the daemon or from authenticated traffic only. */
  endpoint?: Endpoint;
  /** Every frame goes through the beacon (set by a RelayDeliver, wire.md §8.2; cleared when a direct path proves itself). */
  relay = false;
  /** When an authenticated frame last arrived directly (performance.now() ms). */
  lastDirectAt = -Infinity;
  ctx?: CryptoContext;
  /** Plaintext chosen after a failed key exchange (only with allowPlaintext). */
  plaintext = false;
  /** Encoded packets (header ‖ payload) waiting for `ctx`. */
  pending: Uint8Array[] = [];
  /** Key-exchange bookkeeping: last frame sent (ms), retries done, retry timer, rotation running. */
  lastKeyExchangeAt = -Infinity;
  /** When we last answered a PILA that repeated the key we already hold (rate limit). */
  lastSameKeyReplyAt = -Infinity;
  sameKeyReplies = 0;
  keyExchangeAttempts = 0;
  retryTimer?: ReturnType<typeof setTimeout>;
  rotating = false;
  readonly #retiredKeys: Uint8Array[] = [];

  constructor(readonly node: number) {}

  /**
   * A frame from this peer came through the relay: answer through it too, unless the direct path
   * carried authenticated traffic within {@link DIRECT_HOLD_MS}.
   */
  relayedFrameSeen(now: number): void {
    if (now - this.lastDirectAt > DIRECT_HOLD_MS) this.relay = true;
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

  /**
   * Queues an encoded packet; returns true when the oldest one had to go to make room. The caller
   * enforces {@link MAX_QUEUED_PEERS} before the first packet.
   */
  enqueue(packet: Uint8Array): boolean {
    this.pending.push(packet);
    if (this.pending.length <= MAX_PENDING_PER_PEER) return false;
    this.pending.shift();
    return true;
  }

  /** Takes every queued packet. */
  takePending(): Uint8Array[] {
    const items = this.pending;
    this.pending = [];
    return items;
  }

  /** True when packets can be sealed now. */
  get ready(): boolean {
    return this.ctx !== undefined && !this.ctx.cipher.exhausted;
  }
}
