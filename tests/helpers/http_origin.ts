/**
 * A real HTTP server for gateway tests (node:http on 127.0.0.1, ephemeral port): `/big` streams
 * a deterministic body of a given size with backpressure (it only produces what the socket
 * drains, and counts what it produced), `/endless` streams {@link ENDLESS_BYTES} of filler the same
 * way, `/small` answers a short text.
 */
import { createServer, type Server } from "node:http";

/** Bytes of `/big`, pseudo-random but the same every time (so a SHA-256 can be computed once). */
export function bigBody(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = 0x12345678;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Size of `/endless`: more than every buffer between a stalled reader and the origin. */
export const ENDLESS_BYTES = 1 << 30;

export class HttpOrigin {
  /** Bytes of `/big` handed to sockets so far (the producer stops while a socket is full). */
  produced = 0;
  requests = 0;

  private constructor(readonly server: Server, readonly port: number) {}

  static start(body: Uint8Array): Promise<HttpOrigin> {
    return new Promise((resolve) => {
      let origin: HttpOrigin;
      const server = createServer((req, res) => {
        origin.requests++;
        if (req.url === "/big" || req.url === "/endless") {
          const size = req.url === "/big" ? body.length : ENDLESS_BYTES;
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size) });
          let off = 0;
          const CHUNK = 64 * 1024;
          const pump = () => {
            while (off < size) {
              const end = Math.min(off + CHUNK, size);
              const chunk = size === body.length ? body.subarray(off, end) : body.subarray(0, end - off);
              origin.produced += chunk.length;
              off = end;
              if (!res.write(chunk)) {
                res.once("drain", pump);
                return;
              }
            }
            res.end();
          };
          pump();
          return;
        }
        const text = `hello from the origin, ${req.method} ${req.url}\n`;
        res.writeHead(200, { "content-type": "text/plain", "content-length": String(text.length) });
        res.end(text);
      });
      server.listen(0, "127.0.0.1", () => {
        const addr = server.address();
        origin = new HttpOrigin(server, typeof addr === "object" && addr ? addr.port : 0);
        resolve(origin);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.server.closeAllConnections();
      this.server.close(() => r());
    });
  }
}

/** A TCP port on 127.0.0.1 that is free now (nothing listens on it). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Resident set size of a process in KiB (Linux /proc). */
export function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : NaN;
}

/** SHA-256 of bytes, hex. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Runs curl; resolves to its exit code, stdout text, stderr text and elapsed ms. */
export async function curl(
  args: string[],
  timeoutMs = 120_000,
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  const out = await new Deno.Command("curl", {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    ms: performance.now() - t0,
  };
}
