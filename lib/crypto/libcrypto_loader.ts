/**
 * Finding the system's OpenSSL libcrypto for Deno FFI. Linux only: macOS ships a libcrypto stub
 * that aborts the process when loaded directly, and Windows has no system libcrypto.
 * @module
 */
import { linuxFfiUnavailable } from "../ffi.ts";
import { CryptoError } from "./errors.ts";

/** Sonames tried in order: OpenSSL 3, then 1.1 (both have every symbol pilot binds). */
export const LIBCRYPTO_NAMES = ["libcrypto.so.3", "libcrypto.so.1.1"];

/** Why libcrypto cannot be used here, or undefined when it may be tried. */
export function libcryptoUnavailable(): string | undefined {
  return linuxFfiUnavailable();
}

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
  let last: unknown;
  for (const name of LIBCRYPTO_NAMES) {
    let lib: Deno.DynamicLibrary<S>;
    try {
      lib = Deno.dlopen(name, symbols);
    } catch (err) {
      last = err;
      continue;
    }
    try {
      return init(lib);
    } catch (err) {
      lib.close();
      throw err;
    }
  }
  throw new CryptoError(`cannot load libcrypto: ${String(last)}`, { cause: last });
}
