// The promises the project makes, each with a one-line change that breaks it and the tests that
// must then fail (`npm run mutants`, scripts/mutants.ts). A new promise gets a line here; a
// mutation that survives means its guards do not guard it.

export interface Mutation {
  /** What the line keeps true. */
  promise: string;
  /** The file, from the repository's root. */
  file: string;
  /** The mutated line is the first line containing `from` after the line containing this (when given). */
  after?: string;
  /** Text on the line, replaced by `to`. */
  from: string;
  to: string;
  /** Test files that must fail with the mutation: pgTAP (supabase/tests), vitest (tests/), deno test (*.test.ts elsewhere). */
  guards: string[];
}

// The database's promises are mutated in the migration the stack applies (its text is the schema
// files', supabase/schemas/).
const BASELINE = "supabase/migrations/20261202050000_baseline.sql";

const ownerOnly = (table: string, file: string, guards: string[], column = "user_id"): Mutation => ({
  promise: `${table}: a user reads only their own rows`,
  file,
  after: `CREATE POLICY "${table}: owner can select"`,
  from: `USING ((( SELECT auth.uid() AS uid) = ${column}));`,
  to: "USING (true);",
  guards,
});

export const MUTATIONS: Mutation[] = [
  {
    promise: "a chat message is refused when spend + open reservations + its worst case exceed the key's budget",
    file: BASELINE,
    after: "CREATE FUNCTION private.begin_exchange(",
    from: "if v_spent + v_reserved + v_worst > v_key.monthly_budget_usd then",
    to: "if v_spent + v_worst > v_key.monthly_budget_usd then",
    guards: ["supabase/tests/058-budget-reservations.test.sql"],
  },
  {
    promise: "an embedding call is refused when spend + open reservations + its worst case exceed the key's budget",
    file: BASELINE,
    after: "CREATE FUNCTION private.reserve_embedding(",
    from: "if v_spent + v_reserved + v_worst > v_key.monthly_budget_usd then",
    to: "if v_spent + v_worst > v_key.monthly_budget_usd then",
    guards: ["supabase/tests/059-embedding-reservations.test.sql"],
  },
  ownerOnly("profiles", BASELINE, ["supabase/tests/020-profiles.test.sql"], "id"),
  ownerOnly("api_keys", BASELINE, ["supabase/tests/030-api-keys.test.sql"]),
  ownerOnly("conversations", BASELINE, ["supabase/tests/040-conversations.test.sql"]),
  ownerOnly("messages", BASELINE, ["supabase/tests/050-messages.test.sql"]),
  ownerOnly("usage_events", BASELINE, ["supabase/tests/060-usage.test.sql"]),
  {
    promise: "usage_daily: a user reads only their own rollups",
    file: BASELINE,
    after: `CREATE POLICY "usage_daily: owner can select"`,
    from: "USING ((user_id = ( SELECT auth.uid() AS uid)));",
    to: "USING (true);",
    guards: ["supabase/tests/060-usage.test.sql", "supabase/tests/070-views.test.sql"],
  },
  ownerOnly("documents", BASELINE, ["supabase/tests/100-documents.test.sql"]),
  ownerOnly("document_pages", BASELINE, ["supabase/tests/100-documents.test.sql"]),
  ownerOnly("document_chunks", BASELINE, ["supabase/tests/100-documents.test.sql"]),
  ownerOnly("conversation_documents", BASELINE, ["supabase/tests/100-documents.test.sql"]),
  {
    promise: "Storage: a user reads only the files in their own folder of bucket documents",
    file: BASELINE,
    after: `create policy "documents: owner reads own folder"`,
    from: "using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);",
    to: "using (bucket_id = 'documents');",
    guards: ["tests/storage.test.ts"],
  },
  {
    promise: "a token whose session ended (logout) is refused at once",
    file: BASELINE,
    after: "CREATE FUNCTION private.session_is_active(p_session_id uuid)",
    from: "return exists (",
    to: "return true or exists (",
    guards: ["supabase/tests/080-login-helpers.test.sql", "tests/api/identity.test.ts"],
  },
  {
    promise: "an answer's citations quote their pages, of the caller's own documents (the database's own check)",
    file: BASELINE,
    from: "return pg_catalog.jsonb_typeof(p_citations) = 'array' and not exists (",
    to: "return true or not exists (",
    guards: ["supabase/tests/105-citation-quotes.test.sql"],
  },
  {
    promise: "usage is recorded only under its key's own provider",
    file: BASELINE,
    from: "if p_provider is distinct from v_key_provider then",
    to: "if false then",
    guards: ["supabase/tests/055-forged-writes.test.sql"],
  },
  {
    promise: "pending and failed messages are not sent to the model as context",
    file: BASELINE,
    from: "and m.status = 'complete' and m.role <> 'system'",
    to: "and m.role <> 'system'",
    guards: ["supabase/tests/077-message-path.test.sql"],
  },
  {
    promise: "an answer stored twice (a retry whose first attempt committed) is billed once",
    file: BASELINE,
    after: "CREATE FUNCTION private.store_answer(",
    from: "if v_question.id is not null and v_question.status = 'complete' then",
    to: "if false then",
    guards: ["supabase/tests/058-budget-reservations.test.sql"],
  },
  {
    promise: "a failed provider call recorded twice (a retry whose first attempt committed) is billed once",
    file: BASELINE,
    from: "if v_reservation.message_id is null and v_question.status <> 'pending' then",
    to: "if false then",
    guards: ["supabase/tests/058-budget-reservations.test.sql"],
  },
  {
    promise: "a chat reservation counts a Korean prompt at no less than it is billed",
    file: "supabase/functions/_shared/providers/estimate.ts",
    from: "else bytes += unit < 0x800 || (unit >= 0xd800 && unit < 0xe000) ? 2 : 3;",
    to: "else quarters++;",
    guards: ["tests/token-estimate.test.ts", "tests/api/budget.test.ts"],
  },
  {
    promise: "an embedding input longer than the model reads is sent cut to its start, not refused",
    file: "supabase/functions/_shared/providers/embeddings.ts",
    from: "input: inputs.map(embeddingInput),",
    to: "input: inputs,",
    guards: ["tests/document-answers.test.ts"],
  },
  {
    promise: "a provider call that failed while the database was down is recorded once it is back",
    file: "supabase/functions/api/chat.ts",
    from: `keepAlive(retryInBackground("recording a failed provider call", record, RETRY_RECORDING_MS));`,
    to: "",
    guards: ["tests/api/outage.test.ts"],
  },
  {
    promise: "a question's embedding call is recorded even when the statement carrying its settlement is refused",
    file: "supabase/functions/api/retrieval.ts",
    from: "if (settlement) await settleAfterFailure(user, settlement, err);",
    to: "",
    guards: ["tests/embedding-budget.test.ts"],
  },
  {
    promise: "an ingest worker that lost its job's lease stores nothing more for it",
    file: BASELINE,
    after: "CREATE FUNCTION private.progress_ingest_job(",
    from: "where j.document_id = p_document_id and j.lease_token = p_lease_token;",
    to: "where j.document_id = p_document_id;",
    guards: ["supabase/tests/102-lifecycle-functions.test.sql"],
  },
  {
    promise: "an upload above DOCUMENT_MAX_BYTES is refused (413)",
    file: "supabase/functions/api/routes/documents.ts",
    from: "if (bytes.length > env.documents.maxBytes) throw tooLarge();",
    to: "if (bytes.length > env.documents.maxBytes + 64 * 1024) throw tooLarge();",
    guards: ["supabase/functions/api/app.test.ts"],
  },
  {
    promise: "a PDF with more than DOCUMENT_MAX_PAGES pages is failed, saying so",
    file: "supabase/functions/ingest/worker.ts",
    from: "if (pdf.numPages > env.documents.maxPages) {",
    to: "if (pdf.numPages > env.documents.maxPages + 1000) {",
    guards: ["tests/documents.test.ts"],
  },
  {
    promise: "a local function past the hosted CPU limit per request is ended",
    file: "scripts/stack/limits/watchdog.ts",
    from: "if (limitMs > 0 && spent > limitMs * period.requests) {",
    to: "if (false) {",
    guards: ["scripts/stack/limits/limits.test.ts"],
  },
  {
    promise: "a value written into a statement as a literal cannot end it early (its delimiter occurs nowhere in it)",
    file: "supabase/functions/_shared/one-round-trip.ts",
    from: "if ((value + tag).indexOf(tag) === value.length) return `${tag}${value}${tag}`;",
    to: "if (!value.includes(tag)) return `${tag}${value}${tag}`;",
    guards: ["tests/one-round-trip.test.ts"],
  },
  {
    promise: "reading a conversation's messages fails the caller's exchanges whose request died",
    file: "supabase/migrations/20261202153946_message_api_json_and_read_sweep.sql",
    after: "CREATE OR REPLACE FUNCTION private.list_messages(",
    from: "if exists (select 1 from public.messages m where m.status = 'pending' and m.user_id = v_user) then",
    to: "if false then",
    guards: ["supabase/tests/076-one-round-trip.test.sql"],
  },
  {
    promise: "only tokens of role authenticated are users",
    file: "supabase/functions/_shared/identity.ts",
    from:
      `if (payload.role !== "authenticated" || typeof payload.sub !== "string") throw unauthorized("Invalid access token");`,
    to: `if (typeof payload.sub !== "string") throw unauthorized("Invalid access token");`,
    guards: ["tests/api/identity.test.ts"],
  },
];
