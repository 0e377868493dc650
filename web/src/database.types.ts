export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[]

export type Database = {
  public: {
    Tables: {
      api_keys: {
        Row: {
          created_at: string
          fingerprint: string
          hint: string
          id: string
          is_selected: boolean
          is_valid: boolean
          last_used_at: string | null
          last_validated_at: string | null
          monthly_budget_usd: number | null
          name: string
          provider: string
          secret_ciphertext: string
          updated_at: string
          user_id: string
        }
        Insert: {
          created_at?: string
          fingerprint: string
          hint: string
          id?: string
          is_selected?: boolean
          is_valid?: boolean
          last_used_at?: string | null
          last_validated_at?: string | null
          monthly_budget_usd?: number | null
          name: string
          provider: string
          secret_ciphertext: string
          updated_at?: string
          user_id?: string
        }
        Update: {
          created_at?: string
          fingerprint?: string
          hint?: string
          id?: string
          is_selected?: boolean
          is_valid?: boolean
          last_used_at?: string | null
          last_validated_at?: string | null
          monthly_budget_usd?: number | null
          name?: string
          provider?: string
          secret_ciphertext?: string
          updated_at?: string
          user_id?: string
        }
        Relationships: []
      }
      conversation_documents: {
        Row: {
          conversation_id: string
          created_at: string
          document_id: string
          user_id: string
        }
        Insert: {
          conversation_id: string
          created_at?: string
          document_id: string
          user_id?: string
        }
        Update: {
          conversation_id?: string
          created_at?: string
          document_id?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "conversation_documents_conversation_id_user_id_fkey"
            columns: ["conversation_id", "user_id"]
            isOneToOne: false
            referencedRelation: "conversation_list"
            referencedColumns: ["id", "user_id"]
          },
          {
            foreignKeyName: "conversation_documents_conversation_id_user_id_fkey"
            columns: ["conversation_id", "user_id"]
            isOneToOne: false
            referencedRelation: "conversations"
            referencedColumns: ["id", "user_id"]
          },
          {
            foreignKeyName: "conversation_documents_document_id_user_id_fkey"
            columns: ["document_id", "user_id"]
            isOneToOne: false
            referencedRelation: "documents"
            referencedColumns: ["id", "user_id"]
          },
        ]
      }
      conversations: {
        Row: {
          api_json: string
          api_key_id: string | null
          created_at: string
          id: string
          last_activity_at: string
          last_message_at: string | null
          message_count: number
          model: string | null
          preview: string | null
          system_prompt: string | null
          title: string
          updated_at: string
          user_id: string
        }
        Insert: {
          api_json?: string
          api_key_id?: string | null
          created_at?: string
          id?: string
          last_activity_at?: never
          last_message_at?: string | null
          message_count?: number
          model?: string | null
          preview?: string | null
          system_prompt?: string | null
          title?: string
          updated_at?: string
          user_id?: string
        }
        Update: {
          api_json?: string
          api_key_id?: string | null
          created_at?: string
          id?: string
          last_activity_at?: never
          last_message_at?: string | null
          message_count?: number
          model?: string | null
          preview?: string | null
          system_prompt?: string | null
          title?: string
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "conversations_api_key_id_user_id_fkey"
            columns: ["api_key_id", "user_id"]
            isOneToOne: false
            referencedRelation: "api_key_usage_totals"
            referencedColumns: ["api_key_id", "user_id"]
          },
          {
            foreignKeyName: "conversations_api_key_id_user_id_fkey"
            columns: ["api_key_id", "user_id"]
            isOneToOne: false
            referencedRelation: "api_keys"
            referencedColumns: ["id", "user_id"]
          },
        ]
      }
      document_chunks: {
        Row: {
          content: string
          document_id: string
          embedding: string | null
          embedding_model: string | null
          end_offset: number
          id: number
          page_number: number
          start_offset: number
          user_id: string
        }
        Insert: {
          content: string
          document_id: string
          embedding?: string | null
          embedding_model?: string | null
          end_offset: number
          id?: never
          page_number: number
          start_offset: number
          user_id: string
        }
        Update: {
          content?: string
          document_id?: string
          embedding?: string | null
          embedding_model?: string | null
          end_offset?: number
          id?: never
          page_number?: number
          start_offset?: number
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "document_chunks_document_id_user_id_fkey"
            columns: ["document_id", "user_id"]
            isOneToOne: false
            referencedRelation: "documents"
            referencedColumns: ["id", "user_id"]
          },
          {
            foreignKeyName: "document_chunks_page_fkey"
            columns: ["document_id", "page_number"]
            isOneToOne: false
            referencedRelation: "document_pages"
            referencedColumns: ["document_id", "page_number"]
          },
        ]
      }
      document_pages: {
        Row: {
          document_id: string
          has_text: boolean
          page_number: number
          text: string
          user_id: string
        }
        Insert: {
          document_id: string
          has_text: boolean
          page_number: number
          text: string
          user_id: string
        }
        Update: {
          document_id?: string
          has_text?: boolean
          page_number?: number
          text?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "document_pages_document_id_user_id_fkey"
            columns: ["document_id", "user_id"]
            isOneToOne: false
            referencedRelation: "documents"
            referencedColumns: ["id", "user_id"]
          },
        ]
      }
      documents: {
        Row: {
          chunk_count: number
          content_sha256: string | null
          created_at: string
          duplicate_of: string | null
          embedding_model: string | null
          embeddings_skipped: string | null
          failure_reason: string | null
          filename: string
          id: string
          object_path: string
          pages_done: number
          pages_total: number | null
          pages_without_text: number
          ready_at: string | null
          size_bytes: number | null
          status: string
          updated_at: string
          user_id: string
        }
        Insert: {
          chunk_count?: number
          content_sha256?: string | null
          created_at?: string
          duplicate_of?: string | null
          embedding_model?: string | null
          embeddings_skipped?: string | null
          failure_reason?: string | null
          filename: string
          id?: string
          object_path: string
          pages_done?: number
          pages_total?: number | null
          pages_without_text?: number
          ready_at?: string | null
          size_bytes?: number | null
          status?: string
          updated_at?: string
          user_id: string
        }
        Update: {
          chunk_count?: number
          content_sha256?: string | null
          created_at?: string
          duplicate_of?: string | null
          embedding_model?: string | null
          embeddings_skipped?: string | null
          failure_reason?: string | null
          filename?: string
          id?: string
          object_path?: string
          pages_done?: number
          pages_total?: number | null
          pages_without_text?: number
          ready_at?: string | null
          size_bytes?: number | null
          status?: string
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "documents_duplicate_of_fkey"
            columns: ["duplicate_of"]
            isOneToOne: false
            referencedRelation: "documents"
            referencedColumns: ["id"]
          },
        ]
      }
      messages: {
        Row: {
          api_json: string
          api_key_id: string | null
          citations: NonNullable<Json>
          completion_tokens: number | null
          content: string
          conversation_id: string
          created_at: string
          error_code: string | null
          id: string
          model: string | null
          prompt_tokens: number | null
          role: string
          status: string
          user_id: string
        }
        Insert: {
          api_json?: string
          api_key_id?: string | null
          citations?: NonNullable<Json>
          completion_tokens?: number | null
          content: string
          conversation_id: string
          created_at?: string
          error_code?: string | null
          id?: string
          model?: string | null
          prompt_tokens?: number | null
          role: string
          status?: string
          user_id?: string
        }
        Update: {
          api_json?: string
          api_key_id?: string | null
          citations?: NonNullable<Json>
          completion_tokens?: number | null
          content?: string
          conversation_id?: string
          created_at?: string
          error_code?: string | null
          id?: string
          model?: string | null
          prompt_tokens?: number | null
          role?: string
          status?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "messages_api_key_id_user_id_fkey"
            columns: ["api_key_id", "user_id"]
            isOneToOne: false
            referencedRelation: "api_key_usage_totals"
            referencedColumns: ["api_key_id", "user_id"]
          },
          {
            foreignKeyName: "messages_api_key_id_user_id_fkey"
            columns: ["api_key_id", "user_id"]
            isOneToOne: false
            referencedRelation: "api_keys"
            referencedColumns: ["id", "user_id"]
          },
          {
            foreignKeyName: "messages_conversation_id_user_id_fkey"
            columns: ["conversation_id", "user_id"]
            isOneToOne: false
            referencedRelation: "conversation_list"
            referencedColumns: ["id", "user_id"]
          },
          {
            foreignKeyName: "messages_conversation_id_user_id_fkey"
            columns: ["conversation_id", "user_id"]
            isOneToOne: false
            referencedRelation: "conversations"
            referencedColumns: ["id", "user_id"]
          },
        ]
      }
      model_prices: {
        Row: {
          cached_input_usd_per_mtok: number
          input_usd_per_mtok: number
          model: string
          output_usd_per_mtok: number
          provider: string
          valid_from: string
        }
        Insert: {
          cached_input_usd_per_mtok: number
          input_usd_per_mtok: number
          model: string
          output_usd_per_mtok: number
          provider: string
          valid_from?: string
        }
        Update: {
          cached_input_usd_per_mtok?: number
          input_usd_per_mtok?: number
          model?: string
          output_usd_per_mtok?: number
          provider?: string
          valid_from?: string
        }
        Relationships: []
      }
      profiles: {
        Row: {
          created_at: string
          email: string | null
          id: string
          updated_at: string
          username: string
        }
        Insert: {
          created_at?: string
          email?: string | null
          id: string
          updated_at?: string
          username: string
        }
        Update: {
          created_at?: string
          email?: string | null
          id?: string
          updated_at?: string
          username?: string
        }
        Relationships: []
      }
      usage_events: {
        Row: {
          api_key_id: string | null
          cached_prompt_tokens: number
          completion_tokens: number
          conversation_id: string | null
          cost_usd: number
          created_at: string
          error_code: string | null
          id: number
          latency_ms: number | null
          message_id: string | null
          model: string
          outcome: string
          priced: boolean
          prompt_tokens: number
          provider: string
          usage_source: string
          user_id: string
        }
        Insert: {
          api_key_id?: string | null
          cached_prompt_tokens?: number
          completion_tokens?: number
          conversation_id?: string | null
          cost_usd?: number
          created_at?: string
          error_code?: string | null
          id?: never
          latency_ms?: number | null
          message_id?: string | null
          model: string
          outcome: string
          priced?: boolean
          prompt_tokens?: number
          provider: string
          usage_source: string
          user_id: string
        }
        Update: {
          api_key_id?: string | null
          cached_prompt_tokens?: number
          completion_tokens?: number
          conversation_id?: string | null
          cost_usd?: number
          created_at?: string
          error_code?: string | null
          id?: never
          latency_ms?: number | null
          message_id?: string | null
          model?: string
          outcome?: string
          priced?: boolean
          prompt_tokens?: number
          provider?: string
          usage_source?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "usage_events_api_key_id_user_id_fkey"
            columns: ["api_key_id", "user_id"]
            isOneToOne: false
            referencedRelation: "api_key_usage_totals"
            referencedColumns: ["api_key_id", "user_id"]
          },
          {
            foreignKeyName: "usage_events_api_key_id_user_id_fkey"
            columns: ["api_key_id", "user_id"]
            isOneToOne: false
            referencedRelation: "api_keys"
            referencedColumns: ["id", "user_id"]
          },
          {
            foreignKeyName: "usage_events_conversation_id_fkey"
            columns: ["conversation_id"]
            isOneToOne: false
            referencedRelation: "conversation_list"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "usage_events_conversation_id_fkey"
            columns: ["conversation_id"]
            isOneToOne: false
            referencedRelation: "conversations"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "usage_events_message_id_fkey"
            columns: ["message_id"]
            isOneToOne: false
            referencedRelation: "messages"
            referencedColumns: ["id"]
          },
        ]
      }
    }
    Views: {
      api_key_usage_by_model: {
        Row: {
          api_key_id: string | null
          cached_prompt_tokens: number | null
          completion_tokens: number | null
          cost_usd: number | null
          errors: number | null
          model: string | null
          priced: boolean | null
          prompt_tokens: number | null
          provider: string | null
          requests: number | null
          total_tokens: number | null
          user_id: string | null
        }
        Relationships: []
      }
      api_key_usage_daily: {
        Row: {
          api_key_id: string | null
          cached_prompt_tokens: number | null
          completion_tokens: number | null
          cost_usd: number | null
          day: string | null
          errors: number | null
          prompt_tokens: number | null
          requests: number | null
          total_tokens: number | null
          unpriced_requests: number | null
          user_id: string | null
        }
        Relationships: []
      }
      api_key_usage_totals: {
        Row: {
          api_key_id: string | null
          budget_remaining_usd: number | null
          cached_prompt_tokens: number | null
          completion_tokens: number | null
          cost_usd: number | null
          errors: number | null
          month_cost_usd: number | null
          month_requests: number | null
          month_tokens: number | null
          monthly_budget_usd: number | null
          prompt_tokens: number | null
          requests: number | null
          total_tokens: number | null
          unpriced_requests: number | null
          user_id: string | null
        }
        Relationships: []
      }
      conversation_list: {
        Row: {
          api_key_id: string | null
          created_at: string | null
          id: string | null
          last_activity_at: string | null
          last_message_at: string | null
          message_count: number | null
          model: string | null
          preview: string | null
          system_prompt: string | null
          title: string | null
          updated_at: string | null
          user_id: string | null
        }
        Insert: {
          api_key_id?: string | null
          created_at?: string | null
          id?: string | null
          last_activity_at?: string | null
          last_message_at?: string | null
          message_count?: number | null
          model?: string | null
          preview?: string | null
          system_prompt?: string | null
          title?: string | null
          updated_at?: string | null
          user_id?: string | null
        }
        Update: {
          api_key_id?: string | null
          created_at?: string | null
          id?: string | null
          last_activity_at?: string | null
          last_message_at?: string | null
          message_count?: number | null
          model?: string | null
          preview?: string | null
          system_prompt?: string | null
          title?: string | null
          updated_at?: string | null
          user_id?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "conversations_api_key_id_user_id_fkey"
            columns: ["api_key_id", "user_id"]
            isOneToOne: false
            referencedRelation: "api_key_usage_totals"
            referencedColumns: ["api_key_id", "user_id"]
          },
          {
            foreignKeyName: "conversations_api_key_id_user_id_fkey"
            columns: ["api_key_id", "user_id"]
            isOneToOne: false
            referencedRelation: "api_keys"
            referencedColumns: ["id", "user_id"]
          },
        ]
      }
    }
    Functions: {
      api_key_month_cost: { Args: { p_api_key_id: string }; Returns: number }
      select_api_key: { Args: { p_key_id: string }; Returns: undefined }
    }
    Enums: {
      [_ in never]: never
    }
    CompositeTypes: {
      [_ in never]: never
    }
  }
}

type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">]

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
        DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
      DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends {
      Row: infer R
    }
    ? R
    : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] &
        DefaultSchema["Views"])
    ? (DefaultSchema["Tables"] &
        DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
        Row: infer R
      }
      ? R
      : never
    : never

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Insert: infer I
    }
    ? I
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Insert: infer I
      }
      ? I
      : never
    : never

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Update: infer U
    }
    ? U
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Update: infer U
      }
      ? U
      : never
    : never

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends (DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never) = never,
> = DefaultSchemaEnumNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
    : never

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends (PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never) = never,
> = PublicCompositeTypeNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
    : never

export const Constants = {
  public: {
    Enums: {},
  },
} as const

