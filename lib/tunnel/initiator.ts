/**
 * The sending half of the tunnel's key exchange (docs/protocol/wire.md §6.5; handshake.ts is the receiving
 * half): our PILA/PILK sent when packets wait for a peer, retried on a timer until the exchange
 * completes or the attempts run out (then the packets are dropped, or sent as PILT where
 * plaintext is allowed), and offered, rate-limited, to sources of PILS we hold no key for.
 */
import { TokenBucket } from "../net/token_bucket.ts";
import type { TunnelCore } from "./core.ts";
import type { Endpoint } from "./endpoint.ts";
import type { Peer } from "./peer.ts";
import { KeyedInterval } from "./rate_limit.ts";
import type { Sender } from "./send.ts";

/** Minimum gap between key-exchange frames sent to one peer because packets are waiting. */
export const KEY_EXCHANGE_RESEND_MS = 250;
/** Retry period while packets wait for a key exchange, and how many retries before giving up. */
export const KEY_EXCHANGE_RETRY_MS = 1000;
export const KEY_EXCHANGE_MAX_ATTEMPTS = 8;
/** Key-exchange offers to one source that sent PILS we cannot open (per source, and globally). */
export const UNKNOWN_SENDER_REPLY_INTERVAL_MS = 1000;
export const UNKNOWN_SENDER_REPLY_RATE = 50;
/** Source endpoints remembered by the per-source limiter. */
const RATE_LIMIT_KEYS = 4096;

/** Retry timing (tests shorten it). */
export interface InitiatorTiming {
  retryMs: number;
  maxAttempts: number;
}

/** Sends our key-exchange frame when and where it is needed. */
export class Initiator {
  readonly #unknownPerSource = new KeyedInterval<string>(UNKNOWN_SENDER_REPLY_INTERVAL_MS, RATE_LIMIT_KEYS);
  readonly #unknownGlobal = new TokenBucket(UNKNOWN_SENDER_REPLY_RATE, UNKNOWN_SENDER_REPLY_RATE, Date.now());

  constructor(
    private readonly core: TunnelCore,
    private readonly sender: Sender,
    private readonly timing: InitiatorTiming,
  ) {}

  /** Sends our frame (throttled unless `now`), and keeps retrying while packets wait. */
  start(peer: Peer, now: boolean): void {
    const t = performance.now();
    if (now || t - peer.timers.lastKeyExchangeAt >= KEY_EXCHANGE_RESEND_MS) this.send(peer);
    if (peer.pending.length > 0 && peer.timers.retryTimer === undefined && !this.core.closed) {
      peer.timers.retryTimer = setTimeout(() => this.#retry(peer), this.timing.retryMs);
    }
  }

  #retry(peer: Peer): void {
    const core = this.core;
    peer.timers.retryTimer = undefined;
    if (core.closed || peer.pending.length === 0 || core.peers.get(peer.node) !== peer) return;
    if (peer.session.ready) return this.sender.flushPending(peer);
    if (++peer.timers.keyExchangeAttempts >= this.timing.maxAttempts) {
      if (core.policy.allowPlaintext) {
        core.log.warn("key exchange failed; sending plaintext as allowed", { peer: peer.node });
        peer.session.plaintext = true;
        this.sender.flushPending(peer);
      } else {
        core.log.info("key exchange failed; dropping queued packets", {
          peer: peer.node,
          packets: peer.pending.length,
        });
        core.counters.drops["kx-timeout"] += peer.pending.length;
        this.sender.clearQueue(peer);
      }
      return;
    }
    this.send(peer);
    peer.timers.retryTimer = setTimeout(() => this.#retry(peer), this.timing.retryMs);
  }

  /** Sends our key-exchange frame along the peer's route. */
  send(peer: Peer): void {
    const frame = this.core.keyExchangeFrame;
    if (!frame) return;
    peer.timers.lastKeyExchangeAt = performance.now();
    this.core.counters.keyExchangesSent++;
    this.sender.sendFrame(peer, frame);
  }

  /** Sends our key-exchange frame straight to `to` (a probe of a candidate path); false without one. */
  sendTo(to: Endpoint): boolean {
    const frame = this.core.keyExchangeFrame;
    if (!frame) return false;
    this.core.counters.keyExchangesSent++;
    this.core.emit(undefined, frame, to);
    return true;
  }

  /** Offers our key to the source of a PILS we hold no key for (a peer that restarted), rate-limited. */
  offer(sender: number, from: Endpoint, relayed: boolean): void {
    const core = this.core;
    if (!core.keyExchangeFrame || !core.policy.encrypt) return;
    if (!this.#unknownPerSource.allow(relayed ? `relay/${sender}` : from.key)) return;
    if (!this.#unknownGlobal.take(Date.now())) return;
    if (relayed) {
      core.counters.keyExchangesSent++;
      const peer = core.peers.get(sender);
      if (peer) this.sender.sendFrame(peer, core.keyExchangeFrame);
    } else {
      this.sendTo(from);
    }
  }
}
