/**
 * Base class for every error pilot raises on purpose. Each decoder and subsystem
 * derives its own subclass so callers (and fuzz tests) can tell "this input was
 * rejected" apart from a programming error.
 *
 * @example
 * ```ts
 * import { PilotError } from "./errors.ts";
 * import { Address } from "./protocol/address.ts";
 * try {
 *   Address.parse("0:zzzz");
 * } catch (err) {
 *   console.assert(err instanceof PilotError); // a rejected input, not a bug
 * }
 * ```
 */
export class PilotError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
