/**
 * `pilot subscribe` and `pilot publish`: the event stream on a node's port 1002 with the
 * reference pilotctl's arguments and output (docs/protocol/cli.md §4.4). `subscribe` without `--count` runs
 * until interrupted or `--timeout`, printing each event as it arrives (bare NDJSON under
 * `--json`); with `--count` it prints the collected events once.
 */
import type { Command } from "./command.ts";
import { intFlag, parseArgs, requiredFlag } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { resolveTarget, serviceUnreachable, timeoutFlag, withDaemon } from "./client.ts";
import { fromUtf8, utf8 } from "../lib/bytes.ts";
import { PORT_EVENT_STREAM } from "../lib/protocol/ports.ts";
import type { Address } from "../lib/protocol/address.ts";
import type { PilotClient } from "../lib/sdk/core.ts";
import { EventSubscription } from "../lib/sdk/services/eventstream.ts";
import { EventTooLargeError } from "../lib/services/eventstream/codec.ts";
import { closeQuietly, errorMessage } from "../lib/errors.ts";

/** Bound on dialing the broker. */
export const DIAL_TIMEOUT_MS = 30_000;
/** Largest `--count`. */
const MAX_COUNT = 1_000_000;

interface EventLine {
  topic: string;
  data: string;
  bytes: number;
}

async function open(client: PilotClient, addr: Address, topic: string): Promise<EventSubscription> {
  try {
    return await EventSubscription.open(client, addr, topic, { timeoutMs: DIAL_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof EventTooLargeError) throw new CliError("invalid_argument", err.message);
    throw serviceUnreachable(addr, "event stream", PORT_EVENT_STREAM, err);
  }
}

/** `pilot subscribe <target> <topic> [--count N] [--timeout D]`: events from port 1002. */
export const subscribeCommand: Command = {
  name: "subscribe",
  summary: "Subscribe to a topic on a node's event stream (port 1002; * for all)",
  usage: [
    "pilot subscribe <address|node_id|hostname> <topic> [--count N] [--timeout DURATION] [--socket PATH] [--json]",
    "",
    "Without --count, prints each event until interrupted or --timeout (`[topic] payload`, or one",
    "JSON object {topic, data, bytes} per line under --json). With --count, stops after N events",
    "and prints them together (keys: events, timeout, and error if the stream broke).",
  ].join("\n"),
  flags: { socket: "string", count: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [target, topic] = args.positionals;
    if (!target || topic === undefined) {
      throw new CliError(
        "invalid_argument",
        "usage: pilot subscribe <address|hostname> <topic> [--count <n>] [--timeout <dur>]",
      );
    }
    const count = intFlag(args, "count", 0, 0, MAX_COUNT);
    const timeoutMs = timeoutFlag(args, 0);
    return await withDaemon(args, async (client) => {
      const addr = await resolveTarget(client, target);
      const sub = await open(client, addr, topic);
      if (!out.json) out.stderr(`subscribed to ${JSON.stringify(topic)} on ${addr} — waiting for events...`);
      const deadline = new AbortController();
      const timer = timeoutMs > 0 ? setTimeout(() => deadline.abort(), timeoutMs) : undefined;
      const events: EventLine[] = [];
      try {
        while (count === 0 || events.length < count) {
          let event;
          try {
            event = await sub.next({ signal: deadline.signal });
            if (event === null) {
              throw new CliError("connection_failed", `recv: ${addr} closed the event stream`);
            }
          } catch (err) {
            if (deadline.signal.aborted) {
              if (!out.json) out.stderr("timeout");
              else if (count > 0) printResult(out, { events, timeout: true });
              return 0;
            }
            const message = errorMessage(err);
            if (count > 0 && events.length > 0) {
              if (out.json) printResult(out, { events, timeout: false, error: message });
              else out.stderr(`error: ${message}`);
              return 0;
            }
            throw err instanceof CliError ? err : new CliError("connection_failed", `recv: ${message}`);
          }
          const line = { topic: event.topic, data: fromUtf8(event.payload), bytes: event.payload.length };
          if (count > 0) events.push(line);
          if (!out.json) out.stdout(`[${line.topic}] ${line.data}`);
          else if (count === 0) out.stdout(JSON.stringify(line));
        }
        if (out.json) printResult(out, { events, timeout: false });
        return 0;
      } finally {
        clearTimeout(timer);
        await closeQuietly(sub);
      }
    });
  },
};

/** `pilot publish <target> <topic> --data X`: one event to port 1002. */
export const publishCommand: Command = {
  name: "publish",
  summary: "Publish an event to a topic on a node's event stream (port 1002)",
  usage: [
    "pilot publish <address|node_id|hostname> <topic> --data TEXT [--socket PATH] [--json]",
    "",
    "Every other subscriber of the topic (and of *) on that node receives the event.",
    "Output keys: target, topic, bytes.",
  ].join("\n"),
  flags: { socket: "string", data: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [target, topic] = args.positionals;
    if (!target || topic === undefined) {
      throw new CliError(
        "invalid_argument",
        "usage: pilot publish <address|hostname> <topic> --data <message>",
      );
    }
    const payload = utf8(requiredFlag(args, "data"));
    return await withDaemon(args, async (client) => {
      const addr = await resolveTarget(client, target);
      // Subscribe first (the broker takes the first event as the subscription), then publish.
      const sub = await open(client, addr, topic);
      try {
        await sub.publish(topic, payload, { timeoutMs: DIAL_TIMEOUT_MS }).catch((err) => {
          throw new CliError(
            "connection_failed",
            `publish failed: ${errorMessage(err)}`,
          );
        });
      } finally {
        await closeQuietly(sub);
      }
      printResult(
        out,
        { target: addr.toString(), topic, bytes: payload.length },
        `published ${payload.length} bytes to ${JSON.stringify(topic)} on ${addr}`,
      );
      return 0;
    });
  },
};
