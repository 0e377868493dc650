-- Retrieval: finding the chunks that answer a question
--
-- Lexical search (PGroonga, which also tokenises Korean) and, when the question has an
-- embedding, vector search (pgvector), fused by rank.

-- Function bodies are checked when they first run, not here: a body may name objects of a
-- later file.
set check_function_bodies = false;

-- ==============================================================================================
-- Text search
-- ==============================================================================================

CREATE TEXT SEARCH DICTIONARY private.simple_english_stop (
    TEMPLATE = pg_catalog.simple,
    stopwords = 'english' );

CREATE TEXT SEARCH CONFIGURATION private.document_text (
    PARSER = pg_catalog."default" );

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR asciiword WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR word WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR numword WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR email WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR url WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR host WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR sfloat WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR version WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR hword_numpart WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR hword_part WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR hword_asciipart WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR numhword WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR asciihword WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR hword WITH private.simple_english_stop;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR url_path WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR file WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR "float" WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR "int" WITH simple;

ALTER TEXT SEARCH CONFIGURATION private.document_text
    ADD MAPPING FOR uint WITH simple;

-- ==============================================================================================
-- Functions
-- ==============================================================================================

-- The chunks of a conversation's attached documents that best answer a question.
-- Security definer, in private, checking ownership itself: only the caller's conversation and its
-- attached documents (which the foreign keys make the caller's).
-- How a question is searched:
--   pieces   its words (the English stop words dropped); a Korean word becomes its
--            overlapping two-syllable pieces (각주를 -> 각주, 주를), so every form of a word shares
--            pieces with the others; a syllable attached to Latin letters (LaTeX을) is dropped as
--            the particle it is; a few pieces that only make a question a question (어떻게,
--            무엇, 하나요, 있나요 ...) are dropped too;
--   match    PGroonga (hosted Supabase offers it for exactly this) indexes chunk content with its
--            default bigram tokenizer, which cuts Hangul into the same two-character pieces and
--            keeps Latin words whole; each piece finds its chunks through that index (an index
--            scan, not a bitmap: a common piece then stops at the first matches it needs);
--   rank     Okapi BM25 (k1 = 0.9, b = 0.4) over the pieces: rare pieces weigh more, a piece
--            repeated on a page counts less each time, long chunks are not favoured. Document
--            frequencies are counted among the conversation's chunks (exact up to 500 matches
--            of a piece; a piece matching more is common either way);
--   listings of the best 100, a chunk whose lines mostly end in a page number (a table of
--            contents, an index) has its score cut, by up to 80%;
--   vectors  when the question has an embedding, the nearest chunks of the same embedding model,
--            fused with the BM25 list by reciprocal rank (k = 60).
-- At most 100 chunks per piece are scored (all of them for any piece rarer than that, which are
-- the pieces that decide), so a question of common words stays fast on a large conversation.
-- No JIT: the plan's cost estimates (a lateral index scan per piece) pass jit_above_cost, and
-- compiling the plan took longer than running it (docs/performance.md).
CREATE FUNCTION private.search_conversation_chunks(p_conversation_id uuid, p_query text, p_query_embedding extensions.vector DEFAULT NULL::extensions.vector, p_match_count integer DEFAULT 8, p_embedding_model text DEFAULT NULL::text) RETURNS TABLE(chunk_id bigint, document_id uuid, page_number integer, start_offset integer, end_offset integer, content text, score double precision, lexical_rank integer, vector_rank integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    SET "hnsw.ef_search" TO '100'
    SET "hnsw.iterative_scan" TO 'relaxed_order'
    SET enable_bitmapscan TO 'off'
    SET jit TO 'off'
    AS $_$
  with docs as (
    select cd.document_id
    from public.conversation_documents cd
    where cd.conversation_id = p_conversation_id and cd.user_id = (select auth.uid())
  ),
  words as (
    select w.word, pg_catalog.array_length(r.runs, 1) as run_count, r.runs
    from pg_catalog.unnest(pg_catalog.tsvector_to_array(pg_catalog.to_tsvector('private.document_text'::regconfig, p_query))) as w(word),
    lateral (
      select pg_catalog.array_agg(m[1]) as runs
      from pg_catalog.regexp_matches(w.word, '[가-힣]+|[^가-힣[:space:][:punct:]]+', 'g') as m
    ) r
  ),
  pieces as materialized (
    select distinct p.piece
    from words, pg_catalog.unnest(words.runs) as run,
    lateral (
      select case when run ~ '^[가-힣]{2,}$' then pg_catalog.substr(run, i, 2) else run end as piece
      from pg_catalog.generate_series(1, greatest(pg_catalog.length(run) - 1, 1)) as i
      where run !~ '^[가-힣]$' or words.run_count = 1
      union all
      -- an English word's stem too (keepers -> keeper, dated -> dat, nesting -> nest): it finds
      -- the other forms, and counts inside them
      select pg_catalog.regexp_replace(run, '(es|s|ed|ing)$', '')
      where run ~ '^[a-z]{3,}(es|s|ed|ing)$' and run !~ 'ss$'
    ) p
    where p.piece <> all (array['어떻', '떻게', '무엇', '엇인', '누구', '구인', '인가', '가요', '하나', '나요', '있나',
                                '뭔가', '되나', '는데', '려면', '으면', '싶어', '싶으', '어요', '해야', '야하', '할까',
                                '하려', '니까', '나는'])
  ),
  -- Per piece: its matches in the conversation (up to 100 scored) and how many chunks have it
  -- (counted again, up to 500, only when it has 100 matches or more).
  matched as materialized (
    select p.piece, m.id
    from pieces p,
    lateral (
      select c.id from public.document_chunks c
      where c.content operator(extensions.&@) p.piece and c.document_id in (select document_id from docs)
      limit 100
    ) m
  ),
  frequency as materialized (
    select m.piece, case when m.n < 100 then m.n else (
      select pg_catalog.count(*) from (
        select 1 from public.document_chunks c
        where c.content operator(extensions.&@) m.piece and c.document_id in (select document_id from docs)
        limit 500) f
    ) end::double precision as df
    from (select matched.piece, pg_catalog.count(*) as n from matched group by matched.piece) m
  ),
  corpus as (
    select greatest(pg_catalog.sum(d.chunk_count), (select pg_catalog.max(df) from frequency), 1)::double precision as n
    from public.documents d where d.id in (select document_id from docs)
  ),
  candidates as materialized (
    select c.id, t.text, pg_catalog.length(t.text)::double precision as len
    from (select distinct id from matched) m
    join public.document_chunks c on c.id = m.id,
    lateral (select pg_catalog.lower(c.content) as text) t
  ),
  term_counts as (
    select c.id, c.len, f.piece, f.df,
           ((c.len - pg_catalog.length(pg_catalog.replace(c.text, f.piece, ''))) / pg_catalog.length(f.piece))::double precision as tf
    from candidates c cross join frequency f
    where pg_catalog.strpos(c.text, f.piece) > 0
  ),
  bm25 as (
    select t.id,
           pg_catalog.sum(pg_catalog.ln(1 + ((select n from corpus) - t.df + 0.5) / (t.df + 0.5))
                          * t.tf * 1.9 / (t.tf + 0.9 * (0.6 + 0.4 * t.len / (select pg_catalog.avg(len) from candidates)))) as score
    from term_counts t
    group by t.id
    order by 2 desc, 1
    limit 100
  ),
  -- A listing (a table of contents, an index: most lines end in a page number) carries every
  -- heading's words without answering anything: its score is cut by up to 80%, by the share of
  -- its lines that end in a number.
  lexical as (
    select t.id, pg_catalog.row_number() over (order by t.score desc, t.id) as rank
    from (
      select b.id,
             b.score * (1 - 0.8 * pg_catalog.regexp_count(c.text, '\d\s*(\n|$)')::double precision
                                / (pg_catalog.regexp_count(c.text, E'\n') + 1)) as score
      from bm25 b
      join candidates c on c.id = b.id
      order by 2 desc, 1
      limit 40
    ) t
  ),
  nearest as (
    select c.id, pg_catalog.row_number() over () as rank
    from (
      select c.id
      from public.document_chunks c
      where p_query_embedding is not null
        and c.embedding_model = p_embedding_model
        and c.document_id in (select document_id from docs)
      order by c.embedding operator(extensions.<=>) p_query_embedding
      limit 40
    ) c
  ),
  fused as (
    select coalesce(l.id, n.id) as id, l.rank as l_rank, n.rank as n_rank,
           coalesce(1.0 / (60 + l.rank), 0) + coalesce(1.0 / (60 + n.rank), 0) as score
    from lexical l
    full join nearest n on n.id = l.id
    order by score desc, id
    limit least(greatest(p_match_count, 1), 50)
  )
  -- The winners' rows, each by its primary key.
  select c.id, c.document_id, c.page_number, c.start_offset, c.end_offset, c.content,
         fused.score::double precision, fused.l_rank::integer, fused.n_rank::integer
  from fused
  cross join lateral (select * from public.document_chunks c where c.id = fused.id) c
  order by fused.score desc, c.id;
$_$;

-- ==============================================================================================
-- Grants
-- ==============================================================================================

REVOKE ALL ON FUNCTION private.search_conversation_chunks(p_conversation_id uuid, p_query text, p_query_embedding extensions.vector, p_match_count integer, p_embedding_model text) FROM PUBLIC;
GRANT ALL ON FUNCTION private.search_conversation_chunks(p_conversation_id uuid, p_query text, p_query_embedding extensions.vector, p_match_count integer, p_embedding_model text) TO authenticated;
