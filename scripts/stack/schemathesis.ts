// Schemathesis (PyPI), which `npm test` runs against the OpenAPI document.
import { ensurePythonTool } from "./python-tools.ts";

export const SCHEMATHESIS_VERSION = "4.32.5";

/** The `st` command, installing it first if this version is not in the cache yet. */
export function ensureSchemathesis(): Promise<string> {
  return ensurePythonTool(`schemathesis-${SCHEMATHESIS_VERSION}`, [`schemathesis==${SCHEMATHESIS_VERSION}`], "st");
}
