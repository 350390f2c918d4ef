/**
 * A deterministic in-process network for testing the session layer: a fake
 * clock, a TimerQueue on it, and links between session managers with
 * configurable delay, bandwidth (with a drop-tail queue), loss, reordering and
 * duplication driven by a seeded PRNG. Optionally every packet goes through
 * the real wire codec (encode → decode) so field ranges are checked too.
 * Test support only; nothing here does I/O.
 * @module
 */
import { Address } from "../../protocol/address.ts";
import { decodePacket, encodePacket, type Packet } from "../../protocol/packet.ts";
import { SessionManager, type SessionManagerOptions } from "../manager.ts";
import { TimerQueue } from "../timers.ts";
import { EPHEMERAL_PORT_MIN } from "../../protocol/ports.ts";

/** Impairments of the path between two nodes (both directions unless set per direction). */
export interface LinkConfig {
  /** One-way propagation delay (ms). */
  delayMs?: number;
  /** Bottleneck rate in bytes per ms (0 = unlimited). 100_000 = 100 MB/s. */
  bytesPerMs?: number;
  /** Most queueing delay (ms) before drop-tail. */
  queueMs?: number;
  /** Probability a packet is lost. */
  loss?: number;
  /** Probability a packet is delayed by up to `reorderMs` extra (overtaken by later ones). */
  reorder?: number;
  reorderMs?: number;
  /**
   * Reorder as the tunnel's fault injector does instead: a packet picked for
   * reordering is held until the next packet in the same direction has left
   * (or `reorderMs` passes), so it is overtaken by exactly the packets sent meanwhile.
   */
  reorderHold?: boolean;
  /** Probability a packet is delivered twice. */
  duplicate?: number;
  /** Encode and decode every packet with the wire codec. */
  codec?: boolean;
  /** Drop every packet for which this returns true (after the random impairments). */
  filter?: (pkt: Packet) => boolean;
}

/** Counters of one simulated network. */
export interface SimStats {
  sent: number;
  delivered: number;
  lost: number;
  queueDrops: number;
  duplicated: number;
  filtered: number;
}

/** Packets held for reordering at once per direction (as the tunnel's fault injector). */
const MAX_HELD = 64;
/** Iterations without time passing before {@link SimNet.run} declares a livelock. */
const MAX_SPINS = 1_000_000;

interface Event {
  at: number;
  order: number;
  run: () => void;
}

/** Mulberry32: a small, fast, seeded PRNG returning [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The simulated network: create nodes with {@link addNode}, then {@link run}. */
export class SimNet {
  now = 0;
  readonly timers: TimerQueue;
  readonly rng: () => number;
  readonly stats: SimStats = { sent: 0, delivered: 0, lost: 0, queueDrops: 0, duplicated: 0, filtered: 0 };
  /** Every packet offered to the network, if set (for assertions on the wire). */
  tap?: (pkt: Packet, from: number) => void;
  link: LinkConfig;
  private readonly nodes = new Map<number, SessionManager>();
  private readonly busyUntil = new Map<string, number>();
  private readonly held = new Map<string, { pkt: Packet; dst: SessionManager }[]>();
  private readonly holdTimers = new Set<string>();
  private events: Event[] = [];
  private order = 0;

  constructor(seed = 1, link: LinkConfig = {}) {
    this.rng = mulberry32(seed);
    this.link = link;
    this.timers = new TimerQueue(() => this.now);
  }

  /** Adds a node with address `0:…node` and returns its manager. */
  addNode(node: number, opts: Partial<SessionManagerOptions> = {}): SessionManager {
    const m = new SessionManager({
      localAddr: new Address(0, node),
      timers: this.timers,
      send: (pkt) => this.transmit(node, pkt),
      firstEphemeralPort: EPHEMERAL_PORT_MIN, // deterministic ports in simulations
      ...opts,
    });
    this.nodes.set(node, m);
    return m;
  }

  /** Schedules `fn` at absolute time `at` (ms). */
  at(at: number, fn: () => void): void {
    this.push({ at, order: this.order++, run: fn });
  }

  /**
   * Advances time, delivering packets and firing timers, until `until()` is
   * true, nothing is left to do, or simulated time passes `maxMs`. Returns
   * whether `until()` became true.
   */
  run(until: () => boolean = () => false, maxMs = 600_000): boolean {
    const limit = this.now + maxMs;
    let spins = 0;
    while (!until()) {
      const te = this.timers.nextDeadline() ?? Infinity;
      const ee = this.events.length > 0 ? this.events[0].at : Infinity;
      const next = Math.min(te, ee);
      if (next === Infinity || next > limit) return false;
      if (next > this.now) {
        this.now = next;
        spins = 0;
      } else if (++spins > MAX_SPINS) {
        throw new Error(`simulation stuck at t=${this.now} ms (a timer keeps firing without time passing)`);
      }
      if (ee <= te) this.pop().run();
      else this.timers.runDue(this.now);
    }
    return true;
  }

  /** Runs for `ms` of simulated time. */
  advance(ms: number): void {
    const end = this.now + ms;
    this.run(() => false, ms);
    this.now = Math.max(this.now, end);
  }

  private transmit(from: number, pkt: Packet): void {
    this.stats.sent++;
    this.tap?.(pkt, from);
    const dst = this.nodes.get(pkt.dst.node);
    if (!dst) return;
    const l = this.link;
    if (l.filter?.(pkt)) {
      this.stats.filtered++;
      return;
    }
    if (l.loss && this.rng() < l.loss) {
      this.stats.lost++;
      return;
    }
    if (!l.reorderHold) {
      this.deliver(from, pkt, dst, !!l.reorder && this.rng() < l.reorder);
      return;
    }
    const key = `${from}>${pkt.dst.node}`;
    const held = this.held.get(key) ?? [];
    if (l.reorder && this.rng() < l.reorder && held.length < MAX_HELD) {
      held.push({ pkt, dst });
      this.held.set(key, held);
      if (!this.holdTimers.has(key)) {
        this.holdTimers.add(key);
        this.at(this.now + (l.reorderMs ?? 5), () => {
          this.holdTimers.delete(key);
          this.release(from, key);
        });
      }
      return;
    }
    this.deliver(from, pkt, dst, false);
    this.release(from, key);
  }

  private release(from: number, key: string): void {
    const held = this.held.get(key);
    if (!held || held.length === 0) return;
    this.held.delete(key);
    for (const h of held) this.deliver(from, h.pkt, h.dst, false, false);
  }

  /** Queues `pkt` on the link (bandwidth, delay, optional random extra delay and duplication). */
  private deliver(
    from: number,
    pkt: Packet,
    dst: SessionManager,
    delayed: boolean,
    mayDuplicate = true,
  ): void {
    const l = this.link;
    let depart = this.now;
    if (l.bytesPerMs) {
      const key = `${from}>${pkt.dst.node}`;
      const busy = Math.max(this.now, this.busyUntil.get(key) ?? 0);
      if (l.queueMs !== undefined && busy - this.now > l.queueMs) {
        this.stats.queueDrops++;
        return;
      }
      depart = busy + (34 + pkt.payload.length) / l.bytesPerMs;
      this.busyUntil.set(key, depart);
    }
    let arrive = depart + (l.delayMs ?? 1);
    if (delayed) arrive += this.rng() * (l.reorderMs ?? 5);
    const wire = l.codec ? decodePacket(encodePacket(pkt)) : pkt;
    this.at(arrive, () => {
      this.stats.delivered++;
      dst.onPacket(wire);
    });
    if (mayDuplicate && l.duplicate && this.rng() < l.duplicate) {
      this.stats.duplicated++;
      this.at(arrive + this.rng() * 2, () => dst.onPacket(wire));
    }
  }

  private push(e: Event): void {
    const h = this.events;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (before(h[p], e)) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = e;
  }

  private pop(): Event {
    const h = this.events;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && before(h[r], h[l]) ? r : l;
        if (before(last, h[c])) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

/** Deterministic test data: byte k of the stream is a hash of k (so offsets errors show). */
export function patternBytes(offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const k = offset + i;
    out[i] = (k ^ (k >>> 8) ^ (k >>> 16) ^ (k >>> 24) ^ 0x5a) & 0xff;
  }
  return out;
}
