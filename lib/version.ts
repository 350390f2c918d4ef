/** The program's version, reported by `pilot version`, the HTTP status and the registry client. */
export const PROGRAM_VERSION = "0.1.0";
