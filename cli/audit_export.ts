/**
 * `pilot audit-export get|set|disable` (the reference pilotctl's arguments, docs/protocol/cli.md
 * §4.8) and, ours, `pilot audit-webhook get|set|clear|dlq|replay` for the registry webhook and
 * its dead-letter queue. Both go through the daemon like `pilot audit` (IPC Network 0x10) with
 * the admin token from PILOT_ADMIN_TOKEN or the daemon's own; every result is the registry's reply.
 */
import type { Command } from "./command.ts";
import { intFlag, noExtraArguments, parseArgs, type ParsedArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { timeoutFlag, withDaemon } from "./client.ts";
import { REGISTRY_REQUEST_TIMEOUT_MS, registryRequest } from "./registry_request.ts";
import type { RegistryRequest } from "../lib/ipc/commands.ts";

const EXPORT_USAGE = "pilot audit-export get|set|disable";

function sub(args: ParsedArgs, subs: readonly string[], usage: string): string {
  const s = args.positionals[0];
  if (!s || !subs.includes(s)) {
    throw new CliError(
      "invalid_argument",
      s ? `unknown sub-command "${s}"` : `usage: ${usage}`,
      `usage: ${usage}`,
    );
  }
  return s;
}

async function send(args: ParsedArgs, req: RegistryRequest) {
  const timeoutMs = timeoutFlag(args, REGISTRY_REQUEST_TIMEOUT_MS);
  return await withDaemon(args, (c) => registryRequest(c, req, { withToken: true, timeoutMs }));
}

export const auditExportCommand: Command = {
  name: "audit-export",
  summary: "Configure where the registry exports its audit log (needs the admin token)",
  usage: [
    `${EXPORT_USAGE} [--name N] [--socket PATH] [--json]`,
    "  set --format json|splunk_hec|syslog_cef --endpoint URL [--splunk-token T] [--index I]",
    "      [--source S] [--rotate-bytes N] [--keep-files N] [--name N]",
    "",
    "Endpoints: file:///path (or /path) a JSON-lines file rotated by size; udp://host:port and",
    "tcp://host:port RFC 5424 syslog with a CEF message; http(s)://… an HTTP collector (Splunk HEC",
    "with --format splunk_hec). --name keeps several sinks at once (default: the one sink named",
    '"default"); disable removes one. get lists every sink with exported, retried, dropped, failed.',
  ].join("\n"),
  flags: {
    socket: "string",
    timeout: "string",
    format: "string",
    endpoint: "string",
    "splunk-token": "string",
    index: "string",
    source: "string",
    name: "string",
    "rotate-bytes": "string",
    "keep-files": "string",
  },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const which = sub(args, ["get", "set", "disable"], EXPORT_USAGE);
    noExtraArguments(args, 1, EXPORT_USAGE);
    const name = args.strings.get("name");
    let req: RegistryRequest;
    if (which === "get") {
      req = { type: "get_audit_export" };
    } else if (which === "disable") {
      req = { type: "set_audit_export", format: "", endpoint: "" };
      if (name) req.name = name;
    } else {
      const format = args.strings.get("format");
      const endpoint = args.strings.get("endpoint");
      if (!format || !endpoint) {
        throw new CliError("invalid_argument", "set needs --format and --endpoint", `usage: ${EXPORT_USAGE}`);
      }
      req = { type: "set_audit_export", format, endpoint };
      const token = args.strings.get("splunk-token");
      if (token) req.token = token;
      for (const k of ["index", "source", "name"]) {
        const v = args.strings.get(k);
        if (v) req[k] = v;
      }
      const rotate = intFlag(args, "rotate-bytes", 0, 0, Number.MAX_SAFE_INTEGER);
      if (rotate) req.rotate_bytes = rotate;
      if (args.strings.has("keep-files")) req.keep_files = intFlag(args, "keep-files", 0, 0, 100);
    }
    const reply = await send(args, req);
    const text = which === "get"
      ? (Array.isArray(reply.sinks) && reply.sinks.length
        ? (reply.sinks as Record<string, unknown>[]).map((s) =>
          `${s.name}  ${s.format}  ${s.endpoint}  exported ${s.exported}  retried ${s.retried}  dropped ${s.dropped}  failed ${s.failed}`
        ).join("\n")
        : "audit export disabled")
      : `audit export ${reply.status}${reply.endpoint ? `: ${reply.format} to ${reply.endpoint}` : ""}`;
    printResult(out, reply, text);
    return 0;
  },
};

const HOOK_USAGE = "pilot audit-webhook get|set <url>|clear|dlq|replay";

export const auditWebhookCommand: Command = {
  name: "audit-webhook",
  summary: "The registry's audit webhook and its dead-letter queue (needs the admin token)",
  usage: [
    `${HOOK_USAGE} [--socket PATH] [--json]`,
    "",
    "set POSTs every audit event to <url> (http or https), retried with backoff; events that still",
    "fail go to a dead-letter queue kept in the registry's state directory. dlq lists it; replay",
    "sends its events again (each leaves the queue once delivered). clear stops the webhook.",
  ].join("\n"),
  flags: { socket: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const which = sub(args, ["get", "set", "clear", "dlq", "replay"], HOOK_USAGE);
    noExtraArguments(args, which === "set" ? 2 : 1, HOOK_USAGE);
    let req: RegistryRequest;
    switch (which) {
      case "set": {
        const url = args.positionals[1];
        if (!url || !/^https?:\/\//.test(url)) {
          throw new CliError(
            "invalid_argument",
            "set needs an http:// or https:// URL",
            `usage: ${HOOK_USAGE}`,
          );
        }
        req = { type: "set_webhook", url };
        break;
      }
      case "clear":
        req = { type: "set_webhook", url: "" };
        break;
      case "dlq":
        req = { type: "get_webhook_dlq" };
        break;
      case "replay":
        req = { type: "replay_webhook_dlq" };
        break;
      default:
        req = { type: "get_webhook" };
    }
    const reply = await send(args, req);
    let text: string;
    if (which === "dlq") {
      const events = Array.isArray(reply.events) ? reply.events as Record<string, unknown>[] : [];
      text = events.length
        ? events.map((e) => `${e.event_id}  ${e.timestamp}  ${e.action}  ${e.error ?? ""}`).join("\n")
        : "dead-letter queue empty";
    } else if (which === "replay") {
      text = `${reply.replayed} event(s) queued for delivery`;
    } else if (which === "get") {
      text = reply.enabled
        ? `webhook ${reply.url}: delivered ${reply.delivered}, retried ${reply.retried}, failed ${reply.failed}, dropped ${reply.dropped}, dead letters ${reply.dlq_size}`
        : `webhook disabled, dead letters ${reply.dlq_size}`;
    } else {
      text = `webhook ${reply.status}`;
    }
    printResult(out, reply, text);
    return 0;
  },
};
