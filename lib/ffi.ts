/**
 * Whether this process may bind native libraries over Deno FFI on Linux: the one check before the
 * UDP binding (libc), libcrypto and zlib are opened, each of which has a non-FFI fallback
 * (node:dgram, Web Crypto and node:crypto, node:zlib). `PILOT_FFI=off` chooses the fallbacks: an
 * operator's way round a broken system library, and what `pilot registry` runs with, because the
 * registry needs node:crypto anyway and the FFI machinery would only add its pages
 * (docs/benchmarks.md, "Daemon footprint").
 * @module
 */

/** The environment variable that turns FFI off (`off`); anything else leaves it on. */
export const FFI_ENV = "PILOT_FFI";

function ffiTurnedOff(): boolean {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: FFI_ENV }).state !== "granted") return false;
    return Deno.env.get(FFI_ENV) === "off";
  } catch {
    return false;
  }
}

/**
 * Why this process cannot call Linux system libraries at all, or undefined when it can: the OS and
 * the ffi permission, whatever `PILOT_FFI` says. For calls with no fallback to choose instead (libc's
 * mallopt, madvise, malloc_trim).
 */
export function linuxFfiForbidden(): string | undefined {
  if (Deno.build.os !== "linux") return `OS is ${Deno.build.os}`;
  if (typeof Deno.dlopen !== "function") return "Deno.dlopen is missing";
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return "no --allow-ffi";
  } catch {
    return "cannot query the ffi permission";
  }
  return undefined;
}

/** Why FFI to Linux system libraries cannot be used here, or undefined when it can. */
export function linuxFfiUnavailable(): string | undefined {
  return linuxFfiForbidden() ?? (ffiTurnedOff() ? `${FFI_ENV}=off` : undefined);
}

/**
 * Opens the first of `names` (sonames, in order of preference) that loads with `symbols`; undefined,
 * with the last loader error in `errors`, when none does.
 */
export function dlopenFirst<S extends Deno.ForeignLibraryInterface>(
  names: readonly string[],
  symbols: S,
  errors: unknown[] = [],
): Deno.DynamicLibrary<S> | undefined {
  for (const name of names) {
    try {
      return Deno.dlopen(name, symbols);
    } catch (err) {
      errors.push(err);
    }
  }
  return undefined;
}
