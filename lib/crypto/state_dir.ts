/**
 * Where a node keeps its state (identity, trust, config) unless told otherwise. Apart from the
 * identity module so that CLI commands, which only need the path, do not load the crypto
 * primitives (and with them libcrypto or node:crypto) at start-up.
 * @module
 */
import { join } from "../paths.ts";
import { IdentityError } from "./errors.ts";

/** Default state directory name under the user's home directory. */
export const DEFAULT_STATE_DIR_NAME = ".pilot";

/**
 * `~/.pilot` (HOME, or USERPROFILE on Windows). Throws {@link IdentityError} when neither is set,
 * since guessing a directory for secret keys is worse than asking for one.
 */
export function defaultStateDir(): string {
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (!home) {
    throw new IdentityError("cannot locate the home directory (HOME is unset); pass a state directory");
  }
  return join(home, DEFAULT_STATE_DIR_NAME);
}
