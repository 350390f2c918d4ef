/** Beacon public surface: message codecs for the beacon's UDP protocol (wire.md §8). */
export * from "./messages.ts";
