/**
 * Small JSON state files of the gateway and of exposed ports, in the node's state directory:
 * written atomically (temporary file, then rename; mode 0600) so a crash never leaves half a
 * file, and read back with a clear error naming the file when it is malformed.
 */
import { join } from "../paths.ts";
import { PilotError } from "../errors.ts";

/** A state file could not be parsed. */
export class StateFileError extends PilotError {}

/** Reads and parses `dir/name`; undefined when the file does not exist. */
export async function readStateFile(dir: string, name: string): Promise<unknown> {
  const path = join(dir, name);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new StateFileError(`${path} is not valid JSON: ${err instanceof Error ? err.message : err}`);
  }
}

/** Writes `value` as indented JSON to `dir/name` atomically. */
export async function writeStateFile(dir: string, name: string, value: unknown): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
  await Deno.rename(tmp, path);
}
