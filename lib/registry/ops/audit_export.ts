/**
 * Audit export and the registry webhook (docs/protocol/registry.md §5.7, §8):
 * `set_audit_export` / `get_audit_export`, `set_webhook` / `get_webhook` /
 * `get_webhook_dlq`, and ours, `replay_webhook_dlq`. All need the global admin token.
 * `set_audit_export` takes the reference's fields plus, ours, `name` (several sinks at
 * once; without it the one sink the reference has), `rotate_bytes` and `keep_files` (file
 * sinks). Settings are saved before the reply (export/exporter.ts says where and why).
 * @module
 */
import { RequestError } from "../errors.ts";
import { readNumber, readString } from "../fields.ts";
import { type AuditExporter, DEFAULT_SINK } from "../export/exporter.ts";
import { parseExportFormat } from "../export/format.ts";
import {
  DEFAULT_KEEP_FILES,
  DEFAULT_ROTATE_BYTES,
  MAX_KEEP_FILES,
  type SinkConfig,
  sinkKind,
} from "../export/sinks.ts";
import { requireAdmin } from "./authz.ts";
import type { OpContext, OpSpec } from "./context.ts";

/** Longest endpoint or URL accepted. */
export const MAX_ENDPOINT_LENGTH = 2048;
/** Longest sink name. */
export const MAX_SINK_NAME_LENGTH = 64;
/** Smallest rotation size a file sink may be given (keeps rotation from thrashing). */
export const MIN_ROTATE_BYTES = 1024;
const SINK_NAME_RE = /^[a-zA-Z0-9_.-]+$/;

function exporter(ctx: OpContext): AuditExporter {
  if (!ctx.auditExport) {
    throw new RequestError("audit export is not available in this registry", "unsupported");
  }
  return ctx.auditExport;
}

/** An endpoint as the audit trail shows it: without user information in a URL. */
function redacted(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    if (url.username || url.password) {
      url.username = "";
      url.password = "";
    }
    return url.toString();
  } catch {
    return endpoint;
  }
}

function readIntInRange(
  req: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const v = readNumber(req, key);
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RequestError(`invalid field ${key}: an integer from ${min} to ${max}`, "invalid_request");
  }
  return v;
}

const setAuditExport: OpSpec = {
  rate: "write",
  write: true,
  async run(req, ctx) {
    requireAdmin(ctx);
    const ex = exporter(ctx);
    const name = readString(req, "name", MAX_SINK_NAME_LENGTH) || DEFAULT_SINK;
    if (!SINK_NAME_RE.test(name)) {
      throw new RequestError(`invalid field name: letters, digits, "_", "." or "-"`);
    }
    const formatText = readString(req, "format", 32);
    const endpoint = readString(req, "endpoint", MAX_ENDPOINT_LENGTH);
    const token = readString(req, "token", 1024);
    const index = readString(req, "index", 256);
    const source = readString(req, "source", 256);
    const rotate = readIntInRange(req, "rotate_bytes", MIN_ROTATE_BYTES, Number.MAX_SAFE_INTEGER);
    const keep = readIntInRange(req, "keep_files", 0, MAX_KEEP_FILES);
    if (!formatText || !endpoint) {
      await ex.configure(name, null);
      ctx.emit({ kind: "audit_export.configured", target: name, format: "", endpoint: "" });
      return { type: "set_audit_export_ok", status: "disabled", name };
    }
    const cfg: SinkConfig = { name, format: parseExportFormat(formatText), endpoint };
    if (token) cfg.token = token;
    if (index) cfg.index = index;
    if (source) cfg.source = source;
    try {
      if (sinkKind(endpoint) === "file") {
        cfg.rotate_bytes = rotate ?? DEFAULT_ROTATE_BYTES;
        cfg.keep_files = keep ?? DEFAULT_KEEP_FILES;
      }
      await ex.configure(name, cfg);
    } catch (err) {
      throw new RequestError(`invalid audit export: ${(err as Error).message}`, "invalid_request");
    }
    ctx.emit({
      kind: "audit_export.configured",
      target: name,
      format: cfg.format,
      endpoint: redacted(endpoint),
    });
    return { type: "set_audit_export_ok", status: "enabled", name, format: cfg.format, endpoint };
  },
};

const getAuditExport: OpSpec = {
  rate: "read",
  write: false,
  run(_req, ctx) {
    requireAdmin(ctx);
    const sinks = exporter(ctx).sinkStatus();
    const main = sinks.find((s) => s.name === DEFAULT_SINK) ?? sinks[0];
    const reply: Record<string, unknown> = { type: "get_audit_export_ok", enabled: sinks.length > 0 };
    if (main) {
      reply.format = main.format;
      reply.endpoint = main.endpoint;
      reply.exported = main.delivered;
      reply.dropped = main.dropped;
    }
    reply.sinks = sinks.map((s) => ({
      name: s.name,
      format: s.format,
      endpoint: s.endpoint,
      exported: s.delivered,
      retried: s.retried,
      dropped: s.dropped,
      failed: s.failed,
      queued: s.queued,
    }));
    return reply;
  },
};

const setWebhook: OpSpec = {
  rate: "write",
  write: true,
  async run(req, ctx) {
    requireAdmin(ctx);
    const ex = exporter(ctx);
    const url = readString(req, "url", MAX_ENDPOINT_LENGTH);
    if (url && sinkKindOrNull(url) !== "http") {
      throw new RequestError("invalid field url: an http:// or https:// URL", "invalid_request");
    }
    await ex.setWebhook(url);
    ctx.emit({
      kind: "audit_export.configured",
      target: "webhook",
      format: url ? "json" : "",
      endpoint: redacted(url),
    });
    return { type: "set_webhook_ok", status: url ? "enabled" : "disabled", url };
  },
};

function sinkKindOrNull(url: string): string | null {
  try {
    return sinkKind(url);
  } catch {
    return null;
  }
}

const getWebhook: OpSpec = {
  rate: "read",
  write: false,
  run(_req, ctx) {
    requireAdmin(ctx);
    const hook = exporter(ctx).webhook;
    return { type: "get_webhook_ok", enabled: hook.url !== "", url: hook.url, ...hook.stats };
  },
};

const getWebhookDlq: OpSpec = {
  rate: "read",
  write: false,
  run(_req, ctx) {
    requireAdmin(ctx);
    const letters = exporter(ctx).webhook.deadLetters();
    const events = letters.map((l) => ({
      event_id: l.event_id,
      action: l.action,
      timestamp: l.timestamp,
      seq: l.seq,
      details: l.details,
      error: l.error,
      failed_at: l.failed_at,
    }));
    return { type: "get_webhook_dlq_ok", events: events.length ? events : null, count: events.length };
  },
};

const replayWebhookDlq: OpSpec = {
  rate: "write",
  write: true,
  run(_req, ctx) {
    requireAdmin(ctx);
    const hook = exporter(ctx).webhook;
    if (!hook.url) {
      throw new RequestError("no webhook configured: set one with set_webhook first", "invalid_request");
    }
    const replayed = hook.replay();
    return { type: "replay_webhook_dlq_ok", replayed, dlq_size: hook.stats.dlq_size };
  },
};

/** Handlers by message type. */
export const AUDIT_EXPORT_OPS: Record<string, OpSpec> = {
  set_audit_export: setAuditExport,
  get_audit_export: getAuditExport,
  set_webhook: setWebhook,
  get_webhook: getWebhook,
  get_webhook_dlq: getWebhookDlq,
  replay_webhook_dlq: replayWebhookDlq,
};
