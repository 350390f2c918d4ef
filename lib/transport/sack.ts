/**
 * The reference's selective-acknowledgement option, carried as the whole
 * payload of an ACK (docs/protocol/transport.md §5.4):
 * `"SACK" | n (u8, 1..4) | n × (left u32 BE | right u32 BE)`. Left is the first
 * received sequence number of a range beyond the cumulative ACK, right the one
 * just after it. Anything that does not decode is stream data, so
 * {@link isSack} is the receive-path test and {@link decodeSack} the strict one.
 * @module
 */
import { PilotError } from "../errors.ts";

/** Maximum blocks one option carries. */
export const SACK_MAX_BLOCKS = 4;
/** Bytes before the first block: magic + count. */
export const SACK_HEADER_LENGTH = 5;
/** Bytes per block. */
export const SACK_BLOCK_LENGTH = 8;

const MAGIC_S = 0x53, MAGIC_A = 0x41, MAGIC_C = 0x43, MAGIC_K = 0x4b;

/** One received range [left, right) in sequence space (u32, may wrap). */
export interface SackBlock {
  left: number;
  right: number;
}

/** A SACK option could not be encoded or decoded; the message says which rule failed. */
export class SackError extends PilotError {}

/**
 * True when `payload` is a SACK option by the reference's rules: at least 5
 * bytes, `SACK` magic, 1 ≤ n ≤ 4 and at least 5 + 8n bytes (trailing bytes are
 * allowed). A stream receiver treats such a payload as SACK, never as data,
 * which is also why a sender must not start a data segment with these bytes.
 */
export function isSack(payload: Uint8Array): boolean {
  if (payload.length < SACK_HEADER_LENGTH) return false;
  if (payload[0] !== MAGIC_S || payload[1] !== MAGIC_A || payload[2] !== MAGIC_C || payload[3] !== MAGIC_K) {
    return false;
  }
  const n = payload[4];
  return n >= 1 && n <= SACK_MAX_BLOCKS && payload.length >= SACK_HEADER_LENGTH + SACK_BLOCK_LENGTH * n;
}

/**
 * Encodes 1..4 blocks (u32 left/right each; their order and validity are the
 * caller's business) into a new option of 5 + 8n bytes. Throws {@link SackError}
 * on a wrong block count or a value that is not a u32.
 */
export function encodeSack(blocks: readonly SackBlock[]): Uint8Array {
  const n = blocks.length;
  if (n < 1 || n > SACK_MAX_BLOCKS) throw new SackError(`SACK needs 1..${SACK_MAX_BLOCKS} blocks, got ${n}`);
  const out = new Uint8Array(SACK_HEADER_LENGTH + SACK_BLOCK_LENGTH * n);
  out[0] = MAGIC_S, out[1] = MAGIC_A, out[2] = MAGIC_C, out[3] = MAGIC_K, out[4] = n;
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const { left, right } = blocks[i];
    if (!isU32(left) || !isU32(right)) {
      throw new SackError(`SACK block ${i} must hold u32 values, got [${left}, ${right})`);
    }
    view.setUint32(SACK_HEADER_LENGTH + SACK_BLOCK_LENGTH * i, left);
    view.setUint32(SACK_HEADER_LENGTH + SACK_BLOCK_LENGTH * i + 4, right);
  }
  return out;
}

/**
 * Decodes a SACK option, applying the same rules as {@link isSack} but saying
 * which one failed: throws {@link SackError} (and nothing else) for any input
 * that is not an option. Trailing bytes after the last block are ignored.
 */
export function decodeSack(payload: Uint8Array): SackBlock[] {
  if (!(payload instanceof Uint8Array)) throw new SackError("SACK payload must be a Uint8Array");
  if (payload.length < SACK_HEADER_LENGTH) {
    throw new SackError(`SACK option needs at least ${SACK_HEADER_LENGTH} bytes, got ${payload.length}`);
  }
  if (payload[0] !== MAGIC_S || payload[1] !== MAGIC_A || payload[2] !== MAGIC_C || payload[3] !== MAGIC_K) {
    throw new SackError("SACK option must start with the bytes 'SACK'");
  }
  const n = payload[4];
  if (n < 1 || n > SACK_MAX_BLOCKS) {
    throw new SackError(`SACK block count must be 1..${SACK_MAX_BLOCKS}, got ${n}`);
  }
  const need = SACK_HEADER_LENGTH + SACK_BLOCK_LENGTH * n;
  if (payload.length < need) {
    throw new SackError(`SACK option with ${n} blocks needs ${need} bytes, got ${payload.length}`);
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const blocks: SackBlock[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const at = SACK_HEADER_LENGTH + SACK_BLOCK_LENGTH * i;
    blocks[i] = { left: view.getUint32(at), right: view.getUint32(at + 4) };
  }
  return blocks;
}

/**
 * True when the data about to be sent, whose first bytes `byteAt(0..)` returns
 * and whose length is `length`, would be read by a receiver as a SACK option
 * (docs/protocol/transport.md §5.4 ambiguity). The sender then sends the first byte alone.
 */
export function dataLooksLikeSack(length: number, byteAt: (i: number) => number): boolean {
  if (length < SACK_HEADER_LENGTH || byteAt(0) !== MAGIC_S) return false;
  if (byteAt(1) !== MAGIC_A || byteAt(2) !== MAGIC_C || byteAt(3) !== MAGIC_K) return false;
  const n = byteAt(4);
  return n >= 1 && n <= SACK_MAX_BLOCKS && length >= SACK_HEADER_LENGTH + SACK_BLOCK_LENGTH * n;
}

function isU32(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}
