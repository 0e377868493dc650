// Python tools the project runs (schemathesis, migra): each installed by the project itself, at
// pinned versions, into a venv of its own in the build cache (Debian's Python, with the venv
// module the stack's package list installs).
import { CACHE_DIR } from "./sources.ts";
import { exists, run } from "./proc.ts";

const PYTHON = "/usr/bin/python3.11";

/** The path of `command` in the venv `name`, installing `packages` (pip requirement strings) first if it is not there yet. */
export async function ensurePythonTool(name: string, packages: string[], command: string): Promise<string> {
  const dir = `${CACHE_DIR}/${name}`;
  const installed = `${dir}/.installed`; // written last: a venv without it was interrupted
  if (await exists(installed)) return `${dir}/bin/${command}`;
  console.error(`installing ${packages.join(" ")} into ${dir} ...`);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await run(PYTHON, ["-m", "venv", dir]);
  await run(`${dir}/bin/pip`, ["install", "--quiet", "--disable-pip-version-check", ...packages]);
  await Deno.writeTextFile(installed, `${packages.join("\n")}\n`);
  return `${dir}/bin/${command}`;
}
