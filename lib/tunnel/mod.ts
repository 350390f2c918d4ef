/** Tunnel layer public surface: frame codecs for the daemon-to-daemon UDP payloads (wire.md §5). */
export * from "./frames.ts";
