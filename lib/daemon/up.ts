/**
 * A whole Pilot network in one process with no configuration (`pilot up`): a registry with its
 * state on disk, a beacon and a daemon, all on loopback, so a newcomer has a node address and a
 * status page in one command and a second node needs one `pilot daemon` line. The well-known
 * ports (registry 9000, beacon 9001, UDP tunnel 4000, HTTP 7380, socket /tmp/pilot.sock) are used when free and
 * replaced by free ones when not, so a second `pilot up` or a running daemon never blocks it.
 */
import { join } from "../paths.ts";
import { BeaconServer, DEFAULT_BEACON_PORT } from "../beacon/server.ts";
import { RegistryNodeAuthority } from "../beacon/registry_view.ts";
import { Logger } from "../log.ts";
import { formatHostPort, type HostPort } from "../net/hostport.ts";
import { RegistryService } from "../registry/service.ts";
import { DEFAULT_HTTP, DEFAULT_LISTEN_PORT, DEFAULT_SOCKET_PATH, resolveConfig } from "./config.ts";
import { udpPortFree } from "../net/udp_port.ts";
import { Daemon } from "./daemon.ts";
import { errorMessage } from "../errors.ts";

/** The registry port `pilot up` tries first (the reference's). */
export const UP_REGISTRY_PORT = 9000;
/** State directory name under ~/.pilot. */
export const UP_STATE_DIR_NAME = "up";

/** Settings for {@link startLocalNetwork}; everything has a default. */
export interface LocalNetworkOptions {
  /** State directory: the daemon's identity and `registry/` (default ~/.pilot/up). */
  stateDir: string;
  /** Loopback (or other) address every component binds to (default 127.0.0.1). */
  host?: string;
  registryPort?: number;
  beaconPort?: number;
  /** UDP tunnel port tried first (default {@link DEFAULT_LISTEN_PORT}; an ephemeral one when taken). */
  tunnelPort?: number;
  /** IPC socket; when the default one is taken by a live daemon, `<state>/pilot.sock` is used. */
  socketPath?: string;
  /** HTTP endpoint; the default port falls back to a free one when taken. */
  http?: HostPort | null;
  /** Accept connections from any node (default true: a private sandbox network). */
  public?: boolean;
  /** Webhook URL for the daemon's events (`pilot set-webhook` keeps it in <state>/config.json). */
  webhook?: string;
  log?: Logger;
}

/** A running local network. */
export interface LocalNetwork {
  registry: RegistryService;
  beacon: BeaconServer;
  daemon: Daemon;
  /** `host:port` of the registry and the beacon. */
  registryAddr: string;
  beaconAddr: string;
  socketPath: string;
  stateDir: string;
  /** The `pilot daemon` line that joins a second node on this machine. */
  secondNode: string;
  close(): Promise<void>;
}

/** Starts registry, beacon and daemon; on failure stops whatever had started and rethrows. */
export async function startLocalNetwork(options: LocalNetworkOptions): Promise<LocalNetwork> {
  const log = options.log ?? new Logger("up");
  const host = options.host ?? "127.0.0.1";
  const stops: (() => Promise<void>)[] = [];
  try {
    await Deno.mkdir(options.stateDir, { recursive: true, mode: 0o700 });
    const registry = await withFallback(
      options.registryPort ?? UP_REGISTRY_PORT,
      (port) =>
        RegistryService.start({
          listen: { hostname: host, port },
          dir: join(options.stateDir, "registry"),
          logger: log.child("registry"),
          onFatal: (err) => log.error("registry storage failed", { err }),
        }),
    );
    stops.push(() => registry.close());
    const { beacon, bound } = await withFallback(options.beaconPort ?? DEFAULT_BEACON_PORT, async (port) => {
      const b = new BeaconServer({ host, port, logger: log.child("beacon") });
      try {
        return { beacon: b, bound: await b.start() };
      } catch (err) {
        await b.close();
        throw err;
      }
    });
    stops.push(() => beacon.close());
    // The beacon checks signed claims and punch requests against the registry, as a separate beacon does.
    const authority = new RegistryNodeAuthority({ registry: registry.address });
    beacon.setAuthority(authority);
    stops.push(() => Promise.resolve(authority.close()));
    const beaconBound = formatHostPort({ host, port: bound.port });
    const socketPath = options.socketPath ??
      (await socketInUse(DEFAULT_SOCKET_PATH) ? join(options.stateDir, "pilot.sock") : DEFAULT_SOCKET_PATH);
    let http: HostPort | null = options.http === undefined ? { ...DEFAULT_HTTP, host } : options.http;
    if (options.http === undefined && http && !(await portFree(http.host, http.port))) {
      http = { host, port: 0 };
    }
    const wantTunnel = options.tunnelPort ?? DEFAULT_LISTEN_PORT;
    const tunnelPort = wantTunnel === 0 || await udpPortFree(host, wantTunnel) ? wantTunnel : 0;
    if (tunnelPort !== wantTunnel) {
      log.warn(`UDP port ${wantTunnel} is in use; the tunnel listens on an ephemeral port instead`);
    }
    const config = resolveConfig({
      registry: registry.address,
      stateDir: options.stateDir,
      beacon: beaconBound,
      listen: { host, port: tunnelPort },
      socketPath,
      http,
      public: options.public ?? true,
      webhook: options.webhook,
    });
    const daemon = await Daemon.start(config, log.child("daemon"));
    stops.push(() => daemon.close());
    const secondState = join(options.stateDir, "..", "node2");
    const secondNode = [
      "pilot daemon",
      `--registry ${registry.address}`,
      `--beacon ${beaconBound}`,
      `--listen ${host}:0`,
      `--socket ${join(options.stateDir, "..", "node2.sock")}`,
      `--state ${secondState}`,
      `--http ${host}:0`,
      // Like this node: a sandbox where replies (task results, messages back) need no handshake.
      ...(config.public ? ["--public"] : []),
    ].join(" ");
    return {
      registry,
      beacon,
      daemon,
      registryAddr: registry.address,
      beaconAddr: beaconBound,
      socketPath,
      stateDir: options.stateDir,
      secondNode,
      close: async () => {
        for (const stop of stops.reverse()) await stop().catch((err) => log.warn("stop failed", { err }));
      },
    };
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch((err) => log.warn("stop failed", { err }));
    throw err;
  }
}

/** Tries `port`, and an ephemeral port when it is taken. */
async function withFallback<T>(port: number, start: (port: number) => Promise<T>): Promise<T> {
  try {
    return await start(port);
  } catch (err) {
    if (port === 0 || !isAddrInUse(err)) throw err;
    return await start(0);
  }
}

function isAddrInUse(err: unknown): boolean {
  if (err instanceof Deno.errors.AddrInUse) return true;
  if (err instanceof Error && err.cause !== undefined && isAddrInUse(err.cause)) return true;
  const text = `${(err as { code?: string })?.code ?? ""} ${errorMessage(err)}`;
  return /EADDRINUSE|address already in use|AddrInUse/i.test(text);
}

/** True when something answers on the Unix socket (a running daemon). */
async function socketInUse(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** True when a TCP listener can bind `host:port` right now. */
async function portFree(host: string, port: number): Promise<boolean> {
  try {
    const l = Deno.listen({ hostname: host, port });
    l.close();
    await Promise.resolve();
    return true;
  } catch {
    return false;
  }
}
