/**
 * pilot's built-in services, server side, written once against one {@link ByteStream} shape:
 * echo (7), secure channel (443), trust (444), data exchange (1001), event stream (1002) and
 * tasks (1003), one namespace each. Applications talk to them with the clients in the SDK
 * (`lib/sdk/services`); this module is for programs that host the services themselves.
 *
 * @example
 * ```ts
 * import { dataexchange, StreamReader } from "./mod.ts";
 * const frame = dataexchange.encodeFrame(dataexchange.FrameType.Text, new TextEncoder().encode("hi"));
 * console.assert(frame instanceof Uint8Array && typeof StreamReader === "function");
 * ```
 * @module
 */
export * from "./byte_stream.ts";
export * from "./stream_reader.ts";
export * from "./byte_budget.ts";
export * from "./echo.ts";
export * as secure from "./secure/mod.ts";
export * as trust from "./trust/mod.ts";
export * as dataexchange from "./dataexchange/mod.ts";
export * as eventstream from "./eventstream/mod.ts";
export * as tasks from "./tasks/mod.ts";
