/**
 * Beacon public surface: message codecs for the beacon's UDP protocol (docs/protocol/wire.md §8), the beacon
 * server (§8.1), its HTTP endpoint, and peer discovery through the registry's beacon list.
 */
export * from "./messages.ts";
export * from "./server.ts";
export * from "./http.ts";
export * from "./registry_peers.ts";
export * from "./proof.ts";
export * from "./registry_view.ts";
