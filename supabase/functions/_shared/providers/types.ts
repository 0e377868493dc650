// The one interface the api function uses to talk to an LLM provider; openai.ts and
// anthropic.ts hide the differences between the two APIs behind it.

export type ProviderName = "openai" | "anthropic";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatRequest {
  apiKey: string;
  model: string;
  /** The system prompt. `system` messages inside `messages` stay in place for OpenAI and are appended to it for Anthropic. */
  system?: string;
  messages: ChatMessage[];
  /** The answer's length limit (both providers get one; Anthropic requires it): MAX_OUTPUT_TOKENS when missing. */
  maxTokens?: number;
  signal?: AbortSignal;
}

export interface Usage {
  /** All prompt tokens, cache reads included (Anthropic reports those apart; they are added here). */
  promptTokens: number;
  /** The part of promptTokens read from the provider's prompt cache. */
  cachedPromptTokens: number;
  completionTokens: number;
  /** "estimated" when the provider never reported usage (e.g. a cut stream). */
  source: "provider" | "estimated";
}

export interface ChatResult {
  text: string;
  model: string;
  usage: Usage;
}

export type StreamEvent =
  | { type: "delta"; text: string }
  | { type: "done"; result: ChatResult };

export interface LlmProvider {
  readonly name: ProviderName;
  chat(req: ChatRequest): Promise<ChatResult>;
  /**
   * Yields deltas, then one `done`. If the stream breaks after the provider accepted the
   * request, it throws a ProviderError whose `partial` holds the text so far and estimated usage.
   */
  chatStream(req: ChatRequest): AsyncIterable<StreamEvent>;
  /** Resolves when the key works; throws a ProviderError otherwise. */
  validateKey(apiKey: string): Promise<void>;
}

export interface ProviderConfig {
  openaiBaseUrl: string;
  anthropicBaseUrl: string;
  timeoutMs: number;
}

/** The longest answer we ask for, in tokens: the request's limit, and what the context keeps free for the answer. */
export const MAX_OUTPUT_TOKENS = 1024;
