// The answer when there is no key at all but the conversation has documents: the best passages
// with their pages, labelled extractive, stored like any exchange (no provider, no usage).
import { extractiveAnswer } from "./citations.ts";
import { findMessage } from "./data/messages.ts";
import type { Grounding } from "./retrieval.ts";
import type { RouteContext } from "./route.ts";

export function storeExtractiveExchange(db: RouteContext<unknown, unknown>["db"], conversationId: string, question: string, grounding: Grounding) {
  const answer = extractiveAnswer(question, grounding);
  return db(async (tx) => {
    const [{ stored }] = await tx`
      select private.store_extractive_exchange(${conversationId}::uuid, ${question}, ${answer.text},
        ${tx.json(answer.citations as never)}) as stored`;
    return {
      user_message: await findMessage(tx, stored.user_message_id),
      assistant_message: await findMessage(tx, stored.assistant_message_id),
      usage: null,
    };
  });
}
