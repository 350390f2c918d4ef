/** Polling for tests that wait on something they cannot await directly. */

/** How often {@link until} looks by default. */
const DEFAULT_POLL_MS = 5;

/** Polls `cond` every `pollMs` until it holds; throws `timed out waiting for <what>` after `ms`. */
export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms = 3000,
  pollMs = DEFAULT_POLL_MS,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
