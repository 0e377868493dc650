import assert from "node:assert/strict";
import { loadOnce } from "./load-once.ts";

Deno.test("loadOnce loads on the first call only, and calls at the same time share that load", async () => {
  let loads = 0;
  const load = loadOnce(async () => {
    loads++;
    await new Promise((r) => setTimeout(r, 5));
    return { loaded: loads };
  });
  assert.equal(loads, 0, "nothing is loaded before the first call");
  const [a, b] = await Promise.all([load(), load()]);
  assert.equal(loads, 1);
  assert.equal(a, b);
  assert.equal(await load(), a);
  assert.equal(loads, 1);
});

Deno.test("loadOnce tries a failed load again on the next call", async () => {
  let loads = 0;
  const load = loadOnce(() => {
    loads++;
    return loads === 1 ? Promise.reject(new Error("no network")) : Promise.resolve("module");
  });
  await assert.rejects(load(), /no network/);
  assert.equal(await load(), "module");
  assert.equal(await load(), "module");
  assert.equal(loads, 2);
});
