/**
 * `pilot beacon`: runs the NAT-traversal beacon in the foreground until SIGINT/SIGTERM —
 * endpoint discovery, punch coordination, relay for nodes that cannot punch, gossip with peer
 * beacons — with an optional HTTP endpoint for /healthz and /metrics.
 */
import { waitForStopSignal } from "./signals.ts";
import { scheduleMemoryRelease } from "../lib/daemon/resident_memory.ts";
import type { Command } from "./command.ts";
import { intFlag, noExtraArguments, parseArgs, parseDuration } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { httpFlag, httpHostsFlag, SERVER_FLAGS, serverFlagsUsage, serverLogger } from "./server_flags.ts";
import { argvWithConfig } from "./config_file.ts";
import { formatHostPort, type HostPort, parseHostPort } from "../lib/net/hostport.ts";
import {
  BeaconServer,
  DEFAULT_BEACON_PORT,
  RELAY_BURST_PER_NODE,
  RELAY_RATE_PER_NODE,
  SYNC_INTERVAL_MS,
} from "../lib/beacon/server.ts";
import { beaconHttpApp } from "../lib/beacon/http.ts";
import { RegistryBeaconPeers } from "../lib/beacon/registry_peers.ts";
import { RegistryNodeAuthority } from "../lib/beacon/registry_view.ts";
import { serveHttp } from "../lib/http/server.ts";
import { bindReason } from "../lib/net/bind_error.ts";
import { errorMessage, settleQuietly } from "../lib/errors.ts";

/** Default listen address: loopback, so exposing the beacon is a deliberate choice. */
export const DEFAULT_BEACON_LISTEN = `127.0.0.1:${DEFAULT_BEACON_PORT}`;

const USAGE = `pilot beacon [flags]

Runs the beacon daemons use to get through NATs: it tells each node the public endpoint it
sees (discovery), asks both sides of a pair to punch towards each other, relays frames for
pairs that cannot punch (per-node rate limits), and gossips its node list to peer beacons.

  --listen HOST:PORT      UDP address (default ${DEFAULT_BEACON_LISTEN}; 0.0.0.0:9001 to serve a network)
  --id N                  beacon ID in gossip (default random)
  --peers H:P,...         peer beacons to gossip with
  --registry HOST:PORT    also take peers from the registry's beacon list (every 30s), verify
                          signed Discover/PunchRequest with the keys it holds, and answer a
                          PunchRequest only when the registry lets the requester see the target
  --registry-pin HEX      connect to the registry with TLS, pinning its certificate
  --admin-token T         admin token to register this beacon there (or --admin-token-file F,
                          or PILOT_ADMIN_TOKEN); without it the beacon only reads the list
  --advertise HOST:PORT   address registered for other beacons (default the listen address)
  --registry-interval D   how often to re-register and re-read the beacon list (default 30s)
  --relay-rate N          relayed packets per second per sender node (default ${RELAY_RATE_PER_NODE})
  --relay-burst N         relay burst per sender node (default ${RELAY_BURST_PER_NODE})
  --sync-interval D       gossip interval (default ${SYNC_INTERVAL_MS / 1000}s)
${serverFlagsUsage("/healthz and /metrics; default off")}`;

export const beaconCommand: Command = {
  name: "beacon",
  summary: "Run the NAT-traversal beacon (discovery, hole punching, relay)",
  usage: USAGE,
  flags: {
    listen: "string",
    id: "string",
    peers: "string",
    registry: "string",
    "registry-pin": "string",
    "admin-token": "string",
    "admin-token-file": "string",
    advertise: "string",
    "registry-interval": "string",
    "relay-rate": "string",
    "relay-burst": "string",
    "sync-interval": "string",
    ...SERVER_FLAGS,
  },
  async run(argv, out) {
    const args = parseArgs(argvWithConfig(argv, this.flags), this.flags);
    noExtraArguments(args);
    const s = args.strings;
    const listen = hostPortFlag(s.get("listen") ?? DEFAULT_BEACON_LISTEN, "--listen");
    const http = httpFlag(args) ?? undefined;
    const httpHosts = httpHostsFlag(args);
    const peers = (s.get("peers") ?? "").split(",").filter((p) => p.trim() !== "")
      .map((p) => hostPortFlag(p.trim(), "--peers"));
    const log = serverLogger(args, "beacon");
    const syncIntervalMs = s.has("sync-interval")
      ? durationFlag(s.get("sync-interval")!, "--sync-interval")
      : SYNC_INTERVAL_MS;
    const beacon = new BeaconServer({
      host: listen.host,
      port: listen.port,
      beaconId: s.has("id") ? intFlag(args, "id", 1, 1, 0xffffffff) : undefined,
      peers,
      syncIntervalMs,
      relayRatePerNode: intFlag(args, "relay-rate", RELAY_RATE_PER_NODE, 1, 10_000_000),
      relayBurstPerNode: intFlag(args, "relay-burst", RELAY_BURST_PER_NODE, 1, 10_000_000),
      logger: log,
    });
    const startedAt = Date.now();
    let bound: { host: string; port: number };
    try {
      bound = await beacon.start();
    } catch (err) {
      throw new CliError(
        "internal",
        `cannot start beacon: --listen ${formatHostPort(listen)}: ${bindReason(err)}`,
      );
    }
    const stops: (() => Promise<void>)[] = [() => beacon.close()];
    try {
      const registry = s.get("registry");
      if (registry !== undefined) {
        hostPortFlag(registry, "--registry");
        const authority = new RegistryNodeAuthority({ registry, registryPin: s.get("registry-pin") });
        beacon.setAuthority(authority);
        stops.push(() => Promise.resolve(authority.close()));
        const tokenFile = s.get("admin-token-file");
        const adminToken = s.get("admin-token") ??
          (tokenFile ? await readSecret(tokenFile) : Deno.env.get("PILOT_ADMIN_TOKEN") || undefined);
        const peering = new RegistryBeaconPeers(beacon, {
          registry,
          registryPin: s.get("registry-pin"),
          adminToken,
          advertise: formatHostPort(hostPortFlag(s.get("advertise") ?? formatHostPort(bound), "--advertise")),
          staticPeers: peers,
          intervalMs: s.has("registry-interval")
            ? durationFlag(s.get("registry-interval")!, "--registry-interval")
            : undefined,
          log: log.child("peers"),
        });
        stops.unshift(() => peering.close());
        await peering.start();
      }
      const endpoint = http
        ? await serveHttp(
          beaconHttpApp(beacon, startedAt, { bound: http.host, names: httpHosts }).fetch,
          { hostname: http.host, port: http.port },
          log,
        ).catch((err) => {
          throw new CliError(
            "internal",
            `cannot start beacon: --http ${formatHostPort(http)}: ${bindReason(err)}`,
          );
        })
        : undefined;
      if (endpoint) stops.unshift(() => endpoint.close());
      const data = {
        listen: formatHostPort(bound),
        id: beacon.beaconId,
        http: endpoint?.url ?? null,
        peers: beacon.peerCount,
      };
      printResult(
        out,
        data,
        `beacon ${data.id} listening on udp ${data.listen}${
          data.http ? `, http ${data.http}` : ""
        }, ${data.peers} peer beacon(s)`,
      );
      const stopReleases = scheduleMemoryRelease(log);
      stops.unshift(() => Promise.resolve(stopReleases()));
      await waitForStopSignal();
    } finally {
      for (const stop of stops) await settleQuietly(stop(), "cleanup");
    }
    return 0;
  },
};

/** Smallest interval accepted for the gossip and registry timers. */
const MIN_INTERVAL_MS = 100;

function durationFlag(text: string, what: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    throw new CliError("invalid_argument", `${what}: ${errorMessage(err)}`);
  }
  if (!(ms >= MIN_INTERVAL_MS)) {
    throw new CliError("invalid_argument", `${what} must be at least ${MIN_INTERVAL_MS}ms`);
  }
  return ms;
}

function hostPortFlag(text: string, what: string): HostPort {
  try {
    return parseHostPort(text, what);
  } catch (err) {
    throw new CliError("invalid_argument", errorMessage(err));
  }
}

async function readSecret(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (err) {
    throw new CliError("invalid_argument", `cannot read admin token file ${path}: ${errorMessage(err)}`);
  }
}
