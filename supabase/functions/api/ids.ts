import { ApiError, notFound } from "../_shared/http.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An id from the path: anything that is not one of ours is simply not found. */
export function pathId(value: string | undefined, what: string): string {
  if (!value || !UUID.test(value)) throw notFound(what);
  return value.toLowerCase();
}

/** An id from the body: a malformed one is a field error. */
export function bodyId(value: string | null | undefined, field: string): string | null | undefined {
  if (value === null || value === undefined) return value;
  if (!UUID.test(value)) throw new ApiError(400, "Invalid request body", { [field]: ["Unknown id"] });
  return value.toLowerCase();
}
