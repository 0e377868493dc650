// The web client end to end, in Debian's chromium (playwright-core drives it; no browser
// download), against the test stack's gateway (which serves web/dist) and the fake provider:
// sign up, add a key, create a conversation, send a message and see it stream, upload a PDF and
// watch it reach ready, attach it, ask, open the citation: the viewer must show the cited page
// (its own text, not only its number) with the quote inside the highlighted text; a session ended
// elsewhere returns to the login screen with a message; log out. A failure saves a screenshot.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { API_URL, STACK_SERVICES } from "../support/env.ts";
import { PDFDocument, rgb, StandardFonts } from "pdf-lib";
import { animalFor, codeFor } from "../support/pdfs.ts";
import { db } from "../support/users.ts";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
// A failure's screenshot goes beside the test stack's logs (.supabase-local/test/logs/).
const LOGS = STACK_SERVICES ? join(dirname(STACK_SERVICES), "logs") : tmpdir();
const FAILURE_SHOT = join(process.env.WEB_FAILURE_DIR ?? LOGS, "web-walk-failure.png");
const PAGES = 8;
const CITED = 5; // the question below is about section 5, which is page 5

let profileDir: string;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  profileDir = mkdtempSync(join(tmpdir(), "web-walk-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    locale: "en-US",
    viewport: { width: 1360, height: 820 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
}, 60_000);

afterAll(async () => {
  await context?.close();
  rmSync(profileDir, { recursive: true, force: true });
  await db.end();
});

const normalized = (s: string) => s.replace(/\s+/g, " ").trim();

async function renameConversation(title: string) {
  await page.getByRole("button", { name: "Rename" }).click();
  await page.getByLabel("New title").fill(title);
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator(".conv[aria-current='true']", { hasText: title }).waitFor();
}

/** The visible buttons, inputs, selects and text areas that a screen reader could not name. */
function unlabelled() {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>("button, input, select, textarea"))
      .filter((el) => el.offsetParent !== null && (el as HTMLInputElement).type !== "hidden")
      .filter((el) => {
        const labels = (el as HTMLInputElement).labels;
        const named = el.getAttribute("aria-label") || (labels && labels.length > 0) || el.getAttribute("title") ||
          (el.tagName === "BUTTON" && el.textContent?.trim());
        return !named || el.tabIndex < 0;
      })
      .map((el) => el.outerHTML.slice(0, 120))
  );
}

/** A field guide of PAGES pages: page n is section n, and only it holds section n's archive code. */
async function fieldGuide(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const [regular, bold] = await Promise.all([
    doc.embedFont(StandardFonts.Helvetica),
    doc.embedFont(StandardFonts.HelveticaBold),
  ]);
  for (let n = 1; n <= PAGES; n++) {
    const page = doc.addPage([612, 792]);
    const animal = animalFor(n);
    page.drawText("Northern Wetlands Field Guide", {
      x: 60,
      y: 740,
      size: 9,
      font: regular,
      color: rgb(0.45, 0.45, 0.5),
    });
    page.drawText(`Section ${n}: the ${animal}`, { x: 60, y: 700, size: 22, font: bold, color: rgb(0.12, 0.16, 0.3) });
    const paragraphs = [
      [
        `Surveyors first recorded a ${animal} in region ${n} during a spring count,`,
        "when water was high and reed beds were still flooded.",
      ],
      [`The archive code for section ${n} is ${codeFor(n)}.`, "Quote it when you request the original survey sheets."],
      [
        `Most sightings of the ${animal} come at dawn, along the eastern banks.`,
        "Keep to the boardwalks and leave the nesting grounds undisturbed.",
      ],
      [
        "Volunteers walk the transects every second week from April to October;",
        "their notes are copied into the ledger kept at the visitor centre.",
      ],
    ];
    let y = 660;
    for (const lines of paragraphs) {
      for (const line of lines) {
        page.drawText(line, { x: 60, y, size: 12, font: regular, color: rgb(0.1, 0.1, 0.12) });
        y -= 18;
      }
      y -= 14;
    }
    page.drawText(`${n}`, { x: 300, y: 40, size: 9, font: regular, color: rgb(0.45, 0.45, 0.5) });
  }
  return doc.save({ useObjectStreams: false });
}

async function walk() {
  const username = `walk_${Date.now() % 1_000_000}`;
  const password = "correct horse battery";
  const scripts: string[] = [];
  page.on("request", (r) => r.resourceType() === "script" && scripts.push(new URL(r.url()).pathname));

  // Sign up (supabase-js), which signs in.
  await page.goto(`${API_URL}/`);
  await page.getByRole("button", { name: "New here? Create an account" }).click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Email").fill(`${username}@example.com`);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByRole("button", { name: "Log out" }).waitFor();
  const initialScripts = [...scripts];

  // A key: the provider's verdict on a bad one, then a good one, selected as the first.
  await page.getByRole("button", { name: "API keys" }).click();
  await page.getByLabel("Name").fill("fake openai");
  await page.getByLabel("API key", { exact: true }).fill("sk-walk-fail401-0123456789abcdef");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await expect.poll(() => page.getByRole("alert").textContent()).toContain("The provider rejected this key");
  // -drip: the fake provider writes its answers word by word, 40 ms apart.
  await page.getByLabel("API key", { exact: true }).fill(`sk-walk-drip-${Date.now()}-0123456789abcdef`);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.getByText("Key added").waitFor();
  await page.locator(".key .badge.ok", { hasText: "Selected" }).waitFor();

  // A conversation; a message streams in (the deltas are on screen before the stored answer).
  await page.getByRole("button", { name: "Chat" }).click();
  await page.getByRole("button", { name: "+ New conversation" }).first().click();
  await page.locator(".conv-title").waitFor();
  await renameConversation("First steps");
  await page.evaluate(() => {
    const seen: string[] = ((window as unknown as { streamed: string[] }).streamed = []);
    new MutationObserver(() => {
      const live = document.querySelector(".msg.streaming .bubble")?.textContent;
      if (live) seen.push(live);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.getByLabel("Message").fill("Hello there");
  await page.getByLabel("Message").press("Enter");
  await page.locator(".msg.assistant.complete .bubble", { hasText: "Echo: Hello there" }).waitFor();
  const streamed = await page.evaluate(() => (window as unknown as { streamed: string[] }).streamed);
  expect(
    streamed.some((s) => s.length < "Echo: Hello there".length && "Echo: Hello there".startsWith(s)),
    `seen while streaming: ${JSON.stringify(streamed)}`,
  )
    .toBe(true);

  // Stopped halfway: the app says so, and shows the answer once the API has stored it.
  const long = "Give me a short overview of the wetlands and the animals that live there";
  await page.getByLabel("Message").fill(long);
  await page.getByLabel("Message").press("Enter");
  await page.locator(".msg.streaming .bubble", { hasText: "Echo:" }).waitFor();
  await page.getByRole("button", { name: "Stop" }).click();
  await page.getByText("Stopped:").waitFor();
  await page.locator(".msg.assistant.complete .bubble", { hasText: `Echo: ${long}` }).waitFor({ timeout: 20_000 });

  // A budget used up is said plainly; a failed message says why and can be sent again.
  const keyCard = (name: string) => page.locator(".key", { has: page.locator(".key-name", { hasText: name }) });
  await page.getByRole("button", { name: "API keys" }).click();
  await keyCard("fake openai").getByLabel("Monthly budget (USD)").fill("0");
  await keyCard("fake openai").getByRole("button", { name: "Set budget" }).click();
  await expect.poll(() => keyCard("fake openai").getByLabel("Monthly budget (USD)").inputValue()).toBe("0.00");
  await page.getByRole("button", { name: "Chat" }).click();
  await page.getByLabel("Message").fill("Am I over budget?");
  await page.getByLabel("Message").press("Enter");
  await page.getByText("This key's monthly budget is used up.").waitFor();
  await page.getByRole("button", { name: "API keys" }).click();
  await keyCard("fake openai").getByLabel("Monthly budget (USD)").fill("");
  await keyCard("fake openai").getByRole("button", { name: "Set budget" }).click();
  await page.getByLabel("Name").fill("failing");
  await page.getByLabel("API key", { exact: true }).fill(`sk-walk-chatonly-fail500-${Date.now()}-0123456789abcdef`);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await keyCard("failing").getByRole("button", { name: "Use this key" }).click();
  await keyCard("failing").locator(".badge", { hasText: "Selected" }).waitFor();
  await page.getByRole("button", { name: "Chat" }).click();
  await page.getByLabel("Message").fill("Will this fail?");
  await page.getByLabel("Message").press("Enter");
  const failed = page.locator(".msg.user.failed", { hasText: "Will this fail?" });
  await failed.locator(".failure", { hasText: "The provider failed to answer" }).waitFor();
  await page.getByRole("button", { name: "API keys" }).click();
  await keyCard("fake openai").getByRole("button", { name: "Use this key" }).click();
  await keyCard("fake openai").locator(".badge", { hasText: "Selected" }).waitFor();
  await page.getByRole("button", { name: "Chat" }).click();
  await failed.getByRole("button", { name: "Send again" }).click();
  await page.locator(".msg.assistant.complete .bubble", { hasText: "Echo: Will this fail?" }).waitFor();
  if (process.env.WEB_SCREENSHOT) {
    await page.screenshot({ path: process.env.WEB_SCREENSHOT.replace(/\.png$/, "-first.png") });
  }

  // A PDF, straight to Storage; its progress reaches ready.
  await page.getByRole("button", { name: "Documents" }).click();
  const pdf = Buffer.from(await fieldGuide());
  const uploadedAt = Date.now();
  // Dropped on the drop zone, as a file dragged from the desktop.
  const dropped = await page.evaluateHandle((bytes) => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(bytes)], "field-guide.pdf", { type: "application/pdf" }));
    return data;
  }, [...pdf]);
  await page.locator(".dropzone").dispatchEvent("drop", { dataTransfer: dropped });
  const row = page.locator(".doc", { hasText: "field-guide.pdf" });
  await row.locator(".badge", { hasText: "Ready" }).waitFor({ timeout: 60_000 });
  const readyAt = Date.now();
  expect(normalized(await row.textContent() ?? "")).toContain(`${PAGES} of ${PAGES} pages`);
  const documentId = await row.getAttribute("data-document-id");
  // It went to Storage as the user, at documents/<user id>/<document id>.pdf.
  const [stored] = await db`
    select d.status, d.user_id, o.name from public.documents d
    join storage.objects o on o.bucket_id = 'documents' and o.name = d.object_path where d.id = ${documentId}`;
  expect(stored).toMatchObject({ status: "ready", name: `${stored.user_id}/${documentId}.pdf` });

  // In a new conversation, attach it and ask; the answer cites page 5.
  await page.getByRole("button", { name: "Chat" }).click();
  await page.getByRole("button", { name: "+ New conversation" }).first().click();
  await page.locator(".conv").nth(1).waitFor();
  await renameConversation("Wetlands field guide");
  await page.getByLabel("Attach a document").selectOption({ label: "field-guide.pdf" });
  await page.locator(".doc-chip", { hasText: "field-guide.pdf" }).waitFor();
  await page.getByLabel("Message").fill("Where do most sightings happen?");
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await page.locator(".msg.assistant.complete .chip").first().waitFor();
  await page.getByLabel("Message").fill(`What is the archive code for section ${CITED}?`);
  await page.getByRole("button", { name: "Send", exact: true }).click();
  const answer = page.locator(".msg.assistant.complete", {
    has: page.locator(".chip[data-citation='1']"),
    hasText: `Echo: What is the archive code for section ${CITED}?`,
  });
  const chip = answer.locator(".chip[data-citation='1']");
  await chip.waitFor();
  const messageId = await answer.getAttribute("data-message-id");
  const [{ citations: [citation] }] = await db`select citations from public.messages where id = ${messageId}`;
  expect(citation).toMatchObject({ document_id: documentId, page: CITED });

  // The viewer opens at the cited page with the quote highlighted in its text layer.
  const clickedAt = Date.now();
  await chip.click();
  const viewer = page.locator(".viewer");
  await viewer.locator("mark.quote, .quote-missing").first().waitFor({ timeout: 30_000 });
  const highlightedAt = Date.now();
  expect(await viewer.locator(".quote-missing").count(), "the quote is highlighted on the page shown").toBe(0);
  expect(await viewer.getAttribute("data-page")).toBe(String(citation.page));
  await expect.poll(() => viewer.locator(".page-label").textContent()).toBe(`Page ${citation.page} of ${PAGES}`);
  const layerText = normalized(await viewer.locator(".textLayer").textContent() ?? "");
  expect(layerText).toContain(`The archive code for section ${citation.page} is ${codeFor(citation.page)}.`);
  const highlighted = normalized((await viewer.locator("mark.quote").allTextContents()).join(" "));
  expect(highlighted.replace(/\s/g, "")).toContain(citation.quote.replace(/\s/g, ""));
  expect(await viewer.locator("mark.quote").first().isVisible()).toBe(true);
  // pdf.js came with the viewer: none of it was in the scripts the app started with.
  expect(initialScripts.some((p) => /Viewer|pdf/i.test(p))).toBe(false);
  expect(scripts.some((p) => /Viewer/.test(p))).toBe(true);
  if (process.env.WEB_SCREENSHOT) await page.screenshot({ path: process.env.WEB_SCREENSHOT });

  expect(await unlabelled(), "controls without an accessible name (chat and viewer)").toEqual([]);

  // 375 px wide: nothing wider than the screen, in the chat with the viewer over it, and on each view.
  await page.setViewportSize({ width: 375, height: 740 });
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await expect.poll(overflow).toBeLessThanOrEqual(0);
  // The page is drawn again for the narrower pane, and the quote marked again.
  await expect.poll(() => viewer.locator("mark.quote").first().isVisible()).toBe(true);
  if (process.env.WEB_SCREENSHOT) {
    await page.screenshot({ path: process.env.WEB_SCREENSHOT.replace(/\.png$/, "-375.png") });
  }
  await page.getByRole("button", { name: "Close" }).click();
  for (const view of ["Documents", "API keys", "Chat"]) {
    await page.getByRole("button", { name: view, exact: true }).click();
    expect(await overflow(), `${view} at 375 px`).toBeLessThanOrEqual(0);
    expect(await unlabelled(), `controls without an accessible name (${view})`).toEqual([]);
  }
  await page.setViewportSize({ width: 1360, height: 820 });

  // The app's figures: the initial JavaScript (gzip) and the time from upload to the highlight.
  const gzipped = initialScripts.map((p) => gzipSync(readDist(p)).length).reduce((a, b) => a + b, 0);
  console.log(
    `web walk: initial JS ${initialScripts.length} file(s), ${(gzipped / 1024).toFixed(1)} KB gzip; ` +
      `upload to highlighted citation ${((highlightedAt - uploadedAt) / 1000).toFixed(1)} s (ready after ${
        ((readyAt - uploadedAt) / 1000).toFixed(1)
      } s; ` +
      `two questions answered word by word; citation click to highlight ${
        highlightedAt - clickedAt
      } ms, pdf.js loaded on that click)`,
  );

  // The inline marker [1] opens the same citation; detach the document, then delete it.
  await answer.locator(".bubble .marker", { hasText: "1" }).click();
  await viewer.locator("mark.quote").first().waitFor();
  expect(await viewer.getAttribute("data-page")).toBe(String(citation.page));
  // Without keys (both deleted), an answer is extractive: the passages with their pages, cited the same way.
  await page.getByRole("button", { name: "API keys" }).click();
  for (const name of ["failing", "fake openai"]) {
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: `Delete: ${name}` }).click();
  }
  await page.getByText("No keys yet.").waitFor();
  await page.getByRole("button", { name: "Chat" }).click();
  await page.locator(".conv[aria-current='true']", { hasText: "Wetlands field guide" }).waitFor();
  await page.getByLabel("Message").fill("Which archive code belongs to section 2?");
  await page.getByLabel("Message").press("Enter");
  const extractive = page.locator(".msg.assistant.complete", { hasText: "Extractive answer" });
  await extractive.getByText("Quoted from your documents (no API key)").waitFor();
  const [{ citations: [passage] }] = await db`select citations from public.messages where id = ${await extractive
    .getAttribute("data-message-id")}`;
  await extractive.locator(".chip[data-citation='1']").click();
  await expect.poll(() => viewer.getAttribute("data-page")).toBe(String(passage.page));
  await viewer.locator("mark.quote").first().waitFor();
  expect(normalized((await viewer.locator("mark.quote").allTextContents()).join(" ")).replace(/\s/g, "")).toContain(
    passage.quote.replace(/\s/g, ""),
  );

  await page.getByRole("button", { name: "Detach: field-guide.pdf" }).click();
  await page.getByText("None attached").waitFor();
  await page.getByRole("button", { name: "Documents" }).click();
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Delete: field-guide.pdf" }).click();
  await page.getByText("No documents yet.").waitFor();
  await expect.poll(async () =>
    (await db`select count(*)::int as n from public.documents where id = ${documentId}`)[0].n
  ).toBe(0);

  // A session ended elsewhere: the next call is refused and the app returns to the login screen, saying why.
  const token = await page.evaluate(() => {
    const k = Object.keys(localStorage).find((x) => x.endsWith("-auth-token"))!;
    return JSON.parse(localStorage.getItem(k)!).access_token as string;
  });
  const ended = await fetch(`${API_URL}/api/v1/users/logout`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  expect(ended.status).toBe(200);
  await page.getByRole("button", { name: "API keys" }).click();
  await page.getByText("Your session ended").waitFor();

  // Log in again with the username (through the API, then supabase-js), and log out.
  await page.getByLabel("Email or username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("button", { name: "Log in" }).waitFor();
  expect(await page.getByText("Your session ended").count()).toBe(0);
}

const readDist = (path: string) => readFileSync(join(import.meta.dirname, "../../web/dist", path));

it("the web client: sign up, key, stream, upload, attach, cite, open the cited page highlighted, log out", async () => {
  try {
    await walk();
  } catch (err) {
    await page.screenshot({ path: FAILURE_SHOT, fullPage: true }).catch(() => {});
    throw new Error(
      `${(err as Error).message}\n(screenshot: ${FAILURE_SHOT}; the page's errors: ${JSON.stringify(pageErrors)})`,
      { cause: err },
    );
  }
}, 180_000);

it("the interface is in Korean when the browser prefers Korean", async () => {
  const dir = mkdtempSync(join(tmpdir(), "web-walk-ko-"));
  const korean = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    locale: "ko-KR",
  });
  try {
    const p = korean.pages()[0] ?? (await korean.newPage());
    await p.goto(`${API_URL}/`);
    await p.getByRole("heading", { name: "로그인" }).waitFor();
    expect(await p.getByLabel("이메일 또는 사용자 이름").count()).toBe(1);
    expect(await p.evaluate(() => document.documentElement.lang)).toBe("ko");
  } finally {
    await korean.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
