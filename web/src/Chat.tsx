// Conversations and their messages. An answer streams in (POST .../messages as Server-Sent
// Events) with a stop button; a failed message says why and can be sent again; an answer's
// sources are numbered chips that open the PDF viewer (loaded on first use) at the cited page.
import { type FormEvent, type KeyboardEvent, lazy, Suspense, useCallback, useEffect, useRef, useState } from "react";
import {
  api,
  ApiFailure,
  type Citation,
  type Conversation,
  type Doc,
  type Exchange,
  type Message,
  readEvents,
} from "./api.ts";
import { useT } from "./i18n.ts";
import type { useDocuments } from "./Documents.tsx";
import { DocumentStatus } from "./Documents.tsx";

const Viewer = lazy(() => import("./Viewer.tsx"));

type Docs = ReturnType<typeof useDocuments>;

export function Chat({ documents }: { documents: Docs }) {
  const t = useT();
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [current, setCurrent] = useState<string | null>(null);
  const [citation, setCitation] = useState<Citation | null>(null);
  const [listOpen, setListOpen] = useState(false);

  const reload = useCallback(async () => {
    const list = await api<Conversation[]>("GET", "/conversations");
    setConversations(list);
    setCurrent((c) => (c && list.some((x) => x.id === c) ? c : list[0]?.id ?? null));
  }, []);
  useEffect(() => {
    reload().catch(() => {});
  }, [reload]);

  async function create() {
    const conv = await api<Conversation>("POST", "/conversations", {});
    setConversations((l) => [conv, ...l]);
    setCurrent(conv.id);
    setCitation(null);
    setListOpen(false);
  }

  const conversation = conversations.find((c) => c.id === current) ?? null;
  return (
    <div className={`chat-layout${citation ? " with-viewer" : ""}`}>
      <aside className={`sidebar${listOpen ? " open" : ""}`} aria-label={t.conversations}>
        <button type="button" className="primary wide" onClick={create}>+ {t.newConversation}</button>
        {conversations.length === 0 && <p className="muted">{t.noConversations}</p>}
        <ul className="conv-list">
          {conversations.map((c) => (
            <li key={c.id}>
              <button
                type="button"
                className="conv"
                aria-current={c.id === current ? "true" : undefined}
                onClick={() => {
                  setCurrent(c.id);
                  setCitation(null);
                  setListOpen(false);
                }}
              >
                {c.title}
              </button>
            </li>
          ))}
        </ul>
      </aside>
      <section className="chat-main" aria-label={conversation?.title ?? t.navChat}>
        {conversation
          ? (
            <ConversationView
              key={conversation.id}
              conversation={conversation}
              documents={documents}
              toggleList={() => setListOpen((o) => !o)}
              onChanged={(c) => setConversations((l) => l.map((x) => (x.id === c.id ? { ...x, ...c } : x)))}
              onDeleted={() => {
                setCitation(null);
                reload();
              }}
              openCitation={setCitation}
              openCitationN={citation?.n ?? null}
            />
          )
          : (
            <div className="empty">
              <p>{t.pickConversation}</p>
              <button type="button" className="primary" onClick={create}>+ {t.newConversation}</button>
            </div>
          )}
      </section>
      {citation && (
        <aside className="viewer-pane" aria-label={t.viewer}>
          <Suspense fallback={<p className="muted pad">{t.loading}</p>}>
            <Viewer citation={citation} onClose={() => setCitation(null)} />
          </Suspense>
        </aside>
      )}
    </div>
  );
}

interface Turn {
  message: Message;
  failure?: string;
}

function ConversationView({ conversation, documents, toggleList, onChanged, onDeleted, openCitation, openCitationN }: {
  conversation: Conversation;
  documents: Docs;
  toggleList: () => void;
  onChanged: (c: Conversation) => void;
  onDeleted: () => void;
  openCitation: (c: Citation) => void;
  openCitationN: number | null;
}) {
  const t = useT();
  const [turns, setTurns] = useState<Turn[]>([]);
  const [text, setText] = useState("");
  const [streaming, setStreaming] = useState<{ abort: AbortController; text: string } | null>(null);
  const [banner, setBanner] = useState<string | null>(null);
  const [renaming, setRenaming] = useState(false);
  const [title, setTitle] = useState(conversation.title);
  const [attached, setAttached] = useState<Doc[]>([]);
  const end = useRef<HTMLDivElement>(null);
  const id = conversation.id;

  const load = useCallback(async () => {
    const conv = await api<Conversation & { messages: Message[] }>("GET", `/conversations/${id}`);
    setTurns((old) =>
      conv.messages.map((m) => ({ message: m, failure: old.find((o) => o.message.id === m.id)?.failure }))
    );
    return conv.messages;
  }, [id]);
  /** After a stop: the answer is still written and stored by the API; show it once it is. */
  const loadUntilAnswered = useCallback(async () => {
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const messages = await load();
      if (!messages.some((m) => m.status === "pending")) return;
    }
  }, [load]);
  const loadAttached = useCallback(async () => setAttached(await api<Doc[]>("GET", `/conversations/${id}/documents`)), [
    id,
  ]);
  useEffect(() => {
    load().catch(() => {});
    loadAttached().catch(() => {});
  }, [load, loadAttached]);
  useEffect(() => {
    end.current?.scrollIntoView({ block: "end" }); // its result (a promise in newer browsers) is no cleanup
  }, [turns.length, streaming?.text]);

  async function send(message: string) {
    if (!message.trim() || streaming) return;
    const abort = new AbortController();
    setBanner(null);
    setStreaming({ abort, text: "" });
    setText("");
    let userId: string | null = null;
    try {
      await readEvents(`/conversations/${id}/messages`, {
        method: "POST",
        body: JSON.stringify({ message, stream: true }),
        headers: { "Content-Type": "application/json" },
        signal: abort.signal,
      }, (event, data) => {
        if (event === "start") {
          const user = (data as { user_message: Message }).user_message;
          userId = user.id;
          setTurns((l) => [...l, { message: user }]);
        } else if (event === "delta") {
          setStreaming((s) => s && { ...s, text: s.text + (data as { text: string }).text });
        } else if (event === "done") {
          const ex = data as Exchange;
          setTurns((
            l,
          ) => [...l.filter((x) => x.message.id !== ex.user_message.id), { message: ex.user_message }, {
            message: ex.assistant_message,
          }]);
        } else if (event === "error") {
          const why = (data as { message: string }).message;
          setTurns((l) =>
            l.map((x) => (x.message.id === userId ? { message: { ...x.message, status: "failed" }, failure: why } : x))
          );
        }
      });
    } catch (err) {
      if (abort.signal.aborted) setBanner(t.stopped);
      else if (err instanceof ApiFailure) {
        setText(message);
        setBanner(
          err.status === 429 && /budget/i.test(err.message)
            ? t.budgetExceeded
            : err.status === 400 && /no (api )?key/i.test(err.message)
            ? t.noKey
            : err.message,
        );
      } else setBanner(t.error);
    } finally {
      setStreaming(null);
    }
    if (abort.signal.aborted) loadUntilAnswered().catch(() => {});
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    send(text);
  }
  function onKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send(text);
    }
  }

  async function rename(e: FormEvent) {
    e.preventDefault();
    const c = await api<Conversation>("PATCH", `/conversations/${id}`, { title });
    onChanged(c);
    setRenaming(false);
  }
  async function remove() {
    if (!confirm(t.confirmDelete)) return;
    await api("DELETE", `/conversations/${id}`);
    onDeleted();
  }
  async function attach(documentId: string) {
    await api("POST", `/conversations/${id}/documents`, { document_id: documentId });
    await loadAttached();
  }
  async function detach(documentId: string) {
    await api("DELETE", `/conversations/${id}/documents/${documentId}`);
    await loadAttached();
  }

  const attachable = documents.docs.filter((d) => d.status !== "failed" && !attached.some((a) => a.id === d.id));
  const live = (doc: Doc) => documents.docs.find((d) => d.id === doc.id) ?? doc;
  return (
    <>
      <div className="conv-header">
        <button type="button" className="ghost list-toggle" onClick={toggleList} aria-label={t.conversations}>
          ☰
        </button>
        {renaming
          ? (
            <form className="rename" onSubmit={rename}>
              <label className="sr-only" htmlFor="conv-title">{t.renameTo}</label>
              <input
                id="conv-title"
                value={title}
                onChange={(e) => setTitle(e.target.value)}
                autoFocus
                maxLength={200}
              />
              <button type="submit" className="primary">{t.save}</button>
              <button type="button" className="ghost" onClick={() => setRenaming(false)}>{t.cancel}</button>
            </form>
          )
          : (
            <>
              <h1 className="conv-title">{conversation.title}</h1>
              <button
                type="button"
                className="ghost"
                onClick={() => {
                  setTitle(conversation.title);
                  setRenaming(true);
                }}
              >
                {t.rename}
              </button>
              <button type="button" className="ghost danger" onClick={remove}>{t.delete}</button>
            </>
          )}
      </div>
      <div className="attached" aria-label={t.attached} role="group">
        {attached.length === 0 && <span className="muted small">{t.noneAttached}</span>}
        {attached.map((d) => (
          <span className="doc-chip" key={d.id}>
            <span className="file-icon" aria-hidden="true">PDF</span>
            <span className="doc-name" title={d.filename}>{d.filename}</span>
            <DocumentStatus doc={live(d)} />
            <button type="button" className="x" aria-label={`${t.detach}: ${d.filename}`} onClick={() => detach(d.id)}>
              ×
            </button>
          </span>
        ))}
        {attachable.length > 0 && (
          <select
            aria-label={t.attachPick}
            value=""
            onChange={(e) => e.target.value && attach(e.target.value)}
          >
            <option value="">+ {t.attachPick}</option>
            {attachable.map((d) => <option key={d.id} value={d.id}>{d.filename}</option>)}
          </select>
        )}
      </div>
      <ol className="messages" aria-live="polite">
        {turns.map(({ message: m, failure }) => (
          <li key={m.id} className={`msg ${m.role} ${m.status}`} data-message-id={m.id}>
            <MessageBody message={m} openCitation={openCitation} openN={openCitationN} />
            {m.role === "user" && m.status === "failed" && (
              <div className="failure" role="alert">
                <strong>{t.failed}:</strong> {failure ?? (m.error_code && (t.errorCodes[m.error_code] ?? m.error_code))}
                <button
                  type="button"
                  className="ghost"
                  onClick={() => send(m.content)}
                >
                  {t.sendAgain}
                </button>
              </div>
            )}
            {m.role === "user" && m.status === "pending" && !streaming && <div className="muted small">{t.pending}
            </div>}
          </li>
        ))}
        {streaming && (
          <li className="msg assistant streaming" aria-busy="true">
            <div className="bubble">
              {streaming.text || (
                <span className="dots" aria-label={t.pending}>
                  <i />
                  <i />
                  <i />
                </span>
              )}
            </div>
          </li>
        )}
      </ol>
      <div ref={end} />
      {banner && <p className="banner" role="alert">{banner}</p>}
      <form className="composer" onSubmit={submit}>
        <label className="sr-only" htmlFor="composer">{t.message}</label>
        <textarea
          id="composer"
          rows={2}
          placeholder={t.messagePlaceholder}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKey}
        />
        {streaming
          ? <button type="button" className="stop" onClick={() => streaming.abort.abort()}>{t.stop}</button>
          : <button type="submit" className="primary" disabled={!text.trim()}>{t.send}</button>}
      </form>
    </>
  );
}

function MessageBody(
  { message, openCitation, openN }: { message: Message; openCitation: (c: Citation) => void; openN: number | null },
) {
  const t = useT();
  const citations = message.citations ?? [];
  return (
    <>
      <div className="bubble">
        {citations.length === 0 ? message.content : message.content.split(/(\[\d+\])/).map((part, i) => {
          const cited = /^\[(\d+)\]$/.exec(part) && citations.find((c) => `[${c.n}]` === part);
          return cited
            ? (
              <button
                key={i}
                type="button"
                className="marker"
                aria-label={t.openSource(cited.n, cited.filename, cited.page)}
                onClick={() => openCitation(cited)}
                disabled={cited.document_deleted}
              >
                {cited.n}
              </button>
            )
            : part;
        })}
      </div>
      {message.role === "assistant" && message.model === "extractive" && (
        <div className="muted small">{t.extractive}</div>
      )}
      {citations.length > 0 && (
        <div className="sources" role="group" aria-label={t.sources}>
          {citations.map((c) => (
            <button
              key={c.n}
              type="button"
              className="chip"
              data-citation={c.n}
              aria-pressed={openN === c.n}
              aria-label={t.openSource(c.n, c.filename, c.page)}
              onClick={() => openCitation(c)}
              disabled={c.document_deleted}
            >
              <span className="n">{c.n}</span>
              <span className="chip-file">{c.filename}</span>
              <span className="chip-page">p.{c.page}</span>
            </button>
          ))}
        </div>
      )}
    </>
  );
}
