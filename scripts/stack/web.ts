// The web client (web/): built with Vite into web/dist, which the gateway serves at `/`. A start
// builds it only when its sources (or the npm lock file) changed since the last build: the
// build's input hash is kept beside its output.
import { ROOT } from "./config.ts";
import { run } from "./proc.ts";

export const WEB_DIR = `${ROOT}/web`;
export const WEB_DIST = `${WEB_DIR}/dist`;
const STAMP = `${WEB_DIST}/.source-hash`;

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) {
      if (path !== WEB_DIST && e.name !== "node_modules") out.push(...(await filesUnder(path)));
    } else out.push(path);
  }
  return out;
}

/** A hash of every file the build reads: web/ (without its output) and the npm lock file. */
export async function webSourceHash(): Promise<string> {
  const files = [...(await filesUnder(WEB_DIR)), `${ROOT}/package-lock.json`].sort();
  const hash = new Uint8Array(32);
  const enc = new TextEncoder();
  for (const f of files) {
    const digest = new Uint8Array(
      await crypto.subtle.digest(
        "SHA-256",
        new Uint8Array([...enc.encode(f.slice(ROOT.length) + "\0"), ...hash, ...(await Deno.readFile(f))]),
      ),
    );
    hash.set(digest);
  }
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Builds web/dist unless it was built from these sources; returns whether it built. */
export async function buildWeb(): Promise<boolean> {
  const hash = await webSourceHash();
  const built = await Deno.readTextFile(STAMP).catch(() => null);
  if (built === hash) return false;
  console.log("building the web client (web/ changed) ...");
  await run(`${ROOT}/node_modules/.bin/vite`, ["build", "--config", `${WEB_DIR}/vite.config.ts`, "--logLevel", "warn"]);
  await Deno.writeTextFile(STAMP, hash);
  return true;
}
