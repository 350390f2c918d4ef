/**
 * pilot: a Pilot Protocol implementation for Deno. This module is the public SDK
 * surface; it only re-exports.
 * @module
 */
export { PilotError } from "./lib/errors.ts";
export { PROGRAM_VERSION } from "./lib/version.ts";
