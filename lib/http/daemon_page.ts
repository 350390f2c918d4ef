/**
 * The daemon's status page (`/` on its HTTP endpoint): node and address, health with reasons,
 * peers with their path and RTT, connections with throughput, trust and pending requests,
 * listening ports and recent events. Pure rendering of a {@link DaemonPageView}; the daemon
 * builds the view (lib/daemon/status_view.ts).
 * @module
 */
import { html } from "hono/html";
import type { HealthReport } from "./health.ts";
import {
  facts,
  formatAgo,
  formatBytes,
  formatDuration,
  formatRate,
  formatRtt,
  type Html,
  pageDocument,
  section,
  statusBadge,
  table,
  text,
} from "./page_layout.ts";

/** One tunnel peer. */
export interface PeerRow {
  nodeId: number;
  address: string;
  /** `ip:port`, or "" when reached only through the relay. */
  endpoint: string;
  path: "direct" | "punched" | "relay";
  encrypted: boolean;
  authenticated: boolean;
  /** The RTT measured to it (its open connections, else the last ping or connection); undefined when never. */
  rttMs?: number;
}

/** One connection. */
export interface ConnectionRow {
  id: number;
  localPort: number;
  remoteAddr: string;
  remotePort: number;
  state: string;
  srttMs: number;
  bytesSent: number;
  bytesRecv: number;
  /** Bytes/s since the previous sample, when there was one. */
  sendRate?: number;
  recvRate?: number;
  retransmits: number;
}

/** Everything the daemon page shows. Times are unix ms unless named otherwise. */
export interface DaemonPageView {
  node: {
    nodeId: number;
    address: string;
    hostname: string;
    uptimeSecs: number;
    publicKey: string;
    /** The registered endpoint and where it came from. */
    endpoint: string;
    endpointSource: string;
    beacon: string;
    encrypt: boolean;
  };
  health: HealthReport;
  traffic: { bytesSent: number; bytesRecv: number; pktsSent: number; pktsRecv: number };
  peers: PeerRow[];
  connections: ConnectionRow[];
  /** null when the trust service is disabled. */
  trust: {
    trusted: { nodeId: number; address: string; mutual: boolean; approvedAt: number }[];
    pending: { nodeId: number; address: string; justification: string; receivedAt: number }[];
    /** Our own requests that have not been answered yet. */
    asking: { nodeId: number; address: string; askedAt: number }[];
  } | null;
  /** Ports with a listener, and the built-in service's name where there is one. */
  ports: { port: number; service: string }[];
  /** Overlay ports bridged to local TCP services (`pilot expose`). */
  exposed: { port: number; target: string; active: number }[];
  /** The in-daemon gateway's mappings, when it runs (`pilot daemon --gateway`). */
  gateway: { subnet: string; mappings: { localIp: string; address: string; active: number }[] } | null;
  /** Newest first. */
  events: { t: number; event: string; data: Record<string, unknown>; count: number }[];
  generatedAt: number;
}

/** Renders the whole page. */
export function renderDaemonPage(v: DaemonPageView): string {
  const name = v.node.hostname ? `${v.node.hostname} (${v.node.address})` : v.node.address;
  return pageDocument({
    title: `pilot node ${name}`,
    subtitle: html`${statusBadge(v.health.status)} node ${v.node.nodeId} · up ${
      formatDuration(v.node.uptimeSecs)
    } · ${v.peers.length} peer(s) · ${v.connections.length} connection(s)`,
    generatedAt: v.generatedAt,
    sections: [
      nodeSection(v),
      healthSection(v.health),
      peersSection(v.peers),
      trustSection(v),
      connectionsSection(v.connections),
      bridgesSection(v),
      eventsSection(v),
    ],
  });
}

function nodeSection(v: DaemonPageView): Html {
  const n = v.node;
  return section(
    "Node",
    facts([
      ["Address", html`<code>${n.address}</code>`],
      ["Node id", n.nodeId],
      ["Hostname", n.hostname === "" ? html`<span class="muted">none</span>` : n.hostname],
      ["Endpoint", html`<code>${n.endpoint || "–"}</code> <span class="muted">(${n.endpointSource})</span>`],
      ["Beacon", n.beacon === "" ? html`<span class="muted">none</span>` : html`<code>${n.beacon}</code>`],
      ["Encryption", n.encrypt ? "on" : html`<span class="warn">off</span>`],
      ["Public key", html`<code>${n.publicKey}</code>`],
      [
        "Listening ports",
        v.ports.length === 0
          ? html`<span class="muted">none</span>`
          : v.ports.map((p) => p.service ? `${p.port} ${p.service}` : String(p.port)).join(", "),
      ],
      [
        "Traffic",
        `${formatBytes(v.traffic.bytesSent)} sent (${v.traffic.pktsSent} pkts), ${
          formatBytes(v.traffic.bytesRecv)
        } received (${v.traffic.pktsRecv} pkts)`,
      ],
    ]),
  );
}

function healthSection(h: HealthReport): Html {
  const rows = Object.entries(h.checks).map(([name, c]) => [
    text(name),
    c.ok ? html`<span class="ok">ok</span>` : html`<span class="bad">failing</span>`,
    text(c.reason ?? ""),
  ]);
  return section(
    "Health",
    html`<p>${statusBadge(h.status)}</p>${table(["Check", "State", "Reason"], rows, "no checks")}`,
  );
}

function peersSection(peers: PeerRow[]): Html {
  const rows = peers.map((p) => [
    html`<code>${p.address}</code>`,
    html`<span class="path-${p.path}" data-path="${p.path}">${p.path}</span>`,
    html`<code>${p.endpoint || "via relay"}</code>`,
    text(p.encrypted ? (p.authenticated ? "encrypted, authenticated" : "encrypted") : "plaintext"),
    text(formatRtt(p.rttMs)),
  ]);
  return section(
    "Peers",
    table(["Peer", "Path", "Endpoint", "Tunnel", "RTT#"], rows, "no peers yet"),
    { count: peers.length },
  );
}

function trustSection(v: DaemonPageView): Html {
  if (v.trust === null) return section("Trust", html`<p class="empty">trust service disabled</p>`);
  const peer = (p: { address: string; nodeId: number }) =>
    html`<code>${p.address}</code> <span class="muted">(node ${p.nodeId})</span>`;
  const pending = v.trust.pending.map((p) => [
    peer(p),
    text(p.justification === "" ? "–" : p.justification),
    text(formatAgo(p.receivedAt, v.generatedAt)),
  ]);
  const asking = v.trust.asking.map((a) => [peer(a), text(formatAgo(a.askedAt, v.generatedAt))]);
  const trusted = v.trust.trusted.map((t) => [
    peer(t),
    text(t.mutual ? "mutual" : "approved"),
    text(formatAgo(t.approvedAt, v.generatedAt)),
  ]);
  const part = (title: string, count: number, body: Html) =>
    html`<h3>${title} <span class="count">(${count})</span></h3>${body}`;
  return section(
    "Trust",
    html`${[
      part(
        "Pending requests",
        pending.length,
        table(["From", "Justification", "Received"], pending, "no pending requests"),
      ),
      part("Our requests, unanswered", asking.length, table(["To", "Asked"], asking, "none")),
      part("Trusted peers", trusted.length, table(["Peer", "How", "Since"], trusted, "no trusted peers")),
    ]}`,
  );
}

function bridgesSection(v: DaemonPageView): Html {
  const rows: Html[][] = v.exposed.map((e) => [
    html`exposed`,
    html`<code>port ${e.port}</code>`,
    html`<code>${e.target}</code>`,
    text(e.active),
  ]);
  for (const m of v.gateway?.mappings ?? []) {
    rows.push([
      html`gateway`,
      html`<code>${m.localIp}</code>`,
      html`<code>${m.address}</code>`,
      text(m.active),
    ]);
  }
  const title = v.gateway ? `Exposed ports and gateway (${v.gateway.subnet})` : "Exposed ports and gateway";
  return section(
    title,
    table(["Kind", "Here", "There", "Active"], rows, "no exposed ports, no gateway"),
    { count: rows.length },
  );
}

function connectionsSection(conns: ConnectionRow[]): Html {
  const rows = conns.map((c) => [
    text(c.id),
    html`<code>:${c.localPort} ⇄ ${c.remoteAddr}:${c.remotePort}</code>`,
    text(c.state),
    text(c.srttMs === 0 ? "< 1 ms" : formatRtt(c.srttMs)), // whole ms, as Info reports it
    text(`${formatRate(c.sendRate)} / ${formatRate(c.recvRate)}`),
    text(`${formatBytes(c.bytesSent)} / ${formatBytes(c.bytesRecv)}`),
    text(c.retransmits),
  ]);
  return section(
    "Connections",
    table(
      ["Id#", "Ports", "State", "SRTT#", "Rate out / in#", "Bytes out / in#", "Retx#"],
      rows,
      "no connections",
    ),
    { count: conns.length, wide: true },
  );
}

function eventsSection(v: DaemonPageView): Html {
  const rows = v.events.map((e) => [
    text(formatAgo(e.t, v.generatedAt)),
    html`<code>${e.event}</code>${
      e.count > 1
        ? html`
          <span class="muted">×${e.count}</span>
        `
        : ""
    }`,
    html`<span class="mono">${summarize(e.data)}</span>`,
  ]);
  return section("Recent events", table(["When", "Event", "Details"], rows, "no events yet"), {
    count: v.events.length,
    wide: true,
  });
}

/** `key=value` pairs of an event's data, on one line. */
function summarize(data: Record<string, unknown>): string {
  return Object.entries(data)
    .map(([k, val]) => `${k}=${typeof val === "string" ? val : JSON.stringify(val)}`)
    .join(" ");
}
