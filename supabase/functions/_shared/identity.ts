// Who is calling: the access token is verified here, with no network hop per request
// (HS256 with the project's JWT secret, or the auth server's JWKS for asymmetric keys, cached),
// then its session is checked in the database so a logout takes effect at once.
//
// A client sends the same access token with every request until it refreshes it, and checking
// its signature again was a fifth of the function's CPU on a list of conversations: a token
// verified a moment ago is taken from a small cache, as long as it has not expired. The session
// check in SQL still runs on every request, so a logout ends a cached token's use at once too.
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, type JWTPayload, jwtVerify } from "jose";
import type { Claims } from "./db.ts";
import { env } from "./env.ts";
import { ApiError } from "./http.ts";

// Imported once: given as bytes, jose imports the key on every verification (about 35 µs each).
const secret = env.jwtSecret
  ? await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(env.jwtSecret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  )
  : null;
const jwks = createRemoteJWKSet(new URL(`${env.authUrl}/.well-known/jwks.json`), {
  headers: { apikey: env.anonKey },
  cacheMaxAge: 10 * 60 * 1000,
});

const unauthorized = (message: string) => new ApiError(401, message, null, { "WWW-Authenticate": "Bearer" });

export function bearerToken(header: string | undefined | null): string {
  const m = header?.match(/^Bearer\s+(\S+)$/i);
  if (!m) throw unauthorized("Authentication required: send Authorization: Bearer <access token>");
  return m[1];
}

const VERIFIED_MAX = 1000; // tokens, the oldest verified leaving first
const VERIFIED_FOR_MS = 60_000; // then verified again (a key set that changed applies within a minute)
const verified = new Map<string, { claims: Claims; until: number }>();

/**
 * Verifies signature, expiry and audience; returns the claims of an authenticated user (frozen:
 * the same object answers every request with that token for a while).
 */
export async function verifyAccessToken(token: string): Promise<Claims> {
  // Keyed by the whole token: its signature covers the rest, so this is the same key, made certain.
  const known = verified.get(token);
  if (known) {
    if (Date.now() < known.until) return known.claims;
    verified.delete(token); // verified again below, and refused if it has expired
  }
  const claims = await verifyAnew(token);
  if (typeof claims.exp !== "number") return claims; // a token that never expires is not kept
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
  verified.set(token, { claims, until: Math.min(claims.exp * 1000, Date.now() + VERIFIED_FOR_MS) });
  return claims;
}

async function verifyAnew(token: string): Promise<Claims> {
  let payload: JWTPayload;
  try {
    const { alg } = decodeProtectedHeader(token);
    const options = { audience: "authenticated", algorithms: [alg ?? "none"] };
    if (alg === "HS256") {
      if (!secret) throw unauthorized("Invalid access token");
      payload = (await jwtVerify(token, secret, options)).payload;
    } else if (alg === "ES256" || alg === "RS256") {
      payload = (await jwtVerify(token, jwks, options)).payload;
    } else {
      throw unauthorized("Invalid access token");
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw unauthorized("Access token expired: refresh it or log in again");
    throw unauthorized("Invalid access token");
  }
  if (payload.role !== "authenticated" || typeof payload.sub !== "string") throw unauthorized("Invalid access token");
  return Object.freeze(payload) as Claims;
}

const claimsText = new WeakMap<Claims, string>();

/**
 * The claims as private.begin_request takes them. That function checks, in the same statement
 * that runs the request's first query, that the token's session still exists (logout deletes
 * it), and raises PT401 when it does not: `sessionEnded` turns that into the 401 it is.
 */
export function sessionClaims(claims: Claims): string {
  if (!claims.session_id) throw unauthorized("Invalid access token: no session");
  let text = claimsText.get(claims);
  if (text === undefined) claimsText.set(claims, text = JSON.stringify(claims));
  return text;
}

export function sessionEnded(err: unknown): never {
  if ((err as { code?: string } | null)?.code === "PT401") throw unauthorized("Session ended: log in again");
  throw err;
}
