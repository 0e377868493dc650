// The function's own token counts (supabase/functions/_shared/providers/estimate.ts) against
// the real tokenizers of OpenAI's models (js-tiktoken: cl100k_base for text-embedding-3-small and
// GPT-4, o200k_base for GPT-4o). A budget reservation is only a promise if the count it is made
// from is never below what the provider will bill; "characters / 4" was, 2-5 times over, for
// Korean. No stack needed.
import { getEncoding } from "js-tiktoken";
import { describe, expect, it } from "vitest";
import {
  EMBEDDING_MAX_INPUT_TOKENS,
  embeddingInput,
  estimatedUsage,
  estimateTokens,
  worstCaseEmbeddingTokens,
  worstCasePromptTokens,
} from "../supabase/functions/_shared/providers/estimate.ts";

const ENCODINGS = ["cl100k_base", "o200k_base"] as const;
const tokenizers = ENCODINGS.map((name) => ({ name, encoding: getEncoding(name) }));

// Texts of the kinds a prompt carries: questions, passages of Korean and English manuals,
// listings, code. Written for this test.
const SAMPLES: Record<string, string> = {
  "Korean question": "각주를 달려면 어떤 명령을 쓰나요? 그리고 각주 번호 모양은 어떻게 바꿀 수 있나요?",
  "Korean prose":
    "한글 문서를 만들 때에는 글꼴을 먼저 정해 두는 것이 좋다. 본문 글꼴과 제목 글꼴을 따로 지정할 수 있으며, " +
    "한자가 섞인 문서라면 한자 글꼴도 함께 골라야 한다. 글자 사이의 간격은 기본값으로 두어도 충분히 읽기 " +
    "편하지만, 좁은 판면에서는 조금 줄이는 편이 낫다. 문단의 첫 줄을 들여 쓸지 말지는 문서의 성격에 따라 " +
    "결정한다. 보고서나 논문은 들여 쓰는 경우가 많고, 짧은 안내문은 들여 쓰지 않는 경우가 많다.\n\n" +
    "그림과 표는 본문에서 처음 언급된 곳 가까이에 두는 것이 원칙이다. 다만 쪽이 바뀌는 자리에 걸리면 " +
    "다음 쪽 위쪽으로 밀려나기도 한다. 이런 떠다니는 개체의 위치는 선택 인자로 조절할 수 있다.",
  "Korean with LaTeX":
    "전처리부에 \\usepackage{kotex}를 넣고, 글꼴은 \\setmainhangulfont{은바탕}{}과 같이 지정한다.\n" +
    "각주는 \\footnote{각주 내용}으로 단다. 줄 간격은 \\linespread{1.333}으로 조절한다.\n" +
    "옛한글: ᄒᆞᆫ글 ᄀᆞᄅᆞ치다 (자모 조합)",
  "English prose": "When a command is executed, the shell first performs the expansions described above, then " +
    "sets up any redirections, and finally runs the command in a separate execution environment. " +
    "Variables assigned before the command name are exported to that command only.",
  "table of contents": "3.5 Shell Expansions . . . . . . . . . . . . . . . . . . . . . . 24\n" +
    "3.5.1 Brace Expansion. . . . . . . . . . . . . . . . . . . . . . 24\n" +
    "3.5.2 Tilde Expansion . . . . . . . . . . . . . . . . . . . . . . 25\n" +
    "3.5.3 Shell Parameter Expansion . . . . . . . . . . . . . . . . 26\n",
  "index": "apt, 37\napt-doc, 36, 37\napt-file, 39\nbuild-essential, 18\ndaemontools, 19, 49\ndoc-debian, 54, 56\n",
  "code":
    'for f in *.tex; do latexmk -pdf "$f" && echo "${f%.tex}: ok" >> build.log; done\nexport PS1=\'\\u@\\h:\\w\\$ \'\n',
  "Japanese and Chinese": "日本語の文書も検索できます。中文文档也可以检索。",
  "emoji": "정리했어요 🙂👍 다음 회의는 3시 🕒",
};

describe("token estimates err high against the real tokenizers", () => {
  for (const [kind, text] of Object.entries(SAMPLES)) {
    it(`${kind}: the estimate is at least the real count`, () => {
      for (const { name, encoding } of tokenizers) {
        const real = encoding.encode(text).length;
        expect(estimateTokens(text), `${name}: ${real} tokens`).toBeGreaterThanOrEqual(real);
        expect(estimatedUsage({ messages: [] }, text).completionTokens).toBeGreaterThanOrEqual(real);
      }
    });
  }

  it("a whole prompt (system prompt with passages, history, question): the reservation covers it", () => {
    const system = `Answer from the numbered sources below.\n\nSources:\n[1] (kotex-utf.pdf, page 12) ${
      SAMPLES["Korean prose"]
    }\n[2] (kotex-utf.pdf, page 14) ${SAMPLES["Korean with LaTeX"]}\n[3] (bashref.pdf, page 3) ${SAMPLES["index"]}`;
    const messages = [
      { role: "user" as const, content: SAMPLES["Korean question"] },
      { role: "assistant" as const, content: SAMPLES["Korean prose"].slice(0, 120) },
      { role: "user" as const, content: "그러면 줄 간격은요?" },
    ];
    for (const { name, encoding } of tokenizers) {
      const real = [system, ...messages.map((m) => m.content)].reduce((n, t) => n + encoding.encode(t).length, 0);
      expect(worstCasePromptTokens({ system, messages }), name).toBeGreaterThanOrEqual(real + 4 * messages.length);
    }
  });

  it("English prose is not over-counted by much (a reservation should not refuse what a budget can pay)", () => {
    const text = SAMPLES["English prose"];
    for (const { name, encoding } of tokenizers) {
      expect(estimateTokens(text), name).toBeLessThanOrEqual(Math.ceil(encoding.encode(text).length * 1.5));
    }
  });
});

describe("an embedding input stays within what the model reads", () => {
  const cl100k = getEncoding("cl100k_base"); // text-embedding-3-small's
  const long = {
    Korean: `${"각주를 달려면 어떤 명령을 쓰나요? ".repeat(1_500)}`,
    English: "Which variable sets the prompt of an interactive shell? ".repeat(700),
    // 8,189 bytes, then emoji of 4 bytes each: the first straddles the limit of 8,191.
    "emoji at the cut": `${"word ".repeat(1_637)}abcd🙂🙂🙂`,
  };
  for (const [kind, text] of Object.entries(long)) {
    it(`${kind}: a longer text is cut to its start, between characters, within the limit`, () => {
      const sent = embeddingInput(text);
      expect(sent.length).toBeLessThan(text.length);
      expect(text.startsWith(sent)).toBe(true);
      expect(sent).not.toContain("\uFFFD");
      expect(cl100k.encode(sent).length).toBeLessThanOrEqual(EMBEDDING_MAX_INPUT_TOKENS);
      expect(worstCaseEmbeddingTokens([text])).toBeGreaterThanOrEqual(cl100k.encode(sent).length);
    });
  }

  it("a text within the limit is sent whole", () => {
    const text = SAMPLES["Korean prose"];
    expect(embeddingInput(text)).toBe(text);
    expect(worstCaseEmbeddingTokens([text, text])).toBe(2 * new TextEncoder().encode(text).length);
  });
});
