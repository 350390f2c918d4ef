/**
 * `pilot registry`: runs the network's directory service in the foreground
 * until SIGINT or SIGTERM. State lives under `--state` (write-ahead log plus
 * snapshots); a write is acknowledged only once it is on disk.
 */
import { stopSignals } from "./signals.ts";
import type { Command } from "./command.ts";
import { intFlag, parseArgs, parseDuration } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { Logger } from "../lib/log.ts";
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
import { parseHostNames } from "../lib/http/host_check.ts";

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
    throw new CliError("invalid_argument", `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** The `pilot registry` command. */
export const registryCommand: Command = {
  name: "registry",
  summary: "Run the registry (the network's directory service)",
  usage: [
    "pilot registry [--listen HOST:PORT] [--state DIR | --memory] [--tls-cert F --tls-key F]",
    "               [--admin-token T | --admin-token-file F] [--compat strict|reference] [--http HOST:PORT]",
    "               [--rate-limit CAT=N,...|off] [--rate-by ip|connection] [--max-connections N]",
    "               [--max-connections-per-source N] [--idle-timeout D] [--frame-timeout D]",
    "               [--http-host NAME,...] [--stale-after D] [--reap-interval D] [--dormant-retention D]",
    "               [--snapshot-every N] [--json]",
    "",
    `  --listen          TCP address to serve on (default ${DEFAULT_REGISTRY_LISTEN})`,
    "  --state           state directory (default ~/.pilot/registry); --memory keeps nothing on disk",
    "  --tls-cert/--tls-key  PEM files: serve TLS; clients pin the certificate's SHA-256",
    "  --admin-token     global admin token (or --admin-token-file, or PILOT_ADMIN_TOKEN); none = admin ops off",
    "  --compat          strict (default): only signed, fresh requests; reference: also accept what",
    "                    reference daemons and pilotctl send (unsigned registration, static signatures)",
    "  --http            serve /healthz and /metrics on this address",
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
    "  --http-host       extra names the --http endpoint answers to (Host header); loopback names and",
    "                    the bound address are always accepted, anything else gets 421",
    "  --stale-after     nodes silent this long are reaped (default 3m); they stay dormant, keeping id,",
    "                    hostname, tags and memberships, for --dormant-retention (default 720h), then are purged",
    "  --snapshot-every  write a snapshot (and drop older log segments) after this many events (default 100000)",
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
    http: "string",
    "rate-limit": "string",
    "rate-by": "string",
    "max-connections": "string",
    "max-connections-per-source": "string",
    "frame-timeout": "string",
    "http-host": "string",
    "idle-timeout": "string",
    "stale-after": "string",
    "reap-interval": "string",
    "dormant-retention": "string",
    "snapshot-every": "string",
  },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    if (args.positionals.length) {
      throw new CliError("invalid_argument", `unexpected argument "${args.positionals[0]}"`);
    }
    let listen: { hostname: string; port: number };
    let http: { hostname: string; port: number } | undefined;
    try {
      const l = parseHostPort(args.strings.get("listen") ?? DEFAULT_REGISTRY_LISTEN, "--listen");
      listen = { hostname: l.host, port: l.port };
      const h = args.strings.get("http");
      if (h !== undefined) {
        const hp = parseHostPort(h, "--http");
        http = { hostname: hp.host, port: hp.port };
      }
    } catch (err) {
      throw new CliError("invalid_argument", (err as Error).message);
    }
    let httpHosts: string[];
    try {
      httpHosts = parseHostNames(args.strings.get("http-host") ?? "", "--http-host");
    } catch (err) {
      throw new CliError("invalid_argument", (err as Error).message);
    }
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
      throw new CliError("invalid_argument", (err as Error).message);
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

    const log = new Logger("registry");
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
        staleAfterMs: durationFlag(args.strings.get("stale-after"), 3 * 60_000, "stale-after"),
        reapIntervalMs: durationFlag(args.strings.get("reap-interval"), 60_000, "reap-interval"),
        dormantRetentionMs: durationFlag(
          args.strings.get("dormant-retention"),
          30 * 86_400_000,
          "dormant-retention",
        ),
        snapshotEveryEvents: intFlag(args, "snapshot-every", 100_000, 1, 100_000_000),
        logger: log,
        onFatal: (err) => fatal?.(err),
      });
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError("internal", `cannot start registry: ${(err as Error).message}`);
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
      await service.close({ snapshot: false }).catch(() => {});
      throw new CliError("internal", `registry stopped: ${outcome.message}`);
    }
    await service.close();
    log.info("registry stopped");
    return 0;
  },
};
