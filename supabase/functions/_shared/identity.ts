// Who is calling: the access token is verified here, with no network hop per request
// (HS256 with the project's JWT secret, or the auth server's JWKS for asymmetric keys, cached),
// then its session is checked in the database so a logout takes effect at once.
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import type { Claims } from "./db.ts";
import { env } from "./env.ts";
import { ApiError } from "./http.ts";

// Imported once: given as bytes, jose imports the key on every verification (about 35 µs each).
const secret = env.jwtSecret
  ? await crypto.subtle.importKey("raw", new TextEncoder().encode(env.jwtSecret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"])
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

/** Verifies signature, expiry and audience; returns the claims of an authenticated user. */
export async function verifyAccessToken(token: string): Promise<Claims> {
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
  return payload as Claims;
}

/**
 * The claims as private.begin_request takes them. That function checks, in the same statement
 * that runs the request's first query, that the token's session still exists (logout deletes
 * it), and raises PT401 when it does not: `sessionEnded` turns that into the 401 it is.
 */
export function sessionClaims(claims: Claims): string {
  if (!claims.session_id) throw unauthorized("Invalid access token: no session");
  return JSON.stringify(claims);
}

export function sessionEnded(err: unknown): never {
  if ((err as { code?: string } | null)?.code === "PT401") throw unauthorized("Session ended: log in again");
  throw err;
}
