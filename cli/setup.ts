/**
 * The reference's bootstrap commands (docs/protocol/cli.md §4.1): `pilot init` writes the configuration file,
 * `pilot config` shows or changes it, `pilot context` describes every command for programs.
 */
import { join } from "../lib/paths.ts";
import type { Command } from "./command.ts";
import { parseArgs } from "./args.ts";
import { CliError, type ErrorCode, printResult } from "./output.ts";
import { envOr, socketPath } from "./client.ts";
import { loadCommands } from "./commands.ts";
import { type ConfigValues, defaultConfigPath, readConfigFile, writeConfigFile } from "./config_file.ts";
import { LOG_FILE_NAME, PID_FILE_NAME } from "./lifecycle.ts";
import { DEFAULT_SOCKET_PATH } from "../lib/daemon/config.ts";
import { defaultStateDir } from "../lib/crypto/state_dir.ts";
import { parseHostPort } from "../lib/net/hostport.ts";

/** Registry `init` writes when neither a flag nor the file names one (ours, loopback; see README). */
export const INIT_DEFAULT_REGISTRY = "127.0.0.1:9000";
/** Beacon `init` writes by default (the reference's). */
export const INIT_DEFAULT_BEACON = "127.0.0.1:9001";
/** Catalogue version `pilot context` reports (the reference's). */
export const CONTEXT_VERSION = "1.2";

const CONFIG_FLAG_USAGE = "--config FILE   the configuration file (default ~/.pilot/config.json)";

export const initCommand: Command = {
  name: "init",
  summary: "Write the configuration file (~/.pilot/config.json) the daemon starts from",
  usage: [
    "pilot init [--registry HOST:PORT] [--beacon HOST:PORT] [--hostname NAME] [--socket PATH]",
    "           [--email ADDR] [--config FILE] [--json]",
    "",
    "Merges the given settings into the configuration file; registry, beacon and socket get",
    `their defaults (${INIT_DEFAULT_REGISTRY}, ${INIT_DEFAULT_BEACON}, ${DEFAULT_SOCKET_PATH}) when neither`,
    "a flag nor the file sets them. `pilot daemon` and `pilot daemon start` read the file; their",
    "flags override it.",
    `  ${CONFIG_FLAG_USAGE}`,
    "Output keys: config_path, registry, beacon, socket, hostname.",
  ].join("\n"),
  flags: {
    registry: "string",
    beacon: "string",
    hostname: "string",
    socket: "string",
    email: "string",
    config: "string",
  },
  run(argv, out) {
    const args = parseArgs(argv, this.flags);
    rejectPositionals(args.positionals);
    const path = args.strings.get("config") ?? defaultConfigPath();
    const values = readConfigFile(path);
    const s = args.strings;
    const pick = (key: string, fallback: string): string =>
      s.get(key) ?? (typeof values[key] === "string" && values[key] ? values[key] as string : fallback);
    const registry = pick("registry", INIT_DEFAULT_REGISTRY);
    const beacon = pick("beacon", INIT_DEFAULT_BEACON);
    for (const [flag, value] of [["--registry", registry], ["--beacon", beacon]]) {
      try {
        parseHostPort(value, flag);
      } catch (err) {
        throw new CliError("invalid_argument", (err as Error).message);
      }
    }
    const merged: ConfigValues = { ...values, registry, beacon, socket: pick("socket", DEFAULT_SOCKET_PATH) };
    if (s.has("hostname")) Object.assign(merged, { hostname: s.get("hostname") });
    if (s.has("email")) Object.assign(merged, { email: s.get("email") });
    writeConfigFile(path, merged);
    const data = {
      config_path: path,
      registry: merged.registry,
      beacon: merged.beacon,
      socket: merged.socket,
      hostname: typeof merged.hostname === "string" ? merged.hostname : "",
    };
    printResult(
      out,
      data,
      `wrote ${path}\n  registry ${data.registry}  beacon ${data.beacon}  socket ${data.socket}` +
        `${data.hostname ? `  hostname ${data.hostname}` : ""}\nnext: pilot daemon start`,
    );
    return Promise.resolve(0);
  },
};

export const configCommand: Command = {
  name: "config",
  summary: "Show the configuration file, or set one key (--set key=value)",
  usage: [
    "pilot config [--set KEY=VALUE] [--config FILE] [--json]",
    "",
    "Without --set: the file's settings plus config_path, pid_file, log_file and the effective",
    "registry and socket (flags > PILOT_REGISTRY/PILOT_SOCKET > file > default).",
    "With --set: stores VALUE (as a string; an empty VALUE removes the key) → key, value.",
    "Keys are the daemon's flag names (_ or -): registry, beacon, socket, hostname, email, webhook,",
    "admin_token, networks, listen, identity, public, log_level, …",
    `  ${CONFIG_FLAG_USAGE}`,
  ].join("\n"),
  flags: { set: "string", config: "string", socket: "string" },
  run(argv, out) {
    const args = parseArgs(argv, this.flags);
    rejectPositionals(args.positionals);
    const path = args.strings.get("config") ?? defaultConfigPath();
    const values = readConfigFile(path);
    const set = args.strings.get("set");
    if (set !== undefined) {
      const eq = set.indexOf("=");
      const key = eq > 0 ? set.slice(0, eq).trim() : "";
      if (!key) throw new CliError("invalid_argument", `--set needs KEY=VALUE, got "${set}"`);
      const value = set.slice(eq + 1);
      if (value === "") delete values[key];
      else values[key] = value;
      writeConfigFile(path, values);
      printResult(
        out,
        { key, value },
        value === "" ? `removed ${key} from ${path}` : `${key} = ${value}  (${path})`,
      );
      return Promise.resolve(0);
    }
    const state = defaultStateDir();
    const fileRegistry = typeof values.registry === "string" && values.registry ? values.registry : undefined;
    const data = {
      ...values,
      config_path: path,
      pid_file: join(state, PID_FILE_NAME),
      log_file: join(state, LOG_FILE_NAME),
      registry: envOr("PILOT_REGISTRY", fileRegistry ?? INIT_DEFAULT_REGISTRY),
      socket: socketPath(args),
    };
    printResult(out, data);
    return Promise.resolve(0);
  },
};

/** The error codes `context` advertises (the reference lists these seven). */
const CONTEXT_ERROR_CODES: Record<string, string> = {
  invalid_argument: "bad input or usage; do not retry (exit 64)",
  not_found: "name, file or task not found, hostname not resolvable",
  already_exists: "daemon already running",
  not_running: "daemon not running (start it: pilot daemon start)",
  connection_failed: "IPC, registry or peer failure; may retry",
  timeout: "operation timed out; retry with a longer --timeout",
  internal: "unexpected local failure",
} satisfies Partial<Record<ErrorCode, string>>;

export const contextCommand: Command = {
  name: "context",
  summary: "Describe every command, error code and setting as JSON (for agents and scripts)",
  usage:
    "pilot context [--json]\n\nPrints {version, commands{name: {args, description, returns}}, error_codes, " +
    "global_flags, environment, config_file}.",
  flags: {},
  async run(argv, out) {
    rejectPositionals(parseArgs(argv, this.flags).positionals);
    const commands: Record<string, { args: string[]; description: string; returns: string }> = {};
    for (const c of await loadCommands()) {
      const synopsis = c.usage.split("\n")[0].replace(/^pilot\s+\S+\s*/, "");
      commands[c.name] = {
        args: synopsis ? synopsis.split(/\s+(?=[<[(-])/).filter(Boolean) : [],
        description: c.summary,
        returns: /Output keys[^:]*: ([^\n]+(?:\n(?!\n)[^\n]+)*)/.exec(c.usage)?.[1].replace(/\s+/g, " ") ??
          "",
      };
    }
    const data = {
      version: CONTEXT_VERSION,
      commands,
      error_codes: CONTEXT_ERROR_CODES,
      global_flags: {
        "--json":
          "one-line JSON envelope {status, data} on stdout; errors {status, code, message, hint} on stderr",
      },
      environment: {
        PILOT_SOCKET: `IPC socket (default: config socket, else ${DEFAULT_SOCKET_PATH})`,
        PILOT_REGISTRY: `registry (default: config registry, else ${INIT_DEFAULT_REGISTRY})`,
        PILOT_ADMIN_TOKEN: "admin token (default: config admin_token)",
        PILOT_LOG: "log level: debug, info, warn, error",
      },
      config_file: defaultConfigPath(),
    };
    printResult(out, data, JSON.stringify(data, null, 2));
    return 0;
  },
};

function rejectPositionals(positionals: string[]): void {
  if (positionals.length) throw new CliError("invalid_argument", `unexpected argument "${positionals[0]}"`);
}
