/**
 * Trust commands over IPC Handshake (0x0F), with the reference pilotctl's arguments
 * (docs/protocol/cli.md §4.6): `handshake <node|address|hostname> [justification]`, `approve <node_id>`,
 * `reject <node_id> [reason]`, `untrust <node_id>`, `pending`, `trust`. Free text is the
 * rest of the positionals joined by spaces, so quoting is optional.
 */
import type { Command } from "./command.ts";
import { parseArgs, type ParsedArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { resolveTarget, timeoutFlag, withDaemon } from "./client.ts";
import { AddressError, parseAddressOrNodeId } from "../lib/protocol/address.ts";
import type { CallOptions, PendingHandshake, PilotClient, TrustedPeer } from "../lib/sdk/core.ts";
import { DEFAULT_HEARTBEAT_MS } from "../lib/daemon/config.ts";

/** How long a handshake request may take: the daemon dials the peer, then tries the registry. */
const HANDSHAKE_TIMEOUT_MS = 45_000;
/** How long the other trust commands wait for the daemon. */
const TRUST_TIMEOUT_MS = 15_000;

const FLAGS = { socket: "string", timeout: "string" } as const;

/** The node id in `text` (a decimal id or an address); CliError("invalid_argument") otherwise. */
function nodeIdArg(text: string | undefined, usage: string): number {
  if (text === undefined) throw new CliError("invalid_argument", `usage: ${usage}`);
  try {
    const node = parseAddressOrNodeId(text).node;
    if (node !== 0) return node;
  } catch (err) {
    if (!(err instanceof AddressError)) throw err;
  }
  throw new CliError("invalid_argument", `invalid node id "${text}"`, `usage: ${usage}`);
}

function rest(args: ParsedArgs): string {
  return args.positionals.slice(1).join(" ");
}

function when(unixSeconds: number): string {
  return unixSeconds ? new Date(unixSeconds * 1000).toISOString().replace(/\.000Z$/, "Z") : "-";
}

export const handshakeCommand: Command = {
  name: "handshake",
  summary: "Ask a node to trust this one (direct on port 444, else via the registry)",
  usage: [
    'pilot handshake <node_id|address|hostname> ["justification"] [--timeout DURATION] [--socket PATH] [--json]',
    "",
    "The peer's operator approves (or both nodes ask each other, or share a network, and",
    'trust is granted automatically). Result: {status:"sent", node_id}.',
  ].join("\n"),
  flags: FLAGS,
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [target] = args.positionals;
    if (!target) throw new CliError("invalid_argument", `usage: ${this.usage.split("\n")[0]}`);
    const timeoutMs = timeoutFlag(args, HANDSHAKE_TIMEOUT_MS);
    const reply = await withDaemon(args, async (client) => {
      const addr = await resolveTarget(client, target);
      return await client.handshake(addr.node, rest(args), { timeoutMs });
    });
    const node = "node_id" in reply ? reply.node_id : 0;
    const via = "via" in reply ? reply.via : undefined;
    printResult(out, reply, handshakeText(node, via));
    return 0;
  },
};

/** What happened to a trust request, and what the user waits for. */
function handshakeText(node: number, via: string | undefined): string {
  switch (via) {
    case "direct":
      return `handshake request sent to node ${node} directly; it is pending there until its operator ` +
        "approves it (`pilot approve <this node's id>`)";
    case "relay":
      return `node ${node} was not reachable directly, so the request went through the registry relay: ` +
        `node ${node} sees it at its next registry heartbeat (within ${DEFAULT_HEARTBEAT_MS / 1000} s ` +
        "with the default --heartbeat), then its operator approves it";
    case "mutual":
      return `node ${node} had asked too: both nodes now trust each other`;
    case "trusted":
      return `node ${node} is already trusted; nothing sent`;
    default:
      return `handshake request sent to node ${node}`;
  }
}

/**
 * A command whose one argument is a node id and whose work is one daemon call: approve, reject
 * and untrust differ only in the call, the result it prints and the words saying it was done.
 */
function nodeIdCommand(
  about: Pick<Command, "name" | "summary" | "usage">,
  done: string,
  act: (client: PilotClient, node: number, args: ParsedArgs, options: CallOptions) => Promise<unknown>,
): Command {
  return {
    ...about,
    flags: FLAGS,
    async run(argv, out) {
      const args = parseArgs(argv, this.flags);
      const node = nodeIdArg(args.positionals[0], this.usage);
      const result = await withDaemon(
        args,
        (c) => act(c, node, args, { timeoutMs: timeoutFlag(args, TRUST_TIMEOUT_MS) }),
      );
      printResult(out, result, `${done} ${node}`);
      return 0;
    },
  };
}

export const approveCommand: Command = nodeIdCommand(
  {
    name: "approve",
    summary: "Approve a pending trust request",
    usage: "pilot approve <node_id> [--socket PATH] [--json]",
  },
  "approved node",
  async (c, node, _args, options) => {
    // The daemon treats approving a node with nothing pending as success (docs/protocol/ipc.md §5.1); a user
    // who typed the wrong id must hear about it.
    const pending = await c.pendingHandshakes(options);
    if (!pending.some((p) => p.node_id === node)) {
      throw new CliError(
        "not_found",
        `nothing is pending from node ${node}: no trust request from it waits for approval`,
        "`pilot pending` lists the requests; the other node asks with `pilot handshake <your node id>`",
      );
    }
    return await c.approveHandshake(node, options);
  },
);

export const rejectCommand: Command = nodeIdCommand(
  {
    name: "reject",
    summary: "Reject a pending trust request",
    usage: 'pilot reject <node_id> ["reason"] [--socket PATH] [--json]',
  },
  "rejected node",
  (c, node, args, options) => c.rejectHandshake(node, rest(args), options),
);

export const untrustCommand: Command = nodeIdCommand(
  {
    name: "untrust",
    summary: "Revoke trust in a node (closes its connections, refuses new ones)",
    usage: "pilot untrust <node_id> [--socket PATH] [--json]",
  },
  "revoked trust in node",
  async (c, node, _args, options) => {
    await c.revokeTrust(node, options);
    return { node_id: node };
  },
);

export const pendingCommand: Command = {
  name: "pending",
  summary: "List trust requests waiting for approval",
  usage: "pilot pending [--socket PATH] [--json]",
  flags: FLAGS,
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const pending: PendingHandshake[] = await withDaemon(
      args,
      (c) => c.pendingHandshakes({ timeoutMs: timeoutFlag(args, TRUST_TIMEOUT_MS) }),
    );
    const text = pending.length
      ? pending.map((p) =>
        `node ${p.node_id}  received ${when(p.received_at)}${p.justification ? `  "${p.justification}"` : ""}`
      ).join("\n")
      : "no pending trust requests";
    printResult(out, { pending }, text);
    return 0;
  },
};

export const trustCommand: Command = {
  name: "trust",
  summary: "List the nodes this one trusts",
  usage: "pilot trust [--socket PATH] [--json]",
  flags: FLAGS,
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const trusted: TrustedPeer[] = await withDaemon(
      args,
      (c) => c.trustedPeers({ timeoutMs: timeoutFlag(args, TRUST_TIMEOUT_MS) }),
    );
    const text = trusted.length
      ? trusted.map((t) =>
        `node ${t.node_id}  since ${when(t.approved_at)}  ${t.mutual ? "mutual" : "approved"}${
          t.network ? `  via network ${t.network}` : ""
        }`
      ).join("\n")
      : "no trusted nodes";
    printResult(out, { trusted }, text);
    return 0;
  },
};

/** The trust commands in help order. */
export const TRUST_COMMANDS: readonly Command[] = [
  handshakeCommand,
  pendingCommand,
  approveCommand,
  rejectCommand,
  trustCommand,
  untrustCommand,
];
