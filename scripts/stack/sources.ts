// Where the third-party sources of the stack come from, and where their builds are kept.
//
// Each part is built from its upstream release archive, pinned here by sha256. The archive is
// taken from the first of: $STACK_SOURCES_DIR, ../shared/vendor next to the project, or a
// download of the same tag from GitHub. A folder's archive must match the pinned sha256 byte for
// byte. A GitHub tag archive is made by `git archive` too, but with another top folder name, so
// its bytes differ: a download is checked by the digest of the files it holds (treeDigest),
// which is the same for both.
import { ROOT } from "./config.ts";
import { exists, output, run, StackError } from "./proc.ts";

export interface SourceArchive {
  name: string;
  version: string;
  file: string; // the file name in a sources folder
  sha256: string; // of that file
  tree: string; // treeDigest of its contents
  url: string; // the same release on GitHub
}

export const SOURCES = {
  auth: {
    name: "Supabase Auth",
    version: "2.196.0",
    file: "supabase-auth-2.196.0.tar.gz",
    sha256: "47b76d1b52edb0a9c45b8f0885156864b08e43f2c8ff949047cb93c456955ab2",
    tree: "efb71becc413fbb9cdb9c1794b91a18250580d66018a9359e4271e8f7a0bb958",
    url: "https://github.com/supabase/auth/archive/refs/tags/v2.196.0.tar.gz",
  },
  hibp: {
    name: "supabase/hibp (a Go dependency of Auth)",
    version: "d225752",
    file: "supabase-hibp-d225752.tar.gz",
    sha256: "00dc38d21c73e282b9301cb09a14b12e2674def91eb66d54b38f725ffb1f05fa",
    tree: "f4b902017aacb69812d618adb3b0906015e05f5d0ea68e3f8453ecc047b518d3",
    url: "https://github.com/supabase/hibp/archive/d225752ae869f2e9e813d5effb11857be3e9201b.tar.gz",
  },
  storage: {
    name: "Supabase Storage",
    version: "1.70.6",
    file: "supabase-storage-1.70.6.tar.gz",
    sha256: "2c97c7e622c0989ddb0ebd5cbeab7d1efb88887627939f029d5262f79a57752c",
    tree: "c49c9beb16fb6a730715231e69b1cafee5892f8d03649787fd1e8a0be0bfc16a",
    url: "https://github.com/supabase/storage/archive/refs/tags/v1.70.6.tar.gz",
  },
  pgNet: {
    name: "pg_net",
    version: "0.20.5",
    file: "pg_net-0.20.5.tar.gz",
    sha256: "319c8eb552da5b801b158f29eb1f996c5cc3e6aedfa940b81687b1ea312add00",
    tree: "f11b7206ff11f25dd693b7d32e59017c8658177892fb7008b5447e3763ca26cd",
    url: "https://github.com/supabase/pg_net/archive/refs/tags/v0.20.5.tar.gz",
  },
  pgCron: {
    name: "pg_cron",
    version: "1.6.7",
    file: "pg_cron-1.6.7.tar.gz",
    sha256: "070bbdb9c951727b8c7963e12466b3f88d3a27f0cc92d8373481ddfb07dbbbbb",
    tree: "b61eb67339b87a6343e1a8bd5c7afc16a01501b7d26664ebf177376ac1c105be",
    url: "https://github.com/citusdata/pg_cron/archive/refs/tags/v1.6.7.tar.gz",
  },
  pgvector: {
    name: "pgvector",
    version: "0.8.6",
    file: "pgvector-0.8.6.tar.gz",
    sha256: "b4eb8abc425b465082ae5955d13df5338c32ec1bd441f0eb86d780e3958766a6",
    tree: "0e0b2d917f3059a6922ab2c1072b4705da08864381737ba223d7250e84ddbca9",
    url: "https://github.com/pgvector/pgvector/archive/refs/tags/v0.8.6.tar.gz",
  },
  pgroonga: {
    name: "PGroonga",
    version: "3.0.9",
    file: "pgroonga-3.0.9.tar.gz",
    sha256: "37ceb290d26526a12fd523b05a58016553ffe0ccbbc411cc3c450612ed5fa460",
    tree: "82f2d2761c10bff9bedb6dc71768b89b154b07c8f7b14fc867b1fb332120183b",
    url: "https://github.com/pgroonga/pgroonga/archive/refs/tags/3.0.9.tar.gz",
  },
} satisfies Record<string, SourceArchive>;

/** Builds live outside the clone, one folder per part and version, so a new clone builds nothing. */
export const CACHE_DIR = Deno.env.get("STACK_CACHE_DIR") ??
  `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`}/pdf-chatbot-backend`;

export const SOURCES_ENV = "STACK_SOURCES_DIR";
const SHARED_VENDOR = `${ROOT.replace(/\/[^/]*$/, "")}/shared/vendor`; // ../shared/vendor next to the project

async function sha256File(path: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", await Deno.readFile(path)));
}

function hex(buf: ArrayBuffer) {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** sha256 over the sorted list of (path, sha256 of content or link target) of a folder's files. */
export async function treeDigest(dir: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(`${dir}/${rel}`)) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(path);
      else if (e.isSymlink) lines.push(`${path} -> ${await Deno.readLink(`${dir}/${path}`)}`);
      else lines.push(`${path} ${await sha256File(`${dir}/${path}`)}`);
    }
  };
  await walk("");
  lines.sort();
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(lines.join("\n"))));
}

async function download(src: SourceArchive, dest: string) {
  const res = await fetch(src.url, { signal: AbortSignal.timeout(300_000) }).catch((e) => {
    throw new StackError(
      `${src.file} is in no sources folder and ${src.url} could not be downloaded (${e.message}); set ${SOURCES_ENV} to a folder holding it`,
    );
  });
  if (!res.ok) {
    throw new StackError(
      `${src.file} is in no sources folder and ${src.url} answered ${res.status}; set ${SOURCES_ENV} to a folder holding it`,
    );
  }
  await Deno.writeFile(dest, new Uint8Array(await res.arrayBuffer()));
}

/**
 * Extracts the part's source into `dest` (its top folder stripped), verified against the pins,
 * and says in one line where it came from. `dest` is replaced.
 */
export async function extractSource(src: SourceArchive, dest: string): Promise<void> {
  const candidates = [Deno.env.get(SOURCES_ENV), SHARED_VENDOR].filter((d): d is string => !!d);
  let archive: string | null = null;
  for (const dir of candidates) {
    if (await exists(`${dir}/${src.file}`)) {
      archive = `${dir}/${src.file}`;
      break;
    }
  }
  await Deno.remove(dest, { recursive: true }).catch(() => {});
  await Deno.mkdir(dest, { recursive: true });
  if (archive) {
    const sum = await sha256File(archive);
    if (sum !== src.sha256) {
      throw new StackError(
        `${archive}: sha256 ${sum} is not the pinned ${src.sha256}; the file is not the release this project builds`,
      );
    }
    await run("tar", ["-xzf", archive, "-C", dest, "--strip-components=1"]);
    console.log(`source: ${src.name} ${src.version} from ${archive} (sha256 verified)`);
    return;
  }
  const tmp = await Deno.makeTempFile({ suffix: ".tar.gz" });
  try {
    await download(src, tmp);
    await run("tar", ["-xzf", tmp, "-C", dest, "--strip-components=1"]);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  const digest = await treeDigest(dest);
  if (digest !== src.tree) {
    throw new StackError(`${src.url}: its files (digest ${digest}) are not those of the pinned release (${src.tree})`);
  }
  console.log(`source: ${src.name} ${src.version} downloaded from ${src.url} (contents verified)`);
}

/** A folder of the cache that is complete only once `build` has finished (marked by a stamp file). */
export async function cached(folder: string, what: string, build: (dir: string) => Promise<void>): Promise<string> {
  const dir = `${CACHE_DIR}/${folder}`;
  const stamp = `${dir}/.built`;
  if (await exists(stamp)) return dir;
  const started = Date.now();
  console.log(`building ${what} into ${dir} (once per version) ...`);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  await build(dir);
  await Deno.writeTextFile(stamp, new Date().toISOString() + "\n");
  console.log(`built ${what} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return dir;
}

/** Runs a build step; on failure the whole output goes to `log` and the error names it. */
export async function buildStep(
  what: string,
  log: string,
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
) {
  const res = await output(cmd, args, opts);
  await Deno.writeTextFile(log, `$ ${cmd} ${args.join(" ")}\n${res.stdout}${res.stderr}\n`, { append: true });
  if (res.code !== 0) {
    const last = (res.stderr.trim() || res.stdout.trim()).split("\n").slice(-1)[0];
    throw new StackError(`${what} failed (exit ${res.code}): ${last}; see ${log}`);
  }
}
