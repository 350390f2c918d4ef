/**
 * The flags every server command (`daemon`, `up`, `registry`, `beacon`) shares, parsed one
 * way: `--http HOST:PORT|:PORT|off`, `--log-level`, `--log-format text|json`, `--config FILE`
 * (cli/config_file.ts: a JSON object of flag settings that the command line overrides).
 */
import type { FlagSpec, ParsedArgs } from "./args.ts";
import { CliError } from "./output.ts";
import { type HostPort, parseHostPort } from "../lib/net/hostport.ts";
import { parseHostNames } from "../lib/http/host_check.ts";
import { LOG_LEVELS, LogConfigError, Logger, parseLogFormat, parseLogLevel } from "../lib/log.ts";

export const SERVER_FLAGS: FlagSpec = {
  http: "string",
  "http-host": "string",
  "log-level": "string",
  "log-format": "string",
  config: "string",
};

/** Help lines for {@link SERVER_FLAGS}; `httpDefault` says what happens without --http. */
export function serverFlagsUsage(httpDefault: string): string {
  return [
    `  --http HOST:PORT|:PORT|off  HTTP endpoint (${httpDefault}); :PORT binds loopback`,
    "  --http-host NAME,...    extra names --http answers to (Host header); loopback names and the",
    "                          bound address always, anything else gets 421",
    `  --log-level LEVEL       ${
      LOG_LEVELS.filter((l) => l !== "silent").join(", ")
    } (default warn, or PILOT_LOG)`,
    "  --log-format FORMAT     text (logfmt, default) or json (one object per line), on stderr",
    "  --config FILE           JSON object of flag settings (keys are flag names, _ for -); flags win",
  ].join("\n");
}

/**
 * `--http`: undefined when absent, null for `off`, else the address (`:PORT` means
 * `defaultHost:PORT`). CliError("invalid_argument") on anything else.
 */
export function httpFlag(args: ParsedArgs, defaultHost = "127.0.0.1"): HostPort | null | undefined {
  const text = args.strings.get("http");
  if (text === undefined) return undefined;
  if (text === "off") return null;
  try {
    return parseHostPort(/^:\d+$/.test(text) ? `${defaultHost}${text}` : text, "--http");
  } catch {
    throw new CliError("invalid_argument", `--http must be HOST:PORT, :PORT or off, got "${text}"`);
  }
}

/** `--http-host`: the extra Host names the HTTP endpoint answers to (none when absent). */
export function httpHostsFlag(args: ParsedArgs): string[] {
  try {
    return parseHostNames(args.strings.get("http-host") ?? "", "--http-host");
  } catch (err) {
    throw new CliError("invalid_argument", err instanceof Error ? err.message : String(err));
  }
}

/** A logger for `component` at `--log-level` (else PILOT_LOG) in `--log-format`. */
export function serverLogger(args: ParsedArgs, component: string): Logger {
  try {
    const level = args.strings.get("log-level");
    const format = args.strings.get("log-format");
    return new Logger(
      component,
      level === undefined ? undefined : parseLogLevel(level, "--log-level"),
      undefined,
      format === undefined ? "text" : parseLogFormat(format, "--log-format"),
    );
  } catch (err) {
    if (err instanceof LogConfigError) throw new CliError("invalid_argument", err.message);
    throw err;
  }
}
