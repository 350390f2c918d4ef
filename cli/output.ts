/**
 * Command output in the reference pilotctl's envelope: with `--json`, success is one
 * line `{"status":"ok","data":…}` on stdout and an error is one line
 * `{"status":"error","code":…,"message":…[,"hint":…]}` on stderr with exit status 1
 * (64 for a usage error).
 * Without `--json`, humans get text on stdout and `error: …` on stderr.
 */
import { errorMessage, PilotError } from "../lib/errors.ts";

/** The reference's error codes (docs/protocol/cli.md §2). */
export type ErrorCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "not_running"
  | "connection_failed"
  | "timeout"
  | "internal"
  | "auth_required"
  | "invalid_state"
  | "expired"
  | "internal_error"
  | "unavailable";

/** Exit status of a usage error: unknown command, unknown or malformed flag, missing argument (EX_USAGE). */
export const EXIT_USAGE = 64;
/** Exit status of every other failure (health alone also uses 2 for "down"). */
export const EXIT_FAILURE = 1;

/**
 * An error a command reports to the user with a stable code and an optional hint. An
 * `invalid_argument` error is a usage error and exits {@link EXIT_USAGE}; others exit 1.
 */
export class CliError extends PilotError {
  readonly exitCode: number;
  constructor(readonly code: ErrorCode, message: string, readonly hint?: string, exitCode?: number) {
    super(message);
    this.exitCode = exitCode ?? (code === "invalid_argument" ? EXIT_USAGE : EXIT_FAILURE);
  }
}

/** Where a command writes; tests substitute buffers. */
export interface Output {
  json: boolean;
  stdout(line: string): void;
  stderr(line: string): void;
}

const enc = new TextEncoder();

/** Output bound to the process's stdout/stderr. */
export function processOutput(json: boolean): Output {
  return {
    json,
    stdout: (line) => Deno.stdout.writeSync(enc.encode(line + "\n")),
    stderr: (line) => Deno.stderr.writeSync(enc.encode(line + "\n")),
  };
}

/** Reports a successful result: the envelope with `--json`, else `text` (or indented JSON of data). */
export function printResult(out: Output, data: unknown, text?: string): void {
  if (out.json) out.stdout(JSON.stringify({ status: "ok", data }));
  else out.stdout(text ?? JSON.stringify(data, null, 2));
}

/** Reports an error and returns the exit status to use. */
export function printError(out: Output, err: unknown): number {
  const e = err instanceof CliError ? err : new CliError("internal", errorMessage(err));
  if (out.json) {
    const body: Record<string, string> = { status: "error", code: e.code, message: e.message };
    if (e.hint) body.hint = e.hint;
    out.stderr(JSON.stringify(body));
  } else {
    out.stderr(`error: ${e.message}`);
    if (e.hint) out.stderr(`hint:  ${e.hint}`);
  }
  return e.exitCode;
}
