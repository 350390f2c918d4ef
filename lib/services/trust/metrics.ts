/**
 * Prometheus families of the trust handshake and the privacy gate: trusted, pending and
 * revoked (denied) peers, handshake messages processed, dropped (by reason) and sent (by path),
 * auto-approvals, and connections/datagrams the gate refused.
 */
import { byLabel, type MetricFamily, single } from "../../http/prometheus.ts";
import type { TrustService } from "./service.ts";

/** Families for one scrape; `gateRefusals` is the gate's refusal counter. */
export function trustMetrics(service: TrustService | undefined, gateRefusals: number): MetricFamily[] {
  const families = [
    single(
      "pilot_trust_gate_refusals_total",
      "SYNs and datagrams refused by the privacy gate (sender not trusted, no shared network, node private)",
      "counter",
      gateRefusals,
    ),
  ];
  if (!service) return families;
  const s = service.stats;
  families.push(
    byLabel("pilot_trust_peers", "Peers in the local trust state, by kind", "gauge", "kind", {
      trusted: service.trusted().length,
      pending: service.pendingCount,
      revoked: service.revokedCount,
    }),
    byLabel("pilot_handshake_processed_total", "Handshake messages acted on, by type", "counter", "type", {
      ...s.processed,
    }),
    byLabel("pilot_handshake_dropped_total", "Handshake messages dropped, by reason", "counter", "reason", {
      ...s.dropped,
    } as Record<string, number>),
    byLabel("pilot_handshake_sent_total", "Handshake messages sent, by path", "counter", "path", {
      ...s.sent,
    }),
    byLabel(
      "pilot_handshake_auto_approved_total",
      "Requests approved without the operator",
      "counter",
      "reason",
      {
        ...s.autoApproved,
      },
    ),
  );
  return families;
}
