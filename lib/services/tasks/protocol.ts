/**
 * Task frames over a {@link ByteStream} — the same code inside the daemon (session-layer
 * streams) and in the CLI (SDK connections): reassembling one frame from however the
 * bytes arrive, the submit round trip, and the one-way status and results messages.
 */
import { errorMessage, PilotError, settleQuietly } from "../../errors.ts";
import { concatBytes } from "../../bytes.ts";
import type { ByteStream } from "../byte_stream_shape.ts";
import {
  decodeTaskFrame,
  decodeTaskFrameHeader,
  FRAME_SEND_RESULTS,
  FRAME_SUBMIT,
  MAX_TASK_FRAME_BODY,
  parseSubmitReply,
  type SendResults,
  sendResultsFrame,
  type StatusUpdate,
  statusUpdateFrame,
  submitFrame,
  type SubmitReply,
  type SubmitRequest,
  TASK_FRAME_HEADER_SIZE,
  type TaskFrame,
} from "./codec.ts";

/** Time allowed for a whole frame to arrive, or for a reply. */
export const TASK_IO_TIMEOUT_MS = 30_000;
/** Body limit for every frame except SEND_RESULTS (only results carry files). */
export const MAX_CONTROL_FRAME_BODY = 1024 * 1024;

/** The peer sent no frame, a truncated one, or the wrong kind, or was too slow. */
export class TaskProtocolError extends PilotError {}

/** The body limit the daemon applies to a frame of `type`. */
export function frameLimit(type: number): number {
  return type === FRAME_SEND_RESULTS ? MAX_TASK_FRAME_BODY : MAX_CONTROL_FRAME_BODY;
}

/**
 * Reads one frame (bytes after it are ignored: one frame per connection). Resolves to
 * null if the stream ends before any byte; throws TaskCodecError for a malformed frame
 * and TaskProtocolError for truncation or a timeout.
 */
export async function readTaskFrame(
  stream: ByteStream,
  timeoutMs = TASK_IO_TIMEOUT_MS,
  limit: (type: number) => number = frameLimit,
): Promise<TaskFrame | null> {
  const deadline = Date.now() + timeoutMs;
  const parts: Uint8Array[] = [];
  let have = 0;
  let need = TASK_FRAME_HEADER_SIZE;
  let headerRead = false;
  while (have < need) {
    const left = deadline - Date.now();
    if (left <= 0) throw new TaskProtocolError(`no complete task frame within ${timeoutMs} ms`);
    let chunk: Uint8Array | null;
    try {
      chunk = await stream.read({ timeoutMs: left });
    } catch (err) {
      throw new TaskProtocolError(`reading task frame: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    if (chunk === null) {
      if (have === 0) return null;
      throw new TaskProtocolError(`stream ended after ${have} of ${need} frame bytes`);
    }
    parts.push(chunk);
    have += chunk.length;
    if (!headerRead && have >= TASK_FRAME_HEADER_SIZE) {
      const head = parts.length === 1 ? parts[0] : concatBytes(...parts);
      const { type, length } = decodeTaskFrameHeader(head, MAX_TASK_FRAME_BODY);
      decodeTaskFrameHeader(head, limit(type));
      need = TASK_FRAME_HEADER_SIZE + length;
      headerRead = true;
    }
  }
  const all = parts.length === 1 ? parts[0] : concatBytes(...parts);
  return decodeTaskFrame(all.subarray(0, need));
}

/** Sends SUBMIT and waits for the worker daemon's reply frame. */
export async function submitTask(
  stream: ByteStream,
  request: SubmitRequest,
  timeoutMs = TASK_IO_TIMEOUT_MS,
): Promise<SubmitReply> {
  await stream.write(submitFrame(request), { timeoutMs });
  const frame = await readTaskFrame(stream, timeoutMs);
  if (!frame) throw new TaskProtocolError("the worker closed the connection without replying");
  if (frame.type !== FRAME_SUBMIT) {
    throw new TaskProtocolError(`expected a submit reply (type ${FRAME_SUBMIT}), got type ${frame.type}`);
  }
  return parseSubmitReply(frame.body);
}

/** Sends one STATUS_UPDATE. */
export async function sendStatusUpdate(
  stream: ByteStream,
  update: StatusUpdate,
  timeoutMs = TASK_IO_TIMEOUT_MS,
): Promise<void> {
  await stream.write(statusUpdateFrame(update), { timeoutMs });
}

/**
 * Sends SEND_RESULTS followed, as the reference does, by a STATUS_UPDATE on the same
 * connection (a daemon reads only the first; failing to send the second is ignored).
 */
export async function sendTaskResults(
  stream: ByteStream,
  results: SendResults,
  followUp: StatusUpdate,
  timeoutMs = TASK_IO_TIMEOUT_MS,
): Promise<void> {
  await stream.write(sendResultsFrame(results), { timeoutMs });
  // The results are delivered; the follow-up fails only when the submitter already hung up.
  await settleQuietly(stream.write(statusUpdateFrame(followUp), { timeoutMs }), "peer gone");
}
