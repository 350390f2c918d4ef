/**
 * The event stream (port 1002, docs/protocol/services.md §6), server side: the event codec, bounded event
 * reading and the publish/subscribe broker. The SDK's client is in `lib/sdk/services`.
 * @module
 */
export * from "./codec.ts";
export * from "./io.ts";
export * from "./broker.ts";
