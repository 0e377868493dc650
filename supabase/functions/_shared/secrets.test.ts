import assert from "node:assert/strict";
import { keyHint, SecretBox } from "./secrets.ts";

const KEY = btoa("k".repeat(32));

Deno.test("a sealed key opens to the same key, and never contains it", async () => {
  const box = await SecretBox.fromBase64(KEY);
  const secret = "sk-test-abcdefghijklmnopqrstuvwxyz";
  const sealed = await box.encrypt(secret);
  assert.ok(!sealed.includes(secret) && !sealed.includes("abcdefghij"));
  assert.equal(await box.decrypt(sealed), secret);
  assert.notEqual(await box.encrypt(secret), sealed, "a fresh nonce each time");
});

Deno.test("a tampered ciphertext or another encryption key is refused", async () => {
  const box = await SecretBox.fromBase64(KEY);
  const sealed = await box.encrypt("sk-test-1234567890");
  const [v, iv, ct] = sealed.split(":");
  const flipped = `${v}:${iv}:${ct.startsWith("A") ? "B" : "A"}${ct.slice(1)}`;
  await assert.rejects(box.decrypt(flipped));
  const other = await SecretBox.fromBase64(btoa("x".repeat(32)));
  await assert.rejects(other.decrypt(sealed));
});

Deno.test("fingerprints are stable per key and differ between keys", async () => {
  const box = await SecretBox.fromBase64(KEY);
  assert.equal(await box.fingerprint("sk-a-123456789"), await box.fingerprint("sk-a-123456789"));
  assert.notEqual(await box.fingerprint("sk-a-123456789"), await box.fingerprint("sk-b-123456789"));
  assert.match(await box.fingerprint("sk-a"), /^[0-9a-f]{64}$/);
});

Deno.test("an encryption key of the wrong size is refused at start", async () => {
  await assert.rejects(SecretBox.fromBase64(btoa("short")), /exactly 32 bytes/);
});

Deno.test("the hint is the last four characters", () => {
  assert.equal(keyHint("sk-abcdefgh1234"), "1234");
});
