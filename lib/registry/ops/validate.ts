/**
 * Validation of user-chosen names and labels (docs/protocol/registry.md §4.5, §7.1): hostnames,
 * tags and network names, with the reference's rules and error texts.
 * @module
 */
import { RequestError } from "../errors.ts";

/** Longest hostname or network name. */
export const MAX_NAME_LENGTH = 63;
/** Most tags a node may carry. */
export const MAX_TAGS = 10;
/** Longest tag. */
export const MAX_TAG_LENGTH = 32;
/** Most raw entries accepted in a `set_tags` request before normalisation. */
export const MAX_RAW_TAGS = 100;

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TAG_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const RESERVED_HOSTNAMES = new Set(["localhost", "backbone", "broadcast"]);

/** Throws RequestError unless `name` is a valid hostname ("" is allowed: it clears). */
export function validateHostname(name: string): void {
  if (name === "") return;
  if (name.length > MAX_NAME_LENGTH) {
    throw new RequestError(`invalid hostname: too long (max ${MAX_NAME_LENGTH} chars)`);
  }
  if (!NAME_RE.test(name)) {
    throw new RequestError(
      `invalid hostname: ${JSON.stringify(name)} must be lowercase letters, digits and inner hyphens`,
    );
  }
  if (RESERVED_HOSTNAMES.has(name)) {
    throw new RequestError(`invalid hostname: ${JSON.stringify(name)} is reserved`);
  }
}

/** Normalises tags the reference's way (strings only, one leading `#` stripped, de-duplicated) and validates them. */
export function normalizeTags(raw: unknown[]): string[] {
  const out: string[] = [];
  for (const t of raw) {
    if (typeof t !== "string") continue;
    const tag = t.startsWith("#") ? t.slice(1) : t;
    if (!out.includes(tag)) out.push(tag);
  }
  if (out.length > MAX_TAGS) throw new RequestError(`too many tags (max ${MAX_TAGS})`, "limit");
  for (const tag of out) {
    if (tag.length === 0 || tag.length > MAX_TAG_LENGTH || !TAG_RE.test(tag)) {
      throw new RequestError(
        `invalid tag ${
          JSON.stringify(tag.slice(0, 40))
        }: 1-${MAX_TAG_LENGTH} lowercase letters, digits and inner hyphens`,
      );
    }
  }
  return out;
}

/** Throws RequestError unless `name` is a valid network name. */
export function validateNetworkName(name: string): void {
  if (name === "") throw new RequestError("network name required");
  if (name.length > MAX_NAME_LENGTH) {
    throw new RequestError(`network name too long (max ${MAX_NAME_LENGTH} chars)`);
  }
  if (!NAME_RE.test(name)) {
    throw new RequestError("network name must be lowercase alphanumeric with inner hyphens (invalid)");
  }
  if (name === "backbone") throw new RequestError(`network name "backbone" is reserved (invalid)`);
}
