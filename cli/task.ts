/**
 * `pilot task …` (submit, accept, decline, execute, send-results, list, queue) and
 * `pilot enable-tasks|disable-tasks`, with the reference pilotctl's arguments and
 * `--json` keys (docs/protocol/cli.md §4.3, §4.5). Task files live under `<state>/tasks`; messages to
 * other nodes go through the local daemon's IPC Dial to their port 1003.
 */
import type { Command } from "./command.ts";
import { noExtraArguments, parseArgs, type ParsedArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import {
  connectDaemon,
  nodeStateDir,
  resolveTarget,
  STATE_FLAG_USAGE,
  timeoutFlag,
  toCliError,
  withDaemon,
} from "./client.ts";
import type { PilotClient } from "../lib/sdk/core.ts";
import type { Address } from "../lib/protocol/address.ts";
import { TaskClient, TaskError } from "../lib/sdk/services/tasks.ts";
import { TaskStore } from "../lib/services/tasks/store.ts";
import { isTaskId } from "../lib/services/tasks/codec.ts";
import { closeQuietly, settleQuietly } from "../lib/errors.ts";

const SUBCOMMANDS = ["submit", "accept", "decline", "execute", "send-results", "list", "queue"] as const;
/** Other names accepted for a subcommand (`result` is what our issue tracker and some docs call it). */
const ALIASES: Record<string, typeof SUBCOMMANDS[number]> = {
  result: "send-results",
  results: "send-results",
};

const USAGE = `pilot task <subcommand> [flags]

  submit <address|hostname> --task TEXT     send a task to a node's port 1003
  accept --id ID                            accept a received task (within 60 s of its arrival)
  decline --id ID --justification TEXT      decline a received task
  execute                                   start the oldest accepted task
  send-results --id ID (--results TEXT | --file PATH)
                                            send a task's results to its submitter (alias: result)
  list [--type received|submitted]          list task files
  queue                                     list accepted tasks waiting to run

Common flags: --socket PATH, --state DIR, --timeout DURATION (default 30s).
${STATE_FLAG_USAGE}
Output keys (--json): see the reference pilotctl's task commands.`;

/** `pilot task <subcommand>`: the reference's task workflow on both the submitter and the worker side. */
export const taskCommand: Command = {
  name: "task",
  summary: "Submit tasks to other nodes and work on the ones you receive",
  usage: USAGE,
  flags: {
    socket: "string",
    state: "string",
    timeout: "string",
    task: "string",
    id: "string",
    justification: "string",
    results: "string",
    file: "string",
    type: "string",
  },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [given, ...rest] = args.positionals;
    const sub = given === undefined ? undefined : ALIASES[given] ?? given;
    if (!sub || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
      throw new CliError(
        "invalid_argument",
        `${sub ? `unknown task subcommand "${sub}"` : "missing task subcommand"}; valid: ${
          SUBCOMMANDS.join(", ")
        }`,
      );
    }
    const session = new TaskSession(args, await nodeStateDir(args));
    try {
      const [data, text] = await runSubcommand(sub as typeof SUBCOMMANDS[number], rest, args, session);
      printResult(out, data, text);
      return 0;
    } catch (err) {
      throw cliErrorOf(err);
    } finally {
      await session.close();
    }
  },
};

/** `pilot enable-tasks`: sets the registry's task_exec flag (IPC SetTaskExec 1). */
export const enableTasksCommand: Command = taskExecCommand(true);
/** `pilot disable-tasks`: clears the registry's task_exec flag (IPC SetTaskExec 0). */
export const disableTasksCommand: Command = taskExecCommand(false);

function taskExecCommand(enabled: boolean): Command {
  const name = enabled ? "enable-tasks" : "disable-tasks";
  return {
    name,
    summary: enabled
      ? "Advertise in the registry that this node executes tasks"
      : "Stop advertising that this node executes tasks",
    usage: [
      `pilot ${name} [--socket PATH] [--json]`,
      "",
      "Sets the registry's task_exec flag for this node through the daemon (IPC SetTaskExec).",
      "Output keys: type, node_id, task_exec.",
    ].join("\n"),
    flags: { socket: "string" },
    async run(argv, out) {
      const args = parseArgs(argv, this.flags);
      noExtraArguments(args);
      const reply = await withDaemon(args, (c) => c.setTaskExec(enabled));
      printResult(out, reply, `task execution ${enabled ? "enabled" : "disabled"}`);
      return 0;
    },
  };
}

/** One CLI invocation's task client; the daemon connection is opened only if a peer must be reached. */
class TaskSession {
  readonly tasks: TaskClient;
  #client?: Promise<PilotClient>;
  #self?: string;

  constructor(readonly args: ParsedArgs, stateDir: string) {
    const timeoutMs = timeoutFlag(args, 30_000);
    this.tasks = new TaskClient({
      store: new TaskStore(stateDir),
      timeoutMs,
      dial: async (addr, port) => (await this.daemon()).dial(addr, port, { timeoutMs }),
    });
  }

  daemon(): Promise<PilotClient> {
    this.#client ??= connectDaemon(this.args);
    return this.#client;
  }

  /** A client whose `from_addr` is this node's address (asked from the daemon). */
  async submitter(): Promise<TaskClient> {
    const c = await this.daemon();
    this.#self ??= (await c.info()).address;
    const timeoutMs = timeoutFlag(this.args, 30_000);
    return new TaskClient({
      store: this.tasks.store,
      timeoutMs,
      self: this.#self,
      dial: (addr, port) => c.dial(addr, port, { timeoutMs }),
    });
  }

  async resolve(text: string): Promise<Address> {
    return await resolveTarget(await this.daemon(), text);
  }

  async close(): Promise<void> {
    if (!this.#client) return;
    // A failed connect was already reported to whoever awaited it.
    await closeQuietly(await settleQuietly(this.#client, "reported elsewhere"));
  }
}

async function runSubcommand(
  sub: typeof SUBCOMMANDS[number],
  rest: string[],
  args: ParsedArgs,
  session: TaskSession,
): Promise<[unknown, string]> {
  const s = args.strings;
  const noMore = (n: number) => {
    if (rest.length > n) throw new CliError("invalid_argument", `unexpected argument "${rest[n]}"`);
  };
  switch (sub) {
    case "submit": {
      const target = rest[0];
      const description = s.get("task");
      if (!target || description === undefined) {
        throw new CliError(
          "invalid_argument",
          "usage: pilot task submit <address|hostname> --task <description>",
        );
      }
      noMore(1);
      const addr = await session.resolve(target);
      const r = await (await session.submitter()).submit(addr, description);
      return [
        r,
        r.accepted
          ? `task ${r.task_id} submitted to ${r.target}: ${r.message}`
          : `task refused: ${r.message}`,
      ];
    }
    case "accept": {
      noMore(0);
      const r = await session.tasks.accept(taskIdFlag(args));
      return [r, `${r.task_id}: ${r.message}`];
    }
    case "decline": {
      noMore(0);
      const id = taskIdFlag(args);
      const why = s.get("justification");
      if (why === undefined) {
        throw new CliError(
          "invalid_argument",
          "usage: pilot task decline --id <task_id> --justification <reason>",
        );
      }
      const r = await session.tasks.decline(id, why);
      return [r, `${r.task_id}: ${r.message}`];
    }
    case "execute": {
      noMore(0);
      const r = await session.tasks.execute();
      return [r, `executing ${r.task_id} from ${r.from}: ${r.task_description}`];
    }
    case "send-results": {
      noMore(0);
      const id = taskIdFlag(args);
      const text = s.get("results");
      const file = s.get("file");
      if ((text === undefined) === (file === undefined)) {
        throw new CliError(
          "invalid_argument",
          "usage: pilot task send-results --id <task_id> (--results <text> | --file <path>)",
        );
      }
      const r = await session.tasks.sendResults(id, file !== undefined ? { file } : { text: text! });
      return [r, `results of ${id} sent to ${r.sent_to}`];
    }
    case "list": {
      noMore(0);
      const type = s.get("type");
      if (type !== undefined && type !== "received" && type !== "submitted") {
        throw new CliError("invalid_argument", `--type must be received or submitted, not "${type}"`);
      }
      const tasks = await session.tasks.list(type);
      const text = tasks.length
        ? tasks.map((t) => `${t.task_id}  ${t.category.padEnd(9)}  ${t.status.padEnd(9)}  ${t.description}`)
          .join("\n")
        : "no tasks";
      return [{ tasks }, text];
    }
    case "queue": {
      noMore(0);
      const queue = await session.tasks.queue();
      const data: Record<string, unknown> = { queue };
      if (queue.length) data.count = queue.length;
      const text = queue.length
        ? queue.map((t) => `${t.task_id}  ${t.from}  ${t.description}`).join("\n")
        : "no accepted tasks";
      return [data, text];
    }
  }
}

function taskIdFlag(args: ParsedArgs): string {
  const id = args.strings.get("id");
  if (id === undefined) throw new CliError("invalid_argument", "--id <task_id> is required");
  // A malformed id cannot name a task file.
  if (!isTaskId(id)) throw new CliError("not_found", `no task ${id}`);
  return id;
}

function cliErrorOf(err: unknown): unknown {
  if (err instanceof TaskError) {
    const cause = err.cause;
    // A refused IPC connection to the daemon keeps its not_running code.
    if (cause instanceof CliError) return cause;
    return new CliError(err.code, err.message);
  }
  return toCliError(err);
}
