/**
 * Enterprise identity administration with the reference pilotctl's arguments
 * (docs/protocol/cli.md §4.8): `pilot provision`, `pilot idp get|set`,
 * `pilot provision-status`, `pilot directory-sync`, `pilot directory-status`.
 * Like `pilot audit` they go through the daemon's registry relay (IPC Network
 * 0x10) with PILOT_ADMIN_TOKEN (or the daemon's own admin token); each prints the
 * registry's reply.
 */
import type { Command } from "./command.ts";
import { intFlag, noExtraArguments, parseArgs, type ParsedArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { timeoutFlag, withDaemon } from "./client.ts";
import { networkIdArg, REGISTRY_REQUEST_TIMEOUT_MS, registryRequest } from "./registry_request.ts";
import type { RegistryRequest } from "../lib/ipc/commands.ts";
import type { NetworkReply } from "../lib/sdk/core.ts";

/** Largest blueprint or directory file read (a registry request frame is at most 64 KiB anyway). */
const MAX_FILE_BYTES = 64 * 1024;
/** The IdP types `idp set --type` takes. */
const IDP_TYPES = ["oidc", "saml", "entra_id", "ldap", "webhook"];

const BASE_FLAGS = { socket: "string", timeout: "string" } as const;

function positionals(args: ParsedArgs, count: number, usage: string): string[] {
  if (args.positionals.length < count) throw new CliError("invalid_argument", `usage: ${usage}`);
  return noExtraArguments(args, count, usage);
}

/** A JSON object from a file, with errors that name the file. */
async function readJsonObject(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    const stat = await Deno.stat(path);
    if (stat.size > MAX_FILE_BYTES) {
      throw new CliError("invalid_argument", `${what} ${path} is larger than ${MAX_FILE_BYTES} bytes`);
    }
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError("invalid_argument", `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError("invalid_argument", `${what} ${path} is not JSON: ${(err as Error).message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new CliError("invalid_argument", `${what} ${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Sends `req` through the daemon with the admin token and prints the reply. */
async function adminRequest(
  args: ParsedArgs,
  req: RegistryRequest,
  out: Parameters<Command["run"]>[1],
  text: (reply: NetworkReply) => string,
): Promise<number> {
  const timeoutMs = timeoutFlag(args, REGISTRY_REQUEST_TIMEOUT_MS);
  const reply = await withDaemon(args, (c) => registryRequest(c, req, { withToken: true, timeoutMs }));
  printResult(out, reply, text(reply));
  return 0;
}

const json = (v: unknown) => JSON.stringify(v, null, 2);

export const provisionCommand: Command = {
  name: "provision",
  summary: "Provision a network from a JSON blueprint (needs the admin token)",
  usage: [
    "pilot provision <blueprint.json> [--socket PATH] [--json]",
    "",
    "Creates the blueprint's network (or finds it by name) and applies its enterprise flag, policy,",
    "identity provider, identity webhook and role pre-assignments. Output keys: network_id, name, created, actions.",
  ].join("\n"),
  flags: { ...BASE_FLAGS },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [path] = positionals(args, 1, "pilot provision <blueprint.json>");
    const blueprint = await readJsonObject(path, "blueprint");
    return await adminRequest(args, { type: "provision_network", blueprint }, out, (r) =>
      [
        `network ${r.network_id} (${r.name}) ${r.created ? "created" : "updated"}`,
        ...((r.actions as string[] | undefined) ?? []).map((a) => `  ${a}`),
      ].join("\n"));
  },
};

export const idpCommand: Command = {
  name: "idp",
  summary: "Show or set the registry's identity provider (needs the admin token)",
  usage: [
    "pilot idp get [--socket PATH] [--json]",
    `pilot idp set --type ${IDP_TYPES.join("|")} --url <u> [--issuer I] [--client-id C] [--tenant-id T]`,
    "              [--domain D] [--jwks-url U] [--socket PATH] [--json]",
    "",
    "The IdP url is also the identity webhook consulted at registration; validate_token fetches the",
    "JWKS from --jwks-url (default: the url).",
  ].join("\n"),
  flags: {
    ...BASE_FLAGS,
    type: "string",
    url: "string",
    issuer: "string",
    "client-id": "string",
    "tenant-id": "string",
    domain: "string",
    "jwks-url": "string",
  },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const usage = "pilot idp get | pilot idp set --type <t> --url <u> [...]";
    const [sub] = positionals(args, 1, usage);
    if (sub === "get") return await adminRequest(args, { type: "get_idp_config" }, out, json);
    if (sub !== "set") {
      throw new CliError("invalid_argument", `unknown idp sub-command "${sub}"`, `usage: ${usage}`);
    }
    const type = args.strings.get("type") ?? "";
    const url = args.strings.get("url") ?? "";
    if (!type || !url) {
      throw new CliError("invalid_argument", "idp set needs --type and --url", `usage: ${usage}`);
    }
    if (!IDP_TYPES.includes(type)) {
      throw new CliError("invalid_argument", `--type must be one of ${IDP_TYPES.join(", ")}, not "${type}"`);
    }
    const req: RegistryRequest = { type: "set_idp_config", idp_type: type, url };
    for (
      const [flag, key] of [["issuer", "issuer"], ["client-id", "client_id"], ["tenant-id", "tenant_id"], [
        "domain",
        "domain",
      ], ["jwks-url", "jwks_url"]]
    ) {
      const v = args.strings.get(flag);
      if (v !== undefined) req[key] = v;
    }
    return await adminRequest(args, req, out, (r) => `identity provider ${r.status} (${r.idp_type ?? type})`);
  },
};

export const provisionStatusCommand: Command = {
  name: "provision-status",
  summary: "Show provisioned networks, pre-assignments and the IdP (needs the admin token)",
  usage: "pilot provision-status [--socket PATH] [--json]",
  flags: { ...BASE_FLAGS },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    positionals(args, 0, "pilot provision-status");
    return await adminRequest(args, { type: "get_provision_status" }, out, (r) => {
      const nets = (r.networks as Record<string, unknown>[] | null) ?? [];
      const lines = nets.map((n) =>
        `${n.network_id}  ${n.name}  ${n.join_rule}${
          n.enterprise ? "  enterprise" : ""
        }  members ${n.members}` +
        (Array.isArray(n.rbac_pre_assignments) ? `  pre-assigned ${n.rbac_pre_assignments.length}` : "")
      );
      if (r.idp_type) lines.push(`identity provider: ${r.idp_type}`);
      return lines.length ? lines.join("\n") : "no networks";
    });
  },
};

export const directorySyncCommand: Command = {
  name: "directory-sync",
  summary: "Push a directory (users, roles, disabled accounts) to a network (needs the admin token)",
  usage: [
    "pilot directory-sync <directory.json> [--network N] [--remove-unlisted] [--socket PATH] [--json]",
    "",
    "The file holds {network_id, entries: [{external_id, display_name, email, groups, role, disabled}],",
    "remove_unlisted}; --network and --remove-unlisted override it.",
  ].join("\n"),
  flags: { ...BASE_FLAGS, network: "string", "remove-unlisted": "boolean" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [path] = positionals(
      args,
      1,
      "pilot directory-sync <directory.json> [--network N] [--remove-unlisted]",
    );
    const dir = await readJsonObject(path, "directory");
    const req: RegistryRequest = {
      type: "directory_sync",
      network_id: intFlag(
        args,
        "network",
        typeof dir.network_id === "number" ? dir.network_id : 0,
        0,
        0xffff,
      ),
      entries: dir.entries,
      remove_unlisted: args.booleans.has("remove-unlisted") || dir.remove_unlisted === true,
    };
    if (!req.network_id) {
      throw new CliError("invalid_argument", "no network: give --network N or network_id in the file");
    }
    return await adminRequest(args, req, out, (r) =>
      [
        `mapped ${r.mapped}, unmapped ${r.unmapped}, updated ${r.updated}, disabled ${r.disabled}`,
        ...((r.actions as string[] | undefined) ?? []).map((a) => `  ${a}`),
      ].join("\n"));
  },
};

export const directoryStatusCommand: Command = {
  name: "directory-status",
  summary: "Show a network's directory mapping (needs the admin token)",
  usage: "pilot directory-status <network_id> [--socket PATH] [--json]",
  flags: { ...BASE_FLAGS },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const usage = "pilot directory-status <network_id>";
    const net = networkIdArg(positionals(args, 1, usage)[0], usage);
    return await adminRequest(
      args,
      { type: "directory_status", network_id: net },
      out,
      (r) =>
        `network ${r.network_id}: ${r.total} members, ${r.mapped} mapped, ${r.unmapped} unmapped` +
        (r.last_sync ? `, last sync ${r.last_sync}` : ", never synced"),
    );
  },
};

/** The commands, in help order. */
export const IDENTITY_ADMIN_COMMANDS: readonly Command[] = [
  provisionCommand,
  provisionStatusCommand,
  idpCommand,
  directorySyncCommand,
  directoryStatusCommand,
];
