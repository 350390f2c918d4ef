/**
 * `pilot daemon`: runs the node's daemon in the foreground until SIGINT/SIGTERM; `pilot daemon
 * start|stop|status` manage it in the background (cli/lifecycle.ts).
 */
import { waitForStopSignal } from "./signals.ts";
import type { Command } from "./command.ts";
import { type FlagSpec, intFlag, parseArgs, type ParsedArgs, parseDuration } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { Daemon } from "../lib/daemon/daemon.ts";
import { limitMallocArenas } from "../lib/daemon/malloc_arenas.ts";
import { scheduleMemoryRelease } from "../lib/daemon/resident_memory.ts";
import {
  type DaemonConfig,
  DEFAULT_LISTEN_PORT,
  DEFAULT_SOCKET_PATH,
  parseNetworkList,
  resolveConfig,
} from "../lib/daemon/config.ts";
import { type HostPort, parseHostPort } from "../lib/net/hostport.ts";
import { defaultStateDir } from "../lib/crypto/identity.ts";
import { HTTP_TOKEN_ENV } from "../lib/http/access_token.ts";
import { httpFlag, httpHostsFlag, SERVER_FLAGS, serverFlagsUsage, serverLogger } from "./server_flags.ts";
import type { FaultOptions } from "../lib/tunnel/faults.ts";
import { NAMESERVER_FLAGS, nameserverConfig } from "./nameserver_flags.ts";
import { errorMessage } from "../lib/errors.ts";
import { argvWithConfig, CONFIG_FILE_NAME, configuredWebhook, envOr, flagValue } from "./config_file.ts";
import { DAEMON_SUBCOMMANDS } from "./daemon_process.ts";
import { IDLE_TIMEOUT_MS, TIME_WAIT_MS } from "../lib/transport/mod.ts";
import { udpPortFree } from "../lib/net/udp_port.ts";
import { join } from "../lib/paths.ts";
import { daemonGatewayFromArgs } from "./gateway_flags.ts";

const USAGE = `pilot daemon [flags]
pilot daemon start [flags] | stop | status [--check]

Runs this node's daemon in the foreground: registers with the registry, opens the
encrypted UDP tunnel, serves streams and datagrams to local programs over the IPC socket,
and answers health checks over HTTP. Stops cleanly on SIGINT/SIGTERM.
\`daemon start\` runs the same in the background (PID in <state>/pilot.pid, output appended to
<state>/pilot.log) and waits until it answers; \`daemon stop\` (or \`pilot down\`) stops it.

Settings come from the flags, else from the config file, else the defaults:
  --config FILE           JSON object of flag settings (default <state>/config.json; keys are flag
                          names, _ for -, e.g. {"registry": "h:9000", "admin_token": "…"})

  --registry HOST:PORT[,HOST:PORT…]  registry to register with (default 127.0.0.1:9000, or PILOT_REGISTRY);
                          several = a primary and its standbys: the daemon follows whichever is primary
  --registry-pin HEX      connect with TLS and pin the registry certificate's SHA-256
  --registry-auth MODE    request signatures: strict (ours), reference (the Go registry's static
                          challenges) or auto (default: detected at every registration)
  --listen HOST:PORT      UDP tunnel address (default 0.0.0.0:${DEFAULT_LISTEN_PORT}, an ephemeral port when
                          that is taken; :PORT means 0.0.0.0:PORT)
  --socket PATH           IPC socket (default ${DEFAULT_SOCKET_PATH}, or PILOT_SOCKET)
  --state DIR             state directory holding identity.json (default ~/.pilot)
  --identity FILE         identity file (default <state>/identity.json); its directory must exist
  --email ADDR            account e-mail reported in info (--owner is the reference's old name)
  --beacon HOST:PORT      beacon for NAT traversal
  --endpoint HOST:PORT    fixed public endpoint to register (no discovery through the beacon)
  --force-relay           send every dial through the beacon's relay (testing, benchmarks; set it
                          on both nodes, or the other side's probes find the direct path)
  --hostname NAME         hostname to register
  --public                accept connections from any node and publish the endpoint
  --encrypt=false         send plaintext PILT frames (default: encrypted; --no-encrypt is the same)
  --allow-pilk            accept anonymous PILK key exchange from nodes without a key
  --allow-plaintext       accept PILT while encrypting and fall back to it (downgrade; off by default)
  --mss BYTES             stream segment size (default 4096)
  --heartbeat DURATION    registry heartbeat interval (default 30s; --keepalive is the reference's name)
  --syn-rate-limit N      SYNs per second accepted from all sources (default 100)
  --max-conns-per-port N  connections per local port (default 1024)
  --max-conns-total N     connections in all (default 4096)
  --idle-timeout D, --time-wait D  accepted for reference configs: only the built-in values
                          (120s, 10s) or 0 (= default), as these are not configurable here
  --registry-wait DURATION how long to wait for the registry at start (default 15s)
  --no-echo               do not serve echo on port 7
  --no-dataexchange       do not serve data exchange on port 1001
  --no-eventstream        do not serve the event stream on port 1002
  --no-tasksubmit         do not serve task submission on port 1003
  --webhook URL           POST daemon events as JSON to URL (default: webhook in <state>/config.json)
  --admin-token T         admin token (or PILOT_ADMIN_TOKEN); auto-join needs it, as in the reference
  --networks 1,2,3        networks to join at start (signed join: open networks accept; failures logged)
  --nameserver ADDR       resolve hostnames the registry does not know through this nameserver
  --serve-nameserver      serve the nameserver on port 53 (what \`pilot nameserver\` runs)
  --nameserver-file FILE  keep the served nameserver's records in FILE across restarts
  --nameserver-ttl DURATION  record lifetime of the served nameserver (default 5m)
  --http-token T          token the status page (/) and /status require when --http is not loopback
                          (or PILOT_HTTP_TOKEN): Authorization: Bearer T, or ?token=T
  --fault-drop F, --fault-duplicate F, --fault-reorder F, --fault-seed N
                          inject faults into outgoing datagrams (testing)
  --gateway               run the gateway in the daemon (see \`pilot gateway --help\`)
  --gateway-subnet CIDR   its subnet (default 10.4.0.0/16); --gateway-ports p1,p2,… its TCP ports
${serverFlagsUsage("health/status/metrics; default 127.0.0.1:7380")}`;

export const daemonCommand: Command = {
  name: "daemon",
  summary: "Run this node's daemon (tunnel, streams, IPC socket, HTTP health)",
  usage: USAGE,
  flags: {
    registry: "string",
    "registry-pin": "string",
    "registry-auth": "string",
    listen: "string",
    socket: "string",
    state: "string",
    beacon: "string",
    endpoint: "string",
    "force-relay": "boolean",
    hostname: "string",
    public: "boolean",
    encrypt: "boolean",
    "no-encrypt": "boolean",
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
    identity: "string",
    email: "string",
    owner: "string",
    keepalive: "string",
    "idle-timeout": "string",
    "syn-rate-limit": "string",
    "max-conns-per-port": "string",
    "max-conns-total": "string",
    "time-wait": "string",
    foreground: "boolean",
    ...NAMESERVER_FLAGS,
    "fault-drop": "string",
    "fault-duplicate": "string",
    "fault-reorder": "string",
    "fault-seed": "string",
    gateway: "boolean",
    "gateway-subnet": "string",
    "gateway-ports": "string",
    "http-token": "string",
    ...SERVER_FLAGS,
  },
  async run(argv, out) {
    if (DAEMON_SUBCOMMANDS.includes(argv[0])) {
      const flags = this.flags;
      // The lifecycle code (and the SDK it uses) is loaded only for start/stop/status.
      const { runDaemonSubcommand } = await import("./lifecycle.ts");
      return await runDaemonSubcommand(argv[0], argv.slice(1), out, {
        flags,
        withConfig: (a) => daemonArgv(a, flags),
        validate: (args, full) => void daemonConfigFromArgs(args, full),
        foreground: (a, o) => this.run(a, o),
      });
    }
    const full = daemonArgv(argv, this.flags);
    const args = parseArgs(full, this.flags);
    if (args.positionals.length) {
      throw new CliError(
        "invalid_argument",
        `unexpected argument "${args.positionals[0]}" (subcommands: ${DAEMON_SUBCOMMANDS.join(", ")})`,
      );
    }
    limitMallocArenas();
    const config = daemonConfigFromArgs(args, full, await defaultListen(args));
    // Listening for the stop signals before the ready line: a supervisor may send one as soon as it reads it.
    const starting = new AbortController();
    const stop = waitForStopSignal(starting.signal);
    const log = serverLogger(args, "daemon");
    let daemon: Daemon;
    try {
      daemon = await Daemon.start(config, log);
    } catch (err) {
      starting.abort();
      throw err;
    }
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
    const stopReleases = scheduleMemoryRelease(log);
    await stop;
    stopReleases();
    await daemon.close();
    return 0;
  },
};

/**
 * `argv` with the config file's settings in front (flags on the command line win): the file
 * `--config` names, else `<state>/config.json` (state: --state, else ~/.pilot).
 */
export function daemonArgv(argv: readonly string[], spec: FlagSpec): string[] {
  return argvWithConfig(argv, spec, join(flagValue(argv, "state") ?? defaultStateDir(), CONFIG_FILE_NAME));
}

/**
 * The tunnel address when no --listen is set: 0.0.0.0:{@link DEFAULT_LISTEN_PORT}, or an
 * ephemeral port with a warning on stderr when another process holds it.
 */
export async function defaultListen(args: ParsedArgs): Promise<HostPort | undefined> {
  if (args.strings.has("listen")) return undefined;
  const host = "0.0.0.0";
  if (await udpPortFree(host, DEFAULT_LISTEN_PORT)) return { host, port: DEFAULT_LISTEN_PORT };
  console.error(
    `pilot daemon: UDP port ${DEFAULT_LISTEN_PORT} (the default tunnel port) is in use; listening on an ` +
      `ephemeral port instead (pass --listen HOST:PORT to choose one)`,
  );
  return { host, port: 0 };
}

/** Builds the daemon configuration from parsed flags (`listen` applies when no --listen is given). */
export function daemonConfigFromArgs(
  args: ParsedArgs,
  argv: readonly string[],
  listen: HostPort = { host: "0.0.0.0", port: 0 },
): DaemonConfig {
  const s = args.strings;
  fixedDuration(args, "idle-timeout", IDLE_TIMEOUT_MS);
  fixedDuration(args, "time-wait", TIME_WAIT_MS);
  const heartbeat = s.get("heartbeat") ?? s.get("keepalive");
  const listenText = s.get("listen");
  const http = httpFlag(args);
  const faults = faultOptions(args);
  try {
    return resolveConfig(
      {
        registry: s.get("registry") ?? envOr("PILOT_REGISTRY", "127.0.0.1:9000"),
        registryPin: s.get("registry-pin"),
        registryAuth: s.get("registry-auth") as DaemonConfig["registryAuth"] | undefined,
        listen: listenText === undefined
          ? listen
          : parseHostPort(/^:\d+$/.test(listenText) ? `0.0.0.0${listenText}` : listenText, "--listen"),
        socketPath: s.get("socket") ?? envOr("PILOT_SOCKET", DEFAULT_SOCKET_PATH),
        stateDir: s.get("state") ?? defaultStateDir(),
        identityPath: s.get("identity"),
        email: s.get("email") ?? s.get("owner"),
        beacon: s.get("beacon"),
        endpoint: s.get("endpoint"),
        forceRelay: args.booleans.has("force-relay") || undefined,
        ...(http === undefined ? {} : { http }),
        httpHosts: httpHostsFlag(args),
        httpToken: s.get("http-token") ?? Deno.env.get(HTTP_TOKEN_ENV),
        hostname: s.get("hostname"),
        public: args.booleans.has("public"),
        // --encrypt defaults to on; only an explicit --encrypt=false turns it off.
        encrypt: !args.booleans.has("no-encrypt") &&
          (args.booleans.has("encrypt") || !argv.some((a) => /^--?encrypt=(false|0)$/.test(a))),
        allowPilk: args.booleans.has("allow-pilk"),
        allowPlaintext: args.booleans.has("allow-plaintext"),
        mss: s.has("mss") ? intFlag(args, "mss", 4096, 64, 65000) : undefined,
        // The reference's -keepalive is its heartbeat interval; 0 means the default.
        heartbeatMs: heartbeat === undefined || parseDuration(heartbeat) === 0
          ? undefined
          : parseDuration(heartbeat),
        synRateLimit: limitFlag(args, "syn-rate-limit"),
        maxConnsPerPort: limitFlag(args, "max-conns-per-port"),
        maxConnsTotal: limitFlag(args, "max-conns-total"),
        registryWaitMs: s.has("registry-wait") ? parseDuration(s.get("registry-wait")!) : undefined,
        disabledServices: ["echo", "dataexchange", "eventstream", "tasksubmit"].filter((name) =>
          args.booleans.has(`no-${name}`)
        ),
        webhook: s.get("webhook") || configuredWebhook(s.get("state") ?? defaultStateDir()),
        adminToken: s.get("admin-token") ?? (Deno.env.get("PILOT_ADMIN_TOKEN") || undefined),
        networks: s.has("networks") ? parseNetworkList(s.get("networks")!) : undefined,
        faults,
        ...nameserverConfig(args),
        gateway: daemonGatewayFromArgs(args),
      } as Partial<DaemonConfig> & { registry: string; stateDir: string },
    );
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError("invalid_argument", errorMessage(err));
  }
}

/** A limit flag: a positive integer, or 0 / absent for the transport's default. */
function limitFlag(args: ParsedArgs, name: string): number | undefined {
  const raw = args.strings.get(name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) {
    throw new CliError("invalid_argument", `--${name} must be a whole number, not "${raw}"`);
  }
  return Number(raw) === 0 ? undefined : Number(raw);
}

/**
 * A reference flag whose value this daemon cannot change (the transport's constant): 0 or the
 * built-in value is accepted, anything else is refused rather than silently ignored.
 */
function fixedDuration(args: ParsedArgs, name: string, builtInMs: number): void {
  const raw = args.strings.get(name);
  if (raw === undefined) return;
  const ms = parseDuration(raw);
  if (ms !== 0 && ms !== builtInMs) {
    throw new CliError(
      "invalid_argument",
      `--${name} ${raw}: this daemon's value is fixed at ${builtInMs / 1000}s (give 0 or ${
        builtInMs / 1000
      }s)`,
    );
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
