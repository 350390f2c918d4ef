/**
 * The node's long-term Ed25519 identity, persisted as `identity.json` in its state directory in
 * the reference's format (docs/protocol/services.md §11.3):
 * `{"private_key": base64(seed ‖ public key), "public_key": base64(public key)}`, mode 0600.
 *
 * Created once, atomically (temp file in the same directory, fsync, hard link into place so an
 * existing identity is never overwritten, fsync of the directory), then loaded as-is on every
 * start. A file that cannot be read, does not parse, is inconsistent or is readable by others is
 * an {@link IdentityError} naming the file: losing the identity means losing the node's address
 * and trust relationships, so it is never replaced without a human deciding to.
 */
import { dirname, join } from "../paths.ts";
import { bytesEqual, fromBase64, toBase64 } from "../bytes.ts";
import {
  ED25519_PUBLIC_KEY_LENGTH,
  ED25519_SEED_LENGTH,
  ed25519FromSeed,
  generateEd25519KeyPair,
} from "./ed25519.ts";
import { IdentityError } from "./errors.ts";
import { errorMessage, settleQuietly } from "../errors.ts";

// The default state directory lives apart, so that code needing only the path loads no crypto.
export { DEFAULT_STATE_DIR_NAME, defaultStateDir } from "./state_dir.ts";

/** File name of the identity inside the state directory. */
export const IDENTITY_FILE_NAME = "identity.json";
/** Mode of the identity file: owner read/write only. */
export const IDENTITY_FILE_MODE = 0o600;
/** Mode of a state directory we create: owner only. */
export const STATE_DIR_MODE = 0o700;
/** Length of the decoded `private_key` field: seed ‖ public key, as Go's ed25519.PrivateKey. */
export const IDENTITY_PRIVATE_KEY_LENGTH = ED25519_SEED_LENGTH + ED25519_PUBLIC_KEY_LENGTH;

// Any permission bit for group or others makes the file unacceptable (as OpenSSH does for keys).
const GROUP_OTHER_BITS = 0o077;
const TEMP_SUFFIX_BYTES = 8;

/** A loaded or freshly created node identity. */
export interface NodeIdentity {
  /** The 32-byte Ed25519 seed (secret). */
  seed: Uint8Array;
  /** The 32-byte Ed25519 public key, as registered with the registry. */
  publicKey: Uint8Array;
  /** Absolute or caller-relative path of the identity file. */
  path: string;
  /** True when this call created the file. */
  created: boolean;
}

/**
 * Loads `<stateDir>/identity.json`, or creates it (and the directory, mode 0700) if it does not
 * exist. Throws {@link IdentityError} for every other problem.
 *
 * @example
 * ```ts
 * import { loadOrCreateIdentity } from "./identity.ts";
 * const dir = await Deno.makeTempDir();
 * const first = await loadOrCreateIdentity(dir);
 * const again = await loadOrCreateIdentity(dir);
 * console.assert(first.created && !again.created);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadOrCreateIdentity(stateDir: string): Promise<NodeIdentity> {
  try {
    await Deno.mkdir(stateDir, { recursive: true, mode: STATE_DIR_MODE });
  } catch (err) {
    throw new IdentityError(`cannot create state directory ${stateDir}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  return await loadOrCreateIdentityFile(join(stateDir, IDENTITY_FILE_NAME));
}

/**
 * Like {@link loadOrCreateIdentity} for an explicit file path (the daemon's `-identity` flag);
 * the parent directory must exist.
 */
export async function loadOrCreateIdentityFile(path: string): Promise<NodeIdentity> {
  const existing = await tryLoad(path);
  if (existing) return existing;
  const { seed, publicKey } = generateEd25519KeyPair();
  const placed = await writeNew(path, encodeIdentity(seed, publicKey));
  if (!placed) {
    // Another process created it between our check and our link: theirs wins, load it.
    const raced = await tryLoad(path);
    if (raced) return raced;
    throw new IdentityError(`identity file ${path} appeared and vanished while it was being created`);
  }
  return { seed, publicKey, path, created: true };
}

/** Reads and validates an existing identity file; throws {@link IdentityError} when it is missing too. */
export async function loadIdentityFile(path: string): Promise<NodeIdentity> {
  const identity = await tryLoad(path);
  if (!identity) throw new IdentityError(`identity file ${path} does not exist`);
  return identity;
}

/** The file's JSON text for a seed and public key (exported for tests and tooling). */
export function encodeIdentity(seed: Uint8Array, publicKey: Uint8Array): string {
  const privateKey = new Uint8Array(IDENTITY_PRIVATE_KEY_LENGTH);
  privateKey.set(seed);
  privateKey.set(publicKey, ED25519_SEED_LENGTH);
  const text = JSON.stringify(
    { private_key: toBase64(privateKey), public_key: toBase64(publicKey) },
    null,
    2,
  );
  privateKey.fill(0);
  return text + "\n";
}

/** Undefined when the file does not exist; the identity when it is valid; IdentityError otherwise. */
async function tryLoad(path: string): Promise<NodeIdentity | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new IdentityError(`cannot access identity file ${path}: ${errorMessage(err)}`, { cause: err });
  }
  if (!info.isFile) throw new IdentityError(`identity file ${path} is not a regular file`);
  // mode is null on Windows, where POSIX permission bits do not apply.
  if (info.mode !== null && (info.mode & GROUP_OTHER_BITS) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(3, "0");
    throw new IdentityError(
      `identity file ${path} is accessible by group or others (mode ${mode}); run: chmod 600 ${path}`,
    );
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new IdentityError(`cannot read identity file ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return { ...decodeIdentity(text, path), path, created: false };
}

/** Parses and cross-checks the file content; every failure names the file and what is wrong. */
function decodeIdentity(text: string, path: string): { seed: Uint8Array; publicKey: Uint8Array } {
  const corrupt = (why: string, cause?: unknown) =>
    new IdentityError(`identity file ${path} is corrupt: ${why}; it was left untouched`, { cause });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw corrupt("not valid JSON", err);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw corrupt("not a JSON object");
  const fields = doc as Record<string, unknown>;
  const field = (name: string, length: number): Uint8Array => {
    const value = fields[name];
    if (typeof value !== "string") throw corrupt(`"${name}" is missing or not a string`);
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(value);
    } catch (err) {
      throw corrupt(`"${name}" is not valid base64`, err);
    }
    if (bytes.length !== length) {
      throw corrupt(`"${name}" decodes to ${bytes.length} bytes, expected ${length}`);
    }
    return bytes;
  };
  const privateKey = field("private_key", IDENTITY_PRIVATE_KEY_LENGTH);
  const publicKey = field("public_key", ED25519_PUBLIC_KEY_LENGTH);
  const pair = ed25519FromSeed(privateKey.subarray(0, ED25519_SEED_LENGTH));
  const embedded = privateKey.subarray(ED25519_SEED_LENGTH);
  const consistent = bytesEqual(pair.publicKey, publicKey) && bytesEqual(pair.publicKey, embedded);
  privateKey.fill(0);
  if (!consistent) throw corrupt("public_key does not match private_key");
  return pair;
}

/**
 * Writes `text` to `path` only if nothing is there: temp file (0600, fsynced) in the same
 * directory, hard-linked into place (link fails instead of replacing), temp removed, directory
 * fsynced. Returns false if `path` already existed.
 */
async function writeNew(path: string, text: string): Promise<boolean> {
  const dir = dirname(path);
  const suffix = Array.from(crypto.getRandomValues(new Uint8Array(TEMP_SUFFIX_BYTES)), (b) => b.toString(16))
    .join("");
  const temp = join(dir, `.${IDENTITY_FILE_NAME}.${suffix}.tmp`);
  const bytes = new TextEncoder().encode(text);
  try {
    const file = await Deno.open(temp, { write: true, createNew: true, mode: IDENTITY_FILE_MODE });
    try {
      for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
      await file.sync();
    } finally {
      file.close();
    }
    if (Deno.build.os !== "windows") await Deno.chmod(temp, IDENTITY_FILE_MODE); // umask cannot widen it, but be explicit
    try {
      await Deno.link(temp, path);
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) return false;
      throw err;
    }
  } catch (err) {
    throw new IdentityError(`cannot write identity file ${path}: ${errorMessage(err)}`, { cause: err });
  } finally {
    bytes.fill(0);
    await settleQuietly(Deno.remove(temp), "cleanup");
  }
  await syncDirectory(dir);
  return true;
}

/** Makes the new directory entry durable; not possible on every platform, so best effort. */
async function syncDirectory(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    const handle = await Deno.open(dir, { read: true });
    try {
      await handle.sync();
    } finally {
      handle.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories; the file itself is already synced.
  }
}
