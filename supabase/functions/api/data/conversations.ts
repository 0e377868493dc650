// SQL for conversations, used by the routes and by the exchange (chat.ts).

export const CONVERSATION_COLUMNS =
  "id, title, api_key_id, model, system_prompt, created_at, updated_at, message_count, last_message_at, last_activity_at, preview";
