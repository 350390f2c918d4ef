/**
 * The node's registry entry, with the reference pilotctl's arguments and results (docs/protocol/cli.md
 * §4.3): `register`, `lookup`, `set-public`, `set-private`, `deregister`, `find`,
 * `set-hostname`, `clear-hostname`, `set-tags`, `clear-tags`. All go through the daemon:
 * the settings over their own IPC commands, `register` and `lookup` — which the reference
 * sends to the registry itself — over IPC Network 0x10, so the daemon signs them.
 */
import { join } from "../lib/paths.ts";
import type { Command } from "./command.ts";
import { noExtraArguments, parseArgs, type ParsedArgs } from "./args.ts";
import { CliError, type Output, printResult } from "./output.ts";
import { nodeStateDir, STATE_FLAG_USAGE, timeoutFlag, withDaemon } from "./client.ts";
import { CONFIG_FILE } from "./webhook.ts";
import { nodeIdArg, registryRequest } from "./registry_request.ts";
import { MAX_TAGS } from "../lib/ipc/commands.ts";
import type { PilotClient } from "../lib/sdk/core.ts";

/** How long a setting change may take (the daemon asks the registry). */
const SETTING_TIMEOUT_MS = 20_000;

const FLAGS = { socket: "string", timeout: "string" } as const;

/** A command with no or fixed arguments whose work is one daemon call and one printed result. */
function simpleCommand(
  about: Pick<Command, "name" | "summary" | "usage">,
  act: (client: PilotClient, args: ParsedArgs, timeoutMs: number) => Promise<{ data: unknown; text: string }>,
  flags: Command["flags"] = FLAGS,
): Command {
  return {
    ...about,
    flags,
    async run(argv: string[], out: Output) {
      const args = parseArgs(argv, this.flags);
      const timeoutMs = timeoutFlag(args, SETTING_TIMEOUT_MS);
      const { data, text } = await withDaemon(args, (c) => act(c, args, timeoutMs));
      printResult(out, data, text);
      return 0;
    },
  };
}

export const registerCommand: Command = simpleCommand(
  {
    name: "register",
    summary: "Register this node with the registry again (its own endpoint and key)",
    usage: [
      "pilot register [--socket PATH] [--json]",
      "",
      "The daemon registers again with its endpoint and key, signed, and prints the registry's reply",
      "(type, node_id, address, public_key, …). The reference's [listen_addr] argument is refused:",
      "the daemon advertises its own endpoint (pilot daemon --endpoint).",
    ].join("\n"),
  },
  async (c, args, timeoutMs) => {
    if (args.positionals.length > 0) {
      throw new CliError(
        "invalid_argument",
        `pilot register takes no listen address ("${args.positionals[0]}"): the daemon advertises its own`,
        "to advertise another endpoint, restart the daemon with --endpoint HOST:PORT",
      );
    }
    const reply = await registryRequest(c, { type: "register" }, { timeoutMs });
    return { data: reply, text: `registered as node ${reply.node_id} (${reply.address})` };
  },
);

export const lookupCommand: Command = simpleCommand(
  {
    name: "lookup",
    summary: "Show what the registry knows about a node",
    usage: [
      "pilot lookup <node_id> [--socket PATH] [--json]",
      "",
      "Registry lookup through the daemon. Output keys: type, node_id, address, networks, public_key,",
      "public, polo_score and, when set, hostname, tags, task_exec, real_addr (public nodes only).",
    ].join("\n"),
  },
  async (c, args, timeoutMs) => {
    const usage = "pilot lookup <node_id>";
    const node = nodeIdArg(args.positionals[0], usage);
    noExtraArguments(args, 1, usage);
    let reply;
    try {
      reply = await registryRequest(c, { type: "lookup", node_id: node }, { timeoutMs });
    } catch (err) {
      if (err instanceof CliError && /not found|unknown node|no such node/i.test(err.message)) {
        throw new CliError("not_found", `node ${node} is not registered`, undefined);
      }
      throw err;
    }
    const lines = [
      `node      ${reply.address} (id ${reply.node_id})${
        reply.hostname ? ` hostname ${reply.hostname}` : ""
      }`,
      `public    ${reply.public === true ? "yes" : "no"}${reply.real_addr ? ` at ${reply.real_addr}` : ""}`,
      `networks  ${Array.isArray(reply.networks) ? reply.networks.join(", ") || "-" : "-"}`,
      `key       ${reply.public_key}`,
      `polo      ${reply.polo_score ?? 0}`,
      ...(Array.isArray(reply.tags) && reply.tags.length ? [`tags      ${reply.tags.join(", ")}`] : []),
    ];
    return { data: reply, text: lines.join("\n") };
  },
);

function visibilityCommand(isPublic: boolean): Command {
  const name = isPublic ? "set-public" : "set-private";
  return simpleCommand(
    {
      name,
      summary: isPublic
        ? "Make this node public (its endpoint visible to every node)"
        : "Make this node private (endpoint only for trusted peers and shared networks)",
      usage: `pilot ${name} [--socket PATH] [--json]\n\nOutput keys: type, node_id, visibility.`,
    },
    async (c, args, timeoutMs) => {
      noExtraArguments(args, 0, `pilot ${name}`);
      const reply = await c.setVisibility(isPublic, { timeoutMs });
      return { data: reply, text: `node ${reply.node_id} is now ${reply.visibility}` };
    },
  );
}

export const setPublicCommand: Command = visibilityCommand(true);
export const setPrivateCommand: Command = visibilityCommand(false);

export const deregisterCommand: Command = simpleCommand(
  {
    name: "deregister",
    summary: "Remove this node from the registry (the daemon registers again if it keeps running)",
    usage: [
      "pilot deregister [--socket PATH] [--json]",
      "",
      'Output: {type:"deregister_ok"}. The running daemon registers again after failed heartbeats;',
      "stop it first to stay off the registry.",
    ].join("\n"),
  },
  async (c, args, timeoutMs) => {
    noExtraArguments(args, 0, "pilot deregister");
    const reply = await c.deregister({ timeoutMs });
    return { data: reply, text: "deregistered" };
  },
);

export const findCommand: Command = simpleCommand(
  {
    name: "find",
    summary: "Find a node by hostname",
    usage: [
      "pilot find <hostname> [--socket PATH] [--json]",
      "",
      "Output keys: hostname, node_id, address, public. A private node is found only by nodes it trusts.",
    ].join("\n"),
  },
  async (c, args, timeoutMs) => {
    const [hostname] = args.positionals;
    if (!hostname) throw new CliError("invalid_argument", "usage: pilot find <hostname>");
    noExtraArguments(args, 1, "pilot find <hostname>");
    let reply;
    try {
      reply = await c.resolveHostname(hostname, { timeoutMs });
    } catch (err) {
      throw new CliError(
        "not_found",
        `cannot find "${hostname}": ${err instanceof Error ? err.message : err}`,
        "a private node is visible only to nodes it trusts: establish trust first (pilot handshake <node_id>)",
      );
    }
    const data = {
      hostname: reply.hostname,
      node_id: reply.node_id,
      address: reply.address,
      public: reply.public,
    };
    return {
      data,
      text: `${data.hostname}  ${data.address} (id ${data.node_id})${data.public ? " public" : ""}`,
    };
  },
);

/** Stores (or with `undefined` removes) `key` in `<stateDir>/config.json`, keeping the other keys. */
async function updateNodeConfig(dir: string, key: string, value: string | undefined): Promise<void> {
  const path = join(dir, CONFIG_FILE);
  let cfg: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(await Deno.readTextFile(path));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) cfg = parsed;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new CliError("internal", `cannot read ${path}: ${err instanceof Error ? err.message : err}`);
    }
  }
  if (value === undefined) delete cfg[key];
  else cfg[key] = value;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(path, JSON.stringify(cfg, null, 2) + "\n", { mode: 0o600 });
  } catch (err) {
    throw new CliError("internal", `cannot write ${path}: ${err instanceof Error ? err.message : err}`);
  }
}

function hostnameCommand(set: boolean): Command {
  const name = set ? "set-hostname" : "clear-hostname";
  const usage = `pilot ${name}${set ? " <hostname>" : ""}`;
  return {
    name,
    summary: set ? "Give this node a hostname in the registry" : "Remove this node's hostname",
    usage: [
      `${usage} [--state DIR] [--socket PATH] [--json]`,
      "",
      set
        ? "Sets the hostname at the registry and stores it as `hostname` in <state>/config.json."
        : "Clears the hostname at the registry and removes it from <state>/config.json.",
      STATE_FLAG_USAGE,
      `Output keys: hostname${set ? ", node_id" : ""}.`,
    ].join("\n"),
    flags: { ...FLAGS, state: "string" },
    async run(argv, out) {
      const args = parseArgs(argv, this.flags);
      const hostname = set ? args.positionals[0] : "";
      if (hostname === undefined) throw new CliError("invalid_argument", `usage: ${usage}`);
      noExtraArguments(args, set ? 1 : 0, usage);
      const timeoutMs = timeoutFlag(args, SETTING_TIMEOUT_MS);
      const reply = await withDaemon(args, (c) => c.setHostname(hostname, { timeoutMs }));
      await updateNodeConfig(await nodeStateDir(args), "hostname", set ? hostname : undefined);
      if (set) printResult(out, { hostname, node_id: reply.node_id }, `hostname set to ${hostname}`);
      else printResult(out, { hostname: "" }, "hostname cleared");
      return 0;
    },
  };
}

export const setHostnameCommand: Command = hostnameCommand(true);
export const clearHostnameCommand: Command = hostnameCommand(false);

export const setTagsCommand: Command = simpleCommand(
  {
    name: "set-tags",
    summary: `Set this node's tags (1 to ${MAX_TAGS}; replaces the old ones)`,
    usage: [
      "pilot set-tags <tag> [tag] [tag] [--socket PATH] [--json]",
      "",
      "Tags are lower-case letters, digits and hyphens (a leading # is dropped). Output keys: node_id, tags.",
    ].join("\n"),
  },
  async (c, args, timeoutMs) => {
    const tags = args.positionals;
    if (tags.length < 1 || tags.length > MAX_TAGS) {
      throw new CliError(
        "invalid_argument",
        `set-tags takes 1 to ${MAX_TAGS} tags, not ${tags.length}`,
        "usage: pilot set-tags <tag> [tag] [tag]",
      );
    }
    const reply = await c.setTags(tags, { timeoutMs });
    const set = Array.isArray(reply.tags) ? reply.tags : [];
    return { data: { node_id: reply.node_id, tags: set }, text: `tags: ${set.join(", ")}` };
  },
);

export const clearTagsCommand: Command = simpleCommand(
  {
    name: "clear-tags",
    summary: "Remove this node's tags",
    usage: "pilot clear-tags [--socket PATH] [--json]\n\nOutput: {tags: []}.",
  },
  async (c, args, timeoutMs) => {
    noExtraArguments(args, 0, "pilot clear-tags");
    await c.setTags([], { timeoutMs });
    return { data: { tags: [] }, text: "tags cleared" };
  },
);

/** The node-admin commands in help order. */
export const NODE_ADMIN_COMMANDS: readonly Command[] = [
  registerCommand,
  lookupCommand,
  setPublicCommand,
  setPrivateCommand,
  deregisterCommand,
  findCommand,
  setHostnameCommand,
  clearHostnameCommand,
  setTagsCommand,
  clearTagsCommand,
];
