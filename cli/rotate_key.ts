/**
 * `pilot rotate-key <node_id> [email]` (docs/protocol/cli.md §4.3): replaces the node's Ed25519 key. Like the
 * reference pilotctl it talks to the registry itself, not through the daemon: a running daemon
 * holds the key in its tunnel (PILA), its services and its peers' caches, so the key changes
 * while no daemon uses it and the next start adopts it. The rotation is signed with the
 * current key (the reference's legacy call sent an owner email, which no registry accepts
 * as proof any more; the argument is taken and ignored). The new identity is written next to
 * the old one first and swapped in only after the registry accepted it; the old file stays
 * as `identity.json.old`.
 */
import { join, resolve } from "../lib/paths.ts";
import type { Command } from "./command.ts";
import { noExtraArguments, parseArgs, type ParsedArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { envOr, IPC_CONNECT_TIMEOUT_MS, socketPath } from "./client.ts";
import { CONFIG_FILE } from "./webhook.ts";
import { nodeIdArg } from "./registry_request.ts";
import { connect } from "../lib/sdk/core.ts";
import { generateEd25519KeyPair } from "../lib/crypto/ed25519.ts";
import {
  defaultStateDir,
  encodeIdentity,
  IDENTITY_FILE_MODE,
  IDENTITY_FILE_NAME,
  loadIdentityFile,
} from "../lib/crypto/identity.ts";
import { REGISTRY_AUTH_MODES, type RegistryAuthMode, RegistryClient } from "../lib/registry/client.ts";
import { toBase64 } from "../lib/bytes.ts";
import { closeQuietly, settleQuietly } from "../lib/errors.ts";

/** Suffix of the identity file the rotation replaced. */
export const OLD_IDENTITY_SUFFIX = ".old";
/** Suffix of the new identity while the registry has not accepted it yet. */
const NEW_IDENTITY_SUFFIX = ".new";

const USAGE =
  "pilot rotate-key <node_id> [email] [--state DIR] [--registry HOST:PORT] [--socket PATH] [--json]";

export const rotateKeyCommand: Command = {
  name: "rotate-key",
  summary: "Replace the node's key at the registry and in identity.json (daemon stopped)",
  usage: [
    USAGE,
    "             [--registry-auth strict|reference|auto]",
    "",
    "Signs a rotate_key request with the current key in <state>/identity.json, then swaps in the new",
    "key (the old file stays as identity.json.old). Stop the daemon first: it is refused while a daemon",
    "on --socket (or PILOT_SOCKET) uses this state directory. The registry is --registry, else",
    "PILOT_REGISTRY, else `registry` in <state>/config.json. The email argument of the reference's",
    "legacy call is accepted and ignored. Output keys: type, node_id, address, public_key, identity_file.",
  ].join("\n"),
  flags: { socket: "string", state: "string", registry: "string", "registry-auth": "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const node = nodeIdArg(args.positionals[0], USAGE);
    noExtraArguments(args, 2, USAGE);
    const auth = (args.strings.get("registry-auth") ?? "auto") as RegistryAuthMode;
    if (!REGISTRY_AUTH_MODES.includes(auth)) {
      throw new CliError(
        "invalid_argument",
        `--registry-auth must be strict, reference or auto, not "${auth}"`,
      );
    }
    const stateDir = args.strings.get("state") ?? defaultStateDir();
    await refuseWhileDaemonRuns(args, stateDir);
    const registry = await registryAddress(args, stateDir);
    const path = join(stateDir, IDENTITY_FILE_NAME);
    let current;
    try {
      current = await loadIdentityFile(path);
    } catch (err) {
      throw new CliError("not_found", err instanceof Error ? err.message : String(err));
    }
    const next = generateEd25519KeyPair();
    const pending = path + NEW_IDENTITY_SUFFIX;
    await writeFileSynced(pending, encodeIdentity(next.seed, next.publicKey));
    const client = new RegistryClient({
      address: registry,
      identity: { nodeId: node, seed: current.seed },
      signing: auth,
    });
    let reply;
    try {
      if (auth === "auto") await client.detectDialect();
      reply = await client.rotateKey(next.seed);
    } catch (err) {
      await settleQuietly(Deno.remove(pending), "cleanup");
      throw new CliError(
        "connection_failed",
        `registry ${registry} refused the rotation: ${err instanceof Error ? err.message : err}`,
        `is ${node} this identity's node id? (pilot lookup ${node} shows its key)`,
      );
    } finally {
      client.close();
    }
    await Deno.rename(path, path + OLD_IDENTITY_SUFFIX);
    await Deno.rename(pending, path);
    const data = { ...reply, public_key: toBase64(next.publicKey), identity_file: path };
    printResult(out, data, `node ${node} now has key ${data.public_key}; the old identity is ${path}.old`);
    return 0;
  },
};

/** A daemon using this state directory would keep signing with the old key: refuse. */
async function refuseWhileDaemonRuns(args: ParsedArgs, stateDir: string): Promise<void> {
  let client;
  try {
    client = await connect(socketPath(args), { timeoutMs: IPC_CONNECT_TIMEOUT_MS });
  } catch {
    return; // no daemon answering
  }
  try {
    const info = await settleQuietly(client.info({ timeoutMs: IPC_CONNECT_TIMEOUT_MS }), "optional detail");
    if (!info?.state_dir || resolve(info.state_dir) === resolve(stateDir)) {
      throw new CliError(
        "already_exists",
        `a daemon (node ${info?.node_id ?? "?"}) is running with this identity`,
        "stop it first, rotate, then start it again; it registers with the new key",
      );
    }
  } finally {
    await closeQuietly(client);
  }
}

async function registryAddress(args: ParsedArgs, stateDir: string): Promise<string> {
  const flag = args.strings.get("registry") ?? envOr("PILOT_REGISTRY", "");
  if (flag) return flag;
  try {
    const cfg = JSON.parse(await Deno.readTextFile(join(stateDir, CONFIG_FILE)));
    if (typeof cfg?.registry === "string" && cfg.registry) return cfg.registry;
  } catch {
    // no config file: fall through
  }
  throw new CliError(
    "invalid_argument",
    "no registry address: pass --registry HOST:PORT or set PILOT_REGISTRY",
    `usage: ${USAGE}`,
  );
}

async function writeFileSynced(path: string, text: string): Promise<void> {
  await settleQuietly(Deno.remove(path), "cleanup");
  await Deno.writeTextFile(path, text, { mode: IDENTITY_FILE_MODE, createNew: true });
  const file = await Deno.open(path, { read: true });
  try {
    await file.sync();
  } finally {
    file.close();
  }
}
