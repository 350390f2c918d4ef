/**
 * The daemon's most recent events, kept in memory for its status page: the same events
 * (names and `data`) the webhooks carry, recorded whether or not a webhook URL is set,
 * in a small bounded ring so a busy node never grows it.
 * @module
 */
import { Ring } from "../transport/ring.ts";

/** Events kept; older ones are dropped as new ones arrive. */
export const RECENT_EVENTS_CAPACITY = 50;

/** One recorded event. */
export interface RecentEvent {
  /** Unix milliseconds. */
  t: number;
  /** The webhook event name, e.g. "tunnel.established". */
  event: string;
  data: Record<string, unknown>;
  /** How many times in a row it happened (with the same data); `t` is the last. */
  count: number;
}

/** A fixed-size ring of the newest events. */
export class RecentEvents {
  readonly #ring = new Ring<RecentEvent>();
  readonly #capacity: number;
  readonly #now: () => number;

  constructor(capacity = RECENT_EVENTS_CAPACITY, now: () => number = Date.now) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError("recent events capacity must be ≥ 1");
    }
    this.#capacity = capacity;
    this.#now = now;
  }

  /**
   * Records `event`; the same event with the same data as the newest one only counts again, so
   * a repeating event (a re-registration loop) does not push everything else out. The oldest is
   * dropped once the ring is full.
   */
  record(event: string, data: Record<string, unknown>): void {
    const newest = this.#ring.at(this.#ring.length - 1);
    if (newest && newest.event === event && sameData(newest.data, data)) {
      newest.count++;
      newest.t = this.#now();
      return;
    }
    if (this.#ring.length >= this.#capacity) this.#ring.shift();
    this.#ring.push({ t: this.#now(), event, data, count: 1 });
  }

  /** The events, newest first. */
  newest(): RecentEvent[] {
    const out: RecentEvent[] = [];
    for (let i = this.#ring.length - 1; i >= 0; i--) out.push(this.#ring.at(i)!);
    return out;
  }
}

/**
 * Whether two events' data are equal: a shallow comparison, since event data are flat records of
 * numbers, strings and booleans (a connection's events are recorded on its first packets, so this
 * stays cheap: no serialisation per event). Nested values compare by identity.
 */
function sameData(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  let keys = 0;
  for (const k in a) {
    if (!Object.is(a[k], b[k])) return false;
    keys++;
  }
  for (const _ in b) keys--;
  return keys === 0;
}
