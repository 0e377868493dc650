import { Hono } from "hono";
import { health } from "./routes/health.ts";

export const app = new Hono({ strict: false }).basePath("/api/v1");

app.route("/health", health);
