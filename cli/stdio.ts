/**
 * `pilot send` and `pilot recv`: the reference pilotctl's raw one-message exchange on any port
 * (standard I/O, port 1000, by convention; docs/protocol/cli.md §4.4). `send` dials, writes one message and
 * prints one reply; `recv` binds a port and, per connection, reads one message and closes.
 */
import type { Command } from "./command.ts";
import { intFlag, parseArgs, portArg, requiredFlag } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { timeoutFlag, withDaemon } from "./client.ts";
import { CONNECT_TIMEOUT_MS, sendOneMessage } from "./connect.ts";
import { fromUtf8 } from "../lib/bytes.ts";
import { listenStdio, STDIO_REPLY_LIMIT } from "../lib/sdk/services/stdio.ts";
import { closeQuietly, errorMessage } from "../lib/errors.ts";

/** Default bound of `recv`. */
export const STDIO_TIMEOUT_MS = 30_000;
/** Largest `--count` of `recv`. */
const MAX_COUNT = 1_000_000;

/** `pilot send <target> <port> --data X`: `connect --message X` with the port required. */
export const sendCommand: Command = {
  name: "send",
  summary: "Send one message to a port and print the reply",
  usage: [
    "pilot send <address|node_id|hostname> <port> --data TEXT [--timeout DURATION] [--socket PATH] [--json]",
    "",
    "Same as `pilot connect <target> <port> --message TEXT`. Output keys: target, port, sent, response.",
  ].join("\n"),
  flags: { socket: "string", data: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [target, portText] = args.positionals;
    if (!target || portText === undefined) {
      throw new CliError("invalid_argument", "usage: pilot send <address|hostname> <port> --data <message>");
    }
    const port = portArg(portText);
    const data = requiredFlag(args, "data");
    return await sendOneMessage(args, out, target, port, data, timeoutFlag(args, CONNECT_TIMEOUT_MS));
  },
};

/** `pilot recv <port> [--count N] [--timeout D]`: one message from each of N connections. */
export const recvCommand: Command = {
  name: "recv",
  summary: "Accept connections on a port and print one message from each",
  usage: [
    "pilot recv <port> [--count N=1] [--timeout DURATION=30s] [--socket PATH] [--json]",
    "",
    `Binds <port>; for each of N connections reads one message (up to ${STDIO_REPLY_LIMIT} bytes) and closes it.`,
    "Output keys: messages [{seq, port, data, bytes} or {seq, port, error}], timeout.",
  ].join("\n"),
  flags: { socket: "string", count: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [portText] = args.positionals;
    if (portText === undefined) {
      throw new CliError("invalid_argument", "usage: pilot recv <port> [--count <n>] [--timeout <dur>]");
    }
    const port = portArg(portText);
    const count = intFlag(args, "count", 1, 1, MAX_COUNT);
    const signal = AbortSignal.timeout(timeoutFlag(args, STDIO_TIMEOUT_MS));
    return await withDaemon(args, async (client) => {
      const listener = await listenStdio(client, { port }).catch((err) => {
        throw new CliError("connection_failed", `listen: ${errorMessage(err)}`);
      });
      const messages: Record<string, unknown>[] = [];
      try {
        for (let seq = 0; seq < count; seq++) {
          let conn;
          try {
            conn = await listener.accept({ signal });
          } catch (err) {
            if (!signal.aborted) {
              throw new CliError("connection_failed", `accept: ${errorMessage(err)}`);
            }
            if (out.json) printResult(out, { messages, timeout: true });
            else out.stderr("timeout");
            return 0;
          }
          const msg: Record<string, unknown> = { seq, port };
          try {
            const chunk = (await conn.read({ signal })) ?? new Uint8Array(0);
            const data = chunk.subarray(0, STDIO_REPLY_LIMIT);
            msg.data = fromUtf8(data);
            msg.bytes = data.length;
            if (!out.json) out.stdout(String(msg.data));
          } catch (err) {
            msg.error = errorMessage(err);
            if (!out.json) out.stderr(`error: ${msg.error}`);
          } finally {
            await closeQuietly(conn);
          }
          messages.push(msg);
        }
      } finally {
        listener.close();
      }
      if (out.json) printResult(out, { messages, timeout: false });
      return 0;
    });
  },
};
