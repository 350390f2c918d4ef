/** `pilot daemon`: runs the node's daemon in the foreground until SIGINT/SIGTERM. */
import { waitForStopSignal } from "./signals.ts";
import type { Command } from "./command.ts";
import { intFlag, parseArgs, type ParsedArgs, parseDuration } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { envOr } from "./client.ts";
import { configuredWebhook } from "./webhook.ts";
import { Daemon } from "../lib/daemon/daemon.ts";
import {
  type DaemonConfig,
  DEFAULT_SOCKET_PATH,
  parseNetworkList,
  resolveConfig,
} from "../lib/daemon/config.ts";
import { parseHostPort } from "../lib/net/hostport.ts";
import { defaultStateDir } from "../lib/crypto/identity.ts";
import { isLogLevel, Logger } from "../lib/log.ts";
import type { FaultOptions } from "../lib/tunnel/faults.ts";
import { daemonGatewayFromArgs } from "./gateway.ts";

const USAGE = `pilot daemon [flags]

Runs this node's daemon in the foreground: registers with the registry, opens the
encrypted UDP tunnel, serves streams and datagrams to local programs over the IPC socket,
and answers health checks over HTTP. Stops cleanly on SIGINT/SIGTERM.

  --registry HOST:PORT    registry to register with (default 127.0.0.1:9000, or PILOT_REGISTRY)
  --registry-pin HEX      connect with TLS and pin the registry certificate's SHA-256
  --listen HOST:PORT      UDP tunnel address (default 0.0.0.0:0)
  --socket PATH           IPC socket (default ${DEFAULT_SOCKET_PATH}, or PILOT_SOCKET)
  --state DIR             state directory holding identity.json (default ~/.pilot)
  --beacon HOST:PORT      beacon for NAT traversal
  --endpoint HOST:PORT    fixed public endpoint to register (no discovery through the beacon)
  --force-relay           send every dial through the beacon's relay (testing, benchmarks; set it
                          on both nodes, or the other side's probes find the direct path)
  --http HOST:PORT|off    health/status/metrics endpoint (default 127.0.0.1:7380)
  --hostname NAME         hostname to register
  --public                accept connections from any node and publish the endpoint
  --encrypt=false         send plaintext PILT frames (default: encrypted)
  --allow-pilk            accept anonymous PILK key exchange from nodes without a key
  --allow-plaintext       accept PILT while encrypting and fall back to it (downgrade; off by default)
  --mss BYTES             stream segment size (default 4096)
  --heartbeat DURATION    registry heartbeat interval (default 30s)
  --registry-wait DURATION how long to wait for the registry at start (default 15s)
  --no-echo               do not serve echo on port 7
  --no-dataexchange       do not serve data exchange on port 1001
  --no-eventstream        do not serve the event stream on port 1002
  --no-tasksubmit         do not serve task submission on port 1003
  --webhook URL           POST daemon events as JSON to URL (default: webhook in <state>/config.json)
  --admin-token T         admin token (or PILOT_ADMIN_TOKEN); auto-join needs it, as in the reference
  --networks 1,2,3        networks to join at start (signed join: open networks accept; failures logged)
  --fault-drop F, --fault-duplicate F, --fault-reorder F, --fault-seed N
                          inject faults into outgoing datagrams (testing)
  --log-level LEVEL       debug, info, warn (default), error
  --gateway               run the gateway in the daemon (see \`pilot gateway --help\`)
  --gateway-subnet CIDR   its subnet (default 10.4.0.0/16); --gateway-ports p1,p2,… its TCP ports`;

export const daemonCommand: Command = {
  name: "daemon",
  summary: "Run this node's daemon (tunnel, streams, IPC socket, HTTP health)",
  usage: USAGE,
  flags: {
    registry: "string",
    "registry-pin": "string",
    listen: "string",
    socket: "string",
    state: "string",
    beacon: "string",
    endpoint: "string",
    "force-relay": "boolean",
    http: "string",
    hostname: "string",
    public: "boolean",
    encrypt: "boolean",
    "allow-pilk": "boolean",
    "allow-plaintext": "boolean",
    mss: "string",
    heartbeat: "string",
    "registry-wait": "string",
    "no-echo": "boolean",
    "no-dataexchange": "boolean",
    "no-eventstream": "boolean",
    "no-tasksubmit": "boolean",
    webhook: "string",
    "admin-token": "string",
    networks: "string",
    "fault-drop": "string",
    "fault-duplicate": "string",
    "fault-reorder": "string",
    "fault-seed": "string",
    "log-level": "string",
    gateway: "boolean",
    "gateway-subnet": "string",
    "gateway-ports": "string",
  },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    if (args.positionals.length) {
      throw new CliError("invalid_argument", `unexpected argument "${args.positionals[0]}"`);
    }
    const config = daemonConfigFromArgs(args, argv);
    const level = args.strings.get("log-level");
    if (level !== undefined && !isLogLevel(level)) {
      throw new CliError("invalid_argument", `unknown --log-level "${level}"`);
    }
    const daemon = await Daemon.start(
      config,
      new Logger("daemon", level && isLogLevel(level) ? level : undefined),
    );
    const data = {
      node_id: daemon.nodeId,
      address: daemon.address.toString(),
      socket: config.socketPath,
      tunnel: daemon.tunnel.localAddress(),
      http: daemon.http?.url ?? null,
    };
    printResult(
      out,
      data,
      `pilot daemon: node ${data.address} ready (socket ${data.socket}, http ${data.http ?? "off"})`,
    );
    await waitForStopSignal();
    await daemon.close();
    return 0;
  },
};

/** Builds the daemon configuration from parsed flags. */
export function daemonConfigFromArgs(args: ParsedArgs, argv: readonly string[]): DaemonConfig {
  const s = args.strings;
  const httpText = s.get("http");
  const faults = faultOptions(args);
  try {
    return resolveConfig(
      {
        registry: s.get("registry") ?? envOr("PILOT_REGISTRY", "127.0.0.1:9000"),
        registryPin: s.get("registry-pin"),
        listen: parseHostPort(s.get("listen") ?? "0.0.0.0:0", "--listen"),
        socketPath: s.get("socket") ?? envOr("PILOT_SOCKET", DEFAULT_SOCKET_PATH),
        stateDir: s.get("state") ?? defaultStateDir(),
        beacon: s.get("beacon"),
        endpoint: s.get("endpoint"),
        forceRelay: args.booleans.has("force-relay") || undefined,
        ...(httpText === undefined
          ? {}
          : { http: httpText === "off" ? null : parseHostPort(httpText, "--http") }),
        hostname: s.get("hostname"),
        public: args.booleans.has("public"),
        // --encrypt defaults to on; only an explicit --encrypt=false turns it off.
        encrypt: args.booleans.has("encrypt") || !argv.some((a) => /^--?encrypt=(false|0)$/.test(a)),
        allowPilk: args.booleans.has("allow-pilk"),
        allowPlaintext: args.booleans.has("allow-plaintext"),
        mss: s.has("mss") ? intFlag(args, "mss", 4096, 64, 65000) : undefined,
        heartbeatMs: s.has("heartbeat") ? parseDuration(s.get("heartbeat")!) : undefined,
        registryWaitMs: s.has("registry-wait") ? parseDuration(s.get("registry-wait")!) : undefined,
        disabledServices: ["echo", "dataexchange", "eventstream", "tasksubmit"].filter((name) =>
          args.booleans.has(`no-${name}`)
        ),
        webhook: s.get("webhook") ?? configuredWebhook(s.get("state") ?? defaultStateDir()),
        adminToken: s.get("admin-token") ?? (Deno.env.get("PILOT_ADMIN_TOKEN") || undefined),
        networks: s.has("networks") ? parseNetworkList(s.get("networks")!) : undefined,
        faults,
        gateway: daemonGatewayFromArgs(args),
      } as Partial<DaemonConfig> & { registry: string; stateDir: string },
    );
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError("invalid_argument", err instanceof Error ? err.message : String(err));
  }
}

function faultOptions(args: ParsedArgs): FaultOptions | undefined {
  const fraction = (name: string): number => {
    const raw = args.strings.get(name);
    if (raw === undefined) return 0;
    const v = Number(raw);
    if (!(v >= 0 && v <= 1)) throw new CliError("invalid_argument", `--${name} must be a fraction in [0, 1]`);
    return v;
  };
  const drop = fraction("fault-drop");
  const duplicate = fraction("fault-duplicate");
  const reorder = fraction("fault-reorder");
  if (!drop && !duplicate && !reorder) return undefined;
  return { drop, duplicate, reorder, seed: intFlag(args, "fault-seed", 1, 0, 2 ** 31) };
}
