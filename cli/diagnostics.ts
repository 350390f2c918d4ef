/**
 * Management and diagnostics with the reference pilotctl's arguments and results (docs/protocol/cli.md
 * §4.9): `peers [--search Q]` and `connections` (from IPC Info), `disconnect <conn_id>` (IPC
 * Close, waiting for CloseOK) and `traceroute <address>` (one hop: connection setup to the echo
 * port, then three echo samples on that connection).
 */
import type { Command } from "./command.ts";
import { noExtraArguments, parseArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { dialPeer, timeoutFlag, withDaemon } from "./client.ts";
import { Address, AddressError } from "../lib/protocol/address.ts";
import { PORT_ECHO } from "../lib/protocol/ports.ts";
import { utf8 } from "../lib/bytes.ts";
import type { Connection, ConnInfo, PeerInfo } from "../lib/sdk/core.ts";
import { closeQuietly, settleQuietly } from "../lib/errors.ts";

/** How long Info may take. */
const INFO_TIMEOUT_MS = 10_000;
/** Echo samples traceroute takes on its connection (the reference's). */
export const TRACEROUTE_SAMPLES = 3;
/** Largest conn id (u32). */
const MAX_CONN_ID = 0xffffffff;

export const peersCommand: Command = {
  name: "peers",
  summary: "List the tunnel peers (optionally those matching --search)",
  usage: [
    "pilot peers [--search TEXT] [--socket PATH] [--json]",
    "",
    "--search keeps peers whose node id or endpoint contains TEXT (case-insensitive).",
    "Output keys: peers [{node_id, endpoint, encrypted, authenticated, path}], total.",
  ].join("\n"),
  flags: { socket: "string", search: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    noExtraArguments(args, 0, "pilot peers");
    const info = await withDaemon(args, (c) => c.info({ timeoutMs: INFO_TIMEOUT_MS }));
    const query = (args.strings.get("search") ?? "").toLowerCase();
    const peers = info.peer_list.filter((p) => matches(p, query));
    const text = peers.length
      ? peers.map((p) =>
        `node ${String(p.node_id).padEnd(8)} ${p.endpoint || "(relay)"}  ${p.path ?? ""}  ${
          p.encrypted ? "encrypted" : "plaintext"
        }${p.authenticated ? " authenticated" : ""}`
      ).join("\n")
      : query
      ? `no peers match "${query}"`
      : "no peers";
    printResult(out, { peers, total: peers.length }, text);
    return 0;
  },
};

function matches(p: PeerInfo, query: string): boolean {
  if (!query) return true;
  return String(p.node_id).includes(query) || p.endpoint.toLowerCase().includes(query);
}

export const connectionsCommand: Command = {
  name: "connections",
  summary: "List the daemon's connections with their transport state",
  usage: [
    "pilot connections [--socket PATH] [--json]",
    "",
    "Output keys: connections [{id, local_port, remote_addr, remote_port, state, srtt_ms, bytes_sent, …}], total.",
  ].join("\n"),
  flags: { socket: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    noExtraArguments(args, 0, "pilot connections");
    const info = await withDaemon(args, (c) => c.info({ timeoutMs: INFO_TIMEOUT_MS }));
    const conns: ConnInfo[] = info.conn_list;
    const text = conns.length
      ? conns.map((c) =>
        `${
          String(c.id).padEnd(6)
        } :${c.local_port} -> ${c.remote_addr}:${c.remote_port}  ${c.state}  srtt ${c.srtt_ms} ms  ` +
        `sent ${c.bytes_sent} B  recv ${c.bytes_recv} B  retx ${c.retransmits}`
      ).join("\n")
      : "no connections";
    printResult(out, { connections: conns, total: conns.length }, text);
    return 0;
  },
};

export const disconnectCommand: Command = {
  name: "disconnect",
  summary: "Close one of the daemon's connections by id (see pilot connections)",
  usage: [
    "pilot disconnect <conn_id> [--socket PATH] [--timeout DURATION] [--json]",
    "",
    "Closes the connection whoever holds it (its holder sees the stream end). Output keys: conn_id.",
  ].join("\n"),
  flags: { socket: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [text] = args.positionals;
    if (text === undefined || !/^\d+$/.test(text) || Number(text) > MAX_CONN_ID) {
      throw new CliError(
        "invalid_argument",
        text === undefined ? "usage: pilot disconnect <conn_id>" : `invalid connection id "${text}"`,
        "`pilot connections` lists the ids",
      );
    }
    const connId = Number(text);
    const timeoutMs = timeoutFlag(args, INFO_TIMEOUT_MS);
    await withDaemon(args, async (c) => {
      const info = await c.info({ timeoutMs });
      // The daemon answers Close even for an unknown id; the user should hear that nothing matched.
      if (!info.conn_list.some((conn) => conn.id === connId)) {
        throw new CliError("not_found", `no connection ${connId}`, "`pilot connections` lists the ids");
      }
      await c.disconnect(connId, { timeoutMs });
    });
    printResult(out, { conn_id: connId }, `closed connection ${connId}`);
    return 0;
  },
};

interface TraceSample {
  rtt_ms?: number;
  bytes?: number;
  error?: string;
}

export const tracerouteCommand: Command = {
  name: "traceroute",
  summary: "Time connection setup and echo round trips to a node (one overlay hop)",
  usage: [
    "pilot traceroute <address> [--timeout DURATION] [--socket PATH] [--json]",
    "",
    `Dials the echo port (7), then sends ${TRACEROUTE_SAMPLES} samples trace-<i> on that connection.`,
    "Only a full address is accepted (N:NNNN.HHHH.LLLL). Default --timeout 30s.",
    "Output keys: target, setup_ms, rtt_samples [{rtt_ms, bytes} | {error}], path (direct, punched, relay).",
  ].join("\n"),
  flags: { socket: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [text] = args.positionals;
    if (text === undefined) throw new CliError("invalid_argument", "usage: pilot traceroute <address>");
    let addr: Address;
    try {
      addr = Address.parse(text);
    } catch (err) {
      if (!(err instanceof AddressError)) throw err;
      throw new CliError(
        "invalid_argument",
        `traceroute needs a full address, not "${text}": ${err.message}`,
        "an address is N:NNNN.HHHH.LLLL (e.g. 0:0000.0000.0004); `pilot find <hostname>` gives it",
      );
    }
    const timeoutMs = timeoutFlag(args, 30_000);
    const data = await withDaemon(args, async (c) => {
      const start = performance.now();
      const conn = await dialPeer(c, addr, PORT_ECHO, timeoutMs);
      const setup = round3(performance.now() - start);
      try {
        const samples: TraceSample[] = [];
        for (let i = 1; i <= TRACEROUTE_SAMPLES; i++) samples.push(await sample(conn, i, timeoutMs));
        const info = await settleQuietly(c.info({ timeoutMs: INFO_TIMEOUT_MS }), "optional detail");
        const path = info?.peer_list.find((p) => p.node_id === addr.node)?.path;
        return { target: addr.toString(), setup_ms: setup, rtt_samples: samples, ...(path ? { path } : {}) };
      } finally {
        await closeQuietly(conn);
      }
    });
    const lines = [
      `traceroute to ${data.target}${data.path ? ` (${data.path})` : ""}`,
      ` setup  ${data.setup_ms.toFixed(3)} ms`,
      ...data.rtt_samples.map((s, i) =>
        ` echo ${i + 1} ${s.error ? `error: ${s.error}` : `${s.rtt_ms!.toFixed(3)} ms (${s.bytes} bytes)`}`
      ),
    ];
    printResult(out, data, lines.join("\n"));
    return data.rtt_samples.every((s) => !s.error) ? 0 : 1;
  },
};

/** One echo round trip on an open connection. */
async function sample(conn: Connection, seq: number, timeoutMs: number): Promise<TraceSample> {
  const payload = utf8(`trace-${seq}`);
  const start = performance.now();
  try {
    await conn.write(payload, { timeoutMs });
    let got = 0;
    while (got < payload.length) {
      const left = Math.max(1, timeoutMs - (performance.now() - start));
      const chunk = await conn.read({ timeoutMs: left });
      if (chunk === null) throw new Error("connection closed before the echo");
      got += chunk.length;
    }
    return { rtt_ms: round3(performance.now() - start), bytes: got };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
