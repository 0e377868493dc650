// SQL for conversations, used by the routes and by the exchange (chat.ts).
import type { Tx } from "../../_shared/db.ts";
import { notFound } from "../../_shared/http.ts";

export const CONVERSATION_COLUMNS =
  "id, title, api_key_id, model, system_prompt, created_at, updated_at, message_count, last_message_at, last_activity_at, preview";

/** The caller's conversation (RLS), or 404. */
export async function findConversation(tx: Tx, id: string) {
  const [row] = await tx.unsafe(`select ${CONVERSATION_COLUMNS} from public.conversation_list where id = $1`, [id]);
  if (!row) throw notFound("Conversation");
  return row;
}
