// The Debian packages the local stack needs: the one list `npm start` installs from (the README
// names this file). "Installed" is the package's own status in dpkg, never the presence of a file
// that another package may also ship (pg_config comes with postgresql-15 too, not only with the
// headers package the extensions need).
import { isRoot, output, run, StackError, which } from "./proc.ts";

export const DEBIAN_PACKAGES = [
  "postgresql-15", // the database server
  "postgresql-client-15", // psql, which the stack runs SQL with
  "postgresql-client-common", // /usr/bin/psql, the wrapper that picks psql's version
  "postgresql-15-pgtap", // pgTAP, for the database tests
  "postgresql-15-plpgsql-check", // plpgsql_check, for `supabase db lint`
  "libtap-parser-sourcehandler-pgtap-perl", // pg_prove, which runs the pgTAP files
  "postgresql-server-dev-15", // postgres.h and PGXS: pg_cron, pg_net and pgvector are built against it
  "libcurl4-openssl-dev", // curl/curl.h: pg_net is built against it
  "libgroonga-dev", // groonga.h: PGroonga is built against it
  "libgroonga0", // libgroonga.so.0, which PGroonga's library loads
  "libmsgpackc2", // libmsgpackc.so.2, which PGroonga's library loads
  "libxxhash0", // libxxhash.so.0, which PGroonga's library loads
  "libmsgpack-dev", // msgpack.h: PGroonga's MessagePack support (HAVE_MSGPACK)
  "libxxhash-dev", // xxhash.h: PGroonga's xxHash support (HAVE_XXHASH)
  "gcc", // the extensions
  "g++", // Storage's native module (fs-xattr, through node-gyp)
  "make", // the extensions, and node-gyp
  "nginx", // the gateway (gateway.ts)
  "poppler-utils", // pdftotext, the reference the bench compares PDF ingestion with
  "python3.11-venv", // python3 -m venv with pip: the venv schemathesis is installed into (schemathesis.ts)
  "chromium", // the browser the web client's end-to-end walk runs in (tests/web/walk.test.ts)
];

/** Those of `packages` whose dpkg status is not "install ok installed". */
export async function missingPackages(packages: readonly string[]): Promise<string[]> {
  // One call for all; a package dpkg has never heard of is left out of the output (and exit 1).
  const res = await output("dpkg-query", ["-W", "-f", "${Package}\t${Status}\n", ...packages]);
  const installed = new Set(
    res.stdout.split("\n").map((l) => l.split("\t")).filter(([, status]) => status === "install ok installed").map((
      [p],
    ) => p),
  );
  return packages.filter((p) => !installed.has(p));
}

/**
 * Installs the missing packages in one `apt-get install` after `apt-get update` (as root), or names
 * them all in one line. Runs before any server starts: installing one can upgrade postgresql-15
 * itself under a running server.
 */
export async function ensurePackages(packages: readonly string[] = DEBIAN_PACKAGES) {
  const missing = await missingPackages(packages);
  if (missing.length === 0) return;
  if (!isRoot || !(await which("apt-get"))) {
    throw new StackError(
      `missing Debian packages: ${missing.join(" ")} (install them: sudo apt-get install ${missing.join(" ")})`,
    );
  }
  console.log(`installing ${missing.join(", ")} with apt-get ...`);
  await run("apt-get", ["update", "-q"]);
  await run("apt-get", ["install", "-y", "-q", ...missing], { env: { DEBIAN_FRONTEND: "noninteractive" } });
  const still = await missingPackages(missing);
  if (still.length) {
    throw new StackError(`apt-get install finished but these packages are still not installed: ${still.join(" ")}`);
  }
}
