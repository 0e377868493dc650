// The response envelope every route answers with: { success, message, data, errors }.
export interface Envelope<T = unknown> {
  success: boolean;
  message: string;
  data: T | null;
  errors: Record<string, unknown> | null;
}

/** An error that becomes an envelope with its status. The message is shown to the client: never put a secret in it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: Record<string, unknown> | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function envelope<T>(success: boolean, message: string, data: T | null = null, errors: Record<string, unknown> | null = null): Envelope<T> {
  return { success, message, data, errors };
}

export const notFound = (what: string) => new ApiError(404, `${what} not found`);
