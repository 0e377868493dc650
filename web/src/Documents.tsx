// PDFs: dropped or chosen files go straight to Storage with supabase-js at
// documents/<user id>/<document id>.pdf (the trigger on storage.objects makes the document and
// queues its ingestion); each one still being read follows GET /documents/{id}/progress.
import { type DragEvent, useCallback, useEffect, useRef, useState } from "react";
import { api, type Doc, readEvents } from "./api.ts";
import { useT } from "./i18n.ts";
import { supabase } from "./supabase.ts";

export function useDocuments(userId: string) {
  const [docs, setDocs] = useState<Doc[]>([]);
  const [uploadErrors, setUploadErrors] = useState<{ name: string; message: string }[]>([]);
  const following = useRef(new Set<string>());

  const put = useCallback((doc: Partial<Doc> & { id: string }) => {
    setDocs((list) => {
      const i = list.findIndex((d) => d.id === doc.id);
      if (i < 0) return [doc as Doc, ...list];
      const next = list.slice();
      next[i] = { ...list[i], ...doc };
      return next;
    });
  }, []);

  const follow = useCallback((id: string) => {
    if (following.current.has(id)) return;
    following.current.add(id);
    readEvents(`/documents/${id}/progress`, { method: "GET" }, (event, data) => {
      if (event === "progress") put({ id, ...(data as Partial<Doc>) });
      else if (event === "done") put(data as Doc);
      else if (event === "error") setDocs((list) => list.filter((d) => d.id !== id));
    }).catch(() => {}).finally(() => following.current.delete(id));
  }, [put]);

  const reload = useCallback(async () => {
    const list = await api<Doc[]>("GET", "/documents?limit=100");
    setDocs(list);
    for (const d of list) if (d.status === "queued" || d.status === "processing") follow(d.id);
  }, [follow]);

  useEffect(() => {
    reload().catch(() => {});
  }, [reload]);

  const upload = useCallback(async (files: File[]) => {
    for (const file of files) {
      const id = crypto.randomUUID();
      const { error } = await supabase.storage.from("documents").upload(`${userId}/${id}.pdf`, file, {
        contentType: "application/pdf",
        metadata: { filename: file.name },
      });
      if (error) {
        setUploadErrors((e) => [...e, { name: file.name, message: error.message }]);
        continue;
      }
      put({
        id,
        filename: file.name,
        status: "queued",
        pages_done: 0,
        pages_total: null,
        progress_percent: 0,
        failure_reason: null,
        size_bytes: file.size,
        created_at: new Date().toISOString(),
      });
      follow(id);
    }
  }, [userId, put, follow]);

  const remove = useCallback(async (id: string) => {
    await api("DELETE", `/documents/${id}`);
    setDocs((list) => list.filter((d) => d.id !== id));
  }, []);

  return { docs, upload, remove, reload, uploadErrors, dismissErrors: () => setUploadErrors([]) };
}

export function DocumentStatus({ doc }: { doc: Doc }) {
  const t = useT();
  const reading = doc.status === "queued" || doc.status === "processing";
  return (
    <span className={`doc-status ${doc.status}`}>
      <span className="badge">{t.status[doc.status]}</span>
      {reading && (
        <>
          <progress
            max={100}
            value={doc.progress_percent}
            aria-label={`${doc.filename}: ${t.pages(doc.pages_done, doc.pages_total)}`}
          />
          <span className="pages">{t.pages(doc.pages_done, doc.pages_total)}</span>
        </>
      )}
      {doc.status === "ready" && doc.pages_total != null && (
        <span className="pages">{t.pages(doc.pages_total, doc.pages_total)}</span>
      )}
      {doc.status === "failed" && doc.failure_reason && <span className="reason">{doc.failure_reason}</span>}
    </span>
  );
}

export function Documents({ documents }: { documents: ReturnType<typeof useDocuments> }) {
  const t = useT();
  const [over, setOver] = useState(false);
  const [rejected, setRejected] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  function take(files: FileList | null) {
    const all = Array.from(files ?? []);
    const pdfs = all.filter((f) => f.type === "application/pdf" || f.name.toLowerCase().endsWith(".pdf"));
    setRejected(pdfs.length < all.length);
    if (pdfs.length) documents.upload(pdfs);
  }
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    take(e.dataTransfer.files);
  };

  return (
    <section className="page-pad documents" aria-labelledby="docs-title">
      <h1 id="docs-title">{t.documents}</h1>
      <div
        className={`dropzone${over ? " over" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <svg aria-hidden="true" viewBox="0 0 24 24" width="32" height="32">
          <path fill="currentColor" d="M12 3l5 5h-3v6h-4V8H7zm-8 14h16v4H4z" />
        </svg>
        <p>{t.dropHere}</p>
        <button type="button" className="primary" onClick={() => input.current?.click()}>{t.chooseFiles}</button>
        <input
          ref={input}
          type="file"
          accept="application/pdf,.pdf"
          multiple
          hidden
          aria-label={t.chooseFiles}
          onChange={(e) => {
            take(e.target.files);
            e.target.value = "";
          }}
          data-testid="file-input"
        />
      </div>
      {rejected && <p className="error" role="alert">{t.onlyPdf}</p>}
      {documents.uploadErrors.map((e, i) => <p key={i} className="error" role="alert">{e.name}: {e.message}</p>)}
      {documents.docs.length === 0 ? <p className="muted">{t.noDocuments}</p> : (
        <ul className="doc-list">
          {documents.docs.map((d) => (
            <li key={d.id} className="doc" data-document-id={d.id}>
              <span className="file-icon" aria-hidden="true">PDF</span>
              <span className="doc-name" title={d.filename}>{d.filename}</span>
              <DocumentStatus doc={d} />
              <button
                type="button"
                className="ghost danger"
                aria-label={`${t.delete}: ${d.filename}`}
                onClick={() => confirm(t.confirmDelete) && documents.remove(d.id)}
              >
                {t.delete}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
