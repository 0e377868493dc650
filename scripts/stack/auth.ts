// The real Supabase Auth server, built from its Go module at a pinned commit and cached.
import type { StackConfig } from "./config.ts";
import { JWT_SECRET } from "./config.ts";
import { exists, httpOk, output, portInUse, ROOT_BIN, spawnLogged, StackError, waitFor, which } from "./proc.ts";

// Release v2.189.0; later releases carry a local `replace` that `go install` refuses.
export const AUTH_MODULE = "github.com/supabase/auth";
export const AUTH_COMMIT = "4fa66ba71d8c55b5c95cd5635766ed8bbae6d96a";
const AUTH_BIN = `${ROOT_BIN}/auth`;

export type AuthBuild = { ok: true; bin: string; migrations: string } | { ok: false; reason: string };

function firstError(text: string) {
  const lines = text.trim().split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /error|forbidden|not available|refused/i.test(l)) ?? lines.at(-1) ?? "no output";
}

/** Builds the Auth server once (cached in .supabase-local/bin) and finds its SQL migrations. */
export async function buildAuth(): Promise<AuthBuild> {
  if (!(await which("go"))) {
    return { ok: false, reason: "Go is not installed (get Go 1.23 or newer: `apt-get install golang-go` or go.dev/dl), so the Auth server cannot be built" };
  }
  const spec = `${AUTH_MODULE}@${AUTH_COMMIT}`;
  const env = { GOBIN: ROOT_BIN, GOFLAGS: "-mod=mod" };
  await Deno.mkdir(ROOT_BIN, { recursive: true });
  if (!(await exists(AUTH_BIN))) {
    console.log(`building the Auth server (go install ${spec}); the first build takes a few minutes ...`);
    const built = await output("go", ["install", spec], { env, cwd: ROOT_BIN });
    if (built.code !== 0) return { ok: false, reason: `go install ${spec} failed: ${firstError(built.stderr)}` };
  }
  const dl = await output("go", ["mod", "download", "-json", spec], { env, cwd: ROOT_BIN });
  if (dl.code !== 0) return { ok: false, reason: `go mod download ${spec} failed: ${firstError(dl.stdout + dl.stderr)}` };
  const dir = JSON.parse(dl.stdout).Dir as string;
  return { ok: true, bin: AUTH_BIN, migrations: `${dir}/migrations` };
}

function authLog(cfg: StackConfig) {
  return `${cfg.logDir}/auth.log`;
}

/** Starts the Auth server configured for local use; it applies its own migrations on start. */
export async function startAuth(cfg: StackConfig, build: Extract<AuthBuild, { ok: true }>): Promise<Deno.ChildProcess> {
  if (await portInUse(cfg.ports.auth)) throw new StackError(`port ${cfg.ports.auth} (Auth) is already in use by another program`);
  const child = await spawnLogged(build.bin, [], {
    GOTRUE_API_HOST: "127.0.0.1",
    PORT: String(cfg.ports.auth),
    API_EXTERNAL_URL: `${cfg.apiUrl}/auth/v1`,
    GOTRUE_SITE_URL: "http://127.0.0.1:3000",
    GOTRUE_URI_ALLOW_LIST: "http://127.0.0.1:3000/**,http://localhost:3000/**",
    GOTRUE_DB_DRIVER: "postgres",
    DATABASE_URL: `postgresql://supabase_auth_admin:postgres@127.0.0.1:${cfg.ports.db}/postgres`,
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
  }, authLog(cfg));
  await waitFor("the Auth server", () => httpOk(`${cfg.authUrl}/health`), 60_000, authLog(cfg), child);
  return child;
}
