/**
 * `pilot registry`: runs the network's directory service in the foreground
 * until SIGINT or SIGTERM. State lives under `--state` (write-ahead log plus
 * snapshots); a write is acknowledged only once it is on disk.
 */
import { stopSignals } from "./signals.ts";
import type { Command } from "./command.ts";
import { intFlag, noExtraArguments, parseArgs, parseDuration } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { HTTP_TOKEN_ENV } from "../lib/http/access_token.ts";
import { httpFlag, httpHostsFlag, SERVER_FLAGS, serverFlagsUsage, serverLogger } from "./server_flags.ts";
import { argvWithConfig } from "./config_file.ts";
import { parseHostPort } from "../lib/net/hostport.ts";
import { parseRateLimitFlag } from "../lib/registry/limits_flag.ts";
import type { CompatMode } from "../lib/registry/ops/mod.ts";
import type { RateKey } from "../lib/registry/registry.ts";
import { RegistryService } from "../lib/registry/service.ts";
import {
  DEFAULT_FRAME_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
} from "../lib/registry/server.ts";
import { errorMessage, settleQuietly } from "../lib/errors.ts";
import type { ReplicationOptions } from "../lib/registry/replication/replicator.ts";
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_LIVENESS_MS,
  DEFAULT_SYNC_TIMEOUT_MS,
} from "../lib/registry/replication/protocol.ts";
import { RegistryClient, RegistryReplyError } from "../lib/registry/client.ts";
import type { WireMessage } from "../lib/registry/wire.ts";
import { limitMallocArenas } from "../lib/daemon/malloc_arenas.ts";
import { scheduleMemoryRelease } from "../lib/daemon/resident_memory.ts";

/** Default listen address: loopback, so exposing the registry is a deliberate choice. */
export const DEFAULT_REGISTRY_LISTEN = "127.0.0.1:9000";

function defaultStateDir(): string {
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? ".";
  return `${home}/.pilot/registry`;
}

function durationFlag(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms <= 0) throw new CliError("invalid_argument", `--${name} must be positive`);
  return ms;
}

async function readSecret(path: string, what: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (err) {
    throw new CliError("invalid_argument", `cannot read ${what} ${path}: ${errorMessage(err)}`);
  }
}

/** The `pilot registry` command. */
export const registryCommand: Command = {
  name: "registry",
  summary: "Run the registry (the network's directory service)",
  usage: [
    "pilot registry [--listen HOST:PORT] [--state DIR | --memory] [--tls-cert F --tls-key F]",
    "               [--admin-token T | --admin-token-file F] [--compat strict|reference] [--http HOST:PORT|off]",
    "               [--rate-limit CAT=N,...|off] [--rate-by ip|connection] [--max-connections N]",
    "               [--max-connections-per-source N] [--idle-timeout D] [--frame-timeout D]",
    "               [--http-host NAME,...] [--stale-after D] [--reap-interval D] [--dormant-retention D]",
    "               [--http-token T] [--replication-token T [--standby-of HOST:PORT]",
    "               [--replication async|sync] [--auto-failover] [--advertise HOST:PORT] [--peers A,B]] [--audit-export-dir DIR]",
    "               [--snapshot-every N] [--log-level L] [--log-format text|json] [--json]",
    "pilot registry status [--registry HOST:PORT] [--admin-token T] [--json]",
    "pilot registry promote --registry HOST:PORT --admin-token T [--json]",
    "",
    `  --listen          TCP address to serve on (default ${DEFAULT_REGISTRY_LISTEN})`,
    "  --state           state directory (default ~/.pilot/registry); --memory keeps nothing on disk",
    "  --tls-cert/--tls-key  PEM files: serve TLS; clients pin the certificate's SHA-256",
    "  --admin-token     global admin token (or --admin-token-file, or PILOT_ADMIN_TOKEN); none = admin ops off",
    "  --compat          strict (default): only signed, fresh requests; reference: also accept what",
    "                    reference daemons and pilotctl send (unsigned registration, static signatures)",
    "  --rate-limit      comma-separated; 0 = unlimited; 'off' disables every limit (docs/compat.md):",
    "                    unsigned requests, per minute per address: register, resolve, query, heartbeat,",
    "                    write, read (defaults 300,100,500,50,600,1200);",
    "                    signed by a node, per minute per node: node.heartbeat, node.poll, node.lookup,",
    "                    node.write (defaults 120,240,600,300; RATE:BURST sets the burst too);",
    "                    whole registry: global.rps (5000), global.inflight (4096), global.heap_mb (3/4 of",
    "                    V8's heap limit)",
    "  --rate-by         ip (default) or connection",
    "  --max-connections open connections in all (default 10000); --max-connections-per-source: from one",
    "                    IP address (default 2048); over either, a connection is refused at once",
    "  --idle-timeout    close a connection with no request for this long (default 5m)",
    "  --frame-timeout   a request must arrive whole within this long of its first byte (default 30s)",
    "  --stale-after     nodes silent this long are reaped (default 3m); they stay dormant, keeping id,",
    "                    hostname, tags and memberships, for --dormant-retention (default 720h), then are purged",
    "  --snapshot-every  write a snapshot (and drop older log segments) after this many events (default 100000)",
    "  --http-token      token the status page (/) requires when --http is not loopback (or PILOT_HTTP_TOKEN)",
    "  --replication-token  shared secret of a primary and its standbys (or --replication-token-file,",
    "                    or PILOT_REPLICATION_TOKEN); without it replication is off",
    "  --standby-of      follow this primary: apply its events, serve reads, refuse writes naming it",
    "  --replication     async (default): acknowledge writes once on the primary's disk; sync: also on a standby's",
    "  --auto-failover   a standby promotes itself when the primary is silent past --replication-liveness",
    "                    (default 30s; heartbeat --replication-heartbeat, default 15s) and no standby is ahead",
    "  --sync-timeout    sync mode: report a write not_replicated after this long without a standby (default 5s)",
    "  --advertise       the address peers reach this registry at (default: the --listen address; set it",
    "                    when listening on 0.0.0.0)",
    "  --peers           other registries to ask for a newer epoch at start (standbys are learnt as they connect)",
    "  --replication-ca  PEM file: reach the primary and peers over TLS, verified against this CA",
    "  --replication-pin HEX: reach them over TLS pinned to this certificate (all share one certificate)",
    "  status            role, epoch, sequence, primary and standbys with their lag",
    "  promote           make a standby the primary of a new epoch; the old primary is fenced",
    "  --audit-export-dir  the only directory audit-export file sinks may write in (default <state>/audit-export)",
    serverFlagsUsage("status page, /healthz and /metrics; default off"),
  ].join("\n"),
  flags: {
    listen: "string",
    state: "string",
    memory: "boolean",
    "tls-cert": "string",
    "tls-key": "string",
    "admin-token": "string",
    "admin-token-file": "string",
    compat: "string",
    "rate-limit": "string",
    "rate-by": "string",
    "max-connections": "string",
    "max-connections-per-source": "string",
    "frame-timeout": "string",
    "idle-timeout": "string",
    "stale-after": "string",
    "reap-interval": "string",
    "dormant-retention": "string",
    "snapshot-every": "string",
    "http-token": "string",
    "replication-token": "string",
    "replication-token-file": "string",
    "standby-of": "string",
    replication: "string",
    "auto-failover": "boolean",
    advertise: "string",
    peers: "string",
    "replication-heartbeat": "string",
    "replication-ca": "string",
    "replication-pin": "string",
    "replication-liveness": "string",
    "sync-timeout": "string",
    "audit-export-dir": "string",
    ...SERVER_FLAGS,
  },
  async run(argv, out) {
    if (argv[0] === "status" || argv[0] === "promote") {
      return await registryAdmin(argv[0], argv.slice(1), out);
    }
    const args = parseArgs(argvWithConfig(argv, this.flags), this.flags);
    noExtraArguments(args);
    // One malloc arena, as for the daemon: bursts of connections otherwise leave per-thread arenas
    // resident (docs/benchmarks.md, "Registry memory").
    limitMallocArenas();
    let listen: { hostname: string; port: number };
    let http: { hostname: string; port: number } | undefined;
    try {
      const l = parseHostPort(args.strings.get("listen") ?? DEFAULT_REGISTRY_LISTEN, "--listen");
      listen = { hostname: l.host, port: l.port };
      const hp = httpFlag(args);
      if (hp) http = { hostname: hp.host, port: hp.port };
    } catch (err) {
      throw new CliError("invalid_argument", errorMessage(err));
    }
    const httpHosts = httpHostsFlag(args);
    const compat = (args.strings.get("compat") ?? "strict") as CompatMode;
    if (compat !== "strict" && compat !== "reference") {
      throw new CliError("invalid_argument", `--compat must be strict or reference, not "${compat}"`);
    }
    const rateBy = (args.strings.get("rate-by") ?? "ip") as RateKey;
    if (rateBy !== "ip" && rateBy !== "connection") {
      throw new CliError("invalid_argument", `--rate-by must be ip or connection, not "${rateBy}"`);
    }
    let rateLimits;
    try {
      rateLimits = parseRateLimitFlag(args.strings.get("rate-limit") ?? "");
    } catch (err) {
      throw new CliError("invalid_argument", errorMessage(err));
    }
    const certFile = args.strings.get("tls-cert");
    const keyFile = args.strings.get("tls-key");
    if ((certFile === undefined) !== (keyFile === undefined)) {
      throw new CliError("invalid_argument", "--tls-cert and --tls-key go together");
    }
    const tls = certFile && keyFile
      ? { cert: await readSecret(certFile, "certificate"), key: await readSecret(keyFile, "key") }
      : undefined;
    const tokenFile = args.strings.get("admin-token-file");
    const adminToken = args.strings.get("admin-token") ??
      (tokenFile ? await readSecret(tokenFile, "admin token file") : Deno.env.get("PILOT_ADMIN_TOKEN") ?? "");
    const dir = args.booleans.has("memory") ? null : args.strings.get("state") ?? defaultStateDir();
    const replication = await replicationOptions(args);

    const log = serverLogger(args, "registry");
    let fatal: ((err: Error) => void) | null = null;
    const failed = new Promise<Error>((resolve) => fatal = resolve);
    let service: RegistryService;
    try {
      service = await RegistryService.start({
        listen,
        http,
        tls,
        dir,
        compat,
        adminToken,
        rateLimits: rateLimits.address,
        nodeLimits: rateLimits.node,
        globalLimits: rateLimits.global,
        rateBy,
        maxConnections: intFlag(args, "max-connections", DEFAULT_MAX_CONNECTIONS, 1, 1_000_000),
        maxConnectionsPerSource: intFlag(
          args,
          "max-connections-per-source",
          DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
          1,
          1_000_000,
        ),
        idleTimeoutMs: durationFlag(
          args.strings.get("idle-timeout"),
          DEFAULT_IDLE_TIMEOUT_MS,
          "idle-timeout",
        ),
        frameTimeoutMs: durationFlag(
          args.strings.get("frame-timeout"),
          DEFAULT_FRAME_TIMEOUT_MS,
          "frame-timeout",
        ),
        httpHosts,
        httpToken: args.strings.get("http-token") ?? Deno.env.get(HTTP_TOKEN_ENV),
        staleAfterMs: durationFlag(args.strings.get("stale-after"), 3 * 60_000, "stale-after"),
        reapIntervalMs: durationFlag(args.strings.get("reap-interval"), 60_000, "reap-interval"),
        dormantRetentionMs: durationFlag(
          args.strings.get("dormant-retention"),
          30 * 86_400_000,
          "dormant-retention",
        ),
        snapshotEveryEvents: intFlag(args, "snapshot-every", 100_000, 1, 100_000_000),
        replication,
        advertise: args.strings.get("advertise"),
        auditExportDir: args.strings.get("audit-export-dir"),
        logger: log,
        onFatal: (err) => fatal?.(err),
      });
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError("internal", `cannot start registry: ${errorMessage(err)}`);
    }
    const s = service.registry.store.stats;
    const data = {
      listen: service.address,
      tls: tls !== undefined,
      http: service.http ? `${service.http.hostname}:${service.http.port}` : null,
      state: dir,
      compat,
      admin: adminToken !== "",
      nodes: service.registry.state.nodes.size,
      load_ms: Math.round(s.loadMs),
      replayed_events: s.replayedEvents,
      replication: service.registry.replicator
        ? {
          role: service.registry.replicator.role,
          epoch: service.registry.replicator.epoch,
          primary: service.registry.replicator.primary,
          mode: service.registry.replicator.mode,
        }
        : null,
    };
    printResult(
      out,
      data,
      `registry listening on ${data.listen}${data.tls ? " (TLS)" : ""}, compat ${compat}, state ${
        dir ?? "in memory"
      }, ${data.nodes} nodes loaded in ${data.load_ms} ms${data.http ? `, http ${data.http}` : ""}${
        data.replication
          ? `, ${data.replication.role} (epoch ${data.replication.epoch}, primary ${data.replication.primary}, ${data.replication.mode})`
          : ""
      }`,
    );

    const stopReleases = scheduleMemoryRelease(log);
    let stop: () => void = () => {};
    const stopped = new Promise<string>((resolve) => stop = () => resolve("signal"));
    const signals = stopSignals();
    for (const sig of signals) Deno.addSignalListener(sig, stop);
    const outcome = await Promise.race([stopped, failed]);
    for (const sig of signals) Deno.removeSignalListener(sig, stop);
    stopReleases();
    if (outcome instanceof Error) {
      await settleQuietly(service.close({ snapshot: false }), "cleanup"); // the outcome's error is the one to report
      throw new CliError("internal", `registry stopped: ${outcome.message}`);
    }
    await service.close();
    log.info("registry stopped");
    return 0;
  },
};

type Args = ReturnType<typeof parseArgs>;

async function replicationOptions(args: Args): Promise<ReplicationOptions | undefined> {
  const tokenFile = args.strings.get("replication-token-file");
  const token = args.strings.get("replication-token") ??
    (tokenFile
      ? await readSecret(tokenFile, "replication token file")
      : Deno.env.get("PILOT_REPLICATION_TOKEN") ?? "");
  const standbyOf = args.strings.get("standby-of");
  const mode = args.strings.get("replication") ?? "async";
  if (mode !== "async" && mode !== "sync") {
    throw new CliError("invalid_argument", `--replication must be async or sync, not "${mode}"`);
  }
  if (!token) {
    for (
      const f of ["standby-of", "replication", "peers", "advertise", "replication-ca", "replication-pin"]
    ) {
      if (args.strings.has(f)) throw new CliError("invalid_argument", `--${f} needs --replication-token`);
    }
    if (args.booleans.has("auto-failover")) {
      throw new CliError("invalid_argument", "--auto-failover needs --replication-token");
    }
    return undefined;
  }
  const addresses = (list: string, flag: string) =>
    list.split(",").map((a) => a.trim()).filter((a) => a).map((a) => {
      try {
        const hp = parseHostPort(a, flag);
        if (hp.port === 0) throw new Error(`${flag} needs a port: "${a}"`);
        return a;
      } catch (err) {
        throw new CliError("invalid_argument", (err as Error).message);
      }
    });
  const caFile = args.strings.get("replication-ca");
  const pin = args.strings.get("replication-pin");
  const tls = caFile !== undefined
    ? { caCerts: [await readSecret(caFile, "replication CA file")] }
    : pin !== undefined
    ? { pin }
    : undefined;
  return {
    token,
    mode,
    tls,
    standbyOf: standbyOf === undefined ? undefined : addresses(standbyOf, "--standby-of")[0],
    autoFailover: args.booleans.has("auto-failover"),
    peers: addresses(args.strings.get("peers") ?? "", "--peers"),
    heartbeatMs: durationFlag(
      args.strings.get("replication-heartbeat"),
      DEFAULT_HEARTBEAT_MS,
      "replication-heartbeat",
    ),
    livenessMs: durationFlag(
      args.strings.get("replication-liveness"),
      DEFAULT_LIVENESS_MS,
      "replication-liveness",
    ),
    syncTimeoutMs: durationFlag(args.strings.get("sync-timeout"), DEFAULT_SYNC_TIMEOUT_MS, "sync-timeout"),
  };
}

/** `pilot registry status|promote`: asks a running registry. */
async function registryAdmin(sub: "status" | "promote", argv: string[], out: Parameters<Command["run"]>[1]) {
  const args = parseArgs(argv, { registry: "string", "admin-token": "string", json: "boolean" });
  const address = args.strings.get("registry") ?? Deno.env.get("PILOT_REGISTRY") ?? DEFAULT_REGISTRY_LISTEN;
  const adminToken = args.strings.get("admin-token") ?? Deno.env.get("PILOT_ADMIN_TOKEN") ?? "";
  if (sub === "promote" && !adminToken) throw new CliError("invalid_argument", "promote needs --admin-token");
  const client = new RegistryClient({ address, timeoutMs: 15_000, reconnectAttempts: 1 });
  try {
    if (sub === "promote") {
      const r = await client.request({ type: "repl_promote", admin_token: adminToken });
      printResult(
        out,
        r,
        `${address} is now the primary (epoch ${r.epoch}${r.already ? ", already primary" : ""})`,
      );
      return 0;
    }
    const msg: WireMessage = { type: "repl_status" };
    if (adminToken) msg.admin_token = adminToken;
    const r = await client.request(msg);
    const standbys = Array.isArray(r.standbys) ? r.standbys as Record<string, unknown>[] : [];
    const lines = [
      `${address}: ${r.role}${
        r.replication === false ? " (replication off)" : ""
      }, epoch ${r.epoch}, seq ${r.seq}` +
      (r.primary && r.role !== "primary" ? `, primary ${r.primary}` : "") + (r.mode ? `, ${r.mode}` : ""),
      ...standbys.map((s) => `  standby ${s.listen}: acked ${s.acked_seq}, lag ${s.lag} events`),
    ];
    printResult(out, r, lines.join("\n"));
    return 0;
  } catch (err) {
    if (err instanceof RegistryReplyError) {
      throw new CliError(err.code === "unauthorized" ? "auth_required" : "invalid_state", err.message);
    }
    throw new CliError("connection_failed", (err as Error).message);
  } finally {
    client.close();
  }
}
