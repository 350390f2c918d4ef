/**
 * The secure channel (port 443, docs/protocol/services.md §3): frame codec, X25519 + AES-GCM channel and the
 * optional Ed25519 authentication step. The SDK's dialer and listener are in `lib/sdk/services`.
 * @module
 */
export * from "./codec.ts";
export * from "./auth.ts";
export * from "./channel.ts";
