/** `pilot info` and `pilot health`: what the local daemon reports about itself. */
import type { Command } from "./command.ts";
import { parseArgs } from "./args.ts";
import { printResult } from "./output.ts";
import { connectDaemon, withDaemon } from "./client.ts";
import { healthExitCode, type HealthStatus } from "../lib/http/health.ts";
import type { InfoReply } from "../lib/ipc/replies.ts";
import { closeQuietly, errorMessage } from "../lib/errors.ts";

export const infoCommand: Command = {
  name: "info",
  summary: "Show the daemon's node, peers and connections (IPC Info)",
  usage: "pilot info [--socket PATH] [--json]",
  flags: { socket: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const info = await withDaemon(args, (c) => c.info({ timeoutMs: 10_000 }));
    const peers = info.peer_list.map((p) =>
      `  node ${p.node_id} ${p.endpoint} ${p.encrypted ? "encrypted" : "plaintext"}${
        p.authenticated ? " authenticated" : ""
      }${p.path ? ` ${p.path}` : ""}`
    );
    const text = [
      `node      ${info.address} (id ${info.node_id})${info.hostname ? ` hostname ${info.hostname}` : ""}`,
      `uptime    ${info.uptime_secs}s`,
      `tunnel    ${
        info.encrypt ? "encrypted" : "plaintext"
      }, ${info.pkts_sent} sent / ${info.pkts_recv} received`,
      `peers     ${info.peers} (${info.encrypted_peers} encrypted, ${info.authenticated_peers} authenticated)`,
      ...peers,
      ...natLine(info),
      ...(info.registry_dialect ? [`registry  ${info.registry_dialect} signatures`] : []),
      `conns     ${info.connections}, ports ${info.ports}`,
      ...exposedLines(info),
    ].join("\n");
    printResult(out, info, text);
    return 0;
  },
};

export const healthCommand: Command = {
  name: "health",
  summary: "Check the daemon for cron: exit 0 healthy, 1 degraded, 2 down",
  usage: [
    "pilot health [--socket PATH] [--json]",
    "",
    "Exit status: 0 healthy, 1 degraded (e.g. registry unreachable), 2 down (no daemon answering).",
  ].join("\n"),
  flags: { socket: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    let status: HealthStatus;
    let data: Record<string, unknown>;
    try {
      const client = await connectDaemon(args);
      try {
        const reply = await client.health({ timeoutMs: 5_000 });
        status = reply.status === "ok" ? "ok" : "degraded";
        data = { ...reply, status };
      } finally {
        await closeQuietly(client);
      }
    } catch (err) {
      status = "down";
      data = { status, reasons: [errorMessage(err)] };
    }
    const reasons = Array.isArray(data.reasons) ? data.reasons as string[] : [];
    printResult(out, data, [status, ...reasons.map((r) => `  ${r}`)].join("\n"));
    return healthExitCode(status);
  },
};

/** The NAT summary of `pilot info`, when the daemon reports one. */
function natLine(info: InfoReply): string[] {
  // A reference daemon reports no `nat` object.
  const nat: InfoReply["nat"] | undefined = info.nat;
  if (!nat) return [];
  const beacon = nat.beacon ? `beacon ${nat.beacon}` : "no beacon";
  const endpoint = nat.public_endpoint ? `${nat.public_endpoint} (${nat.endpoint_source})` : "local address";
  const p = nat.paths;
  const paths = `${p.direct} direct, ${p.punched} punched, ${p.relay} relay`;
  return [
    `nat       ${beacon}, endpoint ${endpoint}; paths ${paths}${nat.force_relay ? " (relay forced)" : ""}`,
  ];
}

/** `exposed` and `gateway` lines when the daemon reports them (lib/daemon/gateway_host.ts). */
function exposedLines(info: object): string[] {
  const { exposed = [], gateway } = info as {
    exposed?: { port: number; target: string }[];
    gateway?: { subnet: string; mappings: { local_ip: string; pilot_addr: string }[] };
  };
  const lines = exposed.map((e) => `exposed   port ${e.port} → ${e.target}`);
  if (gateway) lines.push(`gateway   ${gateway.subnet}, ${gateway.mappings.length} mapping(s)`);
  return lines;
}
