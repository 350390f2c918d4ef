/**
 * Typed readers for request fields. Unlike the reference, which silently turns a
 * mistyped id into 0, a field of the wrong type is refused with a message that
 * names it. An absent optional field yields its zero value.
 * @module
 */
import { RequestError } from "./errors.ts";
import type { WireMessage } from "./wire.ts";

/** Largest u32 (node ids). */
export const U32_MAX = 0xffff_ffff;
/** Largest u16 (network ids). */
export const U16_MAX = 0xffff;
/** Longest string field accepted unless a field sets its own bound. */
export const DEFAULT_MAX_STRING = 4096;

function bad(key: string, what: string): RequestError {
  return new RequestError(`invalid field ${key}: must be ${what}`, "invalid_request");
}

/** An integer id in 0..max; `required` refuses absence and 0 ("<key> required"). */
export function readId(req: WireMessage, key: string, max: number, required = false): number {
  const v = req[key];
  if (v === undefined || v === null) {
    if (required) throw new RequestError(`${key} required`, "invalid_request");
    return 0;
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    throw bad(key, `an integer between 0 and ${max}`);
  }
  if (required && v === 0) throw new RequestError(`${key} required`, "invalid_request");
  return v;
}

/** A node id (u32). */
export function readNodeId(req: WireMessage, key: string, required = true): number {
  return readId(req, key, U32_MAX, required);
}

/** A network id (u16). */
export function readNetworkId(req: WireMessage, key: string, required = true): number {
  return readId(req, key, U16_MAX, required);
}

/** A string of at most `max` UTF-16 units; absent → "". */
export function readString(
  req: WireMessage,
  key: string,
  max = DEFAULT_MAX_STRING,
  required = false,
): string {
  const v = req[key];
  if (v === undefined || v === null) {
    if (required) throw new RequestError(`${key} required`, "invalid_request");
    return "";
  }
  if (typeof v !== "string") throw bad(key, "a string");
  if (v.length > max) {
    throw new RequestError(`invalid field ${key}: too long (max ${max} chars)`, "invalid_request");
  }
  if (required && v === "") throw new RequestError(`${key} required`, "invalid_request");
  return v;
}

/** A boolean; absent → `fallback`. */
export function readBool(req: WireMessage, key: string, fallback = false): boolean {
  const v = req[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw bad(key, "true or false");
  return v;
}

/** A finite number; absent → undefined. */
export function readNumber(req: WireMessage, key: string): number | undefined {
  const v = req[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw bad(key, "a number");
  return v;
}

/** An array of at most `maxItems` entries; absent → undefined. Entries are returned unchecked. */
export function readArray(req: WireMessage, key: string, maxItems: number): unknown[] | undefined {
  const v = req[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw bad(key, "an array");
  if (v.length > maxItems) throw new RequestError(`too many entries in ${key} (max ${maxItems})`, "limit");
  return v;
}
