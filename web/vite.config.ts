// The web client's build (`npm start` runs it when web/ changes; `npm run web:dev` serves it with
// hot reload). The dev server forwards the API, Auth and Storage paths to the running dev stack's
// gateway, so the app always talks to its own origin, as it does when the gateway serves the build.
import { defineConfig } from "vite";

const gatewayPort = 54321 + Number(process.env.STACK_PORT_OFFSET ?? "0");
const gateway = { target: `http://127.0.0.1:${gatewayPort}`, changeOrigin: false };

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  oxc: { jsx: { runtime: "automatic" } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 1500 },
  server: {
    port: 5173 + Number(process.env.STACK_PORT_OFFSET ?? "0"),
    proxy: { "/api/v1": gateway, "/auth/v1": gateway, "/storage/v1": gateway },
  },
});
