/**
 * `pilot connect` and `pilot listen`, the reference CLI's simplest traffic commands:
 * connect dials a port, sends one message and prints one reply; listen prints the
 * datagrams arriving for a port.
 */
import type { Command } from "./command.ts";
import { intFlag, parseArgs, type ParsedArgs, portArg } from "./args.ts";
import { CliError, type Output, printResult } from "./output.ts";
import { dialPeer, resolveTarget, timeoutFlag, withDaemon } from "./client.ts";
import { fromUtf8, utf8 } from "../lib/bytes.ts";
import { PORT_STDIO } from "../lib/protocol/ports.ts";
import { STDIO_REPLY_LIMIT } from "../lib/sdk/services/stdio.ts";
import { closeQuietly, errorMessage } from "../lib/errors.ts";

/** How long `connect` and `send` wait for each step unless --timeout says otherwise. */
export const CONNECT_TIMEOUT_MS = 30_000;

export const connectCommand: Command = {
  name: "connect",
  summary: "Dial a port, send a message and print the reply",
  usage: [
    "pilot connect <address|node_id|hostname> [port] [--message TEXT] [--timeout DURATION] [--socket PATH] [--json]",
    "",
    "Default port 1000. Without --message the text comes from standard input.",
    "Output keys: target, port, sent, response.",
  ].join("\n"),
  flags: { socket: "string", message: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [target, portText] = args.positionals;
    if (!target) {
      throw new CliError(
        "invalid_argument",
        "usage: pilot connect <address|hostname> [port] [--message TEXT]",
      );
    }
    const port = portText === undefined ? PORT_STDIO : portArg(portText);
    const timeoutMs = timeoutFlag(args, CONNECT_TIMEOUT_MS);
    const message = args.strings.get("message") ?? await readStdinMessage();
    return await sendOneMessage(args, out, target, port, message, timeoutMs);
  },
};

/**
 * Dials `target`'s `port`, writes `message`, reads one reply (cut to {@link STDIO_REPLY_LIMIT})
 * and prints `{target, port, sent, response}`: the whole of `connect`, and of `send`, which is the
 * reference's `connect --message` under another name. A failed dial is connection_failed, no reply
 * in time is timeout.
 */
export async function sendOneMessage(
  args: ParsedArgs,
  out: Output,
  target: string,
  port: number,
  message: string,
  timeoutMs: number,
): Promise<number> {
  return await withDaemon(args, async (client) => {
    const addr = await resolveTarget(client, target);
    const conn = await dialPeer(client, addr, port, timeoutMs);
    try {
      await conn.write(utf8(message), { timeoutMs });
      let response = "";
      try {
        const chunk = await conn.read({ timeoutMs });
        if (chunk) response = fromUtf8(chunk.subarray(0, STDIO_REPLY_LIMIT));
      } catch (err) {
        throw new CliError(
          "timeout",
          `no reply within ${timeoutMs} ms: ${errorMessage(err)}`,
        );
      }
      printResult(out, { target: addr.toString(), port, sent: message, response }, response);
      return 0;
    } finally {
      await closeQuietly(conn);
    }
  });
}

export const listenCommand: Command = {
  name: "listen",
  summary: "Print datagrams arriving for a port",
  usage: [
    "pilot listen <port> [--count N] [--timeout DURATION] [--socket PATH] [--json]",
    "",
    "Prints datagrams whose destination port is <port>. With --count, stops after N and prints",
    "them together (keys: messages [{src_addr, src_port, data, bytes}], timeout); without it,",
    "prints each as it arrives (NDJSON under --json) until interrupted or --timeout.",
  ].join("\n"),
  flags: { socket: "string", count: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [portText] = args.positionals;
    if (portText === undefined) {
      throw new CliError("invalid_argument", "usage: pilot listen <port> [--count N]");
    }
    const port = portArg(portText);
    const count = intFlag(args, "count", 0, 0, 1_000_000);
    const timeoutMs = timeoutFlag(args, 0);
    const signal = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    return await withDaemon(args, async (client) => {
      const messages: { src_addr: string; src_port: number; data: string; bytes: number }[] = [];
      let timedOut = false;
      while (count === 0 || messages.length < count) {
        let dg;
        try {
          dg = await client.recvFrom(signal ? { signal } : {});
        } catch (err) {
          if (signal?.aborted) {
            timedOut = true;
            break;
          }
          throw err;
        }
        if (dg.dstPort !== port) continue;
        const m = {
          src_addr: dg.src.toString(),
          src_port: dg.srcPort,
          data: fromUtf8(dg.data),
          bytes: dg.data.length,
        };
        if (count > 0) messages.push(m);
        else if (out.json) out.stdout(JSON.stringify(m));
        else out.stdout(`${m.src_addr}:${m.src_port} ${m.data}`);
      }
      if (count > 0) {
        printResult(
          out,
          { messages, timeout: timedOut },
          messages.map((m) => `${m.src_addr}:${m.src_port} ${m.data}`).join("\n"),
        );
      }
      return 0;
    });
  },
};

async function readStdinMessage(): Promise<string> {
  if (Deno.stdin.isTerminal()) {
    throw new CliError("invalid_argument", "give --message or pipe the message on standard input");
  }
  const text = (await new Response(Deno.stdin.readable).text()).replace(/\n$/, "");
  if (!text) throw new CliError("invalid_argument", "empty message");
  return text;
}
