/**
 * Fault injection for tests and benchmarks: a {@link UdpSocket} wrapper that drops, duplicates
 * and reorders a given fraction of outgoing datagrams, driven by a seeded generator so a failing
 * run can be replayed. It sits below the tunnel, so every frame kind (PILS, key exchanges,
 * relayed frames) is exposed to it, as on a real lossy path.
 */
import type { Endpoint } from "./endpoint.ts";
import type { UdpCounters, UdpSocket } from "./udp.ts";

/** How long a datagram picked for reordering waits for a later one to overtake it. */
export const REORDER_HOLD_MS = 5;
/** Datagrams held for reordering at once; beyond that they are sent in order. */
export const MAX_HELD_DATAGRAMS = 64;

/** Fractions in [0, 1] of outgoing datagrams to drop, send twice, or delay behind later ones. */
export interface FaultOptions {
  drop?: number;
  duplicate?: number;
  reorder?: number;
  /** Seed of the generator (default 1). Equal seeds make equal decisions. */
  seed?: number;
}

/** What the injector did. */
export interface FaultCounters {
  dropped: number;
  duplicated: number;
  reordered: number;
}

/**
 * A small deterministic generator (mulberry32: 32-bit state, full period 2^32), plenty for
 * picking which datagrams to disturb. Not for anything secret.
 */
export class SeededRandom {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next value, uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  }
}

function checkFraction(name: string, value: number | undefined): number {
  const v = value ?? 0;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`fault ${name} must be a fraction in [0, 1], got ${value}`);
  return v;
}

interface Held {
  bytes: Uint8Array;
  to: Endpoint;
}

/**
 * Wraps `inner` so that each outgoing datagram is, independently, dropped with probability
 * `drop`, otherwise held back with probability `reorder` (released right after the next datagram
 * that is sent, or after {@link REORDER_HOLD_MS}), and sent a second time with probability
 * `duplicate`. Receiving is untouched.
 */
export class FaultySocket implements UdpSocket {
  readonly faults: FaultCounters = { dropped: 0, duplicated: 0, reordered: 0 };
  readonly #inner: UdpSocket;
  readonly #random: SeededRandom;
  readonly #drop: number;
  readonly #duplicate: number;
  readonly #reorder: number;
  #held: Held[] = [];
  #timer?: ReturnType<typeof setTimeout>;

  constructor(inner: UdpSocket, options: FaultOptions) {
    this.#inner = inner;
    this.#drop = checkFraction("drop", options.drop);
    this.#duplicate = checkFraction("duplicate", options.duplicate);
    this.#reorder = checkFraction("reorder", options.reorder);
    this.#random = new SeededRandom(options.seed ?? 1);
  }

  get backend(): UdpSocket["backend"] {
    return this.#inner.backend;
  }
  get local(): Endpoint {
    return this.#inner.local;
  }
  get bufferBytes(): UdpSocket["bufferBytes"] {
    return this.#inner.bufferBytes;
  }
  get counters(): UdpCounters {
    return this.#inner.counters;
  }

  send(head: Uint8Array | undefined, body: Uint8Array, to: Endpoint): void {
    if (this.#random.next() < this.#drop) {
      this.faults.dropped++;
      return;
    }
    if (this.#random.next() < this.#reorder && this.#held.length < MAX_HELD_DATAGRAMS) {
      this.faults.reordered++;
      const bytes = new Uint8Array((head?.length ?? 0) + body.length);
      if (head) bytes.set(head);
      bytes.set(body, head?.length ?? 0);
      this.#held.push({ bytes, to });
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#release();
      }, REORDER_HOLD_MS);
      return;
    }
    this.#inner.send(head, body, to);
    if (this.#random.next() < this.#duplicate) {
      this.faults.duplicated++;
      this.#inner.send(head, body, to);
    }
    this.#release();
  }

  #release(): void {
    if (this.#held.length === 0) return;
    const held = this.#held;
    this.#held = [];
    for (const h of held) this.#inner.send(undefined, h.bytes, h.to);
  }

  flush(): void {
    this.#inner.flush();
  }

  close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#held = [];
    return this.#inner.close();
  }
}
