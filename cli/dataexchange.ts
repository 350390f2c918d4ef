/**
 * `pilot send-message` and `pilot send-file`: one data-exchange frame to a node's port 1001,
 * then its acknowledgement, with the reference pilotctl's arguments and `--json` keys (docs/protocol/cli.md
 * §4.4). As in the reference the acknowledgement is best-effort: a frame sent without one
 * still succeeds, just without `ack`. A file too large for one frame goes by our chunked
 * transfer instead (resumable, SHA-256 checked, a progress bar on a terminal), which needs a
 * receiver running this implementation.
 */
import { basename } from "../lib/paths.ts";
import type { Command } from "./command.ts";
import { parseArgs, type ParsedArgs, requiredFlag } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { resolveTarget, serviceUnreachable, timeoutFlag, withDaemon } from "./client.ts";
import { utf8 } from "../lib/bytes.ts";
import type { Address } from "../lib/protocol/address.ts";
import { PORT_DATA_EXCHANGE } from "../lib/protocol/ports.ts";
import {
  AckMissingError,
  ChunkedUnsupportedError,
  DataExchangeClient,
  fitsOneFrame,
  sendFileFromPath,
  type SendFileFromPathResult,
} from "../lib/sdk/services/dataexchange.ts";
import { type Ack, FrameType, MAX_FILE_BYTES } from "../lib/services/dataexchange/codec.ts";
import { Progress } from "./progress.ts";
import { DaemonError } from "../lib/ipc/errors.ts";
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
  summary: "Send a file of any size to a node's received directory (port 1001)",
  usage: [
    "pilot send-file <address|node_id|hostname> <path> [--timeout DURATION] [--attempts N] [--socket PATH] [--json]",
    "",
    `The file travels under its base name. Up to ${MAX_FILE_BYTES} bytes it is one FILE frame, as the`,
    "reference sends it. A larger file goes in chunks (a pilot receiver is needed; a reference node",
    "refuses it): the receiver checks its SHA-256, stores it atomically, and keeps what arrived when the",
    "connection drops; send-file reconnects up to --attempts times (default 5), and running it again",
    "later resumes too. A receiver that stops answering is noticed after --timeout (default 30s). A",
    "progress bar is drawn on stderr when it is a terminal (not with --json).",
    "Output keys: filename, bytes, destination, ack; for chunked files also sha256, resumed_from,",
    "sent_bytes, attempts.",
  ].join("\n"),
  flags: { socket: "string", timeout: "string", attempts: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [target, path] = args.positionals;
    if (!target || !path) {
      throw new CliError("invalid_argument", "usage: pilot send-file <address|hostname> <filepath>");
    }
    const size = await localFileSize(path);
    const filename = basename(path);
    const timeoutMs = timeoutFlag(args, SEND_TIMEOUT_MS);
    const attempts = attemptsFlag(args);
    if (fitsOneFrame(new TextEncoder().encode(filename), size)) {
      const data = await readLocalFile(path);
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
    }
    const bar = !out.json && Deno.stderr.isTerminal();
    const hashing = new Progress(`sha256 ${filename}`, size, bar);
    const progress = new Progress(`send-file ${filename}`, size, bar);
    const started = performance.now();
    const { addr, sent } = await withDaemon(args, async (client) => {
      const addr = await resolveTarget(client, target);
      try {
        const sent = await sendFileFromPath(client, addr, path, {
          name: filename,
          timeoutMs,
          attempts,
          onHashProgress: (done) => {
            hashing.update(done);
            if (done === size) hashing.done();
          },
          onProgress: (done) => progress.update(done),
          onRetry: (attempt, err) => {
            progress.done();
            if (!out.json) {
              out.stderr(`connection lost (${errorMessage(err)}); resuming, attempt ${attempt + 1}`);
            }
          },
        });
        return { addr, sent };
      } catch (err) {
        throw sendFileError(addr, err);
      } finally {
        progress.done();
      }
    });
    const seconds = (performance.now() - started) / 1000;
    if (!sent.ack.ok) {
      throw new CliError("internal", `${addr} refused ${filename}: ${sent.ack.error ?? sent.ack.text}`);
    }
    printResult(out, chunkedResult(addr, sent), chunkedLine(addr, sent, seconds));
    return 0;
  },
};

/** `--attempts N` (connections tried, resuming each time), default the SDK's. */
function attemptsFlag(args: ParsedArgs): number | undefined {
  const text = args.strings.get("attempts");
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new CliError("invalid_argument", `--attempts must be a whole number from 1 to 1000, got "${text}"`);
  }
  return n;
}

function chunkedResult(addr: Address, sent: SendFileFromPathResult): Record<string, unknown> {
  return {
    filename: sent.name,
    bytes: sent.size,
    destination: addr.toString(),
    ack: sent.ack.text,
    sha256: sent.sha256,
    resumed_from: sent.resumedFrom,
    sent_bytes: sent.sentBytes,
    attempts: sent.attempts,
  };
}

function chunkedLine(addr: Address, sent: SendFileFromPathResult, seconds: number): string {
  const rate = seconds > 0
    ? ` in ${seconds.toFixed(1)} s (${(sent.sentBytes / 1048576 / seconds).toFixed(1)} MiB/s)`
    : "";
  const resumed = sent.resumedFrom > 0 ? `, resumed at byte ${sent.resumedFrom}` : "";
  return `sent ${sent.name} (${sent.size} bytes, sha256 ${sent.sha256}) to ${addr}${resumed}${rate} (${sent.ack.text})`;
}

/** The CLI error for a chunked transfer that failed for good. */
function sendFileError(addr: Address, err: unknown): unknown {
  if (err instanceof UnsafeFileNameError) return new CliError("invalid_argument", err.message);
  if (err instanceof ChunkedUnsupportedError) return new CliError("internal", err.message);
  if (err instanceof DaemonError) return serviceUnreachable(addr, "data exchange", PORT_DATA_EXCHANGE, err);
  return err;
}

/** The size of the file to send; a missing file is `not_found`. */
async function localFileSize(path: string): Promise<number> {
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
  return info.size;
}

/** Reads a file that fits one frame. */
async function readLocalFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new CliError("not_found", `file not found: ${path}`);
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
