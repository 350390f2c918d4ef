/**
 * Base class for every error pilot raises on purpose. Each decoder and subsystem
 * derives its own subclass so callers (and fuzz tests) can tell "this input was
 * rejected" apart from a programming error.
 */
export class PilotError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
