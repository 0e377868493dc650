// The stack's Debian package list against what the stack really uses: every file a build or a
// tool of the stack needs must belong (dpkg -S) to a package the list installs. A machine where
// someone installed a package by hand then still fails here when the list forgets it.
// Essential packages (tar, coreutils, util-linux's runuser) are on every Debian system and not
// listed; Node.js and Go are prerequisites the README names.
import assert from "node:assert/strict";
import { DEBIAN_PACKAGES, missingPackages } from "./packages.ts";
import { NGINX } from "./gateway.ts";
import { output } from "./proc.ts";

const PG = "/usr/lib/postgresql/15";
const ARCH_INCLUDE = "/usr/include/x86_64-linux-gnu";

/** What needs each file: a part the stack builds, or a tool it runs. */
const NEEDED: { by: string; file: string }[] = [
  { by: "the database server", file: `${PG}/bin/postgres` },
  { by: "the database cluster", file: `${PG}/bin/initdb` },
  { by: "starting and stopping the database", file: `${PG}/bin/pg_ctl` },
  { by: "the stack's SQL", file: "/usr/bin/psql" },
  { by: "the stack's SQL", file: `${PG}/bin/psql` },
  { by: "pgTAP tests", file: "/usr/share/postgresql/15/extension/pgtap.control" },
  { by: "pgTAP tests", file: "/usr/bin/pg_prove" },
  { by: "supabase db lint", file: "/usr/share/postgresql/15/extension/plpgsql_check.control" },
  { by: "pg_cron, pg_net, pgvector builds", file: "/usr/include/postgresql/15/server/postgres.h" },
  { by: "pg_cron, pg_net, pgvector builds", file: `${PG}/lib/pgxs/src/makefiles/pgxs.mk` },
  { by: "pg_cron, pg_net, pgvector builds", file: `${PG}/bin/pg_config` },
  { by: "the pg_net build", file: `${ARCH_INCLUDE}/curl/curl.h` },
  { by: "the PGroonga build", file: "/usr/include/groonga/groonga.h" },
  { by: "the PGroonga build", file: "/usr/include/msgpack.h" },
  { by: "the PGroonga build", file: "/usr/include/xxhash.h" },
  { by: "PGroonga's library (pgroonga.so loads it)", file: "/usr/lib/x86_64-linux-gnu/libgroonga.so.0" },
  { by: "PGroonga's library (pgroonga.so loads it)", file: "/usr/lib/x86_64-linux-gnu/libmsgpackc.so.2" },
  { by: "PGroonga's library (pgroonga.so loads it)", file: "/usr/lib/x86_64-linux-gnu/libxxhash.so.0" },
  { by: "the extension builds", file: "/usr/bin/gcc" },
  { by: "the extension builds and node-gyp", file: "/usr/bin/make" },
  { by: "Storage's native module (node-gyp)", file: "/usr/bin/g++" },
  { by: "the gateway", file: NGINX },
  { by: "the bench's ingestion reference", file: "/usr/bin/pdftotext" },
  { by: "the venv schemathesis runs in", file: "/usr/lib/python3.11/ensurepip/__init__.py" },
  { by: "the web client's end-to-end walk", file: "/usr/bin/chromium" },
];

/** The packages dpkg says own `file` (none when no installed package does). */
async function owners(file: string): Promise<string[]> {
  const { code, stdout } = await output("dpkg", ["-S", file]);
  if (code !== 0) return [];
  return stdout.split("\n").filter((l) => l.includes(": ") && !l.startsWith("diversion"))
    .flatMap((l) => l.slice(0, l.indexOf(": ")).split(", ")).map((p) => p.replace(/:[a-z0-9]+$/, ""));
}

Deno.test("every file the stack builds with or runs belongs to a package in the stack's list", async () => {
  const unlisted: string[] = [];
  for (const { by, file } of NEEDED) {
    const own = await owners(file);
    if (!own.some((p) => DEBIAN_PACKAGES.includes(p))) {
      unlisted.push(
        `${file} (needed by ${by}) belongs to ${
          own.length ? own.join(", ") : "no installed package"
        }, which the stack does not install`,
      );
    }
  }
  assert.deepEqual(unlisted, []);
});

Deno.test("the stack's packages are all installed here, by their dpkg status", async () => {
  assert.deepEqual(await missingPackages(DEBIAN_PACKAGES), []);
});

Deno.test("a package counts as installed only by its dpkg status", async () => {
  // dpkg has never heard of the first; the second's files may exist, but only its status counts.
  assert.deepEqual(await missingPackages(["pdf-chatbot-no-such-package", "postgresql-15"]), [
    "pdf-chatbot-no-such-package",
  ]);
});
