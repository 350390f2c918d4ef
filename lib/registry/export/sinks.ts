/**
 * Where exported audit entries go (docs/protocol/registry.md §8, export adapter), chosen by the
 * endpoint's scheme: `file:` (or an absolute path) → a JSON-lines file rotated by size;
 * `udp:` / `tcp:` → RFC 5424 syslog with a CEF message (TCP framed by octet counting);
 * `http:` / `https:` → an HTTP collector (Splunk HEC batches, or one JSON or CEF entry
 * per request as the reference sends). Each sink delivers a batch or throws; retries,
 * backoff and the queue are the DeliveryQueue's.
 * @module
 */
import type { AuditEntry } from "../state/audit.ts";
import {
  cefLine,
  type ExportFormat,
  hecBatch,
  hecEvent,
  jsonLine,
  octetCounted,
  syslogMessage,
  type SyslogOptions,
} from "./format.ts";
import { DeliveryError } from "./queue.ts";
import dgram from "node:dgram";
import { dirname, resolve } from "../../paths.ts";
import { settleQuietly } from "../../errors.ts";

/** A file sink's file is rotated once it reaches this size… */
export const DEFAULT_ROTATE_BYTES = 10 * 1024 * 1024;
/** …keeping this many rotated files (`path.1` newest … `path.N`). */
export const DEFAULT_KEEP_FILES = 5;
/** Most rotated files a sink may keep. */
export const MAX_KEEP_FILES = 100;
/** An HTTP export request (or a TCP connect) that takes longer fails (the reference's 10 s). */
export const EXPORT_TIMEOUT_MS = 10_000;
/** Largest UDP syslog datagram sent; longer messages are cut (RFC 5426 asks for ≤ 2048 to be safe). */
export const MAX_SYSLOG_UDP_BYTES = 8192;

/** A configured destination for exported entries. */
export interface AuditSink {
  /** Entries per delivery. */
  readonly batchSize: number;
  deliver(batch: AuditEntry[]): Promise<void>;
  close(): void;
}

/** Everything `set_audit_export` configures for one sink. */
export interface SinkConfig {
  name: string;
  format: ExportFormat;
  endpoint: string;
  token?: string;
  index?: string;
  source?: string;
  rotate_bytes?: number;
  keep_files?: number;
}

/** The transport an endpoint names. */
export type SinkKind = "file" | "udp" | "tcp" | "http";

/** The transport of `endpoint` (a path or a bare file name is a file), or an error for one that is not usable. */
export function sinkKind(endpoint: string): SinkKind {
  if (endpoint.startsWith("/") || !endpoint.includes(":")) return "file";
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(
      `invalid endpoint "${endpoint}": expected file:///path, udp://host:port, tcp://host:port or http(s)://…`,
    );
  }
  switch (url.protocol) {
    case "file:":
      return "file";
    case "udp:":
    case "syslog:":
      return "udp";
    case "tcp:":
      return "tcp";
    case "http:":
    case "https:":
      return "http";
  }
  throw new Error(`unsupported endpoint scheme "${url.protocol}"`);
}

/** Host and port of a `udp:`/`tcp:` endpoint (port required). */
function hostPort(endpoint: string): { hostname: string; port: number } {
  const url = new URL(endpoint);
  const port = Number(url.port);
  if (!url.hostname || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`endpoint "${endpoint}" needs a host and a port`);
  }
  return { hostname: url.hostname.replace(/^\[|\]$/g, ""), port };
}

/** The line a file sink writes for an entry in `format`. */
function fileLine(e: AuditEntry, cfg: SinkConfig): string {
  if (cfg.format === "splunk_hec") return JSON.stringify(hecEvent(e, cfg));
  if (cfg.format === "syslog_cef") return cefLine(e);
  return jsonLine(e);
}

/**
 * The file a file endpoint names, which must lie inside `baseDir` (the registry's export
 * directory): `set_audit_export` needs only the admin token, and a sink that could append to
 * or rotate (rename) any file the registry can reach would turn that token into write access
 * to the machine. A bare name is taken relative to `baseDir`.
 */
export function resolveFilePath(endpoint: string, baseDir: string | null): string {
  if (!baseDir) {
    throw new Error("file sinks need an export directory (a state directory or --audit-export-dir)");
  }
  const raw = endpoint.startsWith("file:") ? decodeURIComponent(new URL(endpoint).pathname) : endpoint;
  const base = resolve(baseDir);
  const path = resolve(base, raw);
  if (!path.startsWith(base + "/") || path.length <= base.length + 1) {
    throw new Error(`file sinks must be inside the export directory ${base}`);
  }
  return path;
}

/**
 * Builds the sink `cfg` names (file sinks inside `baseDir`); throws an Error whose message suits a
 * request error.
 */
export function createSink(
  cfg: SinkConfig,
  syslog: SyslogOptions = {},
  baseDir: string | null = null,
): AuditSink {
  switch (sinkKind(cfg.endpoint)) {
    case "file": {
      const path = resolveFilePath(cfg.endpoint, baseDir);
      return new FileSink(
        path,
        cfg.rotate_bytes ?? DEFAULT_ROTATE_BYTES,
        cfg.keep_files ?? DEFAULT_KEEP_FILES,
        (e) => fileLine(e, cfg),
      );
    }
    case "udp":
      return new UdpSyslogSink(hostPort(cfg.endpoint), syslog);
    case "tcp":
      return new TcpSyslogSink(hostPort(cfg.endpoint), syslog);
    case "http":
      return new HttpSink(cfg);
  }
}

const encoder = new TextEncoder();

/**
 * Appends one line per entry; when the file would pass `rotateBytes` it becomes `path.1`
 * (older ones shift up, the oldest beyond `keep` is deleted) and a fresh file is started.
 * A batch is written with one write and fsynced, so a delivered batch is on disk.
 */
export class FileSink implements AuditSink {
  readonly batchSize = 256;
  #size = -1;

  constructor(
    readonly path: string,
    readonly rotateBytes: number,
    readonly keep: number,
    readonly line: (e: AuditEntry) => string,
  ) {}

  async deliver(batch: AuditEntry[]): Promise<void> {
    if (this.#size < 0) {
      await Deno.mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      try {
        this.#size = (await Deno.stat(this.path)).size;
      } catch {
        this.#size = 0;
      }
    }
    // Lines are written in chunks that each fit the rotation size (a single longer line goes alone).
    let chunk: string[] = [];
    let chunkBytes = 0;
    for (const e of batch) {
      const text = this.line(e) + "\n";
      const bytes = encoder.encode(text).length;
      if (this.#size + chunkBytes + bytes > this.rotateBytes && this.#size + chunkBytes > 0) {
        await this.#write(chunk);
        chunk = [];
        chunkBytes = 0;
        await this.#rotate();
      }
      chunk.push(text);
      chunkBytes += bytes;
    }
    await this.#write(chunk);
  }

  async #write(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    const data = encoder.encode(lines.join(""));
    const file = await Deno.open(this.path, { create: true, append: true, mode: 0o600 });
    try {
      for (let off = 0; off < data.length;) off += await file.write(data.subarray(off));
      await file.sync();
    } finally {
      file.close();
    }
    this.#size += data.length;
  }

  async #rotate(): Promise<void> {
    await settleQuietly(Deno.remove(`${this.path}.${this.keep}`), "cleanup"); // absent until the files wrap
    for (let i = this.keep - 1; i >= 1; i--) {
      await settleQuietly(Deno.rename(`${this.path}.${i}`, `${this.path}.${i + 1}`), "cleanup"); // gaps are fine
    }
    await Deno.rename(this.path, this.keep >= 1 ? `${this.path}.1` : `${this.path}.old`);
    if (this.keep < 1) await settleQuietly(Deno.remove(`${this.path}.old`), "cleanup");
    this.#size = 0;
  }

  close(): void {}
}

/**
 * RFC 5424 over UDP (RFC 5426): one message per datagram, on node:dgram (Deno.listenDatagram
 * needs --unstable-net). Delivery means "handed to the kernel".
 */
export class UdpSyslogSink implements AuditSink {
  readonly batchSize = 64;
  #socket: dgram.Socket | null = null;

  constructor(readonly target: { hostname: string; port: number }, readonly opts: SyslogOptions) {}

  async deliver(batch: AuditEntry[]): Promise<void> {
    if (!this.#socket) {
      const socket = dgram.createSocket(this.target.hostname.includes(":") ? "udp6" : "udp4");
      socket.on("error", () => this.close());
      this.#socket = socket;
    }
    const socket = this.#socket;
    for (const e of batch) {
      const bytes = encoder.encode(syslogMessage(e, this.opts)).subarray(0, MAX_SYSLOG_UDP_BYTES);
      await new Promise<void>((resolve, reject) =>
        socket.send(bytes, this.target.port, this.target.hostname, (err) => err ? reject(err) : resolve())
      ).catch((err) => {
        this.close();
        throw new DeliveryError(`syslog udp send failed: ${(err as Error).message}`);
      });
    }
  }

  close(): void {
    try {
      this.#socket?.close();
    } catch { /* closed */ }
    this.#socket = null;
  }
}

/**
 * RFC 5424 over TCP with RFC 6587 octet counting, on one kept connection, reopened after a
 * failure. Delivery means "written to the socket"; a connection that broke after the
 * write resends the batch (at least once).
 */
export class TcpSyslogSink implements AuditSink {
  readonly batchSize = 128;
  #conn: Deno.TcpConn | null = null;

  constructor(readonly target: { hostname: string; port: number }, readonly opts: SyslogOptions) {}

  async deliver(batch: AuditEntry[]): Promise<void> {
    const frames = batch.map((e) => octetCounted(syslogMessage(e, this.opts)));
    const data = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) {
      data.set(f, at);
      at += f.length;
    }
    try {
      if (!this.#conn) {
        const connecting = Deno.connect(this.target);
        this.#conn = await withTimeout(connecting, EXPORT_TIMEOUT_MS, "connect").catch((err) => {
          connecting.then((c) => c.close(), () => {}); // a connection that completes after the timeout
          throw err;
        });
      }
      for (let off = 0; off < data.length;) {
        off += await withTimeout(this.#conn.write(data.subarray(off)), EXPORT_TIMEOUT_MS, "write");
      }
    } catch (err) {
      this.close();
      throw new DeliveryError(`syslog tcp: ${(err as Error).message}`);
    }
  }

  close(): void {
    try {
      this.#conn?.close();
    } catch { /* closed */ }
    this.#conn = null;
  }
}

/** POSTs to an HTTP collector: HEC batches, or one JSON or CEF entry per request. */
export class HttpSink implements AuditSink {
  readonly batchSize: number;

  constructor(readonly cfg: SinkConfig) {
    this.batchSize = cfg.format === "splunk_hec" ? 100 : 1;
  }

  async deliver(batch: AuditEntry[]): Promise<void> {
    const headers: Record<string, string> = {};
    let body: string;
    if (this.cfg.format === "splunk_hec") {
      body = hecBatch(batch, this.cfg);
      headers["content-type"] = "application/json";
      if (this.cfg.token) headers.authorization = `Splunk ${this.cfg.token}`;
    } else if (this.cfg.format === "syslog_cef") {
      body = batch.map(cefLine).join("\n");
      headers["content-type"] = "text/plain";
    } else {
      body = batch.length === 1 ? jsonLine(batch[0]) : batch.map(jsonLine).join("\n");
      headers["content-type"] = "application/json";
    }
    await postOnce(this.cfg.endpoint, body, headers, EXPORT_TIMEOUT_MS);
  }

  close(): void {}
}

/**
 * One POST: resolves on a 2xx status; throws DeliveryError, permanent for a 3xx or a 4xx other
 * than 408 and 429 (the request itself is wrong), retryable otherwise.
 */
export async function postOnce(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      body,
      headers,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
  } catch (err) {
    throw new DeliveryError(`POST ${url}: ${(err as Error).message}`);
  }
  if (res.body) await settleQuietly(res.body.cancel(), "cleanup");
  if (res.status >= 200 && res.status < 300) return;
  // A redirect is not followed (the URL was set by an admin; a collector moving is a configuration error).
  if (res.status < 400) {
    throw new DeliveryError(`POST ${url}: status ${res.status} (redirects are not followed)`, true);
  }
  const permanent = res.status < 500 && res.status !== 408 && res.status !== 429;
  throw new DeliveryError(`POST ${url}: status ${res.status}`, permanent);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
