/**
 * A native CRC-32/IEEE for long inputs (checksum.ts uses it from its NATIVE_MIN_LENGTH bytes
 * on): the system's zlib over FFI on Linux, else node:zlib (imported only then, so a Linux
 * daemon loads no `node:` module; docs/benchmarks.md, "Daemon footprint"). zlib's `crc32(crc, buf,
 * len)` continues from a previous final value exactly as checksum.ts's `initial` does.
 * @module
 */
import { dlopenFirst, linuxFfiUnavailable } from "../ffi.ts";

/** CRC-32 of `bytes` continuing from the previous result `initial` (0 to start). */
export type Crc32Function = (bytes: Uint8Array, initial: number) => number;

/** Where the native CRC comes from. */
export type Crc32Source = "libz" | "node:zlib";

const LIBZ_NAMES = ["libz.so.1", "libz.so"];

// zlib's uLong and uInt arguments are passed as u32: both values fit, and the platforms' calling
// conventions (x86-64, AArch64) zero-extend a 32-bit argument written by the caller.
const LIBZ_SYMBOLS = { crc32: { parameters: ["u32", "buffer", "u32"], result: "u32" } } as const;

/** zlib's crc32 over FFI, or undefined where it cannot be loaded. */
export function openLibzCrc32(): Crc32Function | undefined {
  if (linuxFfiUnavailable() !== undefined) return undefined;
  const lib = dlopenFirst(LIBZ_NAMES, LIBZ_SYMBOLS); // none: node:zlib is the fallback
  if (lib === undefined) return undefined;
  const crc32 = lib.symbols.crc32;
  // An empty view reaches zlib as a null pointer, for which crc32 returns its start value 0.
  return (bytes, initial) => bytes.length === 0 ? initial >>> 0 : crc32(initial, bytes, bytes.length) >>> 0;
}

async function loadCrc32(): Promise<{ source: Crc32Source; crc32: Crc32Function }> {
  const libz = openLibzCrc32();
  if (libz) return { source: "libz", crc32: libz };
  const { crc32 } = await import("node:zlib");
  return { source: "node:zlib", crc32: (bytes, initial) => crc32(bytes, initial) >>> 0 };
}

/** This process's native CRC-32 and where it came from. */
export const nativeCrc32: { source: Crc32Source; crc32: Crc32Function } = await loadCrc32();
