/**
 * `pilot nameserver` runs a nameserver (docs/protocol/services.md §8): a daemon serving port 53, so it takes
 * every `pilot daemon` flag, plus `--store FILE` (the reference nameserver's name for
 * `--nameserver-file`). `pilot ns query|register` are its clients, through the local daemon.
 */
import type { Command } from "./command.ts";
import { parseArgs, portArg } from "./args.ts";
import { CliError, EXIT_FAILURE, printResult } from "./output.ts";
import { envOr, resolveTarget, serviceUnreachable, timeoutFlag, withDaemon } from "./client.ts";
import { daemonCommand } from "./daemon.ts";
import { serverFlagsUsage } from "./server_flags.ts";
import { Address } from "../lib/protocol/address.ts";
import { MAX_NETWORK } from "../lib/protocol/address.ts";
import { PORT_NAMESERVER } from "../lib/protocol/ports.ts";
import { DaemonError, IpcError } from "../lib/sdk/core.ts";
import {
  NameserverClient,
  NameserverError,
  type NameserverResponse,
} from "../lib/sdk/services/nameserver.ts";
import { formatRequest, type NameserverRequest } from "../lib/services/nameserver/codec.ts";

export const nameserverCommand: Command = {
  name: "nameserver",
  summary: "Run a nameserver: a daemon that serves name records on port 53",
  usage: `pilot nameserver [daemon flags] [--store FILE] [--nameserver-ttl DURATION]

Starts this node's daemon with the nameserver on port 53 (\`pilot daemon --serve-nameserver\`).
Nodes register their own names with \`pilot ns register\` and find others with \`pilot ns query\`;
a daemon started with \`--nameserver <this node's address>\` resolves hostnames through it.
Records live 5 minutes unless renewed. Like every port, 53 is behind the trust gate: run the
nameserver with --public, or trust its clients.

  --store FILE              keep records in FILE across restarts (= --nameserver-file)
  --nameserver-ttl DURATION record lifetime (default 5m)
${serverFlagsUsage("health/status/metrics; default 127.0.0.1:7380")}
  every other flag as \`pilot daemon\` (--registry, --socket, --state, …; see pilot daemon --help)`,
  flags: { ...daemonCommand.flags, store: "string" },
  async run(argv, out) {
    parseArgs(argv, this.flags); // reject unknown flags with this command's name
    const translated = argv.map((a) => {
      if (a === "--store" || a === "-store") return "--nameserver-file";
      if (/^--?store=/.test(a)) return `--nameserver-file=${a.slice(a.indexOf("=") + 1)}`;
      return a;
    });
    return await daemonCommand.run(["--serve-nameserver", ...translated], out);
  },
};

const NS_USAGE = `pilot ns query A <name> | N <name> | S <network_id> <port> [--server ADDR]
pilot ns register A <name> [<address>] | N <name> <network_id> | S <name> <network_id> <port> [<address>]

Asks the nameserver at --server (address, node id or hostname; default PILOT_NAMESERVER) through
the local daemon. Registrations are made as this node: an A or S record may only name this node's
own address (the default). Records expire after 5 minutes unless registered again.

  --server ADDR     the nameserver (default: PILOT_NAMESERVER)
  --port N          its port (default 53)
  --timeout DURATION  give up after this long (default 10s)
  --socket PATH     the daemon's IPC socket`;

export const nsCommand: Command = {
  name: "ns",
  summary: "Query or register names at a nameserver",
  usage: NS_USAGE,
  flags: { socket: "string", server: "string", port: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [op, rawType, ...rest] = args.positionals;
    if (op !== "query" && op !== "register") throw new CliError("invalid_argument", `usage: ${NS_USAGE}`);
    const type = (rawType ?? "").toUpperCase();
    if (type !== "A" && type !== "N" && type !== "S") {
      throw new CliError("invalid_argument", `record type must be A, N or S, not "${rawType ?? ""}"`);
    }
    const serverText = args.strings.get("server") ?? envOr("PILOT_NAMESERVER", "");
    if (!serverText) {
      throw new CliError("invalid_argument", "no nameserver: pass --server ADDR or set PILOT_NAMESERVER");
    }
    const port = args.strings.has("port") ? portArg(args.strings.get("port")!) : PORT_NAMESERVER;
    const signal = AbortSignal.timeout(timeoutFlag(args, 10_000));
    return await withDaemon(args, async (client) => {
      const server = await resolveTarget(client, serverText);
      const self = async () => Address.parse((await client.info({ signal })).address);
      const request = op === "query" ? queryRequest(type, rest) : await registerRequest(type, rest, self);
      const ns = new NameserverClient(client, server, { port });
      let answer: NameserverResponse;
      try {
        answer = await ns.request(request, { signal });
      } catch (err) {
        if (err instanceof NameserverError) {
          throw new CliError("connection_failed", `nameserver ${server}: ${err.message}`);
        }
        if (err instanceof DaemonError || (err instanceof IpcError && err.reason !== "timeout")) {
          throw serviceUnreachable(server, "nameserver", port, err);
        }
        throw err;
      }
      if (answer.kind === "ERR") throw refusal(answer.message);
      report(out, server, request, answer);
      return 0;
    });
  },
};

function queryRequest(type: "A" | "N" | "S", rest: string[]): NameserverRequest {
  if (type === "S") {
    const [network, port] = expectArgs(rest, 2, 2, "ns query S <network_id> <port>");
    return { op: "query", type, network: networkArg(network), port: portArg(port) };
  }
  const [name] = expectArgs(rest, 1, 1, `ns query ${type} <name>`);
  return checked({ op: "query", type, name });
}

async function registerRequest(
  type: "A" | "N" | "S",
  rest: string[],
  self: () => Promise<Address>,
): Promise<NameserverRequest> {
  switch (type) {
    case "A": {
      const [name, addr] = expectArgs(rest, 1, 2, "ns register A <name> [<address>]");
      return checked({ op: "register", type, name, address: addr ? addressArg(addr) : await self() });
    }
    case "N": {
      const [name, network] = expectArgs(rest, 2, 2, "ns register N <name> <network_id>");
      return checked({ op: "register", type, name, network: networkArg(network) });
    }
    case "S": {
      const [name, network, port, addr] = expectArgs(
        rest,
        3,
        4,
        "ns register S <name> <network_id> <port> [<address>]",
      );
      return checked({
        op: "register",
        type,
        name,
        network: networkArg(network),
        port: portArg(port),
        address: addr ? addressArg(addr) : await self(),
      });
    }
  }
}

function report(
  out: Parameters<Command["run"]>[1],
  server: Address,
  request: NameserverRequest,
  answer: NameserverResponse,
): void {
  const base = { server: server.toString(), type: request.type };
  switch (answer.kind) {
    case "A":
      return printResult(
        out,
        { ...base, name: answer.name, address: answer.address.toString() },
        `${answer.name} ${answer.address}`,
      );
    case "N":
      return printResult(
        out,
        { ...base, name: answer.name, network_id: answer.network },
        `${answer.name} ${answer.network}`,
      );
    case "S": {
      const q = request as Extract<NameserverRequest, { type: "S" }>;
      const services = answer.services.map((s) => ({
        name: s.name,
        address: s.address.toString(),
        port: s.port,
      }));
      return printResult(
        out,
        { ...base, network_id: q.network, port: q.port, services },
        services.length
          ? services.map((s) => `${s.name} ${s.address} ${s.port}`).join("\n")
          : `no providers of network ${q.network} port ${q.port}`,
      );
    }
    case "OK": {
      const r = request as Extract<NameserverRequest, { op: "register" }>;
      const data: Record<string, unknown> = { ...base, name: r.name, registered: true };
      if ("address" in r) data.address = r.address.toString();
      if ("network" in r) data.network_id = r.network;
      if ("port" in r) data.port = r.port;
      return printResult(out, data, `registered ${r.type} ${r.name} at ${server}`);
    }
    case "ERR":
      throw refusal(answer.message);
  }
}

function refusal(message: string): CliError {
  if (/ not found$/.test(message)) return new CliError("not_found", message);
  if (/registered by another node$/.test(message)) return new CliError("already_exists", message);
  if (/nameserver is full|limit reached|already lists/.test(message)) {
    return new CliError("unavailable", message);
  }
  // The nameserver refused the request: a failure (exit 1), not a usage error of this command.
  return new CliError("invalid_argument", message, undefined, EXIT_FAILURE);
}

function expectArgs(rest: string[], min: number, max: number, usage: string): string[] {
  if (rest.length < min || rest.length > max) throw new CliError("invalid_argument", `usage: pilot ${usage}`);
  return rest;
}

/** Validates the request the way the codec will encode it, as a CLI error. */
function checked(request: NameserverRequest): NameserverRequest {
  try {
    formatRequest(request);
  } catch (err) {
    throw new CliError("invalid_argument", (err as Error).message);
  }
  return request;
}

function networkArg(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > MAX_NETWORK) {
    throw new CliError("invalid_argument", `network id must be a number in 0..${MAX_NETWORK}, not "${text}"`);
  }
  return Number(text);
}

function addressArg(text: string): Address {
  try {
    return Address.parse(text);
  } catch (err) {
    throw new CliError("invalid_argument", (err as Error).message);
  }
}
