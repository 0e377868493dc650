// The answer when there is no key at all but the conversation has documents: the best passages
// with their pages, labelled extractive, stored like any exchange (no provider, no usage).
import { MESSAGE_COLUMNS } from "./chat.ts";
import { extractiveAnswer } from "./citations.ts";
import type { Grounding } from "./retrieval.ts";
import type { RouteContext } from "./route.ts";

export const EXTRACTIVE_MODEL = "extractive";

export function storeExtractiveExchange(db: RouteContext<unknown, unknown>["db"], conversationId: string, question: string, grounding: Grounding) {
  const answer = extractiveAnswer(question, grounding);
  return db(async (tx) => {
    const [userMessage] = await tx.unsafe(
      `insert into public.messages (conversation_id, role, content) values ($1, 'user', $2) returning ${MESSAGE_COLUMNS}`,
      [conversationId, question],
    );
    const [assistant] = await tx.unsafe(
      `insert into public.messages (conversation_id, role, content, model, citations)
       values ($1, 'assistant', $2, $3, $4::jsonb) returning ${MESSAGE_COLUMNS}`,
      [conversationId, answer.text, EXTRACTIVE_MODEL, tx.json(answer.citations as never)],
    );
    return { user_message: userMessage, assistant_message: assistant, usage: null };
  });
}
