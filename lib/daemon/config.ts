/**
 * The daemon's configuration: every setting with its default, and validation that
 * names the offending setting. The CLI builds one from flags; tests and `pilot up`
 * build one directly.
 */
import { PilotError } from "../errors.ts";
import { type HostPort, parseHostPort } from "../net/hostport.ts";
import { MAX_NETWORK, parseAddressOrNodeId } from "../protocol/address.ts";
import type { FaultOptions } from "../tunnel/faults.ts";
import { REGISTRY_AUTH_MODES, type RegistryAuthMode } from "../registry/auth_modes.ts";
import type { NameserverServiceOptions } from "../services/nameserver/install.ts";
import type { DaemonGatewayConfig } from "./gateway_host.ts";

/** Registry heartbeat (and beacon re-discover) interval, as the reference uses. */
export const DEFAULT_HEARTBEAT_MS = 30_000;
/** Consecutive heartbeat failures after which the daemon registers again. */
export const HEARTBEAT_FAILURES_BEFORE_REREGISTER = 3;
/** How long start-up keeps trying to reach the registry before giving up. */
export const DEFAULT_REGISTRY_WAIT_MS = 15_000;
/** Default IPC socket path (the reference's). */
export const DEFAULT_SOCKET_PATH = "/tmp/pilot.sock";
/**
 * The UDP port `pilot daemon` and `pilot up` listen on when no --listen is given, so a firewall
 * rule can name it (the port of the reference's shipped daemon config). The library default
 * stays 0 (ephemeral); a taken port makes the CLI fall back to an ephemeral one.
 */
export const DEFAULT_LISTEN_PORT = 4000;
/** Default loopback address of the daemon's HTTP endpoint. */
export const DEFAULT_HTTP: HostPort = { host: "127.0.0.1", port: 7380 };

/** Upper bound of the connection and SYN-rate limits (a typo guard, not a capacity claim). */
export const MAX_LIMIT = 1_000_000;
/** What `--email` must look like: something@domain. */
const EMAIL_SHAPE = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** A setting was missing or malformed. */
export class ConfigError extends PilotError {}

/** Everything a daemon needs to start. */
export interface DaemonConfig {
  /** Registry `host:port`. */
  registry: string;
  /** Hex SHA-256 pin of the registry's TLS certificate; TLS is used when set. */
  registryPin?: string;
  /** Request signatures the registry gets: ours, the reference's, or detected at registration (default). */
  registryAuth: RegistryAuthMode;
  /** UDP tunnel listen address. */
  listen: HostPort;
  /** IPC Unix socket path. */
  socketPath: string;
  /** State directory (identity.json and friends). */
  stateDir: string;
  /** Identity file (`--identity`); default `<stateDir>/identity.json`. Its directory must exist. */
  identityPath?: string;
  /** Beacon UDP `host:port`, for NAT traversal. */
  beacon?: string;
  /** Fixed public endpoint to register instead of the tunnel's own address. */
  endpoint?: string;
  /** Send every dial through the beacon's relay from the first SYN (testing, benchmarks). */
  forceRelay?: boolean;
  /** HTTP endpoint address, or null for none. */
  http: HostPort | null;
  /** Extra names the HTTP endpoint answers to (`--http-host`); loopback names and the bound address always. */
  httpHosts?: string[];
  /** Token the status page and /status require on a non-loopback HTTP bind (`--http-token`). */
  httpToken?: string;
  /** Hostname to register. */
  hostname?: string;
  /** Accept connections from any node (no trust gate) and publish the endpoint. */
  public: boolean;
  /** Tunnel encryption (default true). */
  encrypt: boolean;
  /** Accept anonymous PILK key exchange from nodes without a registered key. */
  allowPilk: boolean;
  /** Accept and fall back to plaintext PILT frames. */
  allowPlaintext: boolean;
  /** Outgoing-datagram fault injection (tests). */
  faults?: FaultOptions;
  /** Heartbeat interval in ms. */
  heartbeatMs: number;
  /** How long start-up waits for the registry, in ms. */
  registryWaitMs: number;
  /** Segment size for new streams. */
  mss?: number;
  /** SYNs per second accepted from all sources together (`--syn-rate-limit`; transport default when unset). */
  synRateLimit?: number;
  /** Connections per local port (`--max-conns-per-port`; transport default when unset). */
  maxConnsPerPort?: number;
  /** Connections in all (`--max-conns-total`; transport default when unset). */
  maxConnsTotal?: number;
  /** Built-in services not to run (names from lib/daemon/services.ts, e.g. "echo"). */
  disabledServices: string[];
  /** Owner e-mail sent at registration (optional). */
  email?: string;
  /** Webhook URL that receives daemon events (docs/protocol/services.md §9); unset = none. */
  webhook?: string;
  /** Admin token; auto-join of {@link networks} runs only when it is set (as the reference). */
  adminToken?: string;
  /** Networks joined at start (docs/protocol/services.md §11.1 `-networks`); failures are logged, not fatal. */
  networks?: number[];
  /** Nameserver (address text) that resolves hostnames the registry does not know. */
  nameserver?: string;
  /** Serve the nameserver on port 53 with these options (`pilot nameserver`); unset = not served. */
  nameserverService?: NameserverServiceOptions;

  // ---- gateway (lib/gateway) ----
  /** Run the gateway inside the daemon (`--gateway`, `--gateway-subnet`, `--gateway-ports`). */
  gateway?: DaemonGatewayConfig;
}

/** Fills defaults and validates; throws ConfigError (or HostPortError) naming the bad setting. */
export function resolveConfig(
  partial: Partial<DaemonConfig> & { registry: string; stateDir: string },
): DaemonConfig {
  const config: DaemonConfig = {
    listen: { host: "0.0.0.0", port: 0 },
    socketPath: DEFAULT_SOCKET_PATH,
    http: DEFAULT_HTTP,
    registryAuth: "auto",
    public: false,
    encrypt: true,
    allowPilk: false,
    allowPlaintext: false,
    heartbeatMs: DEFAULT_HEARTBEAT_MS,
    registryWaitMs: DEFAULT_REGISTRY_WAIT_MS,
    disabledServices: [],
    ...definedOnly(partial),
    registry: partial.registry,
    stateDir: partial.stateDir,
  };
  // Several registries (a primary and its standbys), comma-separated: the client follows the primary.
  for (const r of config.registry.split(",")) parseHostPort(r.trim(), "--registry");
  if (config.beacon !== undefined) parseHostPort(config.beacon, "--beacon");
  if (config.endpoint !== undefined) parseHostPort(config.endpoint, "--endpoint");
  if (!REGISTRY_AUTH_MODES.includes(config.registryAuth)) {
    throw new ConfigError(`--registry-auth must be strict, reference or auto, got "${config.registryAuth}"`);
  }
  if (!config.socketPath) throw new ConfigError("--socket must not be empty");
  if (config.webhook && !/^https?:\/\/./.test(config.webhook)) {
    throw new ConfigError(`--webhook must be an http:// or https:// URL, got "${config.webhook}"`);
  }
  for (const id of config.networks ?? []) {
    if (!(Number.isInteger(id) && id >= 1 && id <= MAX_NETWORK)) {
      throw new ConfigError(`--networks: network ids must be integers in 1..${MAX_NETWORK}, got ${id}`);
    }
  }
  if (config.nameserver !== undefined) {
    try {
      config.nameserver = parseAddressOrNodeId(config.nameserver).toString();
    } catch (err) {
      throw new ConfigError(`--nameserver: ${(err as Error).message}`);
    }
  }
  const nsTtl = config.nameserverService?.ttlMs;
  if (nsTtl !== undefined && !(nsTtl >= 100)) {
    throw new ConfigError(`--nameserver-ttl must be at least 100 ms`);
  }
  for (
    const [flag, value] of [
      ["--syn-rate-limit", config.synRateLimit],
      ["--max-conns-per-port", config.maxConnsPerPort],
      ["--max-conns-total", config.maxConnsTotal],
    ] as const
  ) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 1 && value <= MAX_LIMIT)) {
      throw new ConfigError(`${flag} must be an integer between 1 and ${MAX_LIMIT}, got ${value}`);
    }
  }
  if (config.email !== undefined && config.email !== "" && !EMAIL_SHAPE.test(config.email)) {
    throw new ConfigError(`--email must be an e-mail address, got "${config.email}"`);
  }
  if (config.identityPath === "") throw new ConfigError("--identity must not be empty");
  if (!(config.heartbeatMs >= 100)) throw new ConfigError(`heartbeat interval must be at least 100 ms`);
  if (
    config.mss !== undefined && !(Number.isInteger(config.mss) && config.mss >= 64 && config.mss <= 65000)
  ) {
    throw new ConfigError(`--mss must be an integer between 64 and 65000, got ${config.mss}`);
  }
  return config;
}

/**
 * Parses a `--networks` list ("1,2,3"; blanks around commas allowed, empty items skipped) into
 * ids; throws ConfigError on an item that is not a decimal integer. Ranges are checked by
 * {@link resolveConfig}.
 */
export function parseNetworkList(text: string): number[] {
  const ids: number[] = [];
  for (const item of text.split(",")) {
    const t = item.trim();
    if (!t) continue;
    if (!/^\d+$/.test(t)) throw new ConfigError(`--networks: "${t}" is not a network id`);
    ids.push(Number(t));
  }
  return ids;
}

/** `obj` without its undefined-valued keys, so they do not override defaults. */
function definedOnly<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
