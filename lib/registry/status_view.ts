/**
 * What the registry's status page shows, read from the running registry: node and network
 * counts, request counters with a rate measured between two page loads (the average since start
 * on the first), throttling and the newest audit entries.
 * @module
 */
import { PROGRAM_VERSION } from "../version.ts";
import type { Registry } from "./registry.ts";
import type { ServerStats } from "./server.ts";
import type { RegistryPageView } from "./status_page.ts";

/** Audit entries shown. */
export const STATUS_AUDIT_ENTRIES = 25;
/** Rates are recomputed at most this often; a reload sooner shows the previous ones. */
export const REQUEST_RATE_MIN_INTERVAL_MS = 1_000;

/** Builds {@link RegistryPageView}s for one registry; keep one so request rates have history. */
export class RegistryStatusView {
  #last?: { t: number; totals: Map<string, number> };
  #rates = new Map<string, number>();

  constructor(
    readonly registry: Registry,
    readonly server?: ServerStats,
    readonly now: () => number = Date.now,
  ) {}

  view(): RegistryPageView {
    const r = this.registry;
    const s = r.state;
    const now = this.now();
    const totals = new Map([...r.counters].map(([type, c]) => [type, c.ok + c.error]));
    this.#sampleRates(totals, now);
    let publicNodes = 0;
    for (const n of s.nodes.values()) if (n.public && n.online) publicNodes++;
    const failed = r.store.failed;
    return {
      version: PROGRAM_VERSION,
      uptimeSecs: Math.floor((now - r.startedAt) / 1000),
      status: failed ? "degraded" : "ok",
      ...(failed ? { reason: `storage failed: ${failed.message}` } : {}),
      durable: r.store.durable,
      compat: r.compat,
      nodes: { online: s.onlineCount, registered: s.nodes.size, public: publicNodes },
      networks: [...s.networks.values()].map((n) => ({
        id: n.id,
        name: n.name,
        members: n.members.size,
        joinRule: n.joinRule,
        enterprise: n.enterprise,
      })).sort((a, b) => a.id - b.id),
      trustEdges: s.trust.size,
      requests: [...r.counters].map(([type, c]) => ({
        type,
        ok: c.ok,
        error: c.error,
        // Until a second sample, the average since start.
        perSec: this.#rates.get(type) ?? (c.ok + c.error) / Math.max(1, (now - r.startedAt) / 1000),
      })).sort((a, b) => (b.perSec ?? 0) - (a.perSec ?? 0) || (b.ok + b.error) - (a.ok + a.error)),
      rateLimited: Object.entries(r.limiter.denied).map(([category, count]) => ({ category, count })),
      ...(this.server ? { connections: { open: this.server.open, accepted: this.server.accepted } } : {}),
      audit: s.audit.newest(STATUS_AUDIT_ENTRIES).map((e) => ({
        t: e.t,
        action: e.action,
        actor: e.actor,
        network_id: e.network_id,
        node_id: e.node_id,
        ...(e.details ? { details: e.details } : {}),
      })),
      generatedAt: now,
    };
  }

  #sampleRates(totals: Map<string, number>, now: number): void {
    const last = this.#last;
    if (last && now - last.t < REQUEST_RATE_MIN_INTERVAL_MS) return;
    if (last) {
      const secs = (now - last.t) / 1000;
      this.#rates = new Map(
        [...totals].map(([type, n]) => [type, Math.max(0, n - (last.totals.get(type) ?? 0)) / secs]),
      );
    }
    this.#last = { t: now, totals };
  }
}
