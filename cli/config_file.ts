/**
 * The configuration file, `~/.pilot/config.json` (or `--config FILE`): one flat JSON object with
 * the reference's keys (`registry`, `beacon`, `socket`, `hostname`, `email`, `webhook`,
 * `admin_token`, `networks`, …). For a server command every key names a flag (hyphens may be
 * written as underscores) and applies when that flag is not on the command line; unknown keys are
 * ignored, as the reference does. `pilot init` and `pilot config --set` write it.
 */
import { dirname, join } from "../lib/paths.ts";
import type { FlagSpec } from "./args.ts";
import { CliError } from "./output.ts";
import { defaultStateDir } from "../lib/crypto/state_dir.ts";

/** The file's name inside the state directory. */
export const CONFIG_FILE_NAME = "config.json";

/** Environment variables that beat the file's key of the same meaning (docs/protocol/cli.md §1 order: flag, env, file). */
const ENV_OVER_FILE: Record<string, string> = {
  registry: "PILOT_REGISTRY",
  socket: "PILOT_SOCKET",
  "admin-token": "PILOT_ADMIN_TOKEN",
};

/** A parsed configuration file. */
export type ConfigValues = Record<string, unknown>;

/** `~/.pilot/config.json`. */
export function defaultConfigPath(): string {
  return join(defaultStateDir(), CONFIG_FILE_NAME);
}

/**
 * Reads a configuration file. A missing file is an empty configuration unless `required` (a
 * path the user named); malformed JSON or a non-object is an error naming the file.
 */
export function readConfigFile(path: string, required = false): ConfigValues {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && !required) return {};
    throw new CliError(
      err instanceof Deno.errors.NotFound ? "not_found" : "internal",
      `--config ${path}: ${err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError("invalid_argument", `--config ${path}: not valid JSON (${(err as Error).message})`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new CliError("invalid_argument", `--config ${path}: must hold a JSON object`);
  }
  return parsed as ConfigValues;
}

/** Writes `values` as indented JSON, the directory 0700 and the file 0600 (it may hold the admin token). */
export function writeConfigFile(path: string, values: ConfigValues): void {
  try {
    Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    Deno.writeTextFileSync(path, JSON.stringify(values, null, 2) + "\n", { mode: 0o600 });
  } catch (err) {
    throw new CliError("internal", `cannot write ${path}: ${(err as Error).message}`);
  }
}

/** The value of string flag `name` in unparsed `argv` (`--name V` or `--name=V`; the last wins), if present. */
export function flagValue(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i];
    if (t === "--") break;
    if (t === `--${name}` || t === `-${name}`) value = argv[++i] ?? "";
    else if (t.startsWith(`--${name}=`) || t.startsWith(`-${name}=`)) value = t.slice(t.indexOf("=") + 1);
  }
  return value;
}

/**
 * Flag tokens (`--key=value`) for the file's keys that `spec` knows, to be placed before the
 * command line's own tokens so that a flag given there wins. Keys whose environment variable is
 * set are left out (the variable wins over the file). Values: strings as written, numbers in
 * decimal, booleans `true`/`false`, arrays joined with commas (`networks: [1, 2]`).
 */
export function configTokens(values: ConfigValues, spec: FlagSpec, source: string): string[] {
  const tokens: string[] = [];
  for (const [rawKey, value] of Object.entries(values)) {
    const key = rawKey.replaceAll("_", "-");
    const kind = spec[key];
    if (kind === undefined || key === "config" || value === null || value === undefined) continue;
    if (ENV_OVER_FILE[key] && envSet(ENV_OVER_FILE[key])) continue;
    let text: string;
    if (typeof value === "string") text = value;
    else if (typeof value === "number" || typeof value === "boolean") text = String(value);
    else if (Array.isArray(value) && value.every((v) => typeof v === "number" || typeof v === "string")) {
      text = value.join(",");
    } else {
      throw new CliError(
        "invalid_argument",
        `${source}: key "${rawKey}" must be a string, number or boolean`,
      );
    }
    if (kind === "boolean" && !/^(true|false|1|0)$/.test(text)) {
      throw new CliError(
        "invalid_argument",
        `${source}: key "${rawKey}" must be true or false, got "${text}"`,
      );
    }
    if (kind === "string" && text === "") continue; // an empty value means "not set", as in the reference
    tokens.push(`--${key}=${text}`);
  }
  return tokens;
}

/**
 * `argv` with the configuration file's settings in front: the file named by `--config`, else
 * `defaultPath` when given (a missing default file is no error). Server commands call this
 * before parsing their flags.
 */
export function argvWithConfig(argv: readonly string[], spec: FlagSpec, defaultPath?: string): string[] {
  const named = flagValue(argv, "config");
  if (named === "") throw new CliError("invalid_argument", "--config needs a file name");
  const path = named ?? defaultPath;
  if (path === undefined) return [...argv];
  return [...configTokens(readConfigFile(path, named !== undefined), spec, path), ...argv];
}

/** A string value of the default configuration file, if set (e.g. `socket` for client commands). */
export function configuredString(key: string): string | undefined {
  try {
    const value = readConfigFile(defaultConfigPath())[key];
    return typeof value === "string" && value ? value : undefined;
  } catch {
    return undefined;
  }
}

function envSet(name: string): boolean {
  try {
    return !!Deno.env.get(name);
  } catch {
    return false;
  }
}

/** An environment variable, or `fallback` when unset or not permitted. */
export function envOr(name: string, fallback: string): string {
  try {
    return Deno.env.get(name) || fallback;
  } catch {
    return fallback;
  }
}

/** The webhook URL stored in `<stateDir>/config.json`, if any (read by `pilot daemon`). */
export function configuredWebhook(stateDir: string): string | undefined {
  try {
    const cfg = JSON.parse(Deno.readTextFileSync(join(stateDir, CONFIG_FILE_NAME)));
    return typeof cfg?.webhook === "string" && cfg.webhook ? cfg.webhook : undefined;
  } catch {
    return undefined;
  }
}
