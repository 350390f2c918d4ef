/**
 * `pilot gateway start|stop|map|unmap|list` (docs/protocol/cli.md §4.11) and the other half, `pilot expose
 * <port> <host:port>`, `pilot unexpose <port>`, `pilot exposed`.
 *
 * `gateway start` runs a gateway in the foreground of its own process, dialing through the
 * daemon over IPC, and records itself in `<state>/gateway.pid`; `pilot daemon --gateway` runs
 * the same gateway inside the daemon. Unlike the reference, `map`, `unmap` and `list` act on
 * the running gateway through its control socket: the standalone one named in the pid file,
 * else the daemon's. Exposed ports always live in the daemon.
 */
import { join } from "../lib/paths.ts";
import type { Command } from "./command.ts";
import { noExtraArguments, parseArgs, type ParsedArgs, portArg } from "./args.ts";
import { CliError, type ErrorCode, printResult } from "./output.ts";
import { connectDaemon, resolveTarget, socketPath } from "./client.ts";
import { waitForStopSignal } from "./signals.ts";
import { scheduleMemoryRelease } from "../lib/daemon/resident_memory.ts";
import { defaultStateDir } from "../lib/crypto/state_dir.ts";
import { Logger } from "../lib/log.ts";
import { ControlError, controlRequest, daemonControlPath, serveControl } from "../lib/gateway/control.ts";
import { DEFAULT_GATEWAY_PORTS, Gateway, GatewayError, type MappingInfo } from "../lib/gateway/gateway.ts";
import { DEFAULT_GATEWAY_SUBNET, parseSubnet } from "../lib/gateway/subnet.ts";
import { parsePortList, subnetFlag } from "./gateway_flags.ts";
import { systemAliases } from "../lib/gateway/alias.ts";
import { overlayFromConnection } from "../lib/gateway/overlay.ts";
import { controlHandler } from "../lib/daemon/gateway_host.ts";
import { readStateFile } from "../lib/gateway/state_file.ts";
import { closeQuietly, settleQuietly } from "../lib/errors.ts";

// Re-exported: the flag parsers live apart so `pilot daemon` can use them without this module.
export { daemonGatewayFromArgs, parsePortList } from "./gateway_flags.ts";

/** The standalone gateway's pid file in the state directory. */
export const GATEWAY_PID_FILE = "gateway.pid";
/** The standalone gateway's control socket in the state directory. */
export const GATEWAY_CONTROL_FILE = "gateway.sock";

const SUBCOMMANDS = ["start", "stop", "map", "unmap", "list"];

const USAGE = `pilot gateway <start|stop|map|unmap|list> [flags]

  start [--subnet CIDR] [--ports p1,p2,…] [<address|hostname>…]
        runs a gateway in the foreground (until SIGINT/SIGTERM), dialing through the daemon;
        maps each address to the next free IP of the subnet (default ${DEFAULT_GATEWAY_SUBNET})
        and listens there on the ports (default ${DEFAULT_GATEWAY_PORTS.join(",")})
  stop                          stops the gateway started with \`gateway start\`
  map <address|hostname> [ip]   maps an address on the running gateway → local_ip, pilot_addr
  unmap <ip>                    removes a mapping → unmapped
  list                          → mappings [{local_ip, pilot_addr}], total

  --socket PATH    the daemon's IPC socket (its gateway control socket is PATH.gateway)
  --state DIR      state directory (gateway.json, gateway.pid; default ~/.pilot)
  --control PATH   the control socket to use for map/unmap/list

Addresses outside 127.0.0.0/8 need a loopback alias, so root (Linux: ip addr add <ip>/32 dev lo).
\`pilot daemon --gateway [--gateway-subnet CIDR] [--gateway-ports …]\` runs the gateway in the daemon.`;

function stateDir(args: ParsedArgs): string {
  return args.strings.get("state") ?? defaultStateDir();
}

interface PidFile {
  pid: number;
  subnet: string;
  control: string;
  mappings: MappingInfo[];
}

async function readPidFile(dir: string): Promise<PidFile | undefined> {
  try {
    const raw = await readStateFile(dir, GATEWAY_PID_FILE) as PidFile | undefined;
    return raw && Number.isInteger(raw.pid) ? raw : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    if (Deno.build.os === "linux") return false;
  }
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** The control socket for map/unmap/list: --control, a live standalone gateway, else the daemon's. */
async function controlPath(args: ParsedArgs): Promise<string> {
  const explicit = args.strings.get("control");
  if (explicit) return explicit;
  const pid = await readPidFile(stateDir(args));
  if (pid && alive(pid.pid) && pid.pid !== Deno.pid) return pid.control;
  return daemonControlPath(socketPath(args));
}

async function control(
  path: string,
  req: Parameters<typeof controlRequest>[1],
  notRunningHint = "start one with `pilot gateway start`, or run the daemon with --gateway",
): Promise<unknown> {
  try {
    return await controlRequest(path, req);
  } catch (err) {
    if (err instanceof ControlError) {
      const hint = err.code === "not_running" ? notRunningHint : undefined;
      throw new CliError(err.code as ErrorCode, err.message, hint);
    }
    throw err;
  }
}

export const gatewayCommand: Command = {
  name: "gateway",
  summary: "Give overlay nodes local IPs that unmodified TCP programs can reach",
  usage: USAGE,
  flags: { subnet: "string", ports: "string", socket: "string", state: "string", control: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [sub, ...rest] = args.positionals;
    if (!SUBCOMMANDS.includes(sub ?? "")) {
      throw new CliError("invalid_argument", `gateway: expected one of ${SUBCOMMANDS.join(", ")}`);
    }
    switch (sub) {
      case "start":
        return await startGateway(args, rest, out);
      case "stop":
        return await stopGateway(args, out);
      case "map": {
        if (rest.length < 1 || rest.length > 2) {
          throw new CliError("invalid_argument", "usage: pilot gateway map <address|hostname> [local-ip]");
        }
        const data = await control(await controlPath(args), { op: "map", addr: rest[0], ip: rest[1] }) as
          & MappingInfo
          & { ports: number[] };
        printResult(
          out,
          data,
          `mapped ${data.local_ip} → ${data.pilot_addr} (ports ${data.ports.join(",")})`,
        );
        return 0;
      }
      case "unmap": {
        if (rest.length !== 1) {
          throw new CliError("invalid_argument", "usage: pilot gateway unmap <local-ip>");
        }
        const data = await control(await controlPath(args), { op: "unmap", ip: rest[0] });
        printResult(out, data, `unmapped ${rest[0]}`);
        return 0;
      }
      default: {
        const data = await control(await controlPath(args), { op: "list" }) as {
          mappings: (MappingInfo & { ports: number[] })[];
          total: number;
        };
        const text = data.mappings.length
          ? data.mappings.map((m) => `${m.local_ip.padEnd(16)} ${m.pilot_addr}  ports ${m.ports.join(",")}`)
            .join("\n")
          : "no mappings";
        printResult(out, data, text);
        return 0;
      }
    }
  },
};

async function startGateway(
  args: ParsedArgs,
  addrs: string[],
  out: Parameters<Command["run"]>[1],
): Promise<number> {
  const dir = stateDir(args);
  const previous = await readPidFile(dir);
  if (previous && alive(previous.pid)) {
    throw new CliError(
      "already_exists",
      `a gateway is already running (pid ${previous.pid})`,
      "pilot gateway stop",
    );
  }
  const subnet = parseSubnet(subnetFlag(args.strings.get("subnet")));
  const ports = args.strings.has("ports")
    ? parsePortList(args.strings.get("ports")!)
    : [...DEFAULT_GATEWAY_PORTS];
  const log = new Logger("gateway");
  const client = await connectDaemon(args);
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({
      subnet,
      ports,
      stateDir: dir,
      dial: async (addr, port, signal) => overlayFromConnection(await client.dial(addr, port, { signal })),
      resolve: (text) => resolveTarget(client, text),
      aliases: systemAliases(log),
      log,
    }, addrs.map((addr) => ({ addr })));
  } catch (err) {
    await closeQuietly(client);
    if (err instanceof GatewayError) throw new CliError(err.code, err.message);
    throw err;
  }
  const controlSocket = args.strings.get("control") ?? join(dir, GATEWAY_CONTROL_FILE);
  const server = await serveControl(controlSocket, controlHandler(gateway, undefined), log);
  const writePid = async () => {
    const body: PidFile = {
      pid: Deno.pid,
      subnet: subnet.text,
      control: controlSocket,
      mappings: gateway.list(),
    };
    await Deno.writeTextFile(join(dir, GATEWAY_PID_FILE), JSON.stringify(body, null, 2) + "\n", {
      mode: 0o600,
    });
  };
  await writePid();
  const data = {
    pid: Deno.pid,
    subnet: subnet.text,
    ports,
    control: controlSocket,
    mappings: gateway.list().map(({ local_ip, pilot_addr }) => ({ local_ip, pilot_addr })),
  };
  printResult(
    out,
    data,
    `pilot gateway: ${subnet.text}, ${data.mappings.length} mapping(s), control ${controlSocket}`,
  );
  const stopReleases = scheduleMemoryRelease(log);
  await waitForStopSignal();
  stopReleases();
  await server.close();
  await gateway.close();
  await closeQuietly(client);
  await settleQuietly(Deno.remove(join(dir, GATEWAY_PID_FILE)), "cleanup");
  return 0;
}

async function stopGateway(args: ParsedArgs, out: Parameters<Command["run"]>[1]): Promise<number> {
  const dir = stateDir(args);
  const pid = await readPidFile(dir);
  if (!pid || !alive(pid.pid)) {
    await settleQuietly(Deno.remove(join(dir, GATEWAY_PID_FILE)), "cleanup");
    throw new CliError("not_running", "no gateway is running", "pilot gateway start");
  }
  Deno.kill(pid.pid, "SIGTERM");
  for (let i = 0; i < 20 && alive(pid.pid); i++) await new Promise((r) => setTimeout(r, 50));
  await settleQuietly(Deno.remove(join(dir, GATEWAY_PID_FILE)), "cleanup");
  printResult(out, { pid: pid.pid }, `gateway ${pid.pid} stopped`);
  return 0;
}

const EXPOSE_FLAGS = { socket: "string" } as const;
const DAEMON_HINT = "exposed ports live in the daemon: start it with `pilot daemon` or pass --socket";

export const exposeCommand: Command = {
  name: "expose",
  summary: "Serve a local TCP service on an overlay port (the gateway's other half)",
  usage: `pilot expose <port> <host:port> [--socket PATH]

The daemon accepts streams on overlay <port> (trusted peers only, unless the node is public)
and bridges each to the TCP service at <host:port>. Saved in <state>/exposed.json.
Output keys: port, target.`,
  flags: { ...EXPOSE_FLAGS },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    if (args.positionals.length !== 2) {
      throw new CliError("invalid_argument", "usage: pilot expose <port> <host:port>");
    }
    const port = portArg(args.positionals[0]);
    const data = await control(daemonControlPath(socketPath(args)), {
      op: "expose",
      port,
      target: args.positionals[1],
    }, DAEMON_HINT);
    printResult(out, data, `overlay port ${port} → ${args.positionals[1]}`);
    return 0;
  },
};

export const unexposeCommand: Command = {
  name: "unexpose",
  summary: "Stop serving an exposed overlay port",
  usage: "pilot unexpose <port> [--socket PATH]\n\nOutput keys: unexposed (the port).",
  flags: { ...EXPOSE_FLAGS },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    if (args.positionals.length !== 1) throw new CliError("invalid_argument", "usage: pilot unexpose <port>");
    const port = portArg(args.positionals[0]);
    const data = await control(daemonControlPath(socketPath(args)), { op: "unexpose", port }, DAEMON_HINT);
    printResult(out, data, `overlay port ${port} no longer exposed`);
    return 0;
  },
};

export const exposedCommand: Command = {
  name: "exposed",
  summary: "List the overlay ports the daemon bridges to local TCP services",
  usage:
    "pilot exposed [--socket PATH]\n\nOutput keys: exposed [{port, target, active, connections}], total.",
  flags: { ...EXPOSE_FLAGS },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    noExtraArguments(args);
    const data = await control(daemonControlPath(socketPath(args)), { op: "exposed" }, DAEMON_HINT) as {
      exposed: { port: number; target: string; active: number }[];
    };
    const text = data.exposed.length
      ? data.exposed.map((e) => `${String(e.port).padEnd(6)} → ${e.target}  (${e.active} open)`).join("\n")
      : "no exposed ports";
    printResult(out, data, text);
    return 0;
  },
};
