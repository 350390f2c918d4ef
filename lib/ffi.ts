/**
 * Whether this process may bind native libraries over Deno FFI on Linux: the one check before the
 * UDP binding (libc), libcrypto and zlib are opened, each of which has a non-FFI fallback.
 * @module
 */

/** Why FFI to Linux system libraries cannot be used here, or undefined when it can. */
export function linuxFfiUnavailable(): string | undefined {
  if (Deno.build.os !== "linux") return `OS is ${Deno.build.os}`;
  if (typeof Deno.dlopen !== "function") return "Deno.dlopen is missing";
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return "no --allow-ffi";
  } catch {
    return "cannot query the ffi permission";
  }
  return undefined;
}
