// The Postgres extensions hosted Supabase has and Debian lacks (or has too old): pg_cron 1.6,
// pg_net, pgvector and PGroonga (against Debian's Groonga, with its MessagePack and xxHash
// support, as the upstream packages build it), built from their release sources (see sources.ts) against Debian's
// PostgreSQL 15 and installed into its directories. Run before Postgres starts: pg_cron and
// pg_net are preloaded, and a server must not keep an older library loaded.
import { isRoot, StackError, which } from "./proc.ts";
import { buildStep, CACHE_DIR, cached, extractSource, type SourceArchive, SOURCES } from "./sources.ts";

const PG_CONFIG = "/usr/lib/postgresql/15/bin/pg_config";
const PKGLIBDIR = "/usr/lib/postgresql/15/lib";

const EXTENSIONS: { source: SourceArchive; library: string; makeArgs?: string[] }[] = [
  { source: SOURCES.pgCron, library: "pg_cron.so" },
  { source: SOURCES.pgNet, library: "pg_net.so" },
  { source: SOURCES.pgvector, library: "vector.so" },
  { source: SOURCES.pgroonga, library: "pgroonga.so", makeArgs: ["HAVE_MSGPACK=1", "HAVE_XXHASH=1"] },
];

async function sameFile(a: string, b: string) {
  try {
    const [x, y] = await Promise.all([Deno.readFile(a), Deno.readFile(b)]);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  } catch {
    return false;
  }
}

/** Builds each extension once per version (cached) and installs it where its library differs from the build. */
export async function ensureExtensions() {
  for (const { source, library, makeArgs = [] } of EXTENSIONS) {
    const args = [`PG_CONFIG=${PG_CONFIG}`, ...makeArgs];
    const slug = source.file.replace(/\.tar\.gz$/, "");
    const log = `${CACHE_DIR}/${slug}-pg15.build.log`;
    const dir = await cached(`${slug}-pg15`, `${source.name} ${source.version}`, async (dir) => {
      for (const tool of ["make", "gcc"]) {
        if (!(await which(tool))) {
          throw new StackError(
            `${tool} is not installed, so ${source.name} cannot be built (apt-get install build-essential)`,
          );
        }
      }
      await Deno.writeTextFile(log, "");
      await extractSource(source, dir);
      await buildStep(`make (${source.name})`, log, "make", args, { cwd: dir });
    });
    if (await sameFile(`${dir}/${library}`, `${PKGLIBDIR}/${library}`)) continue;
    if (!isRoot) {
      throw new StackError(
        `${source.name} ${source.version} is built in ${dir} but not installed; run as root once, or: sudo make -C ${dir} ${
          args.join(" ")
        } install`,
      );
    }
    await buildStep(`make install (${source.name})`, log, "make", [...args, "install"], { cwd: dir });
    console.log(`installed ${source.name} ${source.version} into PostgreSQL 15`);
  }
}
