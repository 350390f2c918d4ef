/**
 * Data-exchange frames (port 1001, docs/protocol/services.md §5): `u32 type · u32 length · payload`, big-endian,
 * payload at most 16 MiB. A FILE payload is `u16 name_len · name · file bytes`; a name that
 * overruns the payload makes the whole payload nameless data. The receiver answers every frame
 * with a TEXT frame `ACK <TYPE> <n> bytes` or `ERR <TYPE> save failed: <reason>`. Pure codec: no I/O.
 * @module
 */
import { PilotError } from "../../errors.ts";
import { writeU16 } from "../../bytes.ts";

/** Frame type numbers on the wire. */
export const FrameType = {
  Text: 1,
  Binary: 2,
  Json: 3,
  File: 4,
} as const;

/** One of the known frame type numbers. */
export type KnownFrameType = typeof FrameType[keyof typeof FrameType];

/** Bytes of the `type · length` header. */
export const FRAME_HEADER_LENGTH = 8;
/** Largest payload a reader accepts (2^24, as the reference). */
export const MAX_PAYLOAD_LENGTH = 1 << 24;
/** Bytes of the FILE name-length prefix. */
export const FILE_NAME_LENGTH_PREFIX = 2;
/** Longest file name (in UTF-8 bytes) a sender may announce; longer ones are refused. */
export const MAX_FILE_NAME_BYTES = 255;
/** Largest file that fits one frame with the longest name. */
export const MAX_FILE_BYTES = MAX_PAYLOAD_LENGTH - FILE_NAME_LENGTH_PREFIX - MAX_FILE_NAME_BYTES;

/** Base class of every data-exchange failure. */
export class DataExchangeError extends PilotError {}

/** A frame header announced (or a sender tried to build) a payload over {@link MAX_PAYLOAD_LENGTH}. */
export class FrameTooLargeError extends DataExchangeError {
  constructor(readonly type: number, readonly length: number) {
    super(`frame of ${length} bytes exceeds the ${MAX_PAYLOAD_LENGTH}-byte limit`);
  }
}

/** A decoded frame. For FILE frames `payload` is the file bytes and `name` the announced name. */
export interface DataFrame {
  type: number;
  payload: Uint8Array;
  /** FILE only: the announced name ("" when empty, undefined when absent or overrunning). */
  name?: string;
}

/** The wire header of a frame. */
export interface FrameHeader {
  type: number;
  length: number;
}

/** The reference's type name: TEXT, BINARY, JSON, FILE or `UNKNOWN(n)`. */
export function typeName(type: number): string {
  switch (type) {
    case FrameType.Text:
      return "TEXT";
    case FrameType.Binary:
      return "BINARY";
    case FrameType.Json:
      return "JSON";
    case FrameType.File:
      return "FILE";
    default:
      return `UNKNOWN(${type})`;
  }
}

function checkType(type: number): void {
  if (!Number.isInteger(type) || type < 0 || type > 0xffff_ffff) {
    throw new DataExchangeError(`frame type must be a u32, got ${type}`);
  }
}

/** Encodes a header and payload into one buffer (one write keeps the frame together). */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  checkType(type);
  if (payload.length > MAX_PAYLOAD_LENGTH) throw new FrameTooLargeError(type, payload.length);
  const out = new Uint8Array(FRAME_HEADER_LENGTH + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, type);
  view.setUint32(4, payload.length);
  out.set(payload, FRAME_HEADER_LENGTH);
  return out;
}

/** The FILE payload `u16 name_len · name · data`. Throws when the name exceeds {@link MAX_FILE_NAME_BYTES}. */
export function encodeFilePayload(name: Uint8Array, data: Uint8Array): Uint8Array {
  if (name.length > MAX_FILE_NAME_BYTES) {
    throw new DataExchangeError(`file name of ${name.length} bytes exceeds ${MAX_FILE_NAME_BYTES}`);
  }
  const out = new Uint8Array(FILE_NAME_LENGTH_PREFIX + name.length + data.length);
  writeU16(out, 0, name.length);
  out.set(name, FILE_NAME_LENGTH_PREFIX);
  out.set(data, FILE_NAME_LENGTH_PREFIX + name.length);
  return out;
}

/** Encodes a whole FILE frame. */
export function encodeFileFrame(name: Uint8Array, data: Uint8Array): Uint8Array {
  return encodeFrame(FrameType.File, encodeFilePayload(name, data));
}

/** Reads the 8-byte header; throws {@link FrameTooLargeError} when the length exceeds the limit. */
export function decodeFrameHeader(bytes: Uint8Array): FrameHeader {
  if (bytes.length < FRAME_HEADER_LENGTH) {
    throw new DataExchangeError(`frame header needs ${FRAME_HEADER_LENGTH} bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, FRAME_HEADER_LENGTH);
  const type = view.getUint32(0);
  const length = view.getUint32(4);
  if (length > MAX_PAYLOAD_LENGTH) throw new FrameTooLargeError(type, length);
  return { type, length };
}

/** The raw name bytes and data of a FILE payload; `nameBytes` is null when absent or overrunning. */
export interface FilePayload {
  nameBytes: Uint8Array | null;
  data: Uint8Array;
}

/** Splits a FILE payload. Never throws: malformed names make the payload nameless data. */
export function decodeFilePayload(payload: Uint8Array): FilePayload {
  if (payload.length < FILE_NAME_LENGTH_PREFIX) return { nameBytes: null, data: payload };
  const nameLength = (payload[0] << 8) | payload[1];
  const end = FILE_NAME_LENGTH_PREFIX + nameLength;
  if (end > payload.length) return { nameBytes: null, data: payload };
  return { nameBytes: payload.subarray(FILE_NAME_LENGTH_PREFIX, end), data: payload.subarray(end) };
}

/**
 * Decodes one complete frame from the start of `bytes`: the frame and the bytes it used, or null
 * when `bytes` holds only part of one. Throws {@link FrameTooLargeError} on an oversized header.
 * FILE names are decoded as UTF-8 (invalid sequences replaced); the server checks them separately.
 */
export function decodeFrame(bytes: Uint8Array): { frame: DataFrame; consumed: number } | null {
  if (bytes.length < FRAME_HEADER_LENGTH) return null;
  const { type, length } = decodeFrameHeader(bytes);
  const consumed = FRAME_HEADER_LENGTH + length;
  if (bytes.length < consumed) return null;
  const payload = bytes.subarray(FRAME_HEADER_LENGTH, consumed);
  if (type !== FrameType.File) return { frame: { type, payload }, consumed };
  const file = decodeFilePayload(payload);
  const frame: DataFrame = { type, payload: file.data };
  if (file.nameBytes) frame.name = new TextDecoder().decode(file.nameBytes);
  return { frame, consumed };
}

/** A parsed acknowledgement frame text. */
export interface Ack {
  /** True for `ACK …`, false for `ERR …` or anything else. */
  ok: boolean;
  /** The full text, e.g. `ACK TEXT 5 bytes`. */
  text: string;
  /** The type name the ack names (e.g. TEXT), when it names one. */
  typeName?: string;
  /** Payload bytes acknowledged (ACK only). */
  bytes?: number;
  /** The reason after `save failed:` or the type (ERR only). */
  error?: string;
}

/** `ACK <TYPE> <n> bytes`. */
export function formatAck(type: number, bytes: number): string {
  return `ACK ${typeName(type)} ${bytes} bytes`;
}

/** `ERR <TYPE> save failed: <reason>` (the reference's wording for every refusal). */
export function formatRefusal(type: number, reason: string): string {
  return `ERR ${typeName(type)} save failed: ${reason}`;
}

const ACK_RE = /^ACK (\S+) (\d+) bytes$/;
const ERR_RE = /^ERR (\S+) (?:save failed: )?(.*)$/s;

/** Parses an acknowledgement text; unrecognised text is a failed ack carrying the text. */
export function parseAck(text: string): Ack {
  const ok = ACK_RE.exec(text);
  if (ok) return { ok: true, text, typeName: ok[1], bytes: Number(ok[2]) };
  const err = ERR_RE.exec(text);
  if (err) return { ok: false, text, typeName: err[1], error: err[2] };
  return { ok: false, text, error: text };
}
