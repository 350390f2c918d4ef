/**
 * The gateway's flags (`--subnet`/`--ports` of `pilot gateway start`, `--gateway*` of `pilot daemon`),
 * apart from cli/gateway.ts so that `pilot daemon` parses them without loading the gateway
 * commands and the IPC client they use (docs/benchmarks.md, "Daemon footprint").
 */
import type { ParsedArgs } from "./args.ts";
import { CliError } from "./output.ts";
import { DEFAULT_GATEWAY_PORTS } from "../lib/gateway/defaults.ts";
import { DEFAULT_GATEWAY_SUBNET, parseSubnet, SubnetError } from "../lib/gateway/subnet.ts";
import type { DaemonGatewayConfig } from "../lib/daemon/gateway_host.ts";
import { parsePort } from "../lib/protocol/ports.ts";

/** Parses `--ports 80,443` into a list of TCP ports. */
export function parsePortList(text: string): number[] {
  const ports: number[] = [];
  for (const item of text.split(",")) {
    const t = item.trim();
    if (!t) continue;
    let port: number;
    try {
      port = parsePort(t);
    } catch {
      throw new CliError("invalid_argument", `--ports: "${t}" is not a port`);
    }
    if (port === 0) throw new CliError("invalid_argument", "--ports: port 0 cannot be listened on");
    if (!ports.includes(port)) ports.push(port);
  }
  if (!ports.length) throw new CliError("invalid_argument", "--ports: no port given");
  return ports;
}

export function subnetFlag(text: string | undefined): string {
  try {
    return parseSubnet(text ?? DEFAULT_GATEWAY_SUBNET).text;
  } catch (err) {
    throw new CliError("invalid_argument", err instanceof SubnetError ? err.message : String(err));
  }
}

/** The `pilot daemon` gateway flags → config (undefined without `--gateway`). */
export function daemonGatewayFromArgs(args: ParsedArgs): DaemonGatewayConfig | undefined {
  const subnet = args.strings.get("gateway-subnet");
  const ports = args.strings.get("gateway-ports");
  if (!args.booleans.has("gateway") && subnet === undefined && ports === undefined) return undefined;
  return {
    subnet: subnetFlag(subnet),
    ports: ports === undefined ? [...DEFAULT_GATEWAY_PORTS] : parsePortList(ports),
  };
}
