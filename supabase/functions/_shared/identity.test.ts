// Access-token verification without the network per request: HS256 with the project's secret,
// ES256 against the auth server's JWKS (served here by a local server, as /auth/v1/.well-known/jwks.json).
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

const SECRET = "test-secret-with-at-least-32-characters-in-it";
const signing = await generateKeyPair("ES256");
const stranger = await generateKeyPair("ES256");
const publicJwk = { ...(await exportJWK(signing.publicKey)), kid: "key-1", alg: "ES256", use: "sig" };

let jwksRequests = 0;
const jwksServer = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
  if (new URL(req.url).pathname !== "/auth/v1/.well-known/jwks.json") return new Response("not found", { status: 404 });
  jwksRequests++;
  return Response.json({ keys: [publicJwk] });
});
jwksServer.unref(); // ends with the test run

// env.ts reads the environment once, on import; the test modules of one `deno test` share the
// process environment, so it is put back as it was once identity.ts is loaded.
const testEnv: Record<string, string | undefined> = {
  SUPABASE_URL: `http://127.0.0.1:${jwksServer.addr.port}`,
  AUTH_URL: undefined,
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

const claims = { sub: "6f1c1b0e-9a51-4c43-9a43-0c4b7b1d2a10", role: "authenticated", session_id: "0b7f4f6e-0000-4000-8000-000000000001" };

function token(opts: { alg?: "HS256" | "ES256"; key?: Parameters<SignJWT["sign"]>[0]; kid?: string; exp?: string | number; aud?: string; extra?: object } = {}) {
  const alg = opts.alg ?? "ES256";
  return new SignJWT({ ...claims, ...opts.extra })
    .setProtectedHeader({ alg, ...(alg === "ES256" ? { kid: opts.kid ?? "key-1" } : {}) })
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

Deno.test("an ES256 token signed by the auth server's key is verified against its JWKS, fetched once", async () => {
  const first = await verifyAccessToken(await token());
  assert.equal(first.sub, claims.sub);
  assert.equal(first.session_id, claims.session_id);
  await verifyAccessToken(await token());
  assert.equal(jwksRequests, 1, "the key set is cached, not fetched per request");
});

Deno.test("an ES256 token signed by any other key is refused", async () => {
  await refused(await token({ key: stranger.privateKey }), /Invalid access token/);
  await refused(await token({ key: stranger.privateKey, kid: "unknown-kid" }), /Invalid access token/);
});

Deno.test("an HS256 token signed with the project's JWT secret is verified; another secret is refused", async () => {
  assert.equal((await verifyAccessToken(await token({ alg: "HS256" }))).sub, claims.sub);
  await refused(await token({ alg: "HS256", key: new TextEncoder().encode("another-secret-with-at-least-32-characters") }), /Invalid access token/);
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

Deno.test("the Authorization header must be `Bearer <token>`", () => {
  assert.equal(bearerToken("Bearer abc.def.ghi"), "abc.def.ghi");
  assert.equal(bearerToken("bearer abc"), "abc");
  for (const bad of [undefined, "", "Basic abc", "Bearer", "Bearer a b"]) assert.throws(() => bearerToken(bad), ApiError);
});
