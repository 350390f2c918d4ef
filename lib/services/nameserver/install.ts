/**
 * Installs the nameserver in a node (port 53 of its session layer; off unless the node is started
 * with it, as `pilot nameserver` or `pilot daemon --serve-nameserver` do): loads the persistence
 * file if one is configured, reaps expired records on a timer, and saves the file once more when
 * stopped.
 * @module
 */
import type { ServiceContext, ServiceHandle } from "../context.ts";
import { serveStreams } from "../byte_stream.ts";
import { PORT_NAMESERVER } from "../../protocol/ports.ts";
import { NameRecords, REAP_INTERVAL_MS } from "./records.ts";
import { RecordFile } from "./record_file.ts";
import { NameserverServer } from "./server.ts";

/** Options of {@link installNameserverService}. */
export interface NameserverServiceOptions {
  /** Persistence file; none = records live in memory only. */
  file?: string;
  /** Record TTL in ms (default 5 minutes). */
  ttlMs?: number;
  /** Port to serve (default 53). */
  port?: number;
}

/** A running nameserver. */
export interface NameserverHandle extends ServiceHandle {
  readonly server: NameserverServer;
}

/** Starts the nameserver in the node of `ctx`. */
export async function installNameserverService(
  ctx: ServiceContext,
  options: NameserverServiceOptions = {},
): Promise<NameserverHandle> {
  const log = ctx.log.child("nameserver");
  const records = new NameRecords({ ttlMs: options.ttlMs });
  const file = options.file ? new RecordFile(options.file, log) : undefined;
  if (file) {
    const saved = await file.load(Date.now(), records.ttlMs);
    if (saved) {
      const { loaded, dropped, reason } = records.restore(saved);
      log.info("nameserver records loaded", { path: file.path, loaded, dropped, reason });
    }
  }
  const server = new NameserverServer({ records, file, log });
  // Lookups already skip expired records; the reaper frees their memory and rewrites the file.
  const reaper = setInterval(() => void server.reap(), Math.min(REAP_INTERVAL_MS, records.ttlMs));
  const unlisten = serveStreams(
    ctx.sessions,
    options.port ?? PORT_NAMESERVER,
    (stream) => server.handle(stream),
    (err) => log.debug("nameserver connection ended with an error", { err }),
  );
  log.info("nameserver listening", {
    port: options.port ?? PORT_NAMESERVER,
    ttl_ms: records.ttlMs,
    file: file?.path ?? null,
  });
  return {
    server,
    stop: async () => {
      unlisten();
      clearInterval(reaper);
      records.reap();
      await server.save();
    },
  };
}
