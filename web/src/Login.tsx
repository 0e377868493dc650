// Log in with an email (supabase-js) or a username (the API resolves it: /users/login, then the
// tokens go to supabase-js with setSession), or sign up (supabase-js, the username as metadata:
// the database makes the profile from it).
import { type FormEvent, useState } from "react";
import { api, ApiFailure } from "./api.ts";
import { DICTS, type Lang } from "./i18n.ts";
import { supabase } from "./supabase.ts";
import { LanguagePicker } from "./App.tsx";

export function Login(
  { notice, lang, setLang, onLoggedIn }: {
    notice: string | null;
    lang: Lang;
    setLang: (l: Lang) => void;
    onLoggedIn: () => void;
  },
) {
  const t = DICTS[lang];
  const [mode, setMode] = useState<"login" | "signup">("login");
  const [login, setLogin] = useState("");
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "signup") {
        const { error } = await supabase.auth.signUp({ email, password, options: { data: { username } } });
        if (error) {
          throw new Error(error.status && error.status >= 500 ? t.usernameTaken : error.message || t.signUpFailed);
        }
      } else if (login.includes("@")) {
        const { error } = await supabase.auth.signInWithPassword({ email: login, password });
        if (error) throw new Error(error.message);
      } else {
        const s = await api<{ access_token: string; refresh_token: string }>("POST", "/users/login", {
          username: login,
          password,
        }, { anonymous: true });
        const { error } = await supabase.auth.setSession({
          access_token: s.access_token,
          refresh_token: s.refresh_token,
        });
        if (error) throw new Error(error.message);
      }
      onLoggedIn();
    } catch (err) {
      setError(err instanceof ApiFailure || err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="login-page">
      <div className="login-lang">
        <LanguagePicker lang={lang} setLang={setLang} />
      </div>
      <form className="card login" onSubmit={submit} aria-labelledby="login-title">
        <div className="brand big">
          <span className="logo">PDF</span>
          {t.appName}
        </div>
        <h1 id="login-title">{mode === "login" ? t.logIn : t.signUp}</h1>
        {notice && <p className="notice" role="status">{notice}</p>}
        {mode === "login"
          ? (
            <label>
              {t.emailOrUsername}
              <input
                name="login"
                autoComplete="username"
                required
                value={login}
                onChange={(e) => setLogin(e.target.value)}
              />
            </label>
          )
          : (
            <>
              <label>
                {t.username}
                <input
                  name="username"
                  autoComplete="username"
                  required
                  pattern="[A-Za-z0-9_.\-]{3,32}"
                  value={username}
                  onChange={(e) => setUsername(e.target.value)}
                />
              </label>
              <label>
                {t.email}
                <input
                  name="email"
                  type="email"
                  autoComplete="email"
                  required
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                />
              </label>
            </>
          )}
        <label>
          {t.password}
          <input
            name="password"
            type="password"
            autoComplete={mode === "login" ? "current-password" : "new-password"}
            required
            minLength={6}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>{mode === "login" ? t.logIn : t.signUp}</button>
        <button
          type="button"
          className="link"
          onClick={() => {
            setMode(mode === "login" ? "signup" : "login");
            setError(null);
          }}
        >
          {mode === "login" ? t.noAccount : t.haveAccount}
        </button>
      </form>
    </div>
  );
}
