import type { Hono } from "hono";
import { rawNumber, type Tx } from "../../_shared/db.ts";
import { ApiError, JsonText, notFound } from "../../_shared/http.ts";
import { bodyId, pathId } from "../ids.ts";
import { route } from "../route.ts";
import {
  Conversation,
  ConversationCreate,
  ConversationPagination,
  ConversationUpdate,
  ConversationWithMessages,
  Deleted,
} from "../schemas.ts";
import { CONVERSATION_COLUMNS } from "../data/conversations.ts";

/** The database refuses a key that is not the owner's: the foreign key (api_key_id, user_id). */
function unknownKey(err: unknown): never {
  if ((err as { constraint_name?: string } | null)?.constraint_name === "conversations_api_key_id_user_id_fkey") {
    throw new ApiError(400, "Invalid request body", { api_key_id: ["Unknown key"] });
  }
  throw err;
}

/** A conversation may only point at one of its owner's keys (the database enforces it too). */
async function checkKey(tx: Tx, keyId: string | null | undefined) {
  if (!keyId) return;
  const [key] = await tx`select 1 from public.api_keys where id = ${keyId}`;
  if (!key) throw new ApiError(400, "Invalid request body", { api_key_id: ["Unknown key"] });
}

export function conversationRoutes(app: Hono) {
  route(app, {
    method: "get",
    path: "/conversations",
    tag: "conversations",
    summary: "The caller's conversations, newest activity first",
    description: "All of them (up to 1,000) unless limit/offset ask for a page; X-Total-Count carries the total.",
    auth: true,
    query: ConversationPagination,
    response: Conversation.array(),
    handler: async ({ call, query }) => {
      const [[total, items, data]] = await call((sql, claims) =>
        sql`select total, items, data from private.list_conversations(${claims}, ${query.limit}, ${query.offset})`
          .raw()
      );
      const count = rawNumber(total);
      return {
        message: `${rawNumber(items)} of ${count} conversations`,
        data: new JsonText(data),
        headers: { "X-Total-Count": String(count) },
      };
    },
  });

  route(app, {
    method: "post",
    path: "/conversations",
    tag: "conversations",
    summary: "Create a conversation (a default title is made when none is given)",
    auth: true,
    body: ConversationCreate,
    invalidWhen: ["`api_key_id` is not one of the caller's keys (errors.api_key_id)"],
    response: Conversation,
    status: 201,
    handler: async ({ call, body }) => {
      const keyId = bodyId(body.api_key_id, "api_key_id");
      const [[created]] = await call((sql, claims) =>
        sql`select data from private.create_conversation(${claims}, ${body.title ?? null}, ${keyId ?? null},
                                                                       ${body.model ?? null}, ${
          body.system_prompt ?? null
        })`.raw()
      ).catch(unknownKey);
      return { status: 201, message: "Conversation created", data: new JsonText(created) };
    },
  });

  route(app, {
    method: "get",
    path: "/conversations/:id",
    tag: "conversations",
    summary: "One conversation with its messages (oldest first, the latest 100)",
    auth: true,
    response: ConversationWithMessages,
    handler: async ({ call, params }) => {
      const id = pathId(params.id, "Conversation");
      const [conversation] = await call((sql, claims) =>
        sql`select data from private.get_conversation(${claims}, ${id}, 100)`.raw()
      );
      if (!conversation) throw notFound("Conversation");
      return { message: "Conversation", data: new JsonText(conversation[0]) };
    },
  });

  route(app, {
    method: "patch",
    path: "/conversations/:id",
    tag: "conversations",
    summary: "Rename, or change the key, model or system prompt",
    auth: true,
    body: ConversationUpdate,
    invalidWhen: ["`api_key_id` is not one of the caller's keys (errors.api_key_id)"],
    response: Conversation,
    handler: async ({ db, params, body }) => {
      const id = pathId(params.id, "Conversation");
      const keyId = bodyId(body.api_key_id, "api_key_id");
      const changes: Record<string, unknown> = {};
      for (const field of ["title", "model", "system_prompt"] as const) {
        if (body[field] !== undefined) changes[field] = body[field];
      }
      if (keyId !== undefined) changes.api_key_id = keyId;
      const data = await db(async (tx) => {
        await checkKey(tx, keyId);
        const [updated] = await tx`update public.conversations set ${tx(changes)} where id = ${id} returning ${
          tx.unsafe(CONVERSATION_COLUMNS)
        }`;
        if (!updated) throw notFound("Conversation");
        return updated;
      }).catch(unknownKey); // the key deleted between the check and the update
      return { message: "Conversation updated", data };
    },
  });

  route(app, {
    method: "delete",
    path: "/conversations/:id",
    tag: "conversations",
    summary: "Delete a conversation and its messages",
    auth: true,
    response: Deleted,
    handler: async ({ db, params }) => {
      const id = pathId(params.id, "Conversation");
      const deleted = await db((tx) => tx`delete from public.conversations where id = ${id} returning id`);
      if (!deleted.length) throw notFound("Conversation");
      return { message: "Conversation deleted", data: { id } };
    },
  });
}
