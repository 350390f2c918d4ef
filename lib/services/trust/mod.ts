/**
 * Trust handshakes (port 444, docs/protocol/services.md §4): the signed message codec, the replay cache and
 * the trust file. The service itself is installed by the daemon.
 * @module
 */
export * from "./codec.ts";
export * from "./replay.ts";
export * from "./store.ts";
