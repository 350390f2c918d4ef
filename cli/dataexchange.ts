/**
 * `pilot send-message` and `pilot send-file`: one data-exchange frame to a node's port 1001,
 * then its acknowledgement, with the reference pilotctl's arguments and `--json` keys (docs/protocol/cli.md
 * §4.4). As in the reference the acknowledgement is best-effort: a frame sent without one
 * still succeeds, just without `ack`.
 */
import { basename } from "node:path";
import type { Command } from "./command.ts";
import { parseArgs, type ParsedArgs, requiredFlag } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { resolveTarget, serviceUnreachable, timeoutFlag, withDaemon } from "./client.ts";
import { utf8 } from "../lib/bytes.ts";
import type { Address } from "../lib/protocol/address.ts";
import { PORT_DATA_EXCHANGE } from "../lib/protocol/ports.ts";
import { AckMissingError, DataExchangeClient } from "../lib/sdk/services/dataexchange.ts";
import { type Ack, FrameType, MAX_FILE_BYTES } from "../lib/services/dataexchange/codec.ts";
import { UnsafeFileNameError } from "../lib/services/dataexchange/filename.ts";
import { StreamEndedError } from "../lib/services/stream_reader.ts";
import { closeQuietly, errorMessage } from "../lib/errors.ts";

/** Default bound on the dial and on waiting for the acknowledgement. */
export const SEND_TIMEOUT_MS = 30_000;

const MESSAGE_TYPES: Record<string, number> = {
  text: FrameType.Text,
  json: FrameType.Json,
  binary: FrameType.Binary,
};

/** `pilot send-message <target> --data X [--type text|json|binary]`: one message to port 1001. */
export const sendMessageCommand: Command = {
  name: "send-message",
  summary: "Send a text, JSON or binary message to a node's inbox (port 1001)",
  usage: [
    "pilot send-message <address|node_id|hostname> --data TEXT [--type text|json|binary] [--timeout DURATION] [--socket PATH] [--json]",
    "",
    "The receiving daemon stores the message in its inbox (see `pilot inbox`) and acknowledges it.",
    "Output keys: target, type, bytes, ack.",
  ].join("\n"),
  flags: { socket: "string", data: "string", type: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [target] = args.positionals;
    if (!target) {
      throw new CliError(
        "invalid_argument",
        "usage: pilot send-message <address|hostname> --data <text> [--type text|json|binary]",
      );
    }
    const data = requiredFlag(args, "data");
    const kind = args.strings.get("type") ?? "text";
    const type = MESSAGE_TYPES[kind];
    if (type === undefined) {
      throw new CliError("invalid_argument", `unknown type "${kind}" (use text, json, or binary)`);
    }
    const timeoutMs = timeoutFlag(args, SEND_TIMEOUT_MS);
    const payload = utf8(data);
    const { addr, ack } = await deliver(args, target, timeoutMs, (s) => s.send(type, payload, { timeoutMs }));
    const result: Record<string, unknown> = { target: addr.toString(), type: kind, bytes: payload.length };
    if (ack) result.ack = ack.text;
    printResult(out, result, `sent ${payload.length} bytes to ${addr}${ackNote(ack)}`);
    return 0;
  },
};

/** `pilot send-file <target> <path>`: one file to port 1001 under its base name. */
export const sendFileCommand: Command = {
  name: "send-file",
  summary: "Send a file to a node's received directory (port 1001)",
  usage: [
    "pilot send-file <address|node_id|hostname> <path> [--timeout DURATION] [--socket PATH] [--json]",
    "",
    `The file travels under its base name, in one frame (at most ${MAX_FILE_BYTES} bytes). The`,
    "receiving daemon stores it (see `pilot received`) and acknowledges it.",
    "Output keys: filename, bytes, destination, ack.",
  ].join("\n"),
  flags: { socket: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [target, path] = args.positionals;
    if (!target || !path) {
      throw new CliError("invalid_argument", "usage: pilot send-file <address|hostname> <filepath>");
    }
    const data = await readLocalFile(path);
    const filename = basename(path);
    const timeoutMs = timeoutFlag(args, SEND_TIMEOUT_MS);
    const { addr, ack } = await deliver(
      args,
      target,
      timeoutMs,
      (s) => s.sendFile(filename, data, { timeoutMs }),
    );
    const result: Record<string, unknown> = { filename, bytes: data.length, destination: addr.toString() };
    if (ack) result.ack = ack.text;
    printResult(out, result, `sent ${filename} (${data.length} bytes) to ${addr}${ackNote(ack)}`);
    return 0;
  },
};

/** Reads the file to send; a missing file is `not_found`, one too big for a frame `invalid_argument`. */
async function readLocalFile(path: string): Promise<Uint8Array> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new CliError("not_found", `file not found: ${path}`);
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new CliError("internal", `permission denied: ${path}`);
    }
    throw new CliError("internal", `read file: ${errorMessage(err)}`);
  }
  if (!info.isFile) throw new CliError("invalid_argument", `${path} is not a regular file`);
  if (info.size > MAX_FILE_BYTES) {
    throw new CliError(
      "invalid_argument",
      `${path} is ${info.size} bytes; one frame carries at most ${MAX_FILE_BYTES}`,
    );
  }
  try {
    return await Deno.readFile(path);
  } catch (err) {
    throw new CliError("internal", `read file: ${errorMessage(err)}`);
  }
}

/**
 * Resolves `target`, dials its port 1001, runs `send` and closes: the part `send-message` and
 * `send-file` share. Resolves to the address and the ack, null when the peer sent none.
 */
async function deliver(
  args: ParsedArgs,
  target: string,
  timeoutMs: number,
  send: (session: DataExchangeClient) => Promise<Ack>,
): Promise<{ addr: Address; ack: Ack | null }> {
  return await withDaemon(args, async (client) => {
    const addr = await resolveTarget(client, target);
    let session: DataExchangeClient;
    try {
      session = await DataExchangeClient.dial(client, addr, { timeoutMs });
    } catch (err) {
      throw serviceUnreachable(addr, "data exchange", PORT_DATA_EXCHANGE, err);
    }
    try {
      return { addr, ack: await send(session) };
    } catch (err) {
      if (err instanceof UnsafeFileNameError) throw new CliError("invalid_argument", err.message);
      // Sent, but the peer closed before acknowledging: the reference treats the ack as best-effort.
      if (err instanceof AckMissingError || err instanceof StreamEndedError) return { addr, ack: null };
      throw err;
    } finally {
      await closeQuietly(session);
    }
  });
}

/** The ack's text in parentheses for the human-readable line, or nothing. */
function ackNote(ack: Ack | null): string {
  return ack ? ` (${ack.text})` : "";
}
