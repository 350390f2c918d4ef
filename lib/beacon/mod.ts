/** Beacon public surface: message codecs for the beacon's UDP protocol (wire.md §8) and the beacon server (§8.1). */
export * from "./messages.ts";
export * from "./server.ts";
