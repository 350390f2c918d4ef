/**
 * `pilot registry`: runs the network's directory service in the foreground
 * until SIGINT or SIGTERM. State lives under `--state` (write-ahead log plus
 * snapshots); a write is acknowledged only once it is on disk.
 */
import { stopSignals } from "./signals.ts";
import type { Command } from "./command.ts";
import { intFlag, parseArgs, parseDuration } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { HTTP_TOKEN_ENV } from "../lib/http/access_token.ts";
import { httpFlag, httpHostsFlag, SERVER_FLAGS, serverFlagsUsage, serverLogger } from "./server_flags.ts";
import { argvWithConfig } from "./config_file.ts";
import { parseHostPort } from "../lib/net/hostport.ts";
import { parseRateLimits } from "../lib/registry/ratelimit.ts";
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
    "               [--http-token T] [--audit-export-dir DIR]",
    "               [--snapshot-every N] [--log-level L] [--log-format text|json] [--json]",
    "",
    `  --listen          TCP address to serve on (default ${DEFAULT_REGISTRY_LISTEN})`,
    "  --state           state directory (default ~/.pilot/registry); --memory keeps nothing on disk",
    "  --tls-cert/--tls-key  PEM files: serve TLS; clients pin the certificate's SHA-256",
    "  --admin-token     global admin token (or --admin-token-file, or PILOT_ADMIN_TOKEN); none = admin ops off",
    "  --compat          strict (default): only signed, fresh requests; reference: also accept what",
    "                    reference daemons and pilotctl send (unsigned registration, static signatures)",
    "  --rate-limit      requests per minute per source: register, resolve, query, heartbeat, write, read",
    "                    (defaults 10,100,500,50,600,1200; 0 = unlimited; 'off' disables all)",
    "  --rate-by         ip (default) or connection",
    "  --max-connections open connections in all (default 10000); --max-connections-per-source: from one",
    "                    IP address (default 256); over either, a connection is refused at once",
    "  --idle-timeout    close a connection with no request for this long (default 5m)",
    "  --frame-timeout   a request must arrive whole within this long of its first byte (default 30s)",
    "  --stale-after     nodes silent this long are reaped (default 3m); they stay dormant, keeping id,",
    "                    hostname, tags and memberships, for --dormant-retention (default 720h), then are purged",
    "  --snapshot-every  write a snapshot (and drop older log segments) after this many events (default 100000)",
    "  --http-token      token the status page (/) requires when --http is not loopback (or PILOT_HTTP_TOKEN)",
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
    "audit-export-dir": "string",
    ...SERVER_FLAGS,
  },
  async run(argv, out) {
    const args = parseArgs(argvWithConfig(argv, this.flags), this.flags);
    if (args.positionals.length) {
      throw new CliError("invalid_argument", `unexpected argument "${args.positionals[0]}"`);
    }
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
      rateLimits = parseRateLimits(args.strings.get("rate-limit") ?? "");
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
        rateLimits,
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
    };
    printResult(
      out,
      data,
      `registry listening on ${data.listen}${data.tls ? " (TLS)" : ""}, compat ${compat}, state ${
        dir ?? "in memory"
      }, ${data.nodes} nodes loaded in ${data.load_ms} ms${data.http ? `, http ${data.http}` : ""}`,
    );

    let stop: () => void = () => {};
    const stopped = new Promise<string>((resolve) => stop = () => resolve("signal"));
    const signals = stopSignals();
    for (const sig of signals) Deno.addSignalListener(sig, stop);
    const outcome = await Promise.race([stopped, failed]);
    for (const sig of signals) Deno.removeSignalListener(sig, stop);
    if (outcome instanceof Error) {
      await settleQuietly(service.close({ snapshot: false }), "cleanup"); // the outcome's error is the one to report
      throw new CliError("internal", `registry stopped: ${outcome.message}`);
    }
    await service.close();
    log.info("registry stopped");
    return 0;
  },
};
