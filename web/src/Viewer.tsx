// The PDF viewer, loaded on first use (pdf.js is most of the app's code): the file comes through
// the API's signed URL (GET /documents/{id}/file), the cited page is drawn with its text layer,
// and the quoted passage is highlighted there and scrolled into view.
import { useEffect, useRef, useState } from "react";
import {
  getDocument,
  GlobalWorkerOptions,
  type PDFDocumentLoadingTask,
  type PDFDocumentProxy,
  TextLayer,
} from "pdfjs-dist";
import workerUrl from "pdfjs-dist/build/pdf.worker.min.mjs?url";
import { api, type Citation } from "./api.ts";
import { highlightQuote } from "./highlight.ts";
import { useT } from "./i18n.ts";

GlobalWorkerOptions.workerSrc = workerUrl;

export default function Viewer({ citation, onClose }: { citation: Citation; onClose: () => void }) {
  const t = useT();
  const [pdf, setPdf] = useState<PDFDocumentProxy | null>(null);
  const [page, setPage] = useState(citation.page);
  const [error, setError] = useState<string | null>(null);
  const [found, setFound] = useState<boolean | null>(null);
  const [width, setWidth] = useState(0);
  const canvas = useRef<HTMLCanvasElement>(null);
  const layer = useRef<HTMLDivElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const pane = useRef<HTMLDivElement>(null);
  const closeButton = useRef<HTMLButtonElement>(null);

  // The file: a fresh signed URL per document (valid 5 minutes).
  useEffect(() => {
    let cancelled = false;
    let task: PDFDocumentLoadingTask | null = null;
    setPdf(null);
    setError(null);
    api<{ url: string }>("GET", `/documents/${citation.document_id}/file`)
      .then(({ url }) => {
        if (cancelled) return null;
        task = getDocument({ url });
        return task.promise;
      })
      .then((d) => !cancelled && d && setPdf(d))
      .catch((e) => !cancelled && setError(e.message ?? String(e)));
    return () => {
      cancelled = true;
      task?.destroy();
    };
  }, [citation.document_id]);

  useEffect(() => {
    setPage(citation.page);
    closeButton.current?.focus();
  }, [citation]);

  // The page is drawn to the pane's width, again when that changes (a phone turned, a window resized).
  useEffect(() => {
    const observer = new ResizeObserver(([entry]) => setWidth(Math.round(entry.contentRect.width / 20) * 20));
    observer.observe(pane.current!);
    return () => observer.disconnect();
  }, []);

  // Draw the page and its text layer; on the cited page, mark the quote.
  useEffect(() => {
    if (!pdf || !width || !canvas.current || !layer.current || !box.current || !pane.current) return;
    let cancelled = false;
    const c = canvas.current, l = layer.current, b = box.current;
    setFound(null);
    (async () => {
      const p = await pdf.getPage(Math.min(Math.max(page, 1), pdf.numPages));
      const unscaled = p.getViewport({ scale: 1 });
      const scale = Math.max(0.3, (width - 32) / unscaled.width);
      const viewport = p.getViewport({ scale });
      const ratio = window.devicePixelRatio || 1;
      c.width = Math.floor(viewport.width * ratio);
      c.height = Math.floor(viewport.height * ratio);
      c.style.width = `${Math.floor(viewport.width)}px`;
      c.style.height = `${Math.floor(viewport.height)}px`;
      b.style.setProperty("--scale-factor", String(scale));
      b.style.width = c.style.width;
      b.style.height = c.style.height;
      await p.render({ canvas: c, viewport, transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : undefined }).promise;
      if (cancelled) return;
      l.replaceChildren();
      const text = new TextLayer({ textContentSource: p.streamTextContent(), container: l, viewport });
      await text.render();
      if (cancelled) return;
      if (page === citation.page) {
        const marks = highlightQuote(text.textDivs, citation.quote);
        setFound(marks.length > 0);
        marks[0]?.scrollIntoView({ block: "center" });
      }
    })().catch((e) => !cancelled && setError(e.message ?? String(e)));
    return () => {
      cancelled = true;
    };
  }, [pdf, page, citation, width]);

  return (
    <div
      className="viewer"
      ref={pane}
      data-page={pdf ? page : undefined}
      data-document-id={citation.document_id}
      onKeyDown={(e) => e.key === "Escape" && onClose()}
    >
      <div className="viewer-bar">
        <span className="chip static">
          <span className="n">{citation.n}</span>
          <span className="chip-file">{citation.filename}</span>
        </span>
        <button
          type="button"
          className="ghost"
          aria-label={t.prevPage}
          disabled={page <= 1}
          onClick={() => setPage(page - 1)}
        >
          ‹
        </button>
        <span className="page-label" aria-live="polite">{pdf ? t.page(page, pdf.numPages) : t.loading}</span>
        <button
          type="button"
          className="ghost"
          aria-label={t.nextPage}
          disabled={!pdf || page >= pdf.numPages}
          onClick={() => setPage(page + 1)}
        >
          ›
        </button>
        <button type="button" className="ghost close" ref={closeButton} aria-label={t.close} onClick={onClose}>
          ×
        </button>
      </div>
      <blockquote className="cited-quote">“{citation.quote}”</blockquote>
      {error && <p className="error" role="alert">{error}</p>}
      {found === false && <p className="muted small quote-missing" role="status">{t.quoteNotFound}</p>}
      <div className="pdf-scroll">
        <div className="pdf-page" ref={box}>
          <canvas ref={canvas} />
          <div className="textLayer" ref={layer} />
        </div>
      </div>
    </div>
  );
}
