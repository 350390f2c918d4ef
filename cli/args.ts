/**
 * Command-line parsing with the reference pilotctl's syntax: `--k=v`, `--k v`, bare
 * `--k` for booleans, everything else positional, `--json` accepted anywhere. Unlike the
 * reference, each command declares its flags, so a boolean never swallows the positional
 * after it and an unknown flag is an error instead of being ignored.
 */
import { CliError } from "./output.ts";
import { parsePort } from "../lib/protocol/ports.ts";
import { errorMessage } from "../lib/errors.ts";

export type FlagKind = "string" | "boolean";

/** Flag name → kind. Names are written without the leading dashes. */
export type FlagSpec = Record<string, FlagKind>;

export interface ParsedArgs {
  positionals: string[];
  strings: Map<string, string>;
  booleans: Set<string>;
}

const TRUE_WORDS = new Set(["true", "1", ""]);
const FALSE_WORDS = new Set(["false", "0"]);

/** Parses `argv` against `spec`; throws CliError("invalid_argument") on unknown flags or missing values. */
export function parseArgs(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const out: ParsedArgs = { positionals: [], strings: new Map(), booleans: new Set() };
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (onlyPositionals || !token.startsWith("-") || token === "-" || /^-\d/.test(token)) {
      out.positionals.push(token);
      continue;
    }
    if (token === "--") {
      onlyPositionals = true;
      continue;
    }
    const body = token.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const kind = spec[name];
    if (kind === undefined) throw new CliError("invalid_argument", `unknown flag --${name}`);
    if (kind === "boolean") {
      if (inline === undefined || TRUE_WORDS.has(inline)) out.booleans.add(name);
      else if (FALSE_WORDS.has(inline)) out.booleans.delete(name);
      else throw new CliError("invalid_argument", `flag --${name} takes true or false, not "${inline}"`);
      continue;
    }
    if (inline !== undefined) {
      out.strings.set(name, inline);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) {
      throw new CliError("invalid_argument", `flag --${name} needs a value`);
    }
    out.strings.set(name, next);
    i++;
  }
  return out;
}

/** Integer flag value within [min, max], or `fallback` when absent. */
export function intFlag(args: ParsedArgs, name: string, fallback: number, min: number, max: number): number {
  const raw = args.strings.get(name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) {
    throw new CliError("invalid_argument", `--${name} must be a whole number, not "${raw}"`);
  }
  const value = Number(raw);
  if (value < min || value > max) {
    throw new CliError("invalid_argument", `--${name} must be between ${min} and ${max}, not ${value}`);
  }
  return value;
}

/**
 * Refuses positional arguments beyond the first `allowed` with CliError("invalid_argument")
 * naming the first extra one (`usage`, when given, becomes the hint). Returns the positionals.
 */
export function noExtraArguments(args: ParsedArgs, allowed = 0, usage?: string): string[] {
  if (args.positionals.length > allowed) {
    throw new CliError(
      "invalid_argument",
      `unexpected argument "${args.positionals[allowed]}"`,
      usage === undefined ? undefined : `usage: ${usage}`,
    );
  }
  return args.positionals;
}

/** A string flag that must be given and not be empty; CliError("invalid_argument") otherwise. */
export function requiredFlag(args: ParsedArgs, name: string): string {
  const value = args.strings.get(name) ?? "";
  if (value === "") throw new CliError("invalid_argument", `--${name} is required`);
  return value;
}

/** A virtual port argument (0..65535, decimal); CliError("invalid_argument") otherwise. */
export function portArg(text: string): number {
  try {
    return parsePort(text);
  } catch (err) {
    throw new CliError("invalid_argument", errorMessage(err));
  }
}

/**
 * Go-style duration (`500ms`, `30s`, `2m`, `1h`, combinations like `1m30s`) or bare seconds → milliseconds.
 */
export function parseDuration(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]];
    consumed += m[0].length;
  }
  if (consumed !== text.length || text.length === 0) {
    throw new CliError("invalid_argument", `invalid duration "${text}" (use e.g. 500ms, 30s, 2m)`);
  }
  return total;
}
