/**
 * `pilot network <sub>` and `pilot audit`, with the reference pilotctl's arguments (docs/protocol/cli.md
 * §4.7, §4.8). `list|join|leave|members|invite|invites|accept|reject` are the IPC Network
 * sub-commands 0x01–0x07. `create|delete|rename|promote|demote|kick|role|policy` and `audit`,
 * which the reference sends to the registry itself (unsigned, with the admin token), go
 * through the daemon too (IPC Network 0x10, ours): it signs them as the node, so the owner or
 * an admin of a network manages it without the global admin token, in the registry's dialect.
 * Every result is the registry's reply object.
 */
import type { Command } from "./command.ts";
import { intFlag, noExtraArguments, parseArgs, type ParsedArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { stopSignals } from "./signals.ts";
import { timeoutFlag, withDaemon } from "./client.ts";
import { networkIdArg, nodeIdArg, REGISTRY_REQUEST_TIMEOUT_MS, registryRequest } from "./registry_request.ts";
import type { NetworkReply, PilotClient } from "../lib/sdk/core.ts";
import type { RegistryRequest } from "../lib/ipc/commands.ts";

const JOIN_RULES = ["open", "token", "invite"] as const;

interface Sub {
  usage: string;
  summary: string;
  run(client: PilotClient, args: ParsedArgs, timeoutMs: number): Promise<NetworkReply>;
  text?(reply: NetworkReply, args: ParsedArgs): string;
}

/** The network id (first positional) and, when `withNode`, a node id (second). */
function ids(args: ParsedArgs, usage: string, withNode: boolean): [number, number] {
  const net = networkIdArg(args.positionals[0], usage);
  const node = withNode ? nodeIdArg(args.positionals[1], usage) : 0;
  noExtraArguments(args, withNode ? 2 : 1, usage);
  return [net, node];
}

/** A registry operation on `<network_id> <node_id>` made through the daemon. */
function memberOp(type: string, verb: string, summary: string): Sub {
  const usage = `pilot network ${verb} <network_id> <node_id>`;
  return {
    usage,
    summary,
    run: (c, args, timeoutMs) => {
      const [network_id, target_node_id] = ids(args, usage, true);
      return registryRequest(c, { type, network_id, target_node_id }, { withToken: true, timeoutMs });
    },
  };
}

const SUBS: Record<string, Sub> = {
  list: {
    usage: "pilot network list",
    summary: "networks known to the registry",
    run: (c, _args, timeoutMs) => c.networkList({ timeoutMs }),
    text: (r) => {
      const nets = Array.isArray(r.networks) ? r.networks as Record<string, unknown>[] : [];
      if (!nets.length) return "no networks";
      return nets.map((n) =>
        `${String(n.id).padStart(5)}  ${n.name}  ${n.members} member(s)  ${n.join_rule}${
          n.enterprise ? "  enterprise" : ""
        }`
      ).join("\n");
    },
  },
  join: {
    usage: "pilot network join <network_id> [--token T]",
    summary: "join a network (a token network needs --token)",
    run: (c, args, timeoutMs) => {
      const [id] = ids(args, "pilot network join <network_id> [--token T]", false);
      return c.networkJoin(id, args.strings.get("token") ?? "", { timeoutMs });
    },
    text: (r) => `joined network ${r.network_id}${r.address ? ` as ${r.address}` : ""}`,
  },
  leave: {
    usage: "pilot network leave <network_id>",
    summary: "leave a network",
    run: (c, args, timeoutMs) =>
      c.networkLeave(ids(args, "pilot network leave <network_id>", false)[0], { timeoutMs }),
    text: (r) => `left network ${r.network_id}`,
  },
  members: {
    usage: "pilot network members <network_id>",
    summary: "a network's members",
    run: (c, args, timeoutMs) =>
      c.networkMembers(ids(args, "pilot network members <network_id>", false)[0], { timeoutMs }),
    text: (r) => {
      const nodes = Array.isArray(r.nodes) ? r.nodes as Record<string, unknown>[] : [];
      if (!nodes.length) return "no members";
      return nodes.map((n) =>
        `${n.address}  (id ${n.node_id})${n.hostname ? `  ${n.hostname}` : ""}${n.role ? `  ${n.role}` : ""}${
          n.offline ? "  offline" : ""
        }`
      ).join("\n");
    },
  },
  invite: {
    usage: "pilot network invite <network_id> <node_id>",
    summary: "invite a node into an invite-only network",
    run: (c, args, timeoutMs) => {
      const [net, node] = ids(args, "pilot network invite <network_id> <node_id>", true);
      return c.networkInvite(net, node, { timeoutMs });
    },
    text: (r) =>
      `invited node ${r.target_node_id} to network ${r.network_id}${r.status ? ` (${r.status})` : ""}`,
  },
  invites: {
    usage: "pilot network invites",
    summary: "invitations waiting for this node",
    run: (c, args, timeoutMs) => {
      noExtraArguments(args, 0, "pilot network invites");
      return c.networkPollInvites({ timeoutMs });
    },
    text: (r) => {
      const inv = Array.isArray(r.invites) ? r.invites as Record<string, unknown>[] : [];
      return inv.length
        ? inv.map((i) => `network ${i.network_id}  invited by node ${i.inviter_id}`).join("\n")
        : "no invitations";
    },
  },
  accept: {
    usage: "pilot network accept <network_id>",
    summary: "accept an invitation",
    run: (c, args, timeoutMs) =>
      c.networkRespondInvite(ids(args, "pilot network accept <network_id>", false)[0], true, { timeoutMs }),
    text: (r) => `accepted the invitation to network ${r.network_id}`,
  },
  reject: {
    usage: "pilot network reject <network_id>",
    summary: "decline an invitation",
    run: (c, args, timeoutMs) =>
      c.networkRespondInvite(ids(args, "pilot network reject <network_id>", false)[0], false, { timeoutMs }),
    text: (r) => `declined the invitation to network ${r.network_id}`,
  },
  create: {
    usage:
      "pilot network create --name N [--join-rule open|token|invite] [--token T] [--enterprise] [--node-id N] [--network-admin-token T]",
    summary:
      "create a network (needs the admin token); this node becomes its owner unless --node-id says otherwise",
    run: (c, args, timeoutMs) => {
      const name = args.strings.get("name") ?? "";
      if (!name) throw new CliError("invalid_argument", "--name is required", `usage: ${SUBS.create.usage}`);
      noExtraArguments(args, 0, SUBS.create.usage);
      const rule = args.strings.get("join-rule") ?? "open";
      if (!(JOIN_RULES as readonly string[]).includes(rule)) {
        throw new CliError("invalid_argument", `--join-rule must be open, token or invite, not "${rule}"`);
      }
      const req: RegistryRequest = { type: "create_network", name, join_rule: rule };
      const token = args.strings.get("token");
      if (token) req.token = token;
      if (args.booleans.has("enterprise")) req.enterprise = true;
      const nodeId = args.strings.get("node-id");
      if (nodeId !== undefined) req.node_id = intFlag(args, "node-id", 0, 0, 0xffffffff);
      const netAdmin = args.strings.get("network-admin-token");
      if (netAdmin) req.network_admin_token = netAdmin;
      return registryRequest(c, req, { withToken: true, timeoutMs });
    },
    text: (r) => `created network ${r.network_id} (${r.name})`,
  },
  delete: {
    usage: "pilot network delete <network_id>",
    summary: "delete a network (owner, network admin token or admin token)",
    run: (c, args, timeoutMs) => {
      const [network_id] = ids(args, "pilot network delete <network_id>", false);
      return registryRequest(c, { type: "delete_network", network_id }, { withToken: true, timeoutMs });
    },
    text: (_r, args) => `deleted network ${args.positionals[0]}`,
  },
  rename: {
    usage: "pilot network rename <network_id> <new_name>",
    summary: "rename a network",
    run: (c, args, timeoutMs) => {
      const usage = "pilot network rename <network_id> <new_name>";
      const network_id = networkIdArg(args.positionals[0], usage);
      const name = args.positionals.slice(1).join(" ");
      if (!name) throw new CliError("invalid_argument", `usage: ${usage}`);
      return registryRequest(c, { type: "rename_network", network_id, name }, { withToken: true, timeoutMs });
    },
    text: (_r, args) => `renamed network ${args.positionals[0]} to ${args.positionals.slice(1).join(" ")}`,
  },
  promote: memberOp("promote_member", "promote", "make a member an admin of the network"),
  demote: memberOp("demote_member", "demote", "make an admin a plain member again"),
  kick: memberOp("kick_member", "kick", "remove a member from the network"),
  role: {
    usage: "pilot network role <network_id> <node_id>",
    summary: "a member's role (owner, admin or member)",
    run: (c, args, timeoutMs) => {
      const [network_id, target_node_id] = ids(args, "pilot network role <network_id> <node_id>", true);
      return registryRequest(c, { type: "get_member_role", network_id, target_node_id }, { timeoutMs });
    },
    text: (r, args) => `node ${args.positionals[1]} in network ${args.positionals[0]}: ${r.role}`,
  },
  policy: {
    usage: "pilot network policy <network_id> [--max-members N] [--description D] [--allowed-ports P1,P2]",
    summary: "show a network's policy, or set it with the flags",
    run: (c, args, timeoutMs) => {
      const [network_id] = ids(args, SUBS.policy.usage, false);
      const req: RegistryRequest = { type: "set_network_policy", network_id };
      const max = args.strings.get("max-members");
      if (max !== undefined) req.max_members = intFlag(args, "max-members", 0, 0, 1_000_000_000);
      const description = args.strings.get("description");
      if (description !== undefined) req.description = description;
      const ports = args.strings.get("allowed-ports");
      if (ports !== undefined) req.allowed_ports = portList(ports);
      if (Object.keys(req).length === 2) {
        return registryRequest(c, { type: "get_network_policy", network_id }, { timeoutMs });
      }
      return registryRequest(c, req, { withToken: true, timeoutMs });
    },
    text: (r) => {
      const ports = Array.isArray(r.allowed_ports) && r.allowed_ports.length
        ? r.allowed_ports.join(", ")
        : "any";
      return [
        `network      ${r.network_id}`,
        `max members  ${r.max_members ? r.max_members : "no limit"}`,
        `ports        ${ports}`,
        ...(r.description ? [`description  ${r.description}`] : []),
      ].join("\n");
    },
  },
};

function portList(text: string): number[] {
  if (text.trim() === "") return [];
  return text.split(",").map((p) => {
    const t = p.trim();
    if (!/^\d{1,5}$/.test(t) || Number(t) > 0xffff) {
      throw new CliError("invalid_argument", `--allowed-ports: "${t}" is not a port (0..65535)`);
    }
    return Number(t);
  });
}

const SUB_NAMES = Object.keys(SUBS);
/** Width of the synopsis column of `pilot network --help`; longer synopses put the summary below. */
const SYNOPSIS_WIDTH = 40;

function subHelp(sub: Sub): string {
  const synopsis = sub.usage.replace(/^pilot network /, "");
  if (synopsis.length <= SYNOPSIS_WIDTH) return `  ${synopsis.padEnd(SYNOPSIS_WIDTH)}  ${sub.summary}`;
  return `  ${synopsis}\n  ${"".padEnd(SYNOPSIS_WIDTH)}  ${sub.summary}`;
}

export const networkCommand: Command = {
  name: "network",
  summary: "Networks: list, join, leave, members, invitations; create and manage (owner/admin)",
  usage: [
    "pilot network <subcommand> [arguments] [--socket PATH] [--timeout DURATION] [--json]",
    "",
    "Subcommands:",
    ...SUB_NAMES.map((n) => subHelp(SUBS[n])),
    "",
    "Results are the registry's replies. create, delete, rename, promote, demote, kick and policy (set)",
    "are signed as this node (owner or admin of the network); PILOT_ADMIN_TOKEN, when set, is sent as",
    "the admin token (else the daemon's --admin-token). create needs the global admin token.",
  ].join("\n"),
  flags: {
    socket: "string",
    timeout: "string",
    token: "string",
    name: "string",
    "join-rule": "string",
    enterprise: "boolean",
    "node-id": "string",
    "network-admin-token": "string",
    "max-members": "string",
    description: "string",
    "allowed-ports": "string",
  },
  async run(argv, out) {
    const [subName, ...rest] = argv;
    const sub = subName !== undefined && Object.hasOwn(SUBS, subName) ? SUBS[subName] : undefined;
    if (!sub) {
      throw new CliError(
        "invalid_argument",
        subName === undefined || subName.startsWith("-")
          ? `network needs a subcommand: ${SUB_NAMES.join(", ")}`
          : `unknown network subcommand "${subName}" (valid: ${SUB_NAMES.join(", ")})`,
        "pilot network --help",
      );
    }
    const args = parseArgs(rest, this.flags);
    const timeoutMs = timeoutFlag(args, REGISTRY_REQUEST_TIMEOUT_MS);
    const reply = await withDaemon(args, (c) => sub.run(c, args, timeoutMs));
    printResult(out, reply, sub.text?.(reply, args));
    return 0;
  },
};

/** How often `pilot audit --follow` asks for new entries. */
export const AUDIT_FOLLOW_INTERVAL_MS = 1_000;

function auditLine(e: Record<string, unknown>): string {
  return [e.timestamp, e.action, e.actor, e.network_id ? `network ${e.network_id}` : "", e.details ?? ""]
    .filter((f) => f !== "").join("  ");
}

export const auditCommand: Command = {
  name: "audit",
  summary: "Show the registry's audit log (needs the admin token)",
  usage: [
    "pilot audit [--network N] [--limit N] [--follow] [--socket PATH] [--json]",
    "",
    "The newest entries of the registry's audit log, for one network or all (--network 0).",
    "--follow prints the log oldest first, then each new entry as it appears (polling every second),",
    "until interrupted; with --json, one entry object per line.",
    "The admin token is PILOT_ADMIN_TOKEN when set, else the daemon's --admin-token. Output keys: type, entries.",
  ].join("\n"),
  flags: { socket: "string", timeout: "string", network: "string", limit: "string", follow: "boolean" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    noExtraArguments(args, 0, "pilot audit [--network N] [--follow]");
    const req: RegistryRequest = { type: "get_audit_log" };
    const net = intFlag(args, "network", 0, 0, 0xffff);
    if (net) req.network_id = net;
    const limit = intFlag(args, "limit", 0, 0, 1_000_000);
    if (limit) req.limit = limit;
    const timeoutMs = timeoutFlag(args, REGISTRY_REQUEST_TIMEOUT_MS);
    if (args.booleans.has("follow")) return await followAudit(args, req, timeoutMs, out);
    const reply = await withDaemon(args, (c) => registryRequest(c, req, { withToken: true, timeoutMs }));
    const entries = Array.isArray(reply.entries) ? reply.entries as Record<string, unknown>[] : [];
    const text = entries.length ? entries.map(auditLine).join("\n") : "no audit entries";
    printResult(out, reply, text);
    return 0;
  },
};

/**
 * `pilot audit --follow`: polls `get_audit_log` and prints entries newer than the last one
 * printed (entries carry their event's sequence number; one event's entries share it and
 * arrive together). Stops at SIGINT/SIGTERM.
 */
async function followAudit(
  args: ParsedArgs,
  req: RegistryRequest,
  timeoutMs: number,
  out: Parameters<Command["run"]>[1],
): Promise<number> {
  let stopped = false;
  let wake: () => void = () => {};
  const stop = () => {
    stopped = true;
    wake();
  };
  const signals = stopSignals();
  for (const sig of signals) Deno.addSignalListener(sig, stop);
  try {
    await withDaemon(args, async (c) => {
      let last = -1;
      while (!stopped) {
        const reply = await registryRequest(c, { ...req, limit: req.limit ?? 1000 }, {
          withToken: true,
          timeoutMs,
        });
        const entries = (Array.isArray(reply.entries) ? reply.entries as Record<string, unknown>[] : [])
          .filter((e) => typeof e.seq === "number" && e.seq > last)
          .reverse();
        for (const e of entries) {
          out.stdout(out.json ? JSON.stringify(e) : auditLine(e));
          last = Math.max(last, e.seq as number);
        }
        if (last < 0) last = 0;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, AUDIT_FOLLOW_INTERVAL_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    });
  } finally {
    for (const sig of signals) Deno.removeSignalListener(sig, stop);
  }
  return 0;
}
