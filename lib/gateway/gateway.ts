/**
 * The gateway (docs/protocol/services.md §10): each mapping gives an overlay address a local IPv4 address
 * from a subnet; on that address the gateway listens on every configured TCP port and bridges
 * each accepted connection to an overlay stream to the same port of the mapped node. It runs
 * inside the daemon (dialing through the daemon's dialer) or as its own process (dialing over
 * IPC); the caller supplies `dial` and `resolve`, the rest is shared.
 *
 * Mappings are saved in `<state>/gateway.json` on every change and restored at start, and
 * `map`/`unmap` act on the running listeners at once (the control socket reaches this object).
 */
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../log.ts";
import { settleQuietly } from "../errors.ts";
import type { Address } from "../protocol/address.ts";
import type { MetricFamily } from "../http/prometheus.ts";
import { bridge, type OverlayConn } from "./bridge.ts";
import type { LoopbackAliases } from "./alias.ts";
import { allocateIPv4, parseIPv4, type Subnet, subnetContains } from "./subnet.ts";
import { readStateFile, writeStateFile } from "./state_file.ts";
import { DialPacer } from "./dial_pacer.ts";
import { DEFAULT_GATEWAY_PORTS, GatewayError } from "./defaults.ts";

// Re-exported: callers import the gateway's defaults and error from here.
export { DEFAULT_GATEWAY_PORTS, GatewayError };
/** File in the state directory holding the mappings. */
export const GATEWAY_STATE_FILE = "gateway.json";
/**
 * How long one overlay dial may take before the TCP client is reset: the SYN schedule's own
 * span, since a burst of new connections from one gateway meets the far side's per-source SYN
 * limit (docs/protocol/transport.md §9) and the later ones get in only on a retransmitted SYN.
 */
export const GATEWAY_DIAL_TIMEOUT_MS = 30_000;
/**
 * Longest wait for a dial slot (see {@link DialPacer}) before a new connection is reset instead:
 * about 1,000 connections opened at once to one node.
 */
export const GATEWAY_MAX_PACING_WAIT_MS = 150_000;

/** Where a gateway's connections are reported (the daemon's webhook emitter, or nothing). */
export type GatewayEvents = (event: string, data: Record<string, unknown>) => void;

/** What a gateway needs from its host. */
export interface GatewayOptions {
  subnet: Subnet;
  ports: readonly number[];
  stateDir: string;
  /** Opens an overlay stream; rejects when the node refuses, is unreachable, or `signal` aborts. */
  dial(addr: Address, port: number, signal: AbortSignal): Promise<OverlayConn>;
  /** Address text, node id or hostname → address. */
  resolve(text: string): Promise<Address>;
  aliases: LoopbackAliases;
  log: Logger;
  events?: GatewayEvents;
  dialTimeoutMs?: number;
}

/** One mapping as listed and saved. */
export interface MappingInfo {
  local_ip: string;
  pilot_addr: string;
}

/** Counters of one mapping, exported in /metrics. */
interface MappingStats {
  connections: number;
  /** Bridged now. */
  active: number;
  /** Accepted and waiting for a dial slot or for the dial to complete. */
  dialing: number;
  bytesToOverlay: number;
  bytesToTcp: number;
  dialErrors: number;
  bridgeErrors: number;
}

interface Mapping {
  info: MappingInfo;
  addr: Address;
  servers: Server[];
  /** Ports actually listening (a port may fail to bind: in use, or < 1024 without root). */
  ports: number[];
  sockets: Set<Socket>;
  stats: MappingStats;
}

/** A running gateway. */
export class Gateway {
  readonly #opts: GatewayOptions;
  readonly #byIp = new Map<string, Mapping>();
  /** Serialises map/unmap so the state file and the listeners never disagree. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #pacer = new DialPacer();

  private constructor(opts: GatewayOptions) {
    this.#opts = opts;
  }

  /** Starts a gateway and restores the saved mappings (those that no longer fit are logged and dropped). */
  static async start(opts: GatewayOptions, initial: { addr: string; ip?: string }[] = []): Promise<Gateway> {
    const gw = new Gateway(opts);
    const saved = await loadMappings(opts.stateDir);
    for (const m of saved) {
      try {
        await gw.#map(m.pilot_addr, m.local_ip, false);
      } catch (err) {
        opts.log.warn("saved gateway mapping not restored", { ...m, err });
      }
    }
    try {
      for (const m of initial) await gw.#map(m.addr, m.ip, false);
      await gw.#save();
    } catch (err) {
      await gw.close();
      throw err;
    }
    opts.log.info("gateway started", {
      subnet: opts.subnet.text,
      ports: opts.ports.join(","),
      mappings: gw.#byIp.size,
    });
    return gw;
  }

  get subnet(): Subnet {
    return this.#opts.subnet;
  }

  get ports(): readonly number[] {
    return this.#opts.ports;
  }

  /** Maps an overlay address (or hostname) to `ip`, or to the next free address of the subnet. */
  map(addr: string, ip?: string): Promise<MappingInfo & { ports: number[] }> {
    return this.#serial(() => this.#map(addr, ip, true));
  }

  /** Removes the mapping of `ip`: its listeners close, open bridges are reset, its alias goes. */
  unmap(ip: string): Promise<MappingInfo> {
    return this.#serial(async () => {
      const m = this.#byIp.get(ip);
      if (!m) throw new GatewayError("not_found", `no gateway mapping for ${ip}`);
      this.#byIp.delete(ip);
      await this.#teardown(m);
      await this.#save();
      this.#opts.log.info("gateway mapping removed", { ...m.info });
      return m.info;
    });
  }

  /** The mappings, in address order. */
  list(): (MappingInfo & { ports: number[]; active: number })[] {
    return [...this.#byIp.values()]
      .sort((a, b) => parseIPv4(a.info.local_ip) - parseIPv4(b.info.local_ip))
      .map((m) => ({ ...m.info, ports: [...m.ports], active: m.stats.active }));
  }

  /** Per-mapping families for /metrics. */
  metrics(): MetricFamily[] {
    const rows = [...this.#byIp.values()];
    const labels = (m: Mapping) => ({ local_ip: m.info.local_ip, pilot_addr: m.info.pilot_addr });
    return [
      {
        name: "pilot_gateway_connections_total",
        help: "TCP connections accepted by the gateway, per mapping.",
        type: "counter",
        samples: rows.map((m) => ({ labels: labels(m), value: m.stats.connections })),
      },
      {
        name: "pilot_gateway_active_connections",
        help: "Bridged connections open now, per mapping.",
        type: "gauge",
        samples: rows.map((m) => ({ labels: labels(m), value: m.stats.active })),
      },
      {
        name: "pilot_gateway_dialing_connections",
        help: "TCP connections accepted and waiting for their overlay dial, per mapping.",
        type: "gauge",
        samples: rows.map((m) => ({ labels: labels(m), value: m.stats.dialing })),
      },
      {
        name: "pilot_gateway_bytes_total",
        help: "Bytes bridged, per mapping and direction (to_overlay: from the TCP client).",
        type: "counter",
        samples: rows.flatMap((m) => [
          { labels: { ...labels(m), direction: "to_overlay" }, value: m.stats.bytesToOverlay },
          { labels: { ...labels(m), direction: "from_overlay" }, value: m.stats.bytesToTcp },
        ]),
      },
      {
        name: "pilot_gateway_errors_total",
        help:
          "Gateway connections that failed, per mapping and kind (dial: the overlay dial; bridge: reset mid-way).",
        type: "counter",
        samples: rows.flatMap((m) => [
          { labels: { ...labels(m), kind: "dial" }, value: m.stats.dialErrors },
          { labels: { ...labels(m), kind: "bridge" }, value: m.stats.bridgeErrors },
        ]),
      },
    ];
  }

  /** Stops listening, resets open bridges and removes the aliases. Mappings stay saved. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await settleQuietly(this.#queue, "reported elsewhere");
    for (const m of this.#byIp.values()) await this.#teardown(m);
    this.#byIp.clear();
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = settleQuietly(run, "reported elsewhere");
    return run;
  }

  async #map(
    addrText: string,
    ip: string | undefined,
    save: boolean,
  ): Promise<MappingInfo & { ports: number[] }> {
    if (this.#closed) throw new GatewayError("invalid_argument", "gateway is stopped");
    const { subnet, aliases, log } = this.#opts;
    const addr = await this.#opts.resolve(addrText);
    const existing = [...this.#byIp.values()].find((m) => m.addr.node === addr.node);
    if (existing) return { ...existing.info, ports: [...existing.ports] };
    if (ip !== undefined) {
      if (!subnetContains(subnet, ip)) {
        throw new GatewayError("invalid_argument", `${ip} is not inside the gateway subnet ${subnet.text}`);
      }
      if (this.#byIp.has(ip)) throw new GatewayError("already_exists", `${ip} is already mapped`);
    } else {
      try {
        ip = allocateIPv4(subnet, new Set(this.#byIp.keys()));
      } catch (err) {
        throw new GatewayError("invalid_argument", err instanceof Error ? err.message : String(err));
      }
    }
    await aliases.add(ip);
    const m: Mapping = {
      info: { local_ip: ip, pilot_addr: addr.toString() },
      addr,
      servers: [],
      ports: [],
      sockets: new Set(),
      stats: {
        connections: 0,
        active: 0,
        dialing: 0,
        bytesToOverlay: 0,
        bytesToTcp: 0,
        dialErrors: 0,
        bridgeErrors: 0,
      },
    };
    const failures: string[] = [];
    for (const port of this.#opts.ports) {
      try {
        m.servers.push(await this.#listen(m, port));
        m.ports.push(port);
      } catch (err) {
        failures.push(`${port}: ${err instanceof Error ? err.message : err}`);
      }
    }
    if (failures.length) log.warn("gateway ports not listening", { ip, failures: failures.join("; ") });
    if (m.ports.length === 0) {
      await aliases.remove(ip);
      throw new GatewayError(
        "invalid_argument",
        `cannot listen on any gateway port of ${ip} (${failures.join("; ")})`,
      );
    }
    this.#byIp.set(ip, m);
    if (save) await this.#save();
    log.info("gateway mapping added", { ...m.info, ports: m.ports.join(",") });
    return { ...m.info, ports: [...m.ports] };
  }

  #listen(m: Mapping, port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
        void this.#serve(m, port, socket);
      });
      server.once("error", reject);
      server.listen({ host: m.info.local_ip, port }, () => {
        server.removeListener("error", reject);
        server.on(
          "error",
          (err) => this.#opts.log.warn("gateway listener error", { ip: m.info.local_ip, port, err }),
        );
        resolve(server);
      });
    });
  }

  async #serve(m: Mapping, port: number, socket: Socket): Promise<void> {
    const { stats } = m;
    stats.connections++;
    stats.dialing++;
    m.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("error", () => {}); // reported through the bridge, or irrelevant once reset
    const event = {
      local_ip: m.info.local_ip,
      port,
      pilot_addr: m.info.pilot_addr,
      client: `${socket.remoteAddress}:${socket.remotePort}`,
    };
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    socket.once("close", () => abort.abort());
    let overlay: OverlayConn;
    try {
      // Waiting for a dial slot is not part of the dial's timeout, but the queue is bounded.
      const wait = this.#pacer.reserve(m.addr.node);
      if (wait > GATEWAY_MAX_PACING_WAIT_MS) {
        throw new Error(`too many new connections to ${m.info.pilot_addr} (a dial slot is ${wait} ms away)`);
      }
      if (wait > 0) await sleep(wait, abort.signal);
      timer = setTimeout(() => abort.abort(), this.#opts.dialTimeoutMs ?? GATEWAY_DIAL_TIMEOUT_MS);
      overlay = await this.#opts.dial(m.addr, port, abort.signal);
    } catch (err) {
      stats.dialErrors++;
      stats.dialing--;
      m.sockets.delete(socket);
      // The client sees a reset at once, not a connection that hangs or ends as if answered.
      if (!socket.destroyed) socket.resetAndDestroy();
      const reason = err instanceof Error ? err.message : String(err);
      this.#opts.log.info("gateway dial failed", { ...event, err: reason });
      this.#opts.events?.("gateway.dial_failed", { ...event, error: reason });
      return;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
    stats.dialing--;
    stats.active++;
    this.#opts.events?.("gateway.connected", event);
    const counters = { bytesToOverlay: 0, bytesToTcp: 0 };
    const bridged = bridge(socket, overlay, counters, { lingerOnTcpEnd: true }); // attaches its reader before the socket flows
    socket.resume();
    const result = await bridged;
    stats.active--;
    stats.bytesToOverlay += counters.bytesToOverlay;
    stats.bytesToTcp += counters.bytesToTcp;
    if (result.error) stats.bridgeErrors++;
    m.sockets.delete(socket);
    this.#opts.events?.("gateway.closed", {
      ...event,
      bytes_to_overlay: counters.bytesToOverlay,
      bytes_from_overlay: counters.bytesToTcp,
      ...(result.error ? { error: result.error } : {}),
    });
  }

  async #teardown(m: Mapping): Promise<void> {
    const closed = m.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const s of m.sockets) if (!s.destroyed) s.resetAndDestroy();
    await Promise.all(closed);
    await this.#opts.aliases.remove(m.info.local_ip);
  }

  async #save(): Promise<void> {
    const mappings = [...this.#byIp.values()].map((m) => m.info);
    await writeStateFile(this.#opts.stateDir, GATEWAY_STATE_FILE, {
      subnet: this.#opts.subnet.text,
      mappings,
    });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      if (signal.aborted) reject(new Error("gave up waiting for a dial slot"));
      else resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Reads the saved mappings; malformed entries are skipped. */
async function loadMappings(stateDir: string): Promise<MappingInfo[]> {
  const raw = await readStateFile(stateDir, GATEWAY_STATE_FILE);
  if (raw === undefined) return [];
  const list = (raw as { mappings?: unknown }).mappings;
  if (!Array.isArray(list)) return [];
  return list.filter((m): m is MappingInfo =>
    typeof m === "object" && m !== null && typeof m.local_ip === "string" && typeof m.pilot_addr === "string"
  );
}
