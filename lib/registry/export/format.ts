/**
 * Pure encoders for exported audit entries (docs/protocol/registry.md §8): the JSON entry, the
 * Splunk HTTP Event Collector object, the CEF line, the RFC 5424 syslog message that
 * carries it (with RFC 6587 octet counting for TCP), and the registry-webhook body.
 * No I/O here; the sinks (sinks.ts) send what these produce.
 * @module
 */
import { type AuditEntry, auditEntryToWire } from "../state/audit.ts";

/** The three payload formats of `set_audit_export`. */
export type ExportFormat = "json" | "splunk_hec" | "syslog_cef";
/** Every format name, for validation and help. */
export const EXPORT_FORMATS: readonly ExportFormat[] = ["json", "splunk_hec", "syslog_cef"];
/** HEC `source` when none is configured. */
export const DEFAULT_HEC_SOURCE = "pilot-registry";
/** HEC `sourcetype` of every event. */
export const HEC_SOURCETYPE = "pilot:audit";
/** Syslog facility of audit messages: 13, "log audit" (RFC 5424 §6.2.1). */
export const SYSLOG_FACILITY_LOG_AUDIT = 13;
/** Syslog APP-NAME. */
export const SYSLOG_APP_NAME = "pilot-registry";
/** Syslog MSGID. */
export const SYSLOG_MSGID = "audit";

/** An unknown format name is read as `json`, as the reference does. */
export function parseExportFormat(text: string): ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(text) ? text as ExportFormat : "json";
}

/** One JSON-lines record: the wire form of the entry (the same object `get_audit_log` returns). */
export function jsonLine(e: AuditEntry): string {
  return JSON.stringify(auditEntryToWire(e));
}

/** HEC settings. */
export interface HecOptions {
  source?: string;
  index?: string;
  host?: string;
}

/** The Splunk HEC event object for one entry (`time` in Unix seconds with milliseconds). */
export function hecEvent(e: AuditEntry, opts: HecOptions = {}): Record<string, unknown> {
  const wire = auditEntryToWire(e);
  const event: Record<string, unknown> = {
    action: e.action,
    network_id: e.network_id,
    node_id: e.node_id,
    actor: e.actor,
    seq: e.seq,
  };
  if (wire.details !== undefined) event.details = wire.details;
  if (e.old !== undefined) event.old = e.old;
  if (e.new !== undefined) event.new = e.new;
  const out: Record<string, unknown> = {
    time: e.t / 1000,
    source: opts.source || DEFAULT_HEC_SOURCE,
    sourcetype: HEC_SOURCETYPE,
  };
  if (opts.host) out.host = opts.host;
  if (opts.index) out.index = opts.index;
  out.event = event;
  return out;
}

/** A HEC batch body: event objects back to back, one per line (HEC accepts concatenated events). */
export function hecBatch(entries: readonly AuditEntry[], opts: HecOptions = {}): string {
  return entries.map((e) => JSON.stringify(hecEvent(e, opts))).join("\n");
}

/** CEF severity of an action: 6 for removals, 4 for role changes, 3 otherwise (the reference's scale). */
export function cefSeverity(action: string): number {
  if (action.includes("kick") || action.includes("delete")) return 6;
  if (action.includes("promote") || action.includes("demote")) return 4;
  return 3;
}

/** CEF header field escaping: backslash and pipe. */
function cefHeader(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/[\r\n]/g, " ");
}

/** CEF extension value escaping: backslash, equals sign, line breaks. */
function cefValue(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/=/g, "\\=").replace(/\r/g, "\\r").replace(/\n/g, "\\n");
}

/**
 * The CEF line of an entry: the reference's header and extensions (`dvc`, `dvchost`,
 * `cs1` action, `cn1` network, `cn2` node, `msg` details), plus `rt` (event time, ms),
 * `suser` (actor) and `externalId` (the event's log sequence number, for de-duplication).
 * Values are escaped as CEF requires, which the reference does not do.
 */
export function cefLine(e: AuditEntry): string {
  const action = cefHeader(e.action);
  const ext = [
    "dvc=pilot-registry",
    "dvchost=registry",
    `rt=${e.t}`,
    `cs1=${cefValue(e.action)}`,
    "cs1Label=action",
    `cn1=${e.network_id}`,
    "cn1Label=network_id",
    `cn2=${e.node_id}`,
    "cn2Label=node_id",
    `suser=${cefValue(e.actor)}`,
    `externalId=${e.seq}`,
  ];
  const details = auditEntryToWire(e).details;
  if (typeof details === "string" && details) ext.push(`msg=${cefValue(details)}`);
  return `CEF:0|Pilot|Registry|1.0|${action}|${action}|${cefSeverity(e.action)}|${ext.join(" ")}`;
}

/** Syslog severity for a CEF severity: warning, notice, informational. */
export function syslogSeverity(cef: number): number {
  return cef >= 6 ? 4 : cef >= 4 ? 5 : 6;
}

/** RFC 5424 header fields that vary by host. */
export interface SyslogOptions {
  /** HOSTNAME field ("-" when unknown). */
  hostname?: string;
  /** PROCID field ("-" when unknown). */
  procId?: string;
}

/** Printable US-ASCII without spaces, at most `max` characters, else "-" (RFC 5424 §6.2). */
function headerToken(text: string | undefined, max: number): string {
  if (!text) return "-";
  const clean = text.replace(/[^\x21-\x7e]/g, "").slice(0, max);
  return clean || "-";
}

/**
 * The RFC 5424 message of an entry: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`,
 * facility "log audit", severity from the CEF severity, MSG the CEF line.
 */
export function syslogMessage(e: AuditEntry, opts: SyslogOptions = {}): string {
  const pri = SYSLOG_FACILITY_LOG_AUDIT * 8 + syslogSeverity(cefSeverity(e.action));
  const ts = new Date(e.t).toISOString();
  return `<${pri}>1 ${ts} ${headerToken(opts.hostname, 255)} ${SYSLOG_APP_NAME} ${
    headerToken(opts.procId, 128)
  } ${SYSLOG_MSGID} - ${cefLine(e)}`;
}

const encoder = new TextEncoder();

/** RFC 6587 octet-counting frame for syslog over TCP: `MSG-LEN SP SYSLOG-MSG`. */
export function octetCounted(message: string): Uint8Array {
  const body = encoder.encode(message);
  const prefix = encoder.encode(`${body.length} `);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix);
  out.set(body, prefix.length);
  return out;
}

/**
 * The registry-webhook body of an entry: `{event_id, action, timestamp, details}` with the
 * attributes as JSON, plus `seq`, which stays the same when a delivery is retried or replayed.
 */
export function webhookBody(e: AuditEntry, eventId: number): Record<string, unknown> {
  const details: Record<string, unknown> = { ...(e.details ?? {}), actor: e.actor };
  if (e.network_id) details.network_id = e.network_id;
  if (e.node_id) details.node_id = e.node_id;
  if (e.old !== undefined) details.old = e.old;
  if (e.new !== undefined) details.new = e.new;
  return { event_id: eventId, seq: e.seq, action: e.action, timestamp: new Date(e.t).toISOString(), details };
}
