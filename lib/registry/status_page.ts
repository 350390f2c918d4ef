/**
 * The registry's status page (`/` on its HTTP endpoint): nodes online, networks, request
 * counts and rates, throttling and the newest audit entries. Pure rendering of a
 * {@link RegistryPageView}; lib/registry/status_view.ts builds the view from the registry.
 * Like /metrics it shows no node endpoints, keys or tokens.
 * @module
 */
import { html } from "hono/html";
import {
  facts,
  formatAgo,
  formatDuration,
  type Html,
  pageDocument,
  section,
  statusBadge,
  table,
  text,
} from "../http/page_layout.ts";

/** Everything the registry page shows. Times are unix ms. */
export interface RegistryPageView {
  version: string;
  uptimeSecs: number;
  status: "ok" | "degraded";
  /** Why the status is degraded (storage failure). */
  reason?: string;
  durable: boolean;
  compat: string;
  nodes: { online: number; registered: number; public: number };
  networks: { id: number; name: string; members: number; joinRule: string; enterprise: boolean }[];
  trustEdges: number;
  /** Per message type: totals and the rate since the previous sample. */
  requests: { type: string; ok: number; error: number; perSec?: number }[];
  rateLimited: { category: string; count: number }[];
  connections?: { open: number; accepted: number };
  /** Newest first. */
  audit: {
    t: number;
    action: string;
    actor: string;
    network_id: number;
    node_id: number;
    details?: Record<string, unknown>;
  }[];
  generatedAt: number;
}

/** Renders the whole page. */
export function renderRegistryPage(v: RegistryPageView): string {
  const totalRate = v.requests.reduce((sum, r) => sum + (r.perSec ?? 0), 0);
  return pageDocument({
    title: "pilot registry",
    subtitle: html`
      ${statusBadge(v.status)} <span
        data-nodes-online="${v.nodes.online}">${v.nodes.online} node(s) online</span> · ${v.networks
          .length} network(s) · ${totalRate.toFixed(1)} req/s · up ${formatDuration(v.uptimeSecs)}
    `,
    generatedAt: v.generatedAt,
    sections: [
      overviewSection(v),
      requestsSection(v),
      networksSection(v),
      auditSection(v),
    ],
  });
}

function overviewSection(v: RegistryPageView): Html {
  return section(
    "Registry",
    html`${
      v.reason === undefined ? "" : html`
        <ul class="reasons">
          <li>${v.reason}</li>
        </ul>
      `
    }${
      facts([
        ["Nodes online", html`<strong>${v.nodes.online}</strong>`],
        ["Nodes registered", v.nodes.registered],
        ["Public nodes", v.nodes.public],
        ["Networks", v.networks.length],
        ["Trust edges", v.trustEdges],
        [
          "Connections",
          v.connections ? `${v.connections.open} open, ${v.connections.accepted} accepted` : "–",
        ],
        ["Storage", v.durable ? "durable (write-ahead log)" : html`<span class="warn">in memory only</span>`],
        ["Dialect", v.compat],
        ["Version", v.version],
      ])
    }`,
  );
}

function requestsSection(v: RegistryPageView): Html {
  const rows = v.requests.map((r) => [
    html`<code>${r.type}</code>`,
    text(r.perSec === undefined ? "–" : r.perSec.toFixed(2)),
    text(r.ok),
    r.error > 0 ? html`<span class="bad">${r.error}</span>` : text(0),
  ]);
  const limited = v.rateLimited.filter((r) => r.count > 0);
  return section(
    "Requests",
    html`${table(["Type", "Per second#", "OK#", "Errors#"], rows, "no requests yet")}${
      limited.length === 0
        ? ""
        : html`<p class="muted">Throttled: ${limited.map((r) => `${r.category} ${r.count}`).join(", ")}</p>`
    }`,
    { count: v.requests.length },
  );
}

function networksSection(v: RegistryPageView): Html {
  const rows = v.networks.map((n) => [
    text(n.id),
    text(n.name),
    text(n.members),
    text(n.joinRule + (n.enterprise ? ", enterprise" : "")),
  ]);
  return section("Networks", table(["Id#", "Name", "Members#", "Joining"], rows, "no networks"), {
    count: v.networks.length,
  });
}

function auditSection(v: RegistryPageView): Html {
  const rows = v.audit.map((e) => [
    text(formatAgo(e.t, v.generatedAt)),
    html`<code>${e.action}</code>`,
    text(e.actor),
    text(e.node_id === 0 ? "–" : e.node_id),
    text(e.network_id === 0 ? "–" : e.network_id),
    html`<span class="mono">${
      Object.entries(e.details ?? {}).map(([k, val]) =>
        `${k}=${typeof val === "string" ? val : JSON.stringify(val)}`
      ).join(" ")
    }</span>`,
  ]);
  return section(
    "Audit log (newest first)",
    table(["When", "Action", "Actor", "Node", "Network", "Details"], rows, "no audit entries"),
    { count: v.audit.length, wide: true },
  );
}
