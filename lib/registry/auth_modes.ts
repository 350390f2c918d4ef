/**
 * The `--registry-auth` choices, apart from the client so that configuration parsing (the daemon's
 * and the CLI's) can validate the flag without loading the client and its cryptography.
 * @module
 */

/** What `--registry-auth` selects: a fixed dialect, or `auto` to detect it at registration. */
export type RegistryAuthMode = "strict" | "reference" | "auto";

/** The `--registry-auth` values, for flag validation. */
export const REGISTRY_AUTH_MODES: readonly RegistryAuthMode[] = ["strict", "reference", "auto"];
