/**
 * Peer beacons from the registry (docs/protocol/wire.md §8.1): a beacon registers its own address with
 * `beacon_register` (admin token in strict mode) and reads `beacon_list` every 30 s; every other
 * listed beacon, plus the configured ones, becomes a gossip peer. Registry trouble is logged and
 * leaves the previous peer set in place.
 */
import type { Logger } from "../log.ts";
import { parseHostPort } from "../net/hostport.ts";
import { RegistryClient } from "../registry/client.ts";
import type { BeaconPeer, BeaconServer } from "./server.ts";
import { errorMessage } from "../errors.ts";

/** How often the beacon re-registers and re-reads the list (the registry forgets a beacon after 60 s). */
export const BEACON_REGISTER_INTERVAL_MS = 30_000;

/** Settings for {@link RegistryBeaconPeers}. */
export interface RegistryBeaconPeersOptions {
  /** Registry `host:port`. */
  registry: string;
  /** Hex SHA-256 pin of the registry's TLS certificate; TLS is used when set. */
  registryPin?: string;
  /** Admin token for `beacon_register`; without one the beacon only reads the list. */
  adminToken?: string;
  /** The address other beacons reach this one at, `host:port`. */
  advertise: string;
  /** Peers from configuration, always kept. */
  staticPeers?: BeaconPeer[];
  intervalMs?: number;
  log: Logger;
}

/** Keeps a beacon's peer set in step with the registry's beacon list. */
export class RegistryBeaconPeers {
  readonly #beacon: BeaconServer;
  readonly #options: RegistryBeaconPeersOptions;
  readonly #client: RegistryClient;
  #timer?: ReturnType<typeof setInterval>;
  #running?: Promise<void>;
  /** Rounds that failed (registry unreachable or refusing). */
  failures = 0;

  constructor(beacon: BeaconServer, options: RegistryBeaconPeersOptions) {
    this.#beacon = beacon;
    this.#options = options;
    this.#client = new RegistryClient({
      address: options.registry,
      adminToken: options.adminToken,
      tls: options.registryPin ? { pin: options.registryPin } : undefined,
    });
  }

  /** Runs one round now, then every interval. */
  async start(): Promise<void> {
    await this.round();
    this.#timer = setInterval(() => {
      if (!this.#running) this.#running = this.round().finally(() => this.#running = undefined);
    }, this.#options.intervalMs ?? BEACON_REGISTER_INTERVAL_MS);
  }

  /** Registers (with a token) and replaces the peer set with the configured plus listed beacons. */
  async round(): Promise<void> {
    const log = this.#options.log;
    try {
      if (this.#options.adminToken) {
        await this.#client.beaconRegister(this.#beacon.beaconId, this.#options.advertise);
      }
      const reply = await this.#client.beaconList();
      const listed = Array.isArray(reply.beacons) ? reply.beacons as { id?: unknown; addr?: unknown }[] : [];
      const peers: BeaconPeer[] = [...(this.#options.staticPeers ?? [])];
      for (const b of listed) {
        if (b.id === this.#beacon.beaconId || typeof b.addr !== "string") continue;
        try {
          peers.push(parseHostPort(b.addr, "beacon address"));
        } catch {
          log.debug("ignoring listed beacon with a bad address", { addr: b.addr });
        }
      }
      await this.#beacon.setPeers(peers);
    } catch (err) {
      this.failures++;
      log.warn("beacon list from the registry failed", {
        err: errorMessage(err),
      });
    }
  }

  /** Stops the timer and closes the registry connection. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#running;
    this.#client.close();
  }
}
