/**
 * The daemon's largest accepted chunked file from the environment, read when data exchange is
 * installed; apart from chunked_receiver.ts, which loads with the service's first connection.
 */

/** Environment variable that sets a daemon's largest accepted chunked file, in bytes. */
export const MAX_FILE_BYTES_ENV = "PILOT_MAX_RECEIVE_BYTES";

/**
 * The limit set through {@link MAX_FILE_BYTES_ENV}, read with `get` (e.g. `(name) => Deno.env.get(name)`);
 * undefined when unset. A value that is not a positive decimal integer throws RangeError naming it.
 */
export function maxFileBytesFromEnv(get: (name: string) => string | undefined): number | undefined {
  const text = get(MAX_FILE_BYTES_ENV);
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value <= 0 || !Number.isSafeInteger(value)) {
    throw new RangeError(`${MAX_FILE_BYTES_ENV} must be a positive integer number of bytes, got "${text}"`);
  }
  return value;
}
