// The real Supabase Auth server, built from its release source (see sources.ts) and cached.
import type { StackConfig } from "./config.ts";
import { JWT_SECRET } from "./config.ts";
import { httpOk, output, portInUse, spawnLogged, StackError, waitFor, which } from "./proc.ts";
import { buildStep, CACHE_DIR, cached, extractSource, SOURCES } from "./sources.ts";

const VERSION = `v${SOURCES.auth.version}`;

export interface AuthBuild {
  bin: string;
  migrations: string;
}

/** Builds the Auth server once per version: its source, hibp beside it (`replace`), `go build`. */
export async function buildAuth(): Promise<AuthBuild> {
  const dir = await cached(`auth-${VERSION}`, `the Auth server ${VERSION}`, async (dir) => {
    if (!(await which("go"))) {
      throw new StackError(
        "Go is not installed, so the Auth server cannot be built (it needs Go 1.26.5 or newer: go.dev/dl)",
      );
    }
    const log = `${CACHE_DIR}/auth-${VERSION}.build.log`;
    await Deno.writeTextFile(log, "");
    await extractSource(SOURCES.auth, `${dir}/src`);
    await extractSource(SOURCES.hibp, `${dir}/hibp`);
    const src = `${dir}/src`;
    await buildStep("go mod edit (hibp)", log, "go", ["mod", "edit", `-replace=github.com/supabase/hibp=${dir}/hibp`], {
      cwd: src,
    });
    console.log("compiling the Auth server (about 2 minutes the first time) ...");
    await buildStep("go build of the Auth server", log, "go", [
      "build",
      "-ldflags",
      `-X github.com/supabase/auth/internal/utilities.Version=${VERSION}`,
      "-o",
      `${dir}/auth`,
      ".",
    ], { cwd: src, env: { GOFLAGS: "-mod=mod" } });
  });
  return { bin: `${dir}/auth`, migrations: `${dir}/src/migrations` };
}

/** Auth connects as its own role, the owner of the `auth` schema. */
export function authDatabaseUrl(cfg: StackConfig) {
  return `postgresql://supabase_auth_admin:${cfg.dbPassword}@127.0.0.1:${cfg.ports.db}/postgres`;
}

/**
 * Auth's defaults (per 5 minutes and address: 30 sign-ups, 150 sign-ins and refreshes, at most
 * 30 of those at once) are for the dev stack, as on a new hosted project. The test and bench
 * stacks sign up hundreds of users from one address in a few minutes (sign-ups count against
 * GOTRUE_RATE_LIMIT_OTP). The bench also signs in without limit; the test stack signs in a few
 * dozen times from 127.0.0.1, and keeps a sign-in limit (one a second after a burst of 30) that
 * tests/api/client-address.test.ts can exceed from addresses of its own.
 */
function rateLimits(cfg: StackConfig): Record<string, string> {
  if (cfg.profile === "dev") return {};
  return {
    GOTRUE_RATE_LIMIT_OTP: "100000",
    GOTRUE_RATE_LIMIT_TOKEN_REFRESH: cfg.profile === "test" ? "300" : "100000",
  };
}

function authEnv(cfg: StackConfig, build: AuthBuild): Record<string, string> {
  return {
    GOTRUE_API_HOST: "127.0.0.1",
    PORT: String(cfg.ports.auth),
    API_EXTERNAL_URL: `${cfg.apiUrl}/auth/v1`,
    GOTRUE_SITE_URL: "http://127.0.0.1:3000",
    GOTRUE_URI_ALLOW_LIST: "http://127.0.0.1:3000/**,http://localhost:3000/**",
    GOTRUE_DB_DRIVER: "postgres",
    DATABASE_URL: authDatabaseUrl(cfg),
    GOTRUE_DB_MIGRATIONS_PATH: build.migrations,
    GOTRUE_JWT_SECRET: JWT_SECRET,
    GOTRUE_JWT_EXP: "3600",
    GOTRUE_JWT_AUD: "authenticated",
    GOTRUE_JWT_ADMIN_ROLES: "service_role",
    GOTRUE_JWT_DEFAULT_GROUP_NAME: "authenticated",
    GOTRUE_DISABLE_SIGNUP: "false",
    GOTRUE_EXTERNAL_EMAIL_ENABLED: "true",
    GOTRUE_MAILER_AUTOCONFIRM: "true",
    GOTRUE_EXTERNAL_PHONE_ENABLED: "false",
    // The gateway sets X-Forwarded-For, so per-IP rate limits see the caller, not the gateway.
    GOTRUE_RATE_LIMIT_HEADER: "X-Forwarded-For",
    GOTRUE_LOG_LEVEL: "info",
    ...rateLimits(cfg),
  };
}

function authLog(cfg: StackConfig) {
  return `${cfg.logDir}/auth.log`;
}

/** `auth migrate`: Auth's own schema, before the project's migrations (they reference auth.users). */
export async function migrateAuth(cfg: StackConfig, build: AuthBuild) {
  const res = await output(build.bin, ["migrate"], { env: authEnv(cfg, build) });
  await Deno.writeTextFile(authLog(cfg), `$ auth migrate\n${res.stdout}${res.stderr}\n`, { append: true });
  if (res.code !== 0) throw new StackError(`auth migrate failed (exit ${res.code}); see ${authLog(cfg)}`);
}

export async function startAuth(cfg: StackConfig, build: AuthBuild): Promise<Deno.ChildProcess> {
  if (await portInUse(cfg.ports.auth)) {
    throw new StackError(`port ${cfg.ports.auth} (Auth) is already in use by another program`);
  }
  const child = await spawnLogged(build.bin, [], authEnv(cfg, build), authLog(cfg));
  await waitFor("the Auth server", () => httpOk(`${cfg.authUrl}/health`), 60_000, authLog(cfg), child);
  return child;
}
