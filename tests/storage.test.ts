// Supabase Storage, the real server behind the gateway's /storage/v1: the private `documents`
// bucket and its folder-per-user policies, as a supabase-js frontend uses them.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANON_KEY, API_URL } from "./support/env.ts";
import { createUser, db, type TestUser } from "./support/users.ts";

afterAll(() => db.end());

function clientOf(user?: TestUser): SupabaseClient {
  return createClient(API_URL, ANON_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: user ? { headers: { Authorization: `Bearer ${user.token}` } } : {},
  });
}

const pdf = (text: string) => new TextEncoder().encode(`%PDF-1.4\n% ${text}\n%%EOF\n`);

describe("Storage: the private documents bucket", () => {
  let owner: TestUser;
  let stranger: TestUser;
  let path: string;
  const bytes = pdf("owner's file");

  beforeAll(async () => {
    [owner, stranger] = await Promise.all([createUser("store"), createUser("store")]);
    path = `${owner.id}/${crypto.randomUUID()}.pdf`;
    const { error } = await clientOf(owner).storage.from("documents").upload(path, bytes, {
      contentType: "application/pdf",
    });
    expect(error).toBeNull();
  });

  it("the owner uploads into their folder and downloads the same bytes", async () => {
    const { data, error } = await clientOf(owner).storage.from("documents").download(path);
    expect(error).toBeNull();
    expect(new Uint8Array(await data!.arrayBuffer())).toEqual(bytes);
    const [row] =
      await db`select owner_id, metadata->>'mimetype' as mime from storage.objects where bucket_id = 'documents' and name = ${path}`;
    expect(row).toMatchObject({ owner_id: owner.id, mime: "application/pdf" });
  });

  it("another user can neither read, list, overwrite nor delete it, nor write into the owner's folder", async () => {
    const other = clientOf(stranger).storage.from("documents");
    expect((await other.download(path)).error).not.toBeNull();
    expect((await other.list(owner.id)).data).toEqual([]);
    expect((await other.upload(path, pdf("overwrite"), { contentType: "application/pdf", upsert: true })).error).not
      .toBeNull();
    expect(
      (await other.upload(`${owner.id}/planted.pdf`, pdf("planted"), { contentType: "application/pdf" })).error
        ?.message,
    ).toMatch(/row-level security/);
    await other.remove([path]);
    expect((await other.createSignedUrl(path, 60)).error).not.toBeNull();
    // Still there, unchanged.
    const { data } = await clientOf(owner).storage.from("documents").download(path);
    expect(new Uint8Array(await data!.arrayBuffer())).toEqual(bytes);
  });

  it("without a session nothing is readable or writable", async () => {
    const anon = clientOf().storage.from("documents");
    expect((await anon.download(path)).error).not.toBeNull();
    expect((await anon.upload(`${owner.id}/anon.pdf`, pdf("anon"), { contentType: "application/pdf" })).error).not
      .toBeNull();
  });

  it("a signed URL opens the file without any header, and only for the object it names", async () => {
    const { data, error } = await clientOf(owner).storage.from("documents").createSignedUrl(path, 60);
    expect(error).toBeNull();
    expect(data!.signedUrl.startsWith(`${API_URL}/storage/v1/object/sign/documents/`)).toBe(true);
    const res = await fetch(data!.signedUrl);
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    const tampered = await fetch(data!.signedUrl.replace(owner.id, stranger.id));
    expect(tampered.status).toBeGreaterThanOrEqual(400);
    await tampered.body?.cancel();
  });

  it("refuses a file that is not declared a PDF", async () => {
    const { error } = await clientOf(owner).storage.from("documents").upload(
      `${owner.id}/notes.txt`,
      new TextEncoder().encode("hello"),
      { contentType: "text/plain" },
    );
    expect(error).not.toBeNull();
  });

  it("the owner deletes it", async () => {
    const sb = clientOf(owner).storage.from("documents");
    const { data, error } = await sb.remove([path]);
    expect(error).toBeNull();
    expect(data).toHaveLength(1);
    expect((await sb.download(path)).error).not.toBeNull();
  });
});
