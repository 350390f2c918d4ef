/**
 * Exposed ports, the gateway's other half: the daemon listens on an overlay port and bridges
 * each accepted stream to a local TCP service (`pilot expose 80 127.0.0.1:8080`), so an
 * ordinary server becomes reachable over the overlay without code written against the SDK.
 * Streams arrive through the session layer, so the trust gate decides who may connect, as on
 * every other port. The table is saved in `<state>/exposed.json` and restored at start.
 */
import type { Socket } from "node:net";
import type { Logger } from "../log.ts";
import type { Listener, SessionManager } from "../transport/manager.ts";
import type { Stream } from "../transport/stream.ts";
import type { MetricFamily } from "../http/prometheus.ts";
import { parseHostPort } from "../net/hostport.ts";
import { bridge } from "./bridge.ts";
import { overlayFromStream } from "./overlay.ts";
import type { GatewayEvents } from "./gateway.ts";
import { GatewayError } from "./defaults.ts";
import { readStateFile, writeStateFile } from "./state_file.ts";
import { settleQuietly } from "../errors.ts";

/** File in the state directory holding the exposed ports. */
export const EXPOSED_STATE_FILE = "exposed.json";
/** How long connecting to the local service may take before the overlay stream is reset. */
export const EXPOSE_CONNECT_TIMEOUT_MS = 10_000;

/** One exposed port as listed and saved. */
export interface ExposedInfo {
  port: number;
  target: string;
}

interface ExposedStats {
  connections: number;
  active: number;
  bytesToService: number;
  bytesFromService: number;
  connectErrors: number;
  bridgeErrors: number;
}

interface Exposed {
  info: ExposedInfo;
  host: string;
  tcpPort: number;
  listener: Listener;
  streams: Set<Stream>;
  stats: ExposedStats;
}

/** What exposed ports need from the daemon. */
export interface ExposeOptions {
  sessions: Pick<SessionManager, "listen" | "unlisten">;
  stateDir: string;
  log: Logger;
  events?: GatewayEvents;
  connectTimeoutMs?: number;
}

/** The daemon's exposed ports. */
export class ExposedPorts {
  readonly #opts: ExposeOptions;
  readonly #byPort = new Map<number, Exposed>();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(opts: ExposeOptions) {
    this.#opts = opts;
  }

  /** Starts serving the saved exposed ports (one that cannot be bound is logged and kept saved). */
  static async start(opts: ExposeOptions): Promise<ExposedPorts> {
    const ports = new ExposedPorts(opts);
    for (const e of await loadExposed(opts.stateDir)) {
      try {
        ports.#add(e.port, e.target);
      } catch (err) {
        opts.log.warn("saved exposed port not restored", { ...e, err });
      }
    }
    return ports;
  }

  /** Exposes overlay `port`, bridged to the TCP service at `target` (`host:port`). */
  expose(port: number, target: string): Promise<ExposedInfo> {
    return this.#serial(async () => {
      if (this.#byPort.has(port)) {
        throw new GatewayError(
          "already_exists",
          `overlay port ${port} is already exposed (${this.#byPort.get(port)!.info.target})`,
        );
      }
      const info = this.#add(port, target);
      await this.#save();
      return info;
    });
  }

  /** Stops exposing `port`; open bridges are reset. */
  unexpose(port: number): Promise<ExposedInfo> {
    return this.#serial(async () => {
      const e = this.#byPort.get(port);
      if (!e) throw new GatewayError("not_found", `overlay port ${port} is not exposed`);
      this.#remove(e);
      await this.#save();
      this.#opts.log.info("port no longer exposed", { ...e.info });
      return e.info;
    });
  }

  /** The exposed ports, in port order. */
  list(): (ExposedInfo & { active: number; connections: number })[] {
    return [...this.#byPort.values()]
      .sort((a, b) => a.info.port - b.info.port)
      .map((e) => ({ ...e.info, active: e.stats.active, connections: e.stats.connections }));
  }

  /** Per-port families for /metrics. */
  metrics(): MetricFamily[] {
    const rows = [...this.#byPort.values()];
    const labels = (e: Exposed) => ({ port: String(e.info.port), target: e.info.target });
    return [
      {
        name: "pilot_expose_connections_total",
        help: "Overlay streams accepted on exposed ports.",
        type: "counter",
        samples: rows.map((e) => ({ labels: labels(e), value: e.stats.connections })),
      },
      {
        name: "pilot_expose_active_connections",
        help: "Bridges to local services open now, per exposed port.",
        type: "gauge",
        samples: rows.map((e) => ({ labels: labels(e), value: e.stats.active })),
      },
      {
        name: "pilot_expose_bytes_total",
        help: "Bytes bridged per exposed port and direction (to_service: from the overlay).",
        type: "counter",
        samples: rows.flatMap((e) => [
          { labels: { ...labels(e), direction: "to_service" }, value: e.stats.bytesToService },
          { labels: { ...labels(e), direction: "from_service" }, value: e.stats.bytesFromService },
        ]),
      },
      {
        name: "pilot_expose_errors_total",
        help: "Exposed-port connections that failed (connect: the local service; bridge: reset mid-way).",
        type: "counter",
        samples: rows.flatMap((e) => [
          { labels: { ...labels(e), kind: "connect" }, value: e.stats.connectErrors },
          { labels: { ...labels(e), kind: "bridge" }, value: e.stats.bridgeErrors },
        ]),
      },
    ];
  }

  /** Stops every exposed port (they stay saved). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await settleQuietly(this.#queue, "reported elsewhere");
    for (const e of this.#byPort.values()) this.#remove(e);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = settleQuietly(run, "reported elsewhere");
    return run;
  }

  #add(port: number, target: string): ExposedInfo {
    let hp;
    try {
      hp = parseHostPort(target, "target");
    } catch (err) {
      throw new GatewayError("invalid_argument", err instanceof Error ? err.message : String(err));
    }
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
      throw new GatewayError("invalid_argument", `overlay port must be 1..65535, got ${port}`);
    }
    let listener: Listener;
    try {
      listener = this.#opts.sessions.listen(port);
    } catch (err) {
      throw new GatewayError(
        "already_exists",
        `overlay port ${port} is in use: ${err instanceof Error ? err.message : err}`,
      );
    }
    const e: Exposed = {
      info: { port, target },
      host: hp.host,
      tcpPort: hp.port,
      listener,
      streams: new Set(),
      stats: {
        connections: 0,
        active: 0,
        bytesToService: 0,
        bytesFromService: 0,
        connectErrors: 0,
        bridgeErrors: 0,
      },
    };
    listener.onConnection = () => {
      for (let s = listener.accept(); s; s = listener.accept()) void this.#serve(e, s);
    };
    this.#byPort.set(port, e);
    this.#opts.log.info("port exposed", { port, target });
    return e.info;
  }

  #remove(e: Exposed): void {
    this.#byPort.delete(e.info.port);
    e.listener.close();
    for (const s of e.streams) s.abort();
  }

  async #serve(e: Exposed, stream: Stream): Promise<void> {
    const { stats } = e;
    stats.connections++;
    stats.active++;
    e.streams.add(stream);
    const event = { port: e.info.port, target: e.info.target, remote_addr: stream.remoteAddr.toString() };
    let socket: Socket;
    try {
      socket = await connectTcp(e.host, e.tcpPort, this.#opts.connectTimeoutMs ?? EXPOSE_CONNECT_TIMEOUT_MS);
    } catch (err) {
      stats.connectErrors++;
      stats.active--;
      e.streams.delete(stream);
      stream.abort(); // the far client sees a reset, as if the service itself refused
      const reason = err instanceof Error ? err.message : String(err);
      this.#opts.log.info("exposed service unreachable", { ...event, err: reason });
      this.#opts.events?.("expose.connect_failed", { ...event, error: reason });
      return;
    }
    this.#opts.events?.("expose.connected", event);
    const counters = { bytesToOverlay: 0, bytesToTcp: 0 };
    const result = await bridge(socket, overlayFromStream(stream), counters, { lingerOnTcpEnd: false });
    stats.active--;
    stats.bytesToService += counters.bytesToTcp;
    stats.bytesFromService += counters.bytesToOverlay;
    if (result.error) stats.bridgeErrors++;
    e.streams.delete(stream);
    this.#opts.events?.("expose.closed", {
      ...event,
      bytes_to_service: counters.bytesToTcp,
      bytes_from_service: counters.bytesToOverlay,
      ...(result.error ? { error: result.error } : {}),
    });
  }

  async #save(): Promise<void> {
    const exposed = [...this.#byPort.values()].map((e) => e.info);
    await writeStateFile(this.#opts.stateDir, EXPOSED_STATE_FILE, { exposed });
  }
}

/** Connects to a local TCP service (half-open allowed, so the bridge decides when to end). */
/** node:net is imported on the first exposed connection, not with the daemon (docs/benchmarks.md). */
async function connectTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  const { connect } = await import("node:net");
  return await new Promise((resolve, reject) => {
    const socket = connect({ host, port, allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeListener("error", reject);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function loadExposed(stateDir: string): Promise<ExposedInfo[]> {
  const raw = await readStateFile(stateDir, EXPOSED_STATE_FILE);
  const list = (raw as { exposed?: unknown } | undefined)?.exposed;
  if (!Array.isArray(list)) return [];
  return list.filter((e): e is ExposedInfo =>
    typeof e === "object" && e !== null && Number.isInteger(e.port) && typeof e.target === "string"
  );
}
