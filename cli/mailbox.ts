/**
 * `pilot inbox` and `pilot received`: list or clear what this node's daemon stored from data
 * exchange (docs/protocol/cli.md §4.10). They read `<state>/inbox` and `<state>/received` directly, with the
 * state directory found as every command finds it ({@link nodeStateDir}).
 */
import type { Command } from "./command.ts";
import { noExtraArguments, parseArgs, type ParsedArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { nodeStateDir, STATE_FLAG_USAGE } from "./client.ts";
import { Mailbox, MailboxMissingError } from "../lib/services/dataexchange/mailbox.ts";
import { errorMessage } from "../lib/errors.ts";

/** Characters of a message shown in the text listing. */
const PREVIEW_CHARS = 80;

async function mailbox(args: ParsedArgs): Promise<Mailbox> {
  return new Mailbox(await nodeStateDir(args));
}

async function clear(run: () => Promise<number>, empty: string): Promise<number> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof MailboxMissingError) throw new CliError("not_found", empty);
    throw new CliError("internal", `clear: ${errorMessage(err)}`);
  }
}

/** `pilot inbox [--clear]`: the messages in `<state>/inbox`. */
export const inboxCommand: Command = {
  name: "inbox",
  summary: "List (or --clear) messages received over data exchange",
  usage: [
    "pilot inbox [--clear] [--socket PATH] [--state DIR] [--json]",
    "",
    "Messages sent to this node with `pilot send-message`, as stored by its daemon in <state>/inbox.",
    STATE_FLAG_USAGE,
    "Output keys: messages [{type, from, data, bytes, received_at}], total, dir; with --clear: cleared.",
  ].join("\n"),
  flags: { socket: "string", state: "string", clear: "boolean" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    noExtraArguments(args);
    const box = await mailbox(args);
    if (args.booleans.has("clear")) {
      const cleared = await clear(() => box.clearMessages(), "inbox is empty");
      printResult(out, { cleared }, `cleared ${cleared} message(s)`);
      return 0;
    }
    const messages = await box.listMessages();
    const lines = messages.length === 0
      ? [
        "inbox is empty",
        '  messages appear here when someone sends: pilot send-message <your-address> --data "hello"',
      ]
      : [
        `Inbox (${messages.length} messages):`,
        "",
        ...messages.flatMap((m) => {
          const data = String(m.data ?? "");
          const preview = data.length > PREVIEW_CHARS ? `${data.slice(0, PREVIEW_CHARS)}...` : data;
          return [`  [${m.received_at}] from ${m.from} type=${m.type}`, `    ${preview}`];
        }),
        "",
        "clear with: pilot inbox --clear",
      ];
    printResult(out, { messages, total: messages.length, dir: box.inboxDir }, lines.join("\n"));
    return 0;
  },
};

/** `pilot received [--clear]`: the files in `<state>/received`. */
export const receivedCommand: Command = {
  name: "received",
  summary: "List (or --clear) files received over data exchange",
  usage: [
    "pilot received [--clear] [--socket PATH] [--state DIR] [--json]",
    "",
    "Files sent to this node with `pilot send-file`, as stored by its daemon in <state>/received.",
    STATE_FLAG_USAGE,
    "Output keys: files [{name, bytes, modified, path}], total, dir; with --clear: cleared.",
  ].join("\n"),
  flags: { socket: "string", state: "string", clear: "boolean" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    noExtraArguments(args);
    const box = await mailbox(args);
    if (args.booleans.has("clear")) {
      const cleared = await clear(() => box.clearFiles(), "no received files");
      printResult(out, { cleared }, `cleared ${cleared} received file(s)`);
      return 0;
    }
    const files = await box.listFiles();
    const lines = files.length === 0
      ? ["no received files", "  files appear here when someone sends: pilot send-file <your-address> <file>"]
      : [
        `Received files (${box.receivedDir}):`,
        "",
        `  ${"NAME".padEnd(40)}  ${"SIZE".padEnd(10)}  RECEIVED`,
        ...files.map((f) => `  ${f.name.padEnd(40)}  ${String(f.bytes).padEnd(10)}  ${f.modified}`),
        "",
        `total: ${files.length}`,
      ];
    printResult(out, { files, total: files.length, dir: box.receivedDir }, lines.join("\n"));
    return 0;
  },
};
