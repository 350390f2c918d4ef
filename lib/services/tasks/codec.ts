/**
 * Task submission wire format (port 1003, docs/protocol/services.md §7.1): `u32 type · u32 length ·
 * JSON[length]`, big-endian, one frame per connection. Pure: encoding, decoding and
 * validation of the four message bodies, and task ids. Every malformed input raises
 * {@link TaskCodecError} and nothing else.
 */
import { errorMessage, PilotError } from "../../errors.ts";
import { fromUtf8, toHex, utf8 } from "../../bytes.ts";

/** Bytes before the JSON body: type and length, both u32. */
export const TASK_FRAME_HEADER_SIZE = 8;
/** Largest JSON body the protocol allows (a result file travels inside one frame). */
export const MAX_TASK_FRAME_BODY = 16 * 1024 * 1024;

/** Frame types. Type 1 is both the submission and the daemon's reply to it. */
export const FRAME_SUBMIT = 1;
/** Legacy result message; daemons do not handle it. */
export const FRAME_RESULT = 2;
/** Worker → submitter: the task's status changed. */
export const FRAME_STATUS_UPDATE = 3;
/** Worker → submitter: the task's results (text or a file). */
export const FRAME_SEND_RESULTS = 4;

/** SUBMIT reply status: the worker queued the task. */
export const SUBMIT_ACCEPTED = 200;
/** SUBMIT reply status: the worker refused the task. */
export const SUBMIT_REJECTED = 400;

/** Bytes of randomness in a task id. */
const TASK_ID_BYTES = 16;
const TASK_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A task frame or message body was malformed. */
export class TaskCodecError extends PilotError {}

/** A decoded frame: its type and its JSON object body. */
export interface TaskFrame {
  type: number;
  body: Record<string, unknown>;
}

/** SUBMIT (submitter → worker). */
export interface SubmitRequest {
  task_id: string;
  task_description: string;
  from_addr: string;
  to_addr: string;
}

/** The worker daemon's answer to SUBMIT. */
export interface SubmitReply {
  task_id: string;
  status: number;
  message: string;
}

/** STATUS_UPDATE (worker → submitter). */
export interface StatusUpdate {
  task_id: string;
  status: string;
  justification: string;
}

/** SEND_RESULTS (worker → submitter); exactly one of text or file is meaningful. */
export interface SendResults {
  task_id: string;
  result_type: "text" | "file";
  result_text?: string;
  filename?: string;
  /** Standard base64 of the file. */
  file_data?: string;
  /** RFC 3339. */
  completed_at: string;
  time_idle_ms?: number;
  time_staged_ms?: number;
  time_cpu_ms?: number;
}

/** A fresh task id: 16 random bytes as lowercase hex in 8-4-4-4-12 groups. */
export function newTaskId(): string {
  const h = toHex(crypto.getRandomValues(new Uint8Array(TASK_ID_BYTES)));
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Whether `text` has the task id form (the only form safe to use as a file name). */
export function isTaskId(text: unknown): text is string {
  return typeof text === "string" && TASK_ID_RE.test(text);
}

/** Encodes one frame; throws TaskCodecError if the body is not a JSON object or is too large. */
export function encodeTaskFrame(type: number, body: object): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xffff_ffff) {
    throw new TaskCodecError(`frame type ${type} is not a u32`);
  }
  const json = utf8(JSON.stringify(body));
  if (json.length > MAX_TASK_FRAME_BODY) {
    throw new TaskCodecError(`frame body of ${json.length} bytes exceeds ${MAX_TASK_FRAME_BODY}`);
  }
  const out = new Uint8Array(TASK_FRAME_HEADER_SIZE + json.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, type);
  view.setUint32(4, json.length);
  out.set(json, TASK_FRAME_HEADER_SIZE);
  return out;
}

/** Reads a frame header (the first 8 bytes of `bytes`); checks the length against `maxBody`. */
export function decodeTaskFrameHeader(
  bytes: Uint8Array,
  maxBody = MAX_TASK_FRAME_BODY,
): { type: number; length: number } {
  if (bytes.length < TASK_FRAME_HEADER_SIZE) {
    throw new TaskCodecError(`frame header needs ${TASK_FRAME_HEADER_SIZE} bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, TASK_FRAME_HEADER_SIZE);
  const type = view.getUint32(0);
  const length = view.getUint32(4);
  if (length > maxBody) throw new TaskCodecError(`frame body of ${length} bytes exceeds ${maxBody}`);
  return { type, length };
}

/** Decodes exactly one frame (header and body, no trailing bytes) with a JSON object body. */
export function decodeTaskFrame(bytes: Uint8Array, maxBody = MAX_TASK_FRAME_BODY): TaskFrame {
  const { type, length } = decodeTaskFrameHeader(bytes, maxBody);
  if (bytes.length !== TASK_FRAME_HEADER_SIZE + length) {
    throw new TaskCodecError(
      `frame declares ${length} body bytes but ${bytes.length - TASK_FRAME_HEADER_SIZE} follow the header`,
    );
  }
  return { type, body: parseJsonObject(bytes.subarray(TASK_FRAME_HEADER_SIZE)) };
}

/** Parses a JSON object body. */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(bytes));
  } catch (err) {
    throw new TaskCodecError(`frame body is not JSON: ${errorMessage(err)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TaskCodecError("frame body is not a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Validates a SUBMIT body. */
export function parseSubmit(body: Record<string, unknown>): SubmitRequest {
  return {
    task_id: taskId(body),
    task_description: str(body, "task_description"),
    from_addr: str(body, "from_addr", ""),
    to_addr: str(body, "to_addr", ""),
  };
}

/** Validates the daemon's SUBMIT reply. */
export function parseSubmitReply(body: Record<string, unknown>): SubmitReply {
  const status = body.status;
  if (typeof status !== "number" || !Number.isInteger(status)) {
    throw new TaskCodecError("submit reply: status must be an integer");
  }
  return { task_id: str(body, "task_id", ""), status, message: str(body, "message", "") };
}

/** Validates a STATUS_UPDATE body. */
export function parseStatusUpdate(body: Record<string, unknown>): StatusUpdate {
  return {
    task_id: taskId(body),
    status: str(body, "status"),
    justification: str(body, "justification", ""),
  };
}

/** Validates a SEND_RESULTS body (the file data stays base64 here). */
export function parseSendResults(body: Record<string, unknown>): SendResults {
  const kind = body.result_type;
  if (kind !== "text" && kind !== "file") {
    throw new TaskCodecError(`send results: result_type must be "text" or "file"`);
  }
  const out: SendResults = {
    task_id: taskId(body),
    result_type: kind,
    completed_at: str(body, "completed_at", ""),
  };
  const text = optStr(body, "result_text");
  const filename = optStr(body, "filename");
  const data = optStr(body, "file_data");
  if (text !== undefined) out.result_text = text;
  if (filename !== undefined) out.filename = filename;
  if (data !== undefined) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0) {
      throw new TaskCodecError("send results: file_data is not standard base64");
    }
    out.file_data = data;
  }
  for (const key of ["time_idle_ms", "time_staged_ms", "time_cpu_ms"] as const) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new TaskCodecError(`send results: ${key} must be a non-negative integer`);
    }
    if (v > 0) out[key] = v;
  }
  // An empty file travels without file_data (empty keys are omitted), but never without a name.
  if (kind === "file" && !out.filename) {
    throw new TaskCodecError("send results: a file result needs a filename");
  }
  return out;
}

/** SUBMIT frame. */
export function submitFrame(msg: SubmitRequest): Uint8Array {
  return encodeTaskFrame(FRAME_SUBMIT, {
    task_id: msg.task_id,
    task_description: msg.task_description,
    from_addr: msg.from_addr,
    to_addr: msg.to_addr,
  });
}

/** The daemon's reply frame (type 1). */
export function submitReplyFrame(msg: SubmitReply): Uint8Array {
  return encodeTaskFrame(FRAME_SUBMIT, { task_id: msg.task_id, status: msg.status, message: msg.message });
}

/** STATUS_UPDATE frame. */
export function statusUpdateFrame(msg: StatusUpdate): Uint8Array {
  return encodeTaskFrame(FRAME_STATUS_UPDATE, {
    task_id: msg.task_id,
    status: msg.status,
    justification: msg.justification,
  });
}

/** SEND_RESULTS frame; empty or zero optional keys are left out, as the reference does. */
export function sendResultsFrame(msg: SendResults): Uint8Array {
  const body: Record<string, unknown> = { task_id: msg.task_id, result_type: msg.result_type };
  if (msg.result_text) body.result_text = msg.result_text;
  if (msg.filename) body.filename = msg.filename;
  if (msg.file_data) body.file_data = msg.file_data;
  body.completed_at = msg.completed_at;
  if (msg.time_idle_ms) body.time_idle_ms = msg.time_idle_ms;
  if (msg.time_staged_ms) body.time_staged_ms = msg.time_staged_ms;
  if (msg.time_cpu_ms) body.time_cpu_ms = msg.time_cpu_ms;
  return encodeTaskFrame(FRAME_SEND_RESULTS, body);
}

function taskId(body: Record<string, unknown>): string {
  const id = body.task_id;
  if (!isTaskId(id)) throw new TaskCodecError("task_id must be 32 lowercase hex digits in 8-4-4-4-12 form");
  return id;
}

function str(body: Record<string, unknown>, key: string, fallback?: string): string {
  const v = body[key];
  if (typeof v === "string") return v;
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  throw new TaskCodecError(`${key} must be a string`);
}

function optStr(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new TaskCodecError(`${key} must be a string`);
  return v;
}
