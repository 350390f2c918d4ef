/**
 * Structured, levelled logging. Quiet by default (warn and above); the level comes
 * from the caller (CLI flag) or PILOT_LOG. Lines go to stderr so that stdout stays clean
 * for command output and `--json`: logfmt by default, or one JSON object per line.
 */
import { PilotError } from "./errors.ts";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Line formats: logfmt (`text`) or one JSON object per line (`json`, for log collectors). */
export type LogFormat = "text" | "json";

export const LOG_LEVELS: readonly LogLevel[] = Object.keys(RANK) as LogLevel[];
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

export type LogFields = Record<string, unknown>;

/** A log level or format setting was not one of the allowed values. */
export class LogConfigError extends PilotError {}

/** A logger bound to a component name, a minimum level and a line format. */
export class Logger {
  constructor(
    readonly component: string,
    private readonly min: LogLevel = defaultLevel(),
    private readonly sink: (line: string) => void = writeStderr,
    readonly format: LogFormat = "text",
  ) {}

  /** A logger for a sub-component sharing this one's level, sink and format. */
  child(component: string): Logger {
    return new Logger(`${this.component}.${component}`, this.min, this.sink, this.format);
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.min];
  }

  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }

  private log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    if (this.format === "json") {
      const record: Record<string, string> = {
        ts: new Date().toISOString(),
        level,
        comp: this.component,
        msg,
      };
      if (fields) { for (const [k, v] of Object.entries(fields)) record[k] ??= formatValue(v); }
      this.sink(JSON.stringify(record));
      return;
    }
    let line = `ts=${new Date().toISOString()} level=${level} comp=${this.component} msg=${quote(msg)}`;
    if (fields) { for (const [k, v] of Object.entries(fields)) line += ` ${k}=${quote(formatValue(v))}`; }
    this.sink(line);
  }
}

/** The level named by PILOT_LOG, or "warn" (an invalid value is refused by {@link checkLogEnv}). */
export function defaultLevel(): LogLevel {
  const env = logEnv();
  return isLogLevel(env) ? env : "warn";
}

export function isLogLevel(v: unknown): v is LogLevel {
  return typeof v === "string" && Object.hasOwn(RANK, v);
}

/** `text` as a level; LogConfigError naming `setting` and the allowed values otherwise. */
export function parseLogLevel(text: string, setting: string): LogLevel {
  if (isLogLevel(text)) return text;
  throw new LogConfigError(`${setting}: unknown log level "${text}" (use one of ${LOG_LEVELS.join(", ")})`);
}

/** `text` as a line format; LogConfigError naming `setting` and the allowed values otherwise. */
export function parseLogFormat(text: string, setting: string): LogFormat {
  if ((LOG_FORMATS as readonly string[]).includes(text)) return text as LogFormat;
  throw new LogConfigError(`${setting}: unknown log format "${text}" (use ${LOG_FORMATS.join(" or ")})`);
}

/** Throws LogConfigError when PILOT_LOG is set to something that is not a level. */
export function checkLogEnv(): void {
  const env = logEnv();
  if (env) parseLogLevel(env, "PILOT_LOG");
}

function logEnv(): string | undefined {
  try {
    return Deno.env.get("PILOT_LOG");
  } catch {
    return undefined; // no env permission: stay quiet
  }
}

function formatValue(v: unknown): string {
  if (v instanceof Error) return v.message;
  if (typeof v === "string") return v;
  if (typeof v === "bigint") return v.toString();
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function quote(s: string): string {
  return /^[\w.:/@+-]+$/.test(s) ? s : JSON.stringify(s);
}

const stderrEncoder = new TextEncoder();
function writeStderr(line: string): void {
  Deno.stderr.writeSync(stderrEncoder.encode(line + "\n"));
}
