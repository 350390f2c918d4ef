/** Small byte helpers shared by codecs; no I/O. */

const HEX = "0123456789abcdef";

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += HEX[b >> 4] + HEX[b & 0x0f];
  return out;
}

/** Parses hex (either case; spaces and newlines ignored) into bytes. Throws on odd length or bad digits. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  if (clean.length % 2 !== 0) throw new TypeError(`hex string has odd length ${clean.length}`);
  if (!/^[0-9a-fA-F]*$/.test(clean)) throw new TypeError("hex string contains a non-hex character");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Concatenates byte arrays into a new one. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Byte-wise equality; not constant time (use `constantTimeEqual` for secrets). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Equality whose running time depends only on the lengths, for tokens and MACs. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a[i % (a.length || 1)] ?? 0) ^ (b[i % (b.length || 1)] ?? 0);
  return diff === 0;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 encode. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** UTF-8 decode (replacement characters for invalid sequences). */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * Standard base64 (with padding) of `bytes`. The engine's encoder: ~15× faster than btoa over a
 * binary string for a 64-byte signature (docs/benchmarks.md, "Protocol codecs").
 */
export function toBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/** Decodes standard base64; throws TypeError on malformed input. */
export function fromBase64(text: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(text);
  } catch {
    throw new TypeError("invalid base64");
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// Big-endian integer access at a byte offset, without allocating a DataView. Each throws
// RangeError when the field would run past the end, so a short buffer never reads as zeros.

function checkRoom(bytes: Uint8Array, at: number, size: number): void {
  if (!(at >= 0) || at + size > bytes.length) {
    throw new RangeError(`${size}-byte field at offset ${at} runs past ${bytes.length} bytes`);
  }
}

/** Big-endian u16 at `at`. */
export function readU16(bytes: Uint8Array, at: number): number {
  checkRoom(bytes, at, 2);
  return (bytes[at] << 8) | bytes[at + 1];
}

/** Big-endian u32 at `at`. */
export function readU32(bytes: Uint8Array, at: number): number {
  checkRoom(bytes, at, 4);
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/** Big-endian u64 at `at`. */
export function readU64(bytes: Uint8Array, at: number): bigint {
  return (BigInt(readU32(bytes, at)) << 32n) | BigInt(readU32(bytes, at + 4));
}

/** Writes the low 16 bits of `value` big-endian at `at`. */
export function writeU16(out: Uint8Array, at: number, value: number): void {
  checkRoom(out, at, 2);
  out[at] = value >>> 8;
  out[at + 1] = value;
}

/** Writes the low 32 bits of `value` big-endian at `at`. */
export function writeU32(out: Uint8Array, at: number, value: number): void {
  checkRoom(out, at, 4);
  out[at] = value >>> 24;
  out[at + 1] = value >>> 16;
  out[at + 2] = value >>> 8;
  out[at + 3] = value;
}

/** Writes the low 64 bits of `value` big-endian at `at`. */
export function writeU64(out: Uint8Array, at: number, value: bigint): void {
  checkRoom(out, at, 8);
  const v = BigInt.asUintN(64, value);
  writeU32(out, at, Number(v >> 32n));
  writeU32(out, at + 4, Number(v & 0xffff_ffffn));
}
