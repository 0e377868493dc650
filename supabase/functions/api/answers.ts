// The answer when there is no key at all but the conversation has documents: the best passages
// with their pages, labelled extractive, stored like any exchange (no provider, no usage).
import type { CallerDb } from "../_shared/db.ts";
import { extractiveAnswer } from "./citations.ts";
import { findMessage } from "./data/messages.ts";
import type { Grounding } from "./retrieval.ts";

export function storeExtractiveExchange(db: CallerDb, conversationId: string, question: string, grounding: Grounding) {
  const answer = extractiveAnswer(question, grounding);
  return db.transaction(async (tx) => {
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
