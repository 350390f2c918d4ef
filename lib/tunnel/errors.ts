/** The tunnel layer's error for bad options and arguments. */
import { PilotError } from "../errors.ts";

/** A tunnel option or argument was invalid. */
export class TunnelError extends PilotError {}
