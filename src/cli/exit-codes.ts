/** Exit codes, documented in the README. */
export const EXIT = {
  OK: 0,
  /** At least one chart version failed; all others were still done. */
  FAILED: 1,
  /** The config or command line is wrong; nothing was done. */
  CONFIG: 2,
  SIGINT: 130,
  SIGTERM: 143,
} as const;
