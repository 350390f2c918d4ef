/**
 * A complete registry: the service (registry.ts), its TCP or TLS listener
 * (server.ts) and the optional HTTP endpoint (http.ts), started and stopped as
 * one. This is what `pilot registry` runs and what tests start in-process.
 * @module
 */
import { type HttpEndpoint, serveHttp } from "../http/server.ts";
import { asBindError } from "../net/bind_error.ts";
import { Logger } from "../log.ts";
import { Registry, type RegistryOptions } from "./registry.ts";
import { FrameServer } from "./server.ts";

/** Everything needed to run a registry. */
export interface RegistryServiceOptions extends RegistryOptions {
  listen: { hostname: string; port: number };
  /** PEM certificate and key: serve TLS instead of plain TCP. */
  tls?: { cert: string; key: string };
  http?: { hostname: string; port: number };
  /** Extra names the HTTP endpoint answers to (loopback and the bound address always). */
  httpHosts?: readonly string[];
  /** Token the status page requires on a non-loopback HTTP bind (`--http-token`). */
  httpToken?: string;
  /** `HOST:PORT` replication peers use to reach this registry (default: the bound listen address). */
  advertise?: string;
  maxConnections?: number;
  maxConnectionsPerSource?: number;
  idleTimeoutMs?: number;
  frameTimeoutMs?: number;
}

/** A running registry. */
export class RegistryService {
  private constructor(
    readonly registry: Registry,
    readonly server: FrameServer,
    readonly http: HttpEndpoint | null,
  ) {}

  /** Opens the state, binds the listener (and HTTP endpoint) and starts serving. */
  static async start(options: RegistryServiceOptions): Promise<RegistryService> {
    const log = options.logger ?? new Logger("registry");
    const registry = await Registry.open({ ...options, logger: log });
    let server: FrameServer;
    try {
      server = new FrameServer({
        hostname: options.listen.hostname,
        port: options.listen.port,
        tls: options.tls,
        maxConnections: options.maxConnections,
        maxConnectionsPerSource: options.maxConnectionsPerSource,
        idleTimeoutMs: options.idleTimeoutMs,
        frameTimeoutMs: options.frameTimeoutMs,
        logger: log.child("server"),
      }, registry.handle);
    } catch (err) {
      await registry.close({ snapshot: false });
      throw asBindError("--listen", `${options.listen.hostname}:${options.listen.port}`, err);
    }
    try {
      const bound = server.addr;
      await registry.startReplication(options.advertise ?? `${bound.hostname}:${bound.port}`);
    } catch (err) {
      await server.close();
      await registry.close({ snapshot: false });
      throw err;
    }
    let http: HttpEndpoint | null = null;
    if (options.http) {
      // Loaded only with --http: the status page and its HTTP framework (hono) are ~1 MiB of
      // resident memory a registry without one does not need (docs/benchmarks.md, "Registry memory").
      const { createRegistryHttpApp } = await import("./http.ts");
      try {
        http = await serveHttp(
          createRegistryHttpApp(registry, server.stats, {
            bound: options.http.hostname,
            names: options.httpHosts ?? [],
          }, options.httpToken).fetch,
          options.http,
          log.child("http"),
        );
      } catch (err) {
        await server.close();
        await registry.close({ snapshot: false });
        throw asBindError("--http", `${options.http.hostname}:${options.http.port}`, err);
      }
    }
    return new RegistryService(registry, server, http);
  }

  /** The bound registry address. */
  get addr(): { hostname: string; port: number } {
    return { hostname: this.server.addr.hostname, port: this.server.addr.port };
  }

  /** `host:port` of the listener. */
  get address(): string {
    return `${this.addr.hostname}:${this.addr.port}`;
  }

  /** Stops listening, waits for in-flight requests, writes a final snapshot and releases the state directory. */
  async close(options: { snapshot?: boolean } = {}): Promise<void> {
    await this.http?.close();
    await this.registry.replicator?.close(); // ends standbys' long-polls, which would hold up the listener
    await this.server.close();
    await this.registry.close(options);
  }
}
