/**
 * Names of files the data-exchange service writes. A FILE frame's name comes from the network,
 * so it is vetted before it goes near a path: anything that could leave the received directory
 * (separators, `.`/`..`, NUL) or that is not UTF-8 is refused outright; characters that are merely
 * awkward (other control characters, bidi overrides that disguise extensions, characters Windows
 * forbids) are replaced. The stored name adds a local timestamp, as the reference does
 * (`notes-20250101-093000.123.txt`), and is cut to fit one directory entry.
 * @module
 */
import { DataExchangeError, MAX_FILE_NAME_BYTES } from "./codec.ts";
import { fileStamp } from "./timestamps.ts";

/** Longest stored directory entry, in UTF-8 bytes (NAME_MAX on common file systems). */
export const MAX_STORED_NAME_BYTES = 255;
/** Longest extension kept apart from the base name when the stored name has to be shortened. */
export const MAX_EXTENSION_BYTES = 16;
/** Name used when sanitising leaves nothing. */
export const FALLBACK_FILE_NAME = "file";

/** A FILE frame's name was refused (path traversal, NUL, not UTF-8, too long). */
export class UnsafeFileNameError extends DataExchangeError {}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });
/** Control characters, bidi embedding/override/isolate marks, and characters Windows forbids. */
// deno-lint-ignore no-control-regex
const AWKWARD = /[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069<>:"|?*]/g;

/**
 * Vets the raw name bytes of a FILE frame and returns the name to store under (before the
 * timestamp is added). Throws {@link UnsafeFileNameError} for names that try to leave the
 * directory or cannot be trusted to mean one thing.
 */
export function safeFileName(nameBytes: Uint8Array): string {
  if (nameBytes.length > MAX_FILE_NAME_BYTES) {
    throw new UnsafeFileNameError(`file name of ${nameBytes.length} bytes exceeds ${MAX_FILE_NAME_BYTES}`);
  }
  let name: string;
  try {
    name = strictDecoder.decode(nameBytes);
  } catch {
    throw new UnsafeFileNameError("file name is not valid UTF-8");
  }
  if (name.includes("\0")) throw new UnsafeFileNameError("file name contains a NUL byte");
  if (name.includes("/") || name.includes("\\")) {
    throw new UnsafeFileNameError(`file name ${JSON.stringify(name)} contains a path separator`);
  }
  if (name === "." || name === "..") {
    throw new UnsafeFileNameError(`file name ${JSON.stringify(name)} is a directory`);
  }
  const cleaned = name.replace(AWKWARD, "_").replace(/[. ]+$/, "");
  return cleaned === "" ? FALLBACK_FILE_NAME : cleaned;
}

/** The UTF-8 prefix of `text` of at most `maxBytes` bytes, cut on a code-point boundary. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (encoder.encode(text).length <= maxBytes) return text;
  let out = "";
  let used = 0;
  for (const ch of text) {
    const n = encoder.encode(ch).length;
    if (used + n > maxBytes) break;
    out += ch;
    used += n;
  }
  return out;
}

/**
 * The directory entry for a received file: `<base>-<stamp>[-<attempt>]<ext>`, at most
 * {@link MAX_STORED_NAME_BYTES} bytes. `safeName` must come from {@link safeFileName}; a
 * non-zero `attempt` disambiguates files that arrive in the same millisecond.
 */
export function storedFileName(safeName: string, when: Date, attempt = 0): string {
  const dot = safeName.lastIndexOf(".");
  let base = safeName;
  let ext = "";
  // A leading dot names a hidden file rather than starting an extension.
  if (dot > 0 && encoder.encode(safeName.slice(dot)).length <= MAX_EXTENSION_BYTES) {
    base = safeName.slice(0, dot);
    ext = safeName.slice(dot);
  }
  const suffix = `-${fileStamp(when)}${attempt > 0 ? `-${attempt}` : ""}`;
  const room = MAX_STORED_NAME_BYTES - encoder.encode(suffix).length - encoder.encode(ext).length;
  return `${truncateUtf8(base, room)}${suffix}${ext}`;
}

/** The inbox entry for a message: `<TYPE>-<stamp>[-<attempt>].json`. */
export function inboxFileName(typeName: string, when: Date, attempt = 0): string {
  return `${typeName}-${fileStamp(when)}${attempt > 0 ? `-${attempt}` : ""}.json`;
}
