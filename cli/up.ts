/**
 * `pilot up` (`deno task start`): registry, beacon and daemon in one process with zero
 * configuration, printing the node's address, its HTTP status URL and the line that joins a
 * second node. Runs until SIGINT/SIGTERM.
 */
import { waitForStopSignal } from "./signals.ts";
import { scheduleMemoryRelease } from "../lib/daemon/resident_memory.ts";
import { join } from "../lib/paths.ts";
import type { Command } from "./command.ts";
import { noExtraArguments, parseArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { httpFlag, SERVER_FLAGS, serverFlagsUsage, serverLogger } from "./server_flags.ts";
import { argvWithConfig, configuredWebhook } from "./config_file.ts";
import { defaultStateDir } from "../lib/crypto/state_dir.ts";
import { type LocalNetwork, startLocalNetwork, UP_STATE_DIR_NAME } from "../lib/daemon/up.ts";
import { errorMessage } from "../lib/errors.ts";
import { formatHostPort } from "../lib/net/hostport.ts";
import { DEFAULT_LISTEN_PORT } from "../lib/daemon/config.ts";
import { installHint } from "./install_hint.ts";

const USAGE = `pilot up [flags]

Starts a complete Pilot network on this machine in one process: a registry (state on disk),
a beacon and this node's daemon, all on loopback. Prints the node's address, the status URL
and the command that joins a second node. Stop with Ctrl-C.

  --state DIR         state directory (default ~/.pilot/${UP_STATE_DIR_NAME}); the node keeps its address across runs
  --host IP           address to bind everything to (default 127.0.0.1)
  --socket PATH       IPC socket (default /tmp/pilot.sock, or <state>/pilot.sock when that one is taken)
  --private           require trust for incoming connections (default: any node of this network)
${serverFlagsUsage("status page; default 127.0.0.1:7380, or a free port when taken")}`;

export const upCommand: Command = {
  name: "up",
  summary: "Start registry, beacon and daemon in one process (zero configuration)",
  usage: USAGE,
  flags: {
    state: "string",
    host: "string",
    socket: "string",
    private: "boolean",
    ...SERVER_FLAGS,
  },
  async run(argv, out) {
    const args = parseArgs(argvWithConfig(argv, this.flags), this.flags);
    noExtraArguments(args);
    const s = args.strings;
    const http = httpFlag(args, s.get("host"));
    const log = serverLogger(args, "up");
    const stateDir = s.get("state") ?? join(defaultStateDir(), UP_STATE_DIR_NAME);
    let net: LocalNetwork;
    try {
      net = await startLocalNetwork({
        stateDir,
        host: s.get("host"),
        socketPath: s.get("socket"),
        http,
        public: !args.booleans.has("private"),
        webhook: configuredWebhook(stateDir),
        log,
      });
    } catch (err) {
      throw new CliError("internal", `pilot up failed: ${errorMessage(err)}`);
    }
    const d = net.daemon;
    const socketFlag = net.socketPath === "/tmp/pilot.sock" ? "" : ` --socket ${net.socketPath}`;
    const data = {
      node_id: d.nodeId,
      address: d.address.toString(),
      http: d.http?.url ?? null,
      status_url: d.http ? `${d.http.url}/` : null, // the status page; /status is its JSON
      registry: net.registryAddr,
      beacon: net.beaconAddr,
      tunnel: formatHostPort(d.tunnel.localAddress()),
      socket: net.socketPath,
      state: net.stateDir,
      second_node: net.secondNode,
    };
    const install = installHint();
    const hint = install.length ? [...install, ""] : [];
    printResult(
      out,
      { ...data, install: install.length ? install[1].trim() : null },
      [
        `pilot is up: node ${data.address} (id ${data.node_id})`,
        `  status    ${data.status_url ?? "HTTP off"}`,
        `  registry  ${data.registry}   beacon ${data.beacon}`,
        `  tunnel    udp ${data.tunnel}${
          d.tunnel.localAddress().port === DEFAULT_LISTEN_PORT
            ? ""
            : ` (port ${DEFAULT_LISTEN_PORT} was in use)`
        }`,
        `  socket    ${data.socket}   state ${data.state}`,
        "",
        ...hint,
        `Try it:     pilot info${socketFlag}     pilot ping ${data.node_id}${socketFlag}`,
        "Join a second node (another terminal):",
        `  ${data.second_node}`,
        `  then:     pilot ping ${data.node_id} --socket ${secondSocket(net.secondNode)}`,
        "",
        "Ctrl-C stops everything.",
      ].join("\n"),
    );
    const stopReleases = scheduleMemoryRelease(log);
    await waitForStopSignal();
    stopReleases();
    await net.close();
    return 0;
  },
};

function secondSocket(line: string): string {
  return /--socket (\S+)/.exec(line)?.[1] ?? "";
}
