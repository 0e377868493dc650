// Accounts, through Supabase Auth (auth-js, the client inside supabase-js, against the Auth
// server). A username maps to an auth user through public.profiles; login accepts a username or
// an email.
import type { AuthError, Session as AuthSession } from "@supabase/auth-js";
import type { Context, Hono } from "hono";
import { asServiceRole } from "../../_shared/db.ts";
import { env } from "../../_shared/env.ts";
import { ApiError, notFound } from "../../_shared/http.ts";
import { bearerToken } from "../../_shared/identity.ts";
import { loadOnce } from "../../_shared/load-once.ts";
import { route } from "../route.ts";
import { Credentials, Join, Profile, Refresh, Session } from "../schemas.ts";

/**
 * The caller's address as the gateway in front of the function saw it: the last X-Forwarded-For
 * entry, the one the gateway (Supabase's edge, or the local gateway) appended. Entries before it
 * were sent by the client and are never trusted.
 */
export function clientAddress(forwardedFor: string | undefined): string | null {
  const last = forwardedFor?.split(",").at(-1)?.trim();
  return last && /^[0-9A-Fa-f:.]{2,45}$/.test(last) ? last : null;
}

/** Headers for a call to Auth: the caller's address, so Auth's per-IP rate limits limit that caller, not everyone. */
function authHeaders(c: Context): Record<string, string> {
  const address = clientAddress(c.req.header("x-forwarded-for"));
  return { apikey: env.anonKey, ...(address ? { "X-Forwarded-For": address } : {}) };
}

const authJs = loadOnce(() => import("@supabase/auth-js"));

/**
 * An Auth client at env.authUrl (the Auth server itself where the stack can reach it, so no proxy
 * replaces the X-Forwarded-For sent here; else the project URL's /auth/v1).
 */
async function authClient(c: Context) {
  return new (await authJs()).AuthClient({
    url: env.authUrl,
    headers: authHeaders(c),
    persistSession: false,
    autoRefreshToken: false,
    detectSessionInUrl: false,
  });
}

const BAD_CREDENTIALS = "Invalid username or password";
/**
 * How long after its arrival a login with wrong credentials is answered: well above Auth's
 * password-hash check (bcrypt, about 0.1 s; more on a busy machine), which only a known user costs.
 */
const FAILED_LOGIN_MS = 500;
// Supabase Auth signs users in by email; a user who gives none gets an address in this reserved
// domain, which can never receive mail and is never shown.
const NO_EMAIL_DOMAIN = "users.invalid";

/** Auth server errors in the envelope's terms; never echoes what the client sent. */
function authFailure(error: AuthError, fallback: { status: number; message: string }): ApiError {
  if (!error.status || error.status >= 500) {
    return new ApiError(503, "The auth server is not available; try again shortly");
  }
  if (error.status === 429) return new ApiError(429, "Too many attempts; wait a moment and try again");
  if (error.code === "weak_password") return new ApiError(400, "Password too weak", { password: [error.message] });
  if (error.code === "user_already_exists" || error.code === "email_exists") {
    return new ApiError(409, "That username or email is already registered", { username: ["Already registered"] });
  }
  return new ApiError(fallback.status, fallback.message);
}

function resolveLogin(identifier: string): Promise<string | null> {
  return asServiceRole(async (tx) => {
    const [row] = await tx`select private.resolve_login(${identifier}) as email`;
    return row.email as string | null;
  });
}

function shownEmail(email: string | null | undefined): string | null {
  return !email || email.endsWith(`@${NO_EMAIL_DOMAIN}`) ? null : email;
}

function sessionData(session: AuthSession, username: string) {
  return {
    token: session.access_token,
    access_token: session.access_token,
    refresh_token: session.refresh_token,
    expires_at: session.expires_at ?? Math.floor(Date.now() / 1000) + session.expires_in,
    user: { id: session.user.id, username, email: shownEmail(session.user.email), created_at: session.user.created_at },
  };
}

export function userRoutes(app: Hono) {
  route(app, {
    method: "post",
    path: "/users/join",
    tag: "users",
    summary: "Create an account: username (unique, any case), password, optional email",
    auth: false,
    body: Join,
    response: Profile,
    status: 201,
    errors: [400, 409, 413, 415, 429, 503],
    invalidWhen: ["the Auth server refuses the email address or the password (a weak password: errors.password)"],
    handler: async ({ c, body }) => {
      const taken = () => new ApiError(409, "That username is taken", { username: ["Already taken"] });
      if (await resolveLogin(body.username)) throw taken();
      const email = body.email ?? `${body.username.toLowerCase()}@${NO_EMAIL_DOMAIN}`;
      const { data, error } = await (await authClient(c)).signUp({
        email,
        password: body.password,
        options: { data: { username: body.username } },
      });
      if (error || !data.user) {
        // Two joins with one username at once: the loser's insert fails in the profile trigger,
        // which Auth reports as a 500. That is a taken username, not an unavailable server.
        if ((!error?.status || error.status >= 500) && (await resolveLogin(body.username))) throw taken();
        throw authFailure(error!, { status: 400, message: "Could not create the account" });
      }
      return {
        status: 201,
        message: "Account created",
        data: {
          id: data.user.id,
          username: body.username,
          email: body.email ?? null,
          created_at: data.user.created_at,
        },
      };
    },
  });

  route(app, {
    method: "post",
    path: "/users/login",
    tag: "users",
    summary: "Log in with a username or an email; returns the access token as `token`",
    auth: false,
    body: Credentials,
    response: Session,
    errors: [400, 401, 429, 503],
    handler: async ({ c, body }) => {
      const started = performance.now();
      // An unknown username still goes to the Auth server (with an address that matches nobody), so it
      // gets the same answer as a wrong password: no enumeration.
      const email = body.username.includes("@")
        ? body.username
        : (await resolveLogin(body.username)) ?? `unknown-${crypto.randomUUID()}@${NO_EMAIL_DOMAIN}`;
      const { data, error } = await (await authClient(c)).signInWithPassword({ email, password: body.password });
      if (error || !data.session) {
        const failure = authFailure(error!, { status: 401, message: BAD_CREDENTIALS });
        // Auth answers an unknown email at once but checks a known user's password hash first
        // (about 0.1 s), so the time alone would tell which usernames exist: every wrong
        // credential is answered after the same time instead.
        if (failure.status === 401) {
          await new Promise((r) => setTimeout(r, FAILED_LOGIN_MS - (performance.now() - started)));
        }
        throw failure;
      }
      const username = (data.user.user_metadata?.username as string | undefined) ?? body.username;
      return { message: "Logged in", data: sessionData(data.session, username) };
    },
  });

  route(app, {
    method: "post",
    path: "/users/logout",
    tag: "users",
    summary: "End this session now: its access and refresh tokens stop working",
    auth: true,
    errors: [401, 503],
    handler: async ({ c }) => {
      const token = bearerToken(c.req.header("authorization"));
      const { error } = await (await authClient(c)).admin.signOut(token, "local");
      if (error) throw authFailure(error, { status: 401, message: "Session already ended" });
      return { message: "Logged out", data: null };
    },
  });

  route(app, {
    method: "post",
    path: "/users/refresh",
    tag: "users",
    summary: "New tokens from a refresh token",
    auth: false,
    body: Refresh,
    response: Session,
    errors: [401, 429, 503],
    handler: async ({ c, body }) => {
      // Straight to Auth's token endpoint: auth-js's refreshSession retries a failing Auth
      // server for about 25 s, where the client should hear 503 at once.
      let res: Response;
      try {
        res = await fetch(`${env.authUrl}/token?grant_type=refresh_token`, {
          method: "POST",
          headers: { ...authHeaders(c), "content-type": "application/json" },
          body: JSON.stringify({ refresh_token: body.refresh_token }),
          signal: AbortSignal.timeout(10_000),
        });
      } catch {
        throw new ApiError(503, "The auth server is not available; try again shortly");
      }
      const session = await res.json().catch(() => null) as AuthSession | null;
      if (!res.ok || !session?.access_token) {
        throw authFailure(
          { status: res.status, code: (session as { error_code?: string } | null)?.error_code } as AuthError,
          {
            status: 401,
            message: "Invalid or used refresh token",
          },
        );
      }
      return {
        message: "Refreshed",
        data: sessionData(session, (session.user?.user_metadata?.username as string) ?? ""),
      };
    },
  });

  route(app, {
    method: "get",
    path: "/users/me",
    tag: "users",
    summary: "The caller's profile",
    auth: true,
    response: Profile,
    handler: async ({ db }) => {
      const [profile] = await db((tx) => tx`select id, username, email, created_at from public.profiles`);
      if (!profile) throw notFound("Profile");
      return { message: "Profile", data: { ...profile, email: shownEmail(profile.email) } };
    },
  });
}
