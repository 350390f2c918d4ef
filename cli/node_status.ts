/**
 * `pilot status`: one screen about this node for a human — node and registry, health with its
 * reasons, peers with their path and round-trip time, connections, trust and pending requests —
 * gathered from the daemon over IPC (Info, Health, Handshake trusted/pending).
 */
import type { Command } from "./command.ts";
import { noExtraArguments, parseArgs } from "./args.ts";
import { printResult } from "./output.ts";
import { withDaemon } from "./client.ts";
import type { ConnInfo, ExposedPortInfo, GatewayInfo, InfoReply } from "../lib/ipc/replies.ts";

/** Connections listed in the text summary; `--json` has them all. */
const MAX_CONN_ROWS = 20;
const CALL_TIMEOUT_MS = 5_000;

export const nodeStatusCommand: Command = {
  name: "status",
  summary: "Summarise this node: registry, health, peers (path, RTT), connections, trust",
  usage: [
    "pilot status [--socket PATH] [--json]",
    "",
    "A human summary of the local daemon. A peer's RTT is the smoothed round-trip time of its",
    'open connections ("-" when there is none; `pilot ping` measures one).',
    "Output keys (--json): node_id, address, hostname, registry, uptime_secs, health{status, reasons},",
    "peers[{node_id, endpoint, path, encrypted, authenticated, rtt_ms, connections}],",
    "connections[{id, remote_addr, remote_port, local_port, state, srtt_ms, bytes_sent, bytes_recv}],",
    "trusted[…], pending[…]. Exits 1 when no daemon answers (`pilot health` is the check for cron).",
  ].join("\n"),
  flags: { socket: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    noExtraArguments(args);
    const { info, health, trusted, pending } = await withDaemon(args, async (c) => ({
      info: await c.info({ timeoutMs: CALL_TIMEOUT_MS }),
      health: await c.health({ timeoutMs: CALL_TIMEOUT_MS }),
      trusted: await c.trustedPeers({ timeoutMs: CALL_TIMEOUT_MS }),
      pending: await c.pendingHandshakes({ timeoutMs: CALL_TIMEOUT_MS }),
    }));
    const reasons = Array.isArray((health as { reasons?: unknown }).reasons)
      ? (health as unknown as { reasons: string[] }).reasons
      : [];
    const data = {
      node_id: info.node_id,
      address: info.address,
      hostname: info.hostname,
      registry: info.registry ?? null,
      uptime_secs: info.uptime_secs,
      health: { status: health.status, reasons },
      peers: peerRows(info),
      connections: info.conn_list.map((c) => ({
        id: c.id,
        remote_addr: c.remote_addr,
        remote_port: c.remote_port,
        local_port: c.local_port,
        state: c.state,
        srtt_ms: c.srtt_ms,
        bytes_sent: c.bytes_sent,
        bytes_recv: c.bytes_recv,
      })),
      trusted,
      pending,
      exposed: info.exposed ?? [],
      gateway: info.gateway ?? null,
    };
    printResult(out, data, statusText(data));
    return 0;
  },
};

type StatusData = {
  node_id: number;
  address: string;
  hostname: string;
  registry: string | null;
  uptime_secs: number;
  health: { status: string; reasons: string[] };
  peers: ReturnType<typeof peerRows>;
  connections: Pick<ConnInfo, "id" | "remote_addr" | "remote_port" | "local_port" | "state" | "srtt_ms">[];
  trusted: { node_id: number; mutual: boolean }[];
  pending: { node_id: number; justification: string }[];
  exposed: ExposedPortInfo[];
  gateway: GatewayInfo | null;
};

/** Each peer with its connection count and the mean smoothed RTT of those connections. */
function peerRows(info: InfoReply) {
  return info.peer_list.map((p) => {
    const conns = info.conn_list.filter((c) => nodeOf(c.remote_addr) === p.node_id);
    const rtts = conns.map((c) => c.srtt_ms).filter((v) => v > 0);
    return {
      node_id: p.node_id,
      endpoint: p.endpoint,
      path: p.path ?? "direct",
      encrypted: p.encrypted,
      authenticated: p.authenticated,
      rtt_ms: rtts.length ? Math.round(rtts.reduce((a, b) => a + b, 0) / rtts.length * 10) / 10 : null,
      connections: conns.length,
    };
  });
}

/** The node id of address text `N:NNNN.HHHH.LLLL` (the low 32 bits), or -1. */
function nodeOf(addr: string): number {
  const m = /^\d+:[0-9A-Fa-f]{4}\.([0-9A-Fa-f]{4})\.([0-9A-Fa-f]{4})$/.exec(addr);
  return m ? parseInt(m[1] + m[2], 16) : -1;
}

function statusText(d: StatusData): string {
  const lines = [
    `node        ${d.address} (id ${d.node_id})${d.hostname ? `  hostname ${d.hostname}` : ""}  up ${
      duration(d.uptime_secs)
    }`,
    `registry    ${d.registry ?? "(not reported by this daemon)"}`,
    `health      ${d.health.status}${d.health.reasons.length ? `: ${d.health.reasons.join("; ")}` : ""}`,
    `peers       ${d.peers.length}`,
    ...d.peers.map((p) =>
      `  ${String(p.node_id).padEnd(8)} ${p.path.padEnd(7)} ${
        (p.endpoint || "(relay only)").padEnd(22)
      } rtt ${p.rtt_ms === null ? "-" : `${p.rtt_ms} ms`}  ${p.encrypted ? "encrypted" : "plaintext"}${
        p.authenticated ? ", authenticated" : ""
      }`
    ),
    `connections ${d.connections.length}`,
    ...d.connections.slice(0, MAX_CONN_ROWS).map((c) =>
      `  #${c.id} :${c.local_port} -> ${c.remote_addr}:${c.remote_port} ${c.state} srtt ${c.srtt_ms} ms`
    ),
    ...(d.connections.length > MAX_CONN_ROWS
      ? [`  … ${d.connections.length - MAX_CONN_ROWS} more (pilot status --json)`]
      : []),
    ...d.exposed.map((e) => `exposed     port ${e.port} -> ${e.target} (${e.active} active)`),
    ...(d.gateway
      ? [
        `gateway     ${d.gateway.subnet}, ${d.gateway.mappings.length} mapping(s)`,
        ...d.gateway.mappings.map((m) =>
          `  ${m.local_ip.padEnd(15)} -> ${m.pilot_addr} (${m.active} active)`
        ),
      ]
      : []),
    `trusted     ${
      d.trusted.length
        ? d.trusted.map((t) => `${t.node_id}${t.mutual ? " (mutual)" : ""}`).join(", ")
        : "none"
    }`,
    `pending     ${
      d.pending.length
        ? d.pending.map((p) => `${p.node_id}${p.justification ? ` "${p.justification}"` : ""}`).join(", ") +
          "  (pilot approve <node_id>)"
        : "none"
    }`,
  ];
  return lines.join("\n");
}

function duration(secs: number): string {
  if (secs < 60) return `${secs}s`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m${secs % 60}s`;
  return `${Math.floor(secs / 3600)}h${Math.floor((secs % 3600) / 60)}m`;
}
