/**
 * Finding the system's OpenSSL libcrypto for Deno FFI. Linux only: the libcrypto macOS ships aborts
 * the process when an application loads it directly, and Windows has no system libcrypto.
 * @module
 */
import { dlopenFirst, linuxFfiUnavailable } from "../ffi.ts";
import { CryptoError } from "./errors.ts";

/** Sonames tried in order: OpenSSL 3, then 1.1 (both have every symbol pilot binds). */
export const LIBCRYPTO_NAMES = ["libcrypto.so.3", "libcrypto.so.1.1"];

/** Why libcrypto cannot be used here, or undefined when it may be tried: FFI's own conditions. */
export const libcryptoUnavailable: () => string | undefined = linuxFfiUnavailable;

/**
 * Opens the first libcrypto that loads with `symbols` and passes `init` (which may throw, closing
 * the library again). Throws {@link CryptoError} when none does.
 */
export function openLibcrypto<S extends Deno.ForeignLibraryInterface, T>(
  symbols: S,
  init: (lib: Deno.DynamicLibrary<S>) => T,
): T {
  const why = libcryptoUnavailable();
  if (why) throw new CryptoError(`libcrypto unavailable: ${why}`);
  const errors: unknown[] = [];
  const lib = dlopenFirst(LIBCRYPTO_NAMES, symbols, errors);
  if (lib === undefined) {
    const last = errors.at(-1);
    throw new CryptoError(`cannot load libcrypto: ${String(last)}`, { cause: last });
  }
  try {
    return init(lib);
  } catch (err) {
    lib.close();
    throw err;
  }
}
