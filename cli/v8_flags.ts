/** V8 flags for a long-running `pilot daemon`. */
export const DAEMON_V8_FLAGS: readonly string[] = [];
