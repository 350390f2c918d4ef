/**
 * Every `pilot` command, in the order `pilot --help` lists them: its name and summary, and how to
 * load the module that implements it. A command's module is imported only when that command runs
 * (or its usage is shown), so `pilot daemon` does not load the registry, beacon, admin or setup
 * commands' code: each module loaded costs resident memory for as long as the process runs
 * (docs/benchmarks.md, "Daemon footprint").
 *
 * Adding a command: export its `Command` from its module as before, and add a row here,
 * `entry("name", "summary", () => import("./x.ts").then((m) => m.xCommand))`, with the same name
 * and summary as the `Command` (tests/cli_test.ts checks that every row matches what it loads). A
 * module exporting several commands as an array may return the array; the row's name picks one.
 */
import type { Command } from "./command.ts";

/** A row of the command table: enough for `pilot --help`, and how to load the rest. */
export interface CommandEntry {
  /** The word after `pilot`. */
  readonly name: string;
  /** One line for `pilot --help` (the same as the loaded command's). */
  readonly summary: string;
  /** Imports the command's module and returns the command. */
  load(): Promise<Command>;
}

function entry(
  name: string,
  summary: string,
  load: () => Promise<Command | readonly Command[]>,
): CommandEntry {
  return {
    name,
    summary,
    async load() {
      const loaded = await load();
      const command = "name" in loaded ? loaded : loaded.find((c) => c.name === name);
      if (command?.name !== name) {
        throw new Error(`cli/commands.ts: the module for "${name}" does not export it`);
      }
      return command;
    },
  };
}

export const COMMAND_TABLE: readonly CommandEntry[] = [
  entry(
    "up",
    "Start registry, beacon and daemon in one process (zero configuration)",
    () => import("./up.ts").then((m) => m.upCommand),
  ),
  entry(
    "init",
    "Write the configuration file (~/.pilot/config.json) the daemon starts from",
    () => import("./setup.ts").then((m) => m.initCommand),
  ),
  entry(
    "config",
    "Show the configuration file, or set one key (--set key=value)",
    () => import("./setup.ts").then((m) => m.configCommand),
  ),
  entry(
    "daemon",
    "Run this node's daemon (tunnel, streams, IPC socket, HTTP health)",
    () => import("./daemon.ts").then((m) => m.daemonCommand),
  ),
  entry(
    "down",
    "Stop the background daemon (daemon stop)",
    () => import("./lifecycle.ts").then((m) => m.downCommand),
  ),
  entry(
    "status",
    "Summarise this node: registry, health, peers (path, RTT), connections, trust",
    () => import("./node_status.ts").then((m) => m.nodeStatusCommand),
  ),
  entry(
    "info",
    "Show the daemon's node, peers and connections (IPC Info)",
    () => import("./status.ts").then((m) => m.infoCommand),
  ),
  entry(
    "health",
    "Check the daemon for cron: exit 0 healthy, 1 degraded, 2 down",
    () => import("./status.ts").then((m) => m.healthCommand),
  ),
  entry(
    "peers",
    "List the tunnel peers (optionally those matching --search)",
    () => import("./diagnostics.ts").then((m) => m.peersCommand),
  ),
  entry(
    "connections",
    "List the daemon's connections with their transport state",
    () => import("./diagnostics.ts").then((m) => m.connectionsCommand),
  ),
  entry(
    "disconnect",
    "Close one of the daemon's connections by id (see pilot connections)",
    () => import("./diagnostics.ts").then((m) => m.disconnectCommand),
  ),
  entry(
    "ping",
    "Measure round trips to a node's echo port",
    () => import("./ping.ts").then((m) => m.pingCommand),
  ),
  entry(
    "traceroute",
    "Time connection setup and echo round trips to a node (one overlay hop)",
    () => import("./diagnostics.ts").then((m) => m.tracerouteCommand),
  ),
  entry(
    "bench",
    "Measure stream throughput through a node's echo port",
    () => import("./bench.ts").then((m) => m.benchCommand),
  ),
  entry(
    "connect",
    "Dial a port, send a message and print the reply",
    () => import("./connect.ts").then((m) => m.connectCommand),
  ),
  entry(
    "listen",
    "Print datagrams arriving for a port",
    () => import("./connect.ts").then((m) => m.listenCommand),
  ),
  entry(
    "send",
    "Send one message to a port and print the reply",
    () => import("./stdio.ts").then((m) => m.sendCommand),
  ),
  entry(
    "recv",
    "Accept connections on a port and print one message from each",
    () => import("./stdio.ts").then((m) => m.recvCommand),
  ),
  entry(
    "send-message",
    "Send a text, JSON or binary message to a node's inbox (port 1001)",
    () => import("./dataexchange.ts").then((m) => m.sendMessageCommand),
  ),
  entry(
    "send-file",
    "Send a file of any size to a node's received directory (port 1001)",
    () => import("./dataexchange.ts").then((m) => m.sendFileCommand),
  ),
  entry(
    "inbox",
    "List (or --clear) messages received over data exchange",
    () => import("./mailbox.ts").then((m) => m.inboxCommand),
  ),
  entry(
    "received",
    "List (or --clear) files received over data exchange",
    () => import("./mailbox.ts").then((m) => m.receivedCommand),
  ),
  entry(
    "subscribe",
    "Subscribe to a topic on a node's event stream (port 1002; * for all)",
    () => import("./eventstream.ts").then((m) => m.subscribeCommand),
  ),
  entry(
    "publish",
    "Publish an event to a topic on a node's event stream (port 1002)",
    () => import("./eventstream.ts").then((m) => m.publishCommand),
  ),
  entry(
    "handshake",
    "Ask a node to trust this one (direct on port 444, else via the registry)",
    () => import("./trust.ts").then((m) => m.handshakeCommand),
  ),
  entry(
    "pending",
    "List trust requests waiting for approval",
    () => import("./trust.ts").then((m) => m.pendingCommand),
  ),
  entry(
    "approve",
    "Approve a pending trust request",
    () => import("./trust.ts").then((m) => m.approveCommand),
  ),
  entry("reject", "Reject a pending trust request", () => import("./trust.ts").then((m) => m.rejectCommand)),
  entry("trust", "List the nodes this one trusts", () => import("./trust.ts").then((m) => m.trustCommand)),
  entry(
    "untrust",
    "Revoke trust in a node (closes its connections, refuses new ones)",
    () => import("./trust.ts").then((m) => m.untrustCommand),
  ),
  entry(
    "register",
    "Register this node with the registry again (its own endpoint and key)",
    () => import("./node_admin.ts").then((m) => m.registerCommand),
  ),
  entry(
    "lookup",
    "Show what the registry knows about a node",
    () => import("./node_admin.ts").then((m) => m.lookupCommand),
  ),
  entry(
    "set-public",
    "Make this node public (its endpoint visible to every node)",
    () => import("./node_admin.ts").then((m) => m.setPublicCommand),
  ),
  entry(
    "set-private",
    "Make this node private (endpoint only for trusted peers and shared networks)",
    () => import("./node_admin.ts").then((m) => m.setPrivateCommand),
  ),
  entry(
    "deregister",
    "Remove this node from the registry (the daemon registers again if it keeps running)",
    () => import("./node_admin.ts").then((m) => m.deregisterCommand),
  ),
  entry("find", "Find a node by hostname", () => import("./node_admin.ts").then((m) => m.findCommand)),
  entry(
    "set-hostname",
    "Give this node a hostname in the registry",
    () => import("./node_admin.ts").then((m) => m.setHostnameCommand),
  ),
  entry(
    "clear-hostname",
    "Remove this node's hostname",
    () => import("./node_admin.ts").then((m) => m.clearHostnameCommand),
  ),
  entry(
    "set-tags",
    "Set this node's tags (1 to 3; replaces the old ones)",
    () => import("./node_admin.ts").then((m) => m.setTagsCommand),
  ),
  entry(
    "clear-tags",
    "Remove this node's tags",
    () => import("./node_admin.ts").then((m) => m.clearTagsCommand),
  ),
  entry(
    "rotate-key",
    "Replace the node's key at the registry and in identity.json (daemon stopped)",
    () => import("./rotate_key.ts").then((m) => m.rotateKeyCommand),
  ),
  entry(
    "network",
    "Networks: list, join, leave, members, invitations; create and manage (owner/admin)",
    () => import("./network.ts").then((m) => m.networkCommand),
  ),
  entry(
    "audit",
    "Show the registry's audit log (needs the admin token)",
    () => import("./network.ts").then((m) => m.auditCommand),
  ),
  entry(
    "audit-export",
    "Configure where the registry exports its audit log (needs the admin token)",
    () => import("./audit_export.ts").then((m) => m.auditExportCommand),
  ),
  entry(
    "audit-webhook",
    "The registry's audit webhook and its dead-letter queue (needs the admin token)",
    () => import("./audit_export.ts").then((m) => m.auditWebhookCommand),
  ),
  entry(
    "provision",
    "Provision a network from a JSON blueprint (needs the admin token)",
    () => import("./identity_admin.ts").then((m) => m.provisionCommand),
  ),
  entry(
    "provision-status",
    "Show provisioned networks, pre-assignments and the IdP (needs the admin token)",
    () => import("./identity_admin.ts").then((m) => m.provisionStatusCommand),
  ),
  entry(
    "idp",
    "Show or set the registry's identity provider (needs the admin token)",
    () => import("./identity_admin.ts").then((m) => m.idpCommand),
  ),
  entry(
    "directory-sync",
    "Push a directory (users, roles, disabled accounts) to a network (needs the admin token)",
    () => import("./identity_admin.ts").then((m) => m.directorySyncCommand),
  ),
  entry(
    "directory-status",
    "Show a network's directory mapping (needs the admin token)",
    () => import("./identity_admin.ts").then((m) => m.directoryStatusCommand),
  ),
  entry(
    "registry",
    "Run the registry (the network's directory service)",
    () => import("./registry.ts").then((m) => m.registryCommand),
  ),
  entry(
    "beacon",
    "Run the NAT-traversal beacon (discovery, hole punching, relay)",
    () => import("./beacon.ts").then((m) => m.beaconCommand),
  ),
  entry(
    "identity",
    "Create or show this node's Ed25519 identity (kept in the state directory)",
    () => import("./identity.ts").then((m) => m.identityCommand),
  ),
  entry(
    "task",
    "Submit tasks to other nodes and work on the ones you receive",
    () => import("./task.ts").then((m) => m.taskCommand),
  ),
  entry(
    "enable-tasks",
    "Advertise in the registry that this node executes tasks",
    () => import("./task.ts").then((m) => m.enableTasksCommand),
  ),
  entry(
    "disable-tasks",
    "Stop advertising that this node executes tasks",
    () => import("./task.ts").then((m) => m.disableTasksCommand),
  ),
  entry(
    "set-webhook",
    "POST the daemon's events to a URL",
    () => import("./webhook.ts").then((m) => m.setWebhookCommand),
  ),
  entry(
    "clear-webhook",
    "Stop POSTing the daemon's events",
    () => import("./webhook.ts").then((m) => m.clearWebhookCommand),
  ),
  entry(
    "nameserver",
    "Run a nameserver: a daemon that serves name records on port 53",
    () => import("./nameserver.ts").then((m) => m.nameserverCommand),
  ),
  entry(
    "ns",
    "Query or register names at a nameserver",
    () => import("./nameserver.ts").then((m) => m.nsCommand),
  ),
  entry(
    "service",
    "Install or remove a systemd unit that runs the daemon",
    () => import("./service.ts").then((m) => m.serviceCommand),
  ),
  entry(
    "completion",
    "Print a shell completion script (bash, zsh or fish)",
    () => import("./completion.ts").then((m) => m.completionCommand),
  ),
  entry(
    "context",
    "Describe every command, error code and setting as JSON (for agents and scripts)",
    () => import("./setup.ts").then((m) => m.contextCommand),
  ),
  entry(
    "gateway",
    "Give overlay nodes local IPs that unmodified TCP programs can reach",
    () => import("./gateway.ts").then((m) => m.gatewayCommand),
  ),
  entry(
    "expose",
    "Serve a local TCP service on an overlay port (the gateway's other half)",
    () => import("./gateway.ts").then((m) => m.exposeCommand),
  ),
  entry(
    "unexpose",
    "Stop serving an exposed overlay port",
    () => import("./gateway.ts").then((m) => m.unexposeCommand),
  ),
  entry(
    "exposed",
    "List the overlay ports the daemon bridges to local TCP services",
    () => import("./gateway.ts").then((m) => m.exposedCommand),
  ),
  entry(
    "version",
    "Print the program, protocol and runtime versions",
    () => import("./version.ts").then((m) => m.versionCommand),
  ),
];

/** The table row named `name`, if there is one. */
export function findCommand(name: string): CommandEntry | undefined {
  return COMMAND_TABLE.find((c) => c.name === name);
}

/** Loads every command (for completion scripts and `pilot context`, which describe them all). */
export function loadCommands(): Promise<Command[]> {
  return Promise.all(COMMAND_TABLE.map((c) => c.load()));
}
