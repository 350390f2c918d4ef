/**
 * Client-side byte streams to the registry: plain TCP (Deno.connect), TLS with
 * normal certificate verification (Deno.connectTls), or TLS pinned to the
 * SHA-256 of the registry's leaf certificate. Deno's own TLS client does not
 * expose the peer certificate, so the pinned variant uses node:tls, whose
 * `getPeerCertificate(true).raw` is the DER leaf; the pin is compared before a
 * single byte is sent.
 * @module
 */
import type tls from "node:tls";
import { toHex } from "../bytes.ts";
import { RegistryCertificateError, RegistryConnectionError } from "./errors.ts";
import { errorMessage } from "../errors.ts";

/** Bytes read from a socket at a time. */
const READ_CHUNK = 64 * 1024;

/** A connected byte stream. */
export interface Transport {
  write(bytes: Uint8Array): Promise<void>;
  /** The next bytes, or null at end of stream. The array is only valid until the next call. */
  read(): Promise<Uint8Array | null>;
  close(): void;
}

/** How to reach the registry. */
export interface DialOptions {
  hostname: string;
  port: number;
  /** Use TLS. With `pin`, the certificate is checked only against the pin. */
  tls?: { pin?: string; caCerts?: string[]; serverName?: string };
  timeoutMs: number;
}

/** Normalises a pin to 64 lowercase hex digits (colons and case ignored); throws on anything else. */
export function normalizePin(pin: string): string {
  const hex = pin.replace(/:/g, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new RegistryConnectionError("TLS pin must be the SHA-256 of the certificate: 64 hex digits");
  }
  return hex;
}

/** Opens a transport or throws RegistryConnectionError. */
export async function dial(opts: DialOptions): Promise<Transport> {
  if (opts.tls?.pin) {
    // node:tls only for a pinned connection (~0.4 MiB resident; docs/benchmarks.md, "Registry memory").
    const { connect } = await import("node:tls");
    return await dialPinned(connect, opts, normalizePin(opts.tls.pin));
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connecting = opts.tls
    ? Deno.connectTls({
      hostname: opts.hostname,
      port: opts.port,
      caCerts: opts.tls.caCerts,
      serverName: opts.tls.serverName,
    } as Deno.ConnectTlsOptions)
    : Deno.connect({ hostname: opts.hostname, port: opts.port });
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RegistryConnectionError(`connecting to ${opts.hostname}:${opts.port} timed out`)),
      opts.timeoutMs,
    );
  });
  try {
    const conn = await Promise.race([connecting, timeout]);
    if (opts.tls) await (conn as Deno.TlsConn).handshake();
    return denoTransport(conn);
  } catch (err) {
    connecting.then((c) => c.close(), () => {});
    if (err instanceof RegistryConnectionError) throw err;
    if (opts.tls && /certificate/i.test(errorMessage(err))) {
      throw new RegistryCertificateError(
        `registry ${opts.hostname}:${opts.port} presented an untrusted certificate: ${errorMessage(err)}`,
      );
    }
    throw new RegistryConnectionError(
      `cannot connect to registry ${opts.hostname}:${opts.port}: ${errorMessage(err)}`,
    );
  } finally {
    clearTimeout(timer);
  }
}

function denoTransport(conn: Deno.Conn): Transport {
  const buf = new Uint8Array(READ_CHUNK);
  return {
    async write(bytes) {
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    },
    async read() {
      const n = await conn.read(buf);
      return n === null ? null : buf.subarray(0, n);
    },
    close() {
      try {
        conn.close();
      } catch { /* already closed */ }
    },
  };
}

function dialPinned(connect: typeof tls.connect, opts: DialOptions, pin: string): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: opts.hostname,
      port: opts.port,
      servername: opts.tls?.serverName ?? (/^[\d.]+$|:/.test(opts.hostname) ? undefined : opts.hostname),
      rejectUnauthorized: false, // the pin replaces CA validation
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new RegistryConnectionError(`TLS connection to ${opts.hostname}:${opts.port} timed out`));
    }, opts.timeoutMs);
    socket.once("error", (err: Error) => {
      clearTimeout(timer);
      reject(
        new RegistryConnectionError(
          `cannot connect to registry ${opts.hostname}:${opts.port}: ${err.message}`,
        ),
      );
    });
    socket.once("secureConnect", async () => {
      clearTimeout(timer);
      const raw = socket.getPeerCertificate(true)?.raw as Uint8Array | undefined;
      const seen = raw
        ? toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(raw))))
        : "";
      if (seen !== pin) {
        socket.destroy();
        reject(
          new RegistryCertificateError(
            `TLS certificate pin mismatch: registry ${opts.hostname}:${opts.port} presented sha256 ${
              seen || "(no certificate)"
            }, expected ${pin}`,
          ),
        );
        return;
      }
      resolve(nodeTransport(socket));
    });
  });
}

function nodeTransport(socket: tls.TLSSocket): Transport {
  const chunks: Uint8Array[] = [];
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  socket.on("data", (d: Uint8Array) => {
    chunks.push(new Uint8Array(d));
    notify();
  });
  socket.on("end", () => {
    ended = true;
    notify();
  });
  socket.on("close", () => {
    ended = true;
    notify();
  });
  socket.on("error", (err: Error) => {
    failure = err;
    notify();
  });
  return {
    write(bytes) {
      return new Promise((resolve, reject) => {
        socket.write(bytes, (err?: Error | null) => err ? reject(err) : resolve());
      });
    },
    async read() {
      while (chunks.length === 0) {
        if (failure) throw failure;
        if (ended) return null;
        await new Promise<void>((r) => wake = r);
      }
      return chunks.shift()!;
    },
    close() {
      socket.destroy();
      ended = true;
      notify();
    },
  };
}
