/**
 * The audit trail: a bounded ring of the newest entries (docs/protocol/registry.md §8). Entries
 * are produced by `applyEvent`, so every replica derives the same trail from the
 * same events; the ring is persisted with the snapshot.
 * @module
 */

/** Entries kept (the reference's ring size). */
export const DEFAULT_AUDIT_CAPACITY = 1000;

/** One audit entry. `old`/`new` carry the value before and after for changes. */
export interface AuditEntry {
  /** Sequence number of the event that produced it (0 for volatile events). */
  seq: number;
  /** Unix milliseconds. */
  t: number;
  action: string;
  actor: string;
  network_id: number;
  node_id: number;
  source?: string;
  details?: Record<string, unknown>;
  old?: unknown;
  new?: unknown;
}

/** Fixed-capacity ring; pushing past capacity drops the oldest entry. */
export class AuditRing {
  #entries: (AuditEntry | undefined)[];
  #next = 0;
  #size = 0;
  #pushed = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`audit capacity must be ≥ 1`);
    this.#entries = new Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Entries pushed since creation, dropped ones included (audit export counts new ones by it). */
  get pushed(): number {
    return this.#pushed;
  }

  push(entry: AuditEntry): void {
    this.#pushed++;
    this.#entries[this.#next] = entry;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
  }

  /** Entries newest first, optionally only those of one network, at most `limit`. */
  newest(limit: number, networkId = 0): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (let i = 1; i <= this.#size && out.length < limit; i++) {
      const e = this.#entries[(this.#next - i + this.capacity) % this.capacity]!;
      if (networkId === 0 || e.network_id === networkId) out.push(e);
    }
    return out;
  }

  /** Entries oldest first (for snapshots). */
  all(): AuditEntry[] {
    return this.newest(this.#size).reverse();
  }
}

/** The wire form of an entry (reference keys plus `actor`, `old`, `new`). */
export function auditEntryToWire(e: AuditEntry): Record<string, unknown> {
  const out: Record<string, unknown> = {
    timestamp: new Date(e.t).toISOString().replace(/\.\d{3}Z$/, "Z"),
    action: e.action,
    actor: e.actor,
  };
  if (e.network_id) out.network_id = e.network_id;
  if (e.node_id) out.node_id = e.node_id;
  if (e.details && Object.keys(e.details).length > 0) {
    out.details = Object.entries(e.details).map(([k, v]) => `${k}=${formatDetail(v)}`).join(", ");
  }
  if (e.source) out.source = e.source;
  if (e.old !== undefined) out.old = e.old;
  if (e.new !== undefined) out.new = e.new;
  out.seq = e.seq;
  return out;
}

function formatDetail(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return `[${v.join(" ")}]`;
  return String(v);
}
