/**
 * Data exchange (port 1001, docs/protocol/services.md §5), server side: the frame codec, safe file names, the
 * on-disk mailbox and the server. The SDK's client is in `lib/sdk/services`.
 * @module
 */
export * from "./codec.ts";
export * from "./chunked_codec.ts";
export * from "./chunked_receiver.ts";
export * from "./partial_files.ts";
export * from "./filename.ts";
export * from "./mailbox.ts";
export * from "./server.ts";
