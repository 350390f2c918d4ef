/**
 * Sequence-number arithmetic on u32 values that wrap (RFC 1982, docs/protocol/transport.md §4).
 * Every comparison goes through the signed 32-bit difference, so "a is after b"
 * holds for b < a < b + 2^31 modulo 2^32. Inputs must already be u32 integers.
 * @module
 */

/** Number of distinct sequence numbers (2^32). */
export const SEQ_SPACE = 0x1_0000_0000;

/** `a + n` modulo 2^32, as a u32. `n` may be negative. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/**
 * The signed distance from `b` to `a` (`a − b` as an int32): positive when `a`
 * is after `b`. Meaningful while the two are less than 2^31 apart.
 */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** True when `a` comes strictly after `b` (int32(a − b) > 0). */
export function seqAfter(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** True when `a` equals `b` or comes after it. */
export function seqAfterOrEqual(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** True when `a` comes strictly before `b`. */
export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** True when `a` equals `b` or comes before it. */
export function seqBeforeOrEqual(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** The later of two sequence numbers. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a : b;
}

/** The earlier of two sequence numbers. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a : b;
}
