// SQL for messages, used by the routes and by the exchange (chat.ts).
import type { Tx } from "../../_shared/db.ts";
import type { ChatMessage } from "../../_shared/providers/types.ts";
import type { MessageRow } from "../schemas.ts";

export const MESSAGE_COLUMNS =
  "id, conversation_id, role, content, model, prompt_tokens, completion_tokens, api_key_id, status, error_code, citations, created_at";

/** The latest answered turns of a conversation, oldest first: what a new message's context is built from. Pending and failed messages are not part of it. */
export async function completedHistory(tx: Tx, conversationId: string, limit: number): Promise<ChatMessage[]> {
  const rows = await tx`
    select role, content from (
      select role, content, created_at, id from public.messages
      where conversation_id = ${conversationId} and status = 'complete' and role <> 'system'
      order by created_at desc, id desc limit ${limit}
    ) recent order by created_at, id`;
  return rows.map((r) => ({ role: r.role, content: r.content }));
}

export function findMessage(tx: Tx, id: string) {
  return tx.unsafe<MessageRow[]>(`select ${MESSAGE_COLUMNS} from public.messages where id = $1`, [id]).then((rows) => rows[0]);
}
