/**
 * The program's version, reported by `pilot version`, the HTTP status and the registry client.
 *
 * @example
 * ```ts
 * import { PROGRAM_VERSION } from "./version.ts";
 * console.assert(/^\d+\.\d+\.\d+/.test(PROGRAM_VERSION));
 * ```
 */
export const PROGRAM_VERSION = "0.1.0";
