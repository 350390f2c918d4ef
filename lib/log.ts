/**
 * Structured, levelled logging. Quiet by default (warn and above); the level comes
 * from the caller (CLI flag) or PILOT_LOG. Lines are logfmt on stderr so that stdout
 * stays clean for command output and `--json`.
 */

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

/** A logger bound to a component name and a minimum level. */
export class Logger {
  constructor(
    readonly component: string,
    private readonly min: LogLevel = defaultLevel(),
    private readonly sink: (line: string) => void = writeStderr,
  ) {}

  /** A logger for a sub-component sharing this one's level and sink. */
  child(component: string): Logger {
    return new Logger(`${this.component}.${component}`, this.min, this.sink);
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
    let line = `ts=${new Date().toISOString()} level=${level} comp=${this.component} msg=${quote(msg)}`;
    if (fields) { for (const [k, v] of Object.entries(fields)) line += ` ${k}=${quote(formatValue(v))}`; }
    this.sink(line);
  }
}

/** The level named by PILOT_LOG, or "warn". */
export function defaultLevel(): LogLevel {
  let env: string | undefined;
  try {
    env = Deno.env.get("PILOT_LOG");
  } catch {
    env = undefined; // no env permission: stay quiet
  }
  return isLogLevel(env) ? env : "warn";
}

export function isLogLevel(v: unknown): v is LogLevel {
  return typeof v === "string" && v in RANK;
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
