// Schemathesis (PyPI), which `npm test` runs against the OpenAPI document: installed by the
// project itself, at a pinned version, into a Python venv in the build cache (Debian's Python,
// with the venv module the stack's package list installs).
import { CACHE_DIR } from "./sources.ts";
import { exists, run } from "./proc.ts";

export const SCHEMATHESIS_VERSION = "4.32.5";
const PYTHON = "/usr/bin/python3.11";

/** The `st` command, installing it first if this version is not in the cache yet. */
export async function ensureSchemathesis(): Promise<string> {
  const dir = `${CACHE_DIR}/schemathesis-${SCHEMATHESIS_VERSION}`;
  const installed = `${dir}/.installed`; // written last: a venv without it was interrupted
  if (await exists(installed)) return `${dir}/bin/st`;
  console.log(`installing schemathesis ${SCHEMATHESIS_VERSION} into ${dir} ...`);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await run(PYTHON, ["-m", "venv", dir]);
  await run(`${dir}/bin/pip`, ["install", "--quiet", "--disable-pip-version-check", `schemathesis==${SCHEMATHESIS_VERSION}`]);
  await Deno.writeTextFile(installed, `${SCHEMATHESIS_VERSION}\n`);
  return `${dir}/bin/st`;
}
