/**
 * Typed clients of pilot's agent services for SDK users, all layered on `PilotClient`
 * dial/listen (they add no IPC commands): the port-443 secure channel, standard I/O (1000), data
 * exchange (1001), the event stream (1002) and tasks (1003). Re-exports only; the wire codecs
 * come from the services' pure `codec.ts` files.
 *
 * @example
 * ```ts
 * import { connect } from "../mod.ts";
 * import { EventSubscription, sendMessage } from "./mod.ts";
 * async function demo(peer: string): Promise<void> {
 *   await using client = await connect("/tmp/pilot.sock");
 *   const ack = await sendMessage(client, peer, "hello");
 *   console.log(ack.text); // "ACK TEXT 5 bytes"
 *   const sub = await EventSubscription.open(client, peer, "alerts");
 *   for await (const event of sub) console.log(event.topic, new TextDecoder().decode(event.payload));
 * }
 * console.assert(typeof demo === "function");
 * ```
 * @module
 */
export type { ByteStream, IoOptions } from "../../services/byte_stream_shape.ts";
export { StreamEndedError, StreamReader } from "../../services/stream_reader.ts";
export { ByteBudget } from "../../services/byte_budget.ts";

export {
  dialSecure,
  MAX_PENDING_HANDSHAKES,
  SECURE_ACCEPT_QUEUE_CAPACITY,
  type SecureDialOptions,
  SecureListener,
  type SecureListenOptions,
} from "./secure.ts";
export {
  HANDSHAKE_TIMEOUT_MS,
  type SecureAuthOptions,
  SecureChannel,
  type SecureHandshakeOptions,
} from "../../services/secure/channel.ts";
export {
  AuthNonceCache,
  type PeerKeyLookup,
  SecureAuthError,
  type SecureIdentity,
} from "../../services/secure/auth.ts";
export { SecureChannelError, SecureFrameError } from "../../services/secure/codec.ts";

export {
  dialStdio,
  exchangeMessage,
  listenStdio,
  type ReceivedMessage,
  receiveMessage,
  STDIO_REPLY_LIMIT,
  type StdioOptions,
} from "./stdio.ts";

export {
  AckMissingError,
  type ChunkedSendResult,
  ChunkedUnsupportedError,
  DataExchangeClient,
  type DataExchangeOptions,
  type FileSource,
  fitsOneFrame,
  type MessageKind,
  type ProgressListener,
  sendFile,
  sendFileFromPath,
  type SendFileFromPathOptions,
  type SendFileFromPathResult,
  sendMessage,
} from "./dataexchange.ts";
export {
  type Ack,
  DataExchangeError,
  type DataFrame,
  FrameTooLargeError,
  FrameType,
  MAX_FILE_BYTES,
  MAX_PAYLOAD_LENGTH,
  typeName,
} from "../../services/dataexchange/codec.ts";
export { UnsafeFileNameError } from "../../services/dataexchange/filename.ts";

export { type EventStreamOptions, EventSubscription, publishEvent } from "./eventstream.ts";
export {
  EventStreamError,
  EventTooLargeError,
  MAX_EVENT_PAYLOAD,
  MAX_TOPIC_BYTES,
  type StreamEvent,
  WILDCARD_TOPIC,
} from "../../services/eventstream/codec.ts";
export { EventBudgetError } from "../../services/eventstream/io.ts";

export {
  MAX_RESULT_FILE_BYTES,
  RESULT_EXTENSIONS,
  type SubmitOutcome,
  TaskClient,
  type TaskClientOptions,
  TaskError,
  type TaskErrorCode,
  type TaskSummary,
} from "./tasks.ts";

export {
  NAMESERVER_TIMEOUT_MS,
  NameserverClient,
  type NameserverClientOptions,
  NameserverError,
  NameserverRefusedError,
  type NameserverResponse,
  type ServiceRecord,
} from "./nameserver.ts";
