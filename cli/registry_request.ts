/**
 * What the node-admin and network commands share: numeric arguments in the reference's
 * forms, and registry requests made through the daemon (IPC Network 0x10, ours) instead of
 * the reference pilotctl's own unsigned registry connection, so they are signed as the node
 * in the dialect the daemon detected. The admin token comes from PILOT_ADMIN_TOKEN when set,
 * else the daemon uses its own (`pilot daemon --admin-token`).
 */
import { CliError } from "./output.ts";
import { envOr, toCliError } from "./client.ts";
import { AddressError, parseAddressOrNodeId } from "../lib/protocol/address.ts";
import { IpcError, type NetworkReply, type PilotClient } from "../lib/sdk/core.ts";
import type { RegistryRequest } from "../lib/ipc/commands.ts";

/** How long a registry request through the daemon may take (the daemon's own registry timeout is 15 s). */
export const REGISTRY_REQUEST_TIMEOUT_MS = 20_000;

/** A node id: decimal, or an address whose node part is taken; CliError("invalid_argument") otherwise. */
export function nodeIdArg(text: string | undefined, usage: string): number {
  if (text === undefined) throw new CliError("invalid_argument", `usage: ${usage}`);
  try {
    const node = parseAddressOrNodeId(text).node;
    if (node !== 0) return node;
  } catch (err) {
    if (!(err instanceof AddressError)) throw err;
  }
  throw new CliError("invalid_argument", `invalid node id "${text}"`, `usage: ${usage}`);
}

/** A network id (decimal 0..65535); CliError("invalid_argument") otherwise. */
export function networkIdArg(text: string | undefined, usage: string): number {
  if (text === undefined) throw new CliError("invalid_argument", `usage: ${usage}`);
  if (!/^\d{1,5}$/.test(text) || Number(text) > 0xffff) {
    throw new CliError("invalid_argument", `invalid network id "${text}" (0..65535)`, `usage: ${usage}`);
  }
  return Number(text);
}

/** The admin token from the environment ("" when unset). */
export function adminTokenFromEnv(): string {
  return envOr("PILOT_ADMIN_TOKEN", "");
}

/** Registry refusals that mean "an admin token is needed", from our registry and the reference's. */
const AUTH_REQUIRED = /admin token required|invalid admin token|admin operations are disabled|unauthorized/i;

/**
 * Asks the daemon to make registry request `request`; adds PILOT_ADMIN_TOKEN when
 * `withToken`. Failures become the reference's codes: `auth_required` for a missing or wrong
 * admin token, `connection_failed` for the rest, and a clear word when the daemon is the
 * reference's (which does not relay registry requests).
 */
export async function registryRequest(
  client: PilotClient,
  request: RegistryRequest,
  opts: { withToken?: boolean; timeoutMs?: number } = {},
): Promise<NetworkReply> {
  const token = opts.withToken ? adminTokenFromEnv() : "";
  const body: RegistryRequest = token ? { ...request, admin_token: token } : request;
  try {
    return await client.registryRequest(body, { timeoutMs: opts.timeoutMs ?? REGISTRY_REQUEST_TIMEOUT_MS });
  } catch (err) {
    throw registryError(err, request.type);
  }
}

function registryError(err: unknown, type: string): unknown {
  if (err instanceof IpcError && err.reason === "daemon") {
    if (/unknown sub-command 0x10/.test(err.message)) {
      return new CliError(
        "connection_failed",
        `the daemon does not relay registry requests (${type}): it is not a pilot daemon`,
        "run the command against a `pilot daemon`",
      );
    }
    if (AUTH_REQUIRED.test(err.message)) {
      return new CliError(
        "auth_required",
        err.message,
        "set PILOT_ADMIN_TOKEN, or start the daemon with --admin-token",
      );
    }
  }
  return toCliError(err);
}
