// SQL for messages, used by the routes and by the exchange (chat.ts).
import type { Tx } from "../../_shared/db.ts";
import type { MessageRow } from "../schemas.ts";

export const MESSAGE_COLUMNS =
  "id, conversation_id, role, content, model, prompt_tokens, completion_tokens, api_key_id, status, error_code, citations, created_at";

export function findMessage(tx: Tx, id: string) {
  return tx.unsafe<MessageRow[]>(`select ${MESSAGE_COLUMNS} from public.messages where id = $1`, [id]).then((rows) =>
    rows[0]
  );
}
