/**
 * Start-up failures of the daemon, in one class whatever the step that failed, so `pilot daemon`
 * reports them alike. Kept apart from daemon.ts because the registry session throws one too.
 */
import { BindError } from "../net/bind_error.ts";
import { errorMessage, PilotError } from "../errors.ts";

/** Start-up failed (registry unreachable, socket in use, bad identity...). */
export class DaemonStartError extends PilotError {}

/** A bind failure as a start-up error naming the flag and address; the BindError stays the cause. */
export function bindError(flag: string, where: string, err: unknown): DaemonStartError {
  const bind = new BindError(flag, where, err);
  return new DaemonStartError(bind.message, { cause: bind });
}

/** Any failure as a start-up error, kept as the cause (a start-up error passes unchanged). */
export function startError(err: unknown): DaemonStartError {
  if (err instanceof DaemonStartError) return err;
  return new DaemonStartError(errorMessage(err), { cause: err });
}
