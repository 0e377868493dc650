import type { Hono } from "hono";
import type { Tx } from "../../_shared/db.ts";
import { ApiError, notFound } from "../../_shared/http.ts";
import { bodyId, pathId } from "../ids.ts";
import { route } from "../route.ts";
import { Conversation, ConversationCreate, Deleted, ConversationPagination, ConversationUpdate, ConversationWithMessages } from "../schemas.ts";
import { findConversation, listConversations } from "../data/conversations.ts";
import { listMessages, sweepStaleExchanges } from "../data/messages.ts";

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
    handler: async ({ db, query }) => {
      const { rows, total } = await db((tx) => listConversations(tx, query));
      return { message: `${rows.length} of ${total} conversations`, data: rows, headers: { "X-Total-Count": String(total) } };
    },
  });

  route(app, {
    method: "post",
    path: "/conversations",
    tag: "conversations",
    summary: "Create a conversation (a default title is made when none is given)",
    auth: true,
    body: ConversationCreate,
    response: Conversation,
    status: 201,
    handler: async ({ db, body }) => {
      const keyId = bodyId(body.api_key_id, "api_key_id");
      const data = await db(async (tx) => {
        await checkKey(tx, keyId);
        // Only the given fields: a missing title takes the column's default (the one place it is defined).
        const values: Record<string, unknown> = {};
        for (const field of ["title", "model", "system_prompt"] as const) if (body[field] != null) values[field] = body[field];
        if (keyId) values.api_key_id = keyId;
        const [created] = Object.keys(values).length
          ? await tx`insert into public.conversations ${tx(values)} returning id`
          : await tx`insert into public.conversations default values returning id`;
        return findConversation(tx, created.id);
      });
      return { status: 201, message: "Conversation created", data };
    },
  });

  route(app, {
    method: "get",
    path: "/conversations/:id",
    tag: "conversations",
    summary: "One conversation with its messages (oldest first, the latest 100)",
    auth: true,
    response: ConversationWithMessages,
    handler: async ({ db, user, params }) => {
      const id = pathId(params.id, "Conversation");
      const data = await db(async (tx) => {
        await sweepStaleExchanges(tx, user.sub);
        const conversation = await findConversation(tx, id);
        const messages = await listMessages(tx, id, { limit: 100, offset: Math.max(0, conversation.message_count - 100) });
        return { ...conversation, messages };
      });
      return { message: "Conversation", data };
    },
  });

  route(app, {
    method: "patch",
    path: "/conversations/:id",
    tag: "conversations",
    summary: "Rename, or change the key, model or system prompt",
    auth: true,
    body: ConversationUpdate,
    response: Conversation,
    handler: async ({ db, params, body }) => {
      const id = pathId(params.id, "Conversation");
      const keyId = bodyId(body.api_key_id, "api_key_id");
      const changes: Record<string, unknown> = {};
      for (const field of ["title", "model", "system_prompt"] as const) if (body[field] !== undefined) changes[field] = body[field];
      if (keyId !== undefined) changes.api_key_id = keyId;
      const data = await db(async (tx) => {
        await checkKey(tx, keyId);
        const updated = await tx`update public.conversations set ${tx(changes)} where id = ${id} returning id`;
        if (!updated.length) throw notFound("Conversation");
        return findConversation(tx, id);
      });
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
