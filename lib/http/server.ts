/**
 * Serves a Hono app (or any fetch handler) on a loopback TCP address and reports the
 * bound address, so callers can ask for port 0 in tests.
 */
import type { Logger } from "../log.ts";

/** A running HTTP endpoint. */
export interface HttpEndpoint {
  hostname: string;
  port: number;
  /** "http://host:port". */
  url: string;
  close(): Promise<void>;
}

/** Starts serving `handler` on `hostname:port`; resolves once the socket is bound. */
export function serveHttp(
  handler: (req: Request) => Response | Promise<Response>,
  addr: { hostname: string; port: number },
  log?: Logger,
): Promise<HttpEndpoint> {
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve({
        hostname: addr.hostname,
        port: addr.port,
        onListen: (local) => {
          const hostname = "hostname" in local ? local.hostname : addr.hostname;
          const port = "port" in local ? local.port : addr.port;
          const host = hostname.includes(":") ? `[${hostname}]` : hostname;
          log?.info("http listening", { addr: `${host}:${port}` });
          resolve({ hostname, port, url: `http://${host}:${port}`, close: () => server.shutdown() });
        },
        onError: (err) => {
          log?.warn("http handler failed", { err });
          return new Response("internal error\n", { status: 500 });
        },
      }, handler);
    } catch (err) {
      reject(err);
    }
  });
}
