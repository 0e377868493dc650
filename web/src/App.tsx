// The app shell: the session (supabase-js), the language, the three views, and the documents
// list the Chat and Documents views share (with live ingestion progress).
import { useCallback, useEffect, useRef, useState } from "react";
import type { Session } from "@supabase/supabase-js";
import { api, type Doc, whenSessionEnds } from "./api.ts";
import { DICTS, I18n, type Lang, preferredLang } from "./i18n.ts";
import { supabase } from "./supabase.ts";
import { Login } from "./Login.tsx";
import { Chat } from "./Chat.tsx";
import { Documents, useDocuments } from "./Documents.tsx";
import { Keys } from "./Keys.tsx";

type View = "chat" | "documents" | "keys";

export function App() {
  const [lang, setLang] = useState<Lang>(preferredLang);
  const t = DICTS[lang];
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const loggingOut = useRef(false);

  useEffect(() => {
    document.documentElement.lang = lang;
    localStorage.setItem("lang", lang);
  }, [lang]);

  useEffect(() => {
    supabase.auth.getSession().then(({ data }) => setSession(data.session));
    const { data } = supabase.auth.onAuthStateChange((event, next) => {
      // A sign-out the user did not ask for: the refresh token was revoked (logout elsewhere) or expired.
      if (event === "SIGNED_OUT" && !loggingOut.current) setNotice(DICTS[preferredLang()].sessionEnded);
      loggingOut.current = false;
      setSession(next);
    });
    // The API refuses the access token (its session was ended elsewhere): back to the login screen.
    whenSessionEnds(() => {
      if (loggingOut.current) return;
      supabase.auth.signOut({ scope: "local" });
    });
    return () => data.subscription.unsubscribe();
  }, []);

  const logOut = useCallback(async () => {
    loggingOut.current = true;
    setNotice(null);
    // Ends this session at the server (its tokens stop working), then forgets it here.
    await api("POST", "/users/logout").catch(() => {});
    await supabase.auth.signOut({ scope: "local" });
  }, []);

  return (
    <I18n.Provider value={t}>
      {session === undefined
        ? null
        : session
        ? <Shell session={session} lang={lang} setLang={setLang} logOut={logOut} />
        : <Login notice={notice} lang={lang} setLang={setLang} onLoggedIn={() => setNotice(null)} />}
    </I18n.Provider>
  );
}

export function LanguagePicker({ lang, setLang }: { lang: Lang; setLang: (l: Lang) => void }) {
  const t = DICTS[lang];
  return (
    <label className="lang">
      <span className="sr-only">{t.language}</span>
      <select value={lang} onChange={(e) => setLang(e.target.value as Lang)} aria-label={t.language}>
        <option value="ko">한국어</option>
        <option value="en">English</option>
      </select>
    </label>
  );
}

function Shell(
  { session, lang, setLang, logOut }: { session: Session; lang: Lang; setLang: (l: Lang) => void; logOut: () => void },
) {
  const t = DICTS[lang];
  const [view, setView] = useState<View>("chat");
  const documents = useDocuments(session.user.id);
  const name = (session.user.user_metadata?.username as string | undefined) ?? session.user.email ?? "";
  const nav: [View, string][] = [["chat", t.navChat], ["documents", t.navDocuments], ["keys", t.navKeys]];
  return (
    <div className="shell">
      <header className="topbar">
        <div className="brand" aria-hidden="true">
          <span className="logo">PDF</span>
          {t.appName}
        </div>
        <nav aria-label={t.appName}>
          {nav.map(([v, label]) => (
            <button
              key={v}
              type="button"
              className="tab"
              aria-current={view === v ? "page" : undefined}
              onClick={() => setView(v)}
            >
              {label}
            </button>
          ))}
        </nav>
        <div className="who">
          <LanguagePicker lang={lang} setLang={setLang} />
          <span className="user" title={name}>{name}</span>
          <button type="button" className="ghost" onClick={logOut}>{t.logOut}</button>
        </div>
      </header>
      <main className="content">
        {view === "chat" && <Chat documents={documents} />}
        {view === "documents" && <Documents documents={documents} />}
        {view === "keys" && <Keys />}
      </main>
    </div>
  );
}

export type DocumentsState = ReturnType<typeof useDocuments>;
export type { Doc };
