/**
 * The gateway's default ports and its refusal error, apart from gateway.ts so that flag parsing
 * and exposed ports use them without loading the gateway itself (a daemon runs it only with
 * `--gateway`).
 */
import { PilotError } from "../errors.ts";

/** The reference gateway's ports. */
export const DEFAULT_GATEWAY_PORTS: readonly number[] = [80, 443, 1000, 1001, 1002, 7, 8080, 8443];

/** A gateway request was refused; `code` is the CLI error code to report. */
export class GatewayError extends PilotError {
  constructor(readonly code: "invalid_argument" | "not_found" | "already_exists", message: string) {
    super(message);
  }
}
