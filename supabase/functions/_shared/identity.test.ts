// Access-token verification without the network per request: HS256 with the project's secret,
// ES256 against the Auth server's JWKS. The test stack's Auth signs HS256, so this test runs a
// second instance of the same real Auth server (AUTH_BIN, on the test database: AUTH_DB_URL; both
// from `npm test`) configured with an ES256 signing key, and points the function at it (AUTH_URL).
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

const SECRET = "test-secret-with-at-least-32-characters-in-it";
const KID = "test-es256";
const signing = await generateKeyPair("ES256", { extractable: true });
const stranger = await generateKeyPair("ES256");

const authBin = Deno.env.get("AUTH_BIN");
const authDbUrl = Deno.env.get("AUTH_DB_URL");
if (!authBin || !authDbUrl) throw new Error("AUTH_BIN and AUTH_DB_URL are not set; run the tests with npm test");
const port = (() => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
})();
const authUrl = `http://127.0.0.1:${port}`;
const auth = new Deno.Command(authBin, {
  env: {
    GOTRUE_API_HOST: "127.0.0.1",
    PORT: String(port),
    API_EXTERNAL_URL: authUrl,
    GOTRUE_SITE_URL: "http://127.0.0.1:3000",
    GOTRUE_DB_DRIVER: "postgres",
    DATABASE_URL: authDbUrl,
    GOTRUE_JWT_SECRET: SECRET,
    GOTRUE_JWT_KEYS: JSON.stringify([{
      ...(await exportJWK(signing.privateKey)),
      kid: KID,
      alg: "ES256",
      use: "sig",
      key_ops: ["sign", "verify"],
    }]),
    GOTRUE_JWT_EXP: "3600",
    GOTRUE_JWT_AUD: "authenticated",
    GOTRUE_JWT_DEFAULT_GROUP_NAME: "authenticated",
    GOTRUE_MAILER_AUTOCONFIRM: "true",
    GOTRUE_EXTERNAL_PHONE_ENABLED: "false",
    GOTRUE_LOG_LEVEL: "error",
  },
  stdin: "null",
  stdout: "null",
  stderr: "null",
}).spawn();
// Stopped by the last test; also when the module ends any other way.
globalThis.addEventListener("unload", () => {
  try {
    auth.kill("SIGTERM");
  } catch { /* already stopped */ }
});
const giveUp = Date.now() + 20_000;
while (!(await fetch(`${authUrl}/health`).then((r) => (r.body?.cancel(), r.ok), () => false))) {
  if (Date.now() > giveUp) throw new Error(`the ES256 Auth server (${authBin}) did not start on port ${port}`);
  await new Promise((r) => setTimeout(r, 100));
}

// env.ts reads the environment once, on import; the test modules of one `deno test` share the
// process environment, so it is put back as it was once identity.ts is loaded.
const testEnv: Record<string, string | undefined> = {
  SUPABASE_URL: "http://127.0.0.1:9",
  AUTH_URL: authUrl,
  SUPABASE_ANON_KEY: "anon",
  SUPABASE_DB_URL: "postgresql://unused@127.0.0.1:1/unused",
  PROVIDER_KEY_ENCRYPTION_KEY: btoa("k".repeat(32)),
  JWT_SECRET: SECRET,
};
const before = Object.fromEntries(Object.keys(testEnv).map((k) => [k, Deno.env.get(k)]));
function setEnv(vars: Record<string, string | undefined>) {
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) Deno.env.delete(k);
    else Deno.env.set(k, v);
  }
}
setEnv(testEnv);
const { bearerToken, verifyAccessToken } = await import("./identity.ts");
const { ApiError } = await import("./http.ts");
setEnv(before);

const claims = {
  sub: "6f1c1b0e-9a51-4c43-9a43-0c4b7b1d2a10",
  role: "authenticated",
  session_id: "0b7f4f6e-0000-4000-8000-000000000001",
};

function token(
  opts: {
    alg?: "HS256" | "ES256";
    key?: Parameters<SignJWT["sign"]>[0];
    kid?: string;
    exp?: string | number;
    aud?: string;
    extra?: object;
  } = {},
) {
  const alg = opts.alg ?? "ES256";
  return new SignJWT({ ...claims, ...opts.extra })
    .setProtectedHeader({ alg, ...(alg === "ES256" ? { kid: opts.kid ?? KID } : {}) })
    .setIssuedAt()
    .setAudience(opts.aud ?? "authenticated")
    .setExpirationTime(opts.exp ?? "1h")
    .sign(opts.key ?? (alg === "ES256" ? signing.privateKey : new TextEncoder().encode(SECRET)));
}

async function refused(jwt: string, message: RegExp) {
  await assert.rejects(verifyAccessToken(jwt), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 401);
    assert.match(err.message, message);
    return true;
  });
}

Deno.test("an ES256 token the Auth server issued is verified against its JWKS", async () => {
  const username = `es256_${crypto.randomUUID().slice(0, 8)}`;
  const res = await fetch(`${authUrl}/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      email: `${username}@users.invalid`,
      password: `pw-${crypto.randomUUID()}`,
      data: { username },
    }),
  });
  const session = await res.json();
  assert.equal(res.status, 200, session.msg);
  assert.equal(JSON.parse(atob(session.access_token.split(".")[0])).alg, "ES256");
  const verified = await verifyAccessToken(session.access_token);
  assert.equal(verified.sub, session.user.id);
  assert.ok(verified.session_id);
});

Deno.test("an ES256 token signed by any other key is refused", async () => {
  await refused(await token({ key: stranger.privateKey }), /Invalid access token/);
  await refused(await token({ key: stranger.privateKey, kid: "unknown-kid" }), /Invalid access token/);
});

Deno.test("an HS256 token signed with the project's JWT secret is verified; another secret is refused", async () => {
  assert.equal((await verifyAccessToken(await token({ alg: "HS256" }))).sub, claims.sub);
  await refused(
    await token({ alg: "HS256", key: new TextEncoder().encode("another-secret-with-at-least-32-characters") }),
    /Invalid access token/,
  );
});

Deno.test("expired tokens, other audiences, non-user roles and unsigned tokens are refused", async () => {
  await refused(await token({ exp: Math.floor(Date.now() / 1000) - 10 }), /expired/);
  await refused(await token({ aud: "other" }), /Invalid access token/);
  await refused(await token({ extra: { role: "anon" } }), /Invalid access token/);
  await refused(await token({ extra: { role: "service_role" } }), /Invalid access token/);
  const [header, payload] = (await token()).split(".");
  await refused(`${btoa(JSON.stringify({ alg: "none" })).replace(/=+$/, "")}.${payload}.`, /Invalid access token/);
  await refused(`${header}.${payload}.`, /Invalid access token/);
});

Deno.test("a token verified a moment ago is not verified again, until it expires; a forged one is refused all the same", async () => {
  const exp = Math.floor(Date.now() / 1000) + 2;
  const jwt = await token({ alg: "HS256", exp });
  const first = await verifyAccessToken(jwt);
  assert.equal(await verifyAccessToken(jwt), first, "the second time, the same claims, from the cache");
  assert.ok(Object.isFrozen(first), "shared claims cannot be changed by one request");
  const [header, payload, signature] = jwt.split(".");
  const forged = btoa(
    JSON.stringify({ ...claims, aud: "authenticated", exp, sub: "00000000-0000-4000-8000-000000000000" }),
  )
    .replace(/=+$/, "").replaceAll("+", "-").replaceAll("/", "_");
  await refused(`${header}.${forged}.${signature}`, /Invalid access token/);
  const otherSignature = signature.slice(0, 5) + (signature[5] === "A" ? "B" : "A") + signature.slice(6);
  await refused(`${header}.${payload}.${otherSignature}`, /Invalid access token/);
  await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 50));
  await refused(jwt, /expired/);
});

Deno.test("the Authorization header must be `Bearer <token>`", () => {
  assert.equal(bearerToken("Bearer abc.def.ghi"), "abc.def.ghi");
  assert.equal(bearerToken("bearer abc"), "abc");
  for (const bad of [undefined, "", "Basic abc", "Bearer", "Bearer a b"]) {
    assert.throws(() => bearerToken(bad), ApiError);
  }
});

Deno.test({
  name: "the key set is cached, not fetched per request: with the Auth server stopped, its tokens still verify",
  sanitizeResources: false,
  fn: async () => {
    auth.kill("SIGTERM");
    await auth.status;
    assert.equal((await verifyAccessToken(await token())).sub, claims.sub);
  },
});
