/**
 * Chunked file transfer on port 1001 — our extension, not the reference's (docs/protocol/services.md §5,
 * "ours"). It carries files too large for one FILE frame, resumably, inside ordinary
 * `type · length · payload` frames of four type numbers the reference does not use; a reference
 * receiver answers the first of them with `ACK UNKNOWN(n) …`, which tells the sender to stop.
 *
 * | type        | direction | payload                                          |
 * | ----------- | --------- | ------------------------------------------------ |
 * | FILE_OFFER  | → recv    | u64 size · 32 B SHA-256 · u16 name_len · name     |
 * | FILE_RESUME | ← recv    | u64 offset (bytes the receiver holds): first the   |
 * |             |           | resume point, then every PROGRESS_INTERVAL_BYTES  |
 * | FILE_CHUNK  | → recv    | u64 offset · data (1 … MAX_CHUNK_DATA_BYTES)      |
 * | FILE_END    | → recv    | empty; answered by `ACK FILE <size> bytes` or ERR |
 *
 * A refusal of the offer is a TEXT `ERR FILE save failed: …` instead of FILE_RESUME. The later
 * FILE_RESUME frames are flow control: a sender keeps at most SEND_WINDOW_BYTES beyond the last
 * one in flight, so neither daemon buffers the whole file. Pure codec.
 * @module
 */
import { readU16, readU64, writeU16, writeU64 } from "../../bytes.ts";
import { DataExchangeError, FILE_NAME_LENGTH_PREFIX, MAX_FILE_NAME_BYTES } from "./codec.ts";

/** Frame type numbers of the chunked transfer ("PF" + 1…4), far from the reference's 1…4. */
export const ChunkedFrameType = {
  Offer: 0x5046_0001,
  Resume: 0x5046_0002,
  Chunk: 0x5046_0003,
  End: 0x5046_0004,
} as const;

/** Bytes of a SHA-256 digest. */
export const SHA256_BYTES = 32;
/** Bytes of a u64 size or offset. */
const U64_BYTES = 8;
/** Largest file size the codec can carry exactly (a JS number's integer range). */
export const MAX_CHUNKED_SIZE = Number.MAX_SAFE_INTEGER;
/** Most file bytes in one FILE_CHUNK frame (well under the 16 MiB frame limit and the memory budget). */
export const MAX_CHUNK_DATA_BYTES = 1 << 20;
/** The receiver reports how much it holds after every this many bytes. */
export const PROGRESS_INTERVAL_BYTES = 4 << 20;
/** Bytes a sender may have in flight beyond the receiver's last report. */
export const SEND_WINDOW_BYTES = 16 << 20;
/** Fixed part of an offer: size and digest. */
const OFFER_FIXED_BYTES = U64_BYTES + SHA256_BYTES;

/** How an ERR reason for a failed final digest check begins (the sender starts over on it). */
export const DIGEST_MISMATCH_REASON = "SHA-256 mismatch";

/** Longest FILE_OFFER payload. */
export const MAX_OFFER_BYTES = OFFER_FIXED_BYTES + FILE_NAME_LENGTH_PREFIX + MAX_FILE_NAME_BYTES;

/** A chunked-transfer frame's payload was malformed. */
export class ChunkedFrameError extends DataExchangeError {}

/** What the sender proposes to send. */
export interface FileOffer {
  size: number;
  sha256: Uint8Array;
  /** Raw UTF-8 name bytes, vetted by the receiver with `safeFileName`. */
  nameBytes: Uint8Array;
}

/** One piece of the file at `offset`. */
export interface FileChunk {
  offset: number;
  data: Uint8Array;
}

function checkSize(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ChunkedFrameError(`${what} must be a whole number of bytes up to 2^53-1, got ${value}`);
  }
}

function readSize(what: string, bytes: Uint8Array, at: number): number {
  const value = readU64(bytes, at);
  if (value > BigInt(MAX_CHUNKED_SIZE)) throw new ChunkedFrameError(`${what} ${value} exceeds 2^53-1`);
  return Number(value);
}

/** The FILE_OFFER payload. */
export function encodeOffer(offer: FileOffer): Uint8Array {
  checkSize("size", offer.size);
  if (offer.sha256.length !== SHA256_BYTES) {
    throw new ChunkedFrameError(`digest must be ${SHA256_BYTES} bytes, got ${offer.sha256.length}`);
  }
  if (offer.nameBytes.length > MAX_FILE_NAME_BYTES) {
    throw new ChunkedFrameError(
      `file name of ${offer.nameBytes.length} bytes exceeds ${MAX_FILE_NAME_BYTES}`,
    );
  }
  const out = new Uint8Array(OFFER_FIXED_BYTES + FILE_NAME_LENGTH_PREFIX + offer.nameBytes.length);
  writeU64(out, 0, BigInt(offer.size));
  out.set(offer.sha256, U64_BYTES);
  writeU16(out, OFFER_FIXED_BYTES, offer.nameBytes.length);
  out.set(offer.nameBytes, OFFER_FIXED_BYTES + FILE_NAME_LENGTH_PREFIX);
  return out;
}

/** Parses a FILE_OFFER payload; throws {@link ChunkedFrameError} unless it is exactly well-formed. */
export function decodeOffer(payload: Uint8Array): FileOffer {
  const nameAt = OFFER_FIXED_BYTES + FILE_NAME_LENGTH_PREFIX;
  if (payload.length < nameAt) {
    throw new ChunkedFrameError(`file offer needs at least ${nameAt} bytes, got ${payload.length}`);
  }
  const size = readSize("file size", payload, 0);
  const nameLength = readU16(payload, OFFER_FIXED_BYTES);
  if (nameLength > MAX_FILE_NAME_BYTES) {
    throw new ChunkedFrameError(`file name of ${nameLength} bytes exceeds ${MAX_FILE_NAME_BYTES}`);
  }
  if (payload.length !== nameAt + nameLength) {
    throw new ChunkedFrameError(
      `file offer of ${payload.length} bytes does not match its name length ${nameLength}`,
    );
  }
  return {
    size,
    sha256: payload.slice(U64_BYTES, OFFER_FIXED_BYTES),
    nameBytes: payload.slice(nameAt),
  };
}

/** The FILE_RESUME payload: how many bytes the receiver already holds. */
export function encodeResume(offset: number): Uint8Array {
  checkSize("offset", offset);
  const out = new Uint8Array(U64_BYTES);
  writeU64(out, 0, BigInt(offset));
  return out;
}

/** Parses a FILE_RESUME payload. */
export function decodeResume(payload: Uint8Array): number {
  if (payload.length !== U64_BYTES) {
    throw new ChunkedFrameError(`resume point must be ${U64_BYTES} bytes, got ${payload.length}`);
  }
  return readSize("resume offset", payload, 0);
}

/** The FILE_CHUNK payload `u64 offset · data`. */
export function encodeChunk(chunk: FileChunk): Uint8Array {
  checkSize("offset", chunk.offset);
  if (chunk.data.length === 0 || chunk.data.length > MAX_CHUNK_DATA_BYTES) {
    throw new ChunkedFrameError(`chunk of ${chunk.data.length} bytes; 1 to ${MAX_CHUNK_DATA_BYTES} allowed`);
  }
  const out = new Uint8Array(U64_BYTES + chunk.data.length);
  writeU64(out, 0, BigInt(chunk.offset));
  out.set(chunk.data, U64_BYTES);
  return out;
}

/** Parses a FILE_CHUNK payload; the data is a view into `payload`. */
export function decodeChunk(payload: Uint8Array): FileChunk {
  const dataLength = payload.length - U64_BYTES;
  if (dataLength < 1 || dataLength > MAX_CHUNK_DATA_BYTES) {
    throw new ChunkedFrameError(
      `chunk of ${Math.max(0, dataLength)} bytes; 1 to ${MAX_CHUNK_DATA_BYTES} allowed`,
    );
  }
  return { offset: readSize("chunk offset", payload, 0), data: payload.subarray(U64_BYTES) };
}

/** Parses a FILE_END payload (empty). */
export function decodeEnd(payload: Uint8Array): void {
  if (payload.length !== 0) {
    throw new ChunkedFrameError(`file end carries no payload, got ${payload.length} bytes`);
  }
}

/** True for the four chunked-transfer frame types. */
export function isChunkedFrameType(type: number): boolean {
  return type >= ChunkedFrameType.Offer && type <= ChunkedFrameType.End;
}
