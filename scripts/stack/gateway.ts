// The gateway in front of the stack: nginx (Debian's nginx), as Supabase's own local stack
// puts Kong (nginx) there, with Supabase's routes:
//   /auth/v1/*             -> the Auth server (an `apikey` header or param is required, as Supabase's gateway does)
//   /storage/v1/*          -> the Storage server, prefix stripped (no `apikey` required, as in Supabase's
//                             gateway: Storage checks the JWT itself, and signed URLs carry their own token)
//   /functions/v1/<name>/* -> function <name>, which sees the path /<name>/*
//   /api/v1/*              -> the `api` function (the existing client's base URL)
//   /rest/v1/*             -> 501: PostgREST is not part of the local stack
//   anything else          -> the web client's built files (web/dist), index.html for the app's own
//                             paths; without a web root, 404 in the envelope
// Errors of its own are the API's envelope. It writes the access log (gateway.log), one JSON line
// per request, as a hosted project's platform logs every function invocation.
// nginx replaced a proxy written in Deno here, which cost several times its CPU per request
// (docs/performance.md).
import { ANON_KEY, SERVICE_ROLE_KEY } from "./config.ts";
import { portInUse, spawnLogged, waitFor } from "./proc.ts";

export const NGINX = "/usr/sbin/nginx"; // Debian's nginx package (postgres.ts installs it)

export interface GatewayRoutes {
  port: number;
  authPort: number;
  storagePort: number;
  functions: Map<string, number>; // function name -> port
  /** The folder for its configuration, pid file and temporary files. */
  dir: string;
  /** The access log. */
  accessLog: string;
  /** The web client's built files (web.ts), served at `/`. */
  webRoot?: string;
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/** A JSON string as an nginx string argument: single-quoted, its quotes and backslashes escaped. */
function text(json: string) {
  return `'${json.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** The API's error envelope. `message` may hold nginx variables; only ones that cannot break the JSON. */
function envelope(message: string) {
  return text(`{"success":false,"message":"${message}","data":null,"errors":null}`);
}

const regexEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A proxied location's directives. proxy_set_header is not inherited once a location sets one,
 * so each sets all of its own: Host as fetch would (the target), no Connection (keep-alive to
 * the upstream), and X-Forwarded-For replaced by the address the gateway saw: the gateway is the
 * edge, and a client-sent value would let any client pick its own key for Auth's per-IP limits.
 */
function proxy(upstream: string, port: number, uri = "") {
  return [
    `proxy_pass http://${upstream}${uri};`,
    `proxy_set_header Host 127.0.0.1:${port};`,
    `proxy_set_header Connection "";`,
    `proxy_set_header X-Forwarded-For $remote_addr;`,
  ].join(" ");
}

function gatewayConfig(r: GatewayRoutes): string {
  const keys = [ANON_KEY, SERVICE_ROLE_KEY].map(regexEscape).join("|");
  const upstream = (name: string, port: number) => `  upstream ${name} { server 127.0.0.1:${port}; keepalive 32; }`;
  const fnLocations = [...r.functions].map(([name, port]) =>
    `    location ^~ /functions/v1/${name}/ { ${proxy(`fn_${name}`, port, `/${name}/`)} }\n` +
    `    location = /functions/v1/${name} { ${proxy(`fn_${name}`, port, `/${name}`)} }`
  );
  const apiPort = r.functions.get("api");
  const apikeyChecks =
    `if ($apikey = missing) { return 401 ${
      text('{"message":"No API key found in request","hint":"No `apikey` request header or url param was found."}')
    }; } ` +
    `if ($apikey = invalid) { return 401 ${
      text('{"message":"Invalid API key","hint":"Double check your Supabase `anon` or `service_role` API key."}')
    }; }`;
  // As root, the worker stays root: the clone (where its files are) may be a 0700 folder no other
  // user can enter, as for the Postgres cluster (see docs/local-stack.md).
  const user = Deno.uid() === 0 ? "user root;\n" : "";
  return `# Written by scripts/stack/gateway.ts on each start.
${user}worker_processes 1;
pid ${r.dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  default_type application/json;
  server_tokens off;
  client_body_temp_path ${r.dir}/body;
  proxy_temp_path ${r.dir}/proxy;
  # Bodies and answers stream through: uploads are checked by what receives them (the function
  # reads a body only up to its limit), and answers may be Server-Sent Events.
  client_max_body_size 0;
  proxy_request_buffering off;
  proxy_buffering off;
  proxy_http_version 1.1;
  proxy_read_timeout 1h;
  proxy_send_timeout 1h;
  proxy_redirect off;
  # One line per request: no query string (signed URLs carry tokens), no headers, no bodies;
  # written in batches, within 100 ms.
  log_format requests escape=json '{"method":"$request_method","path":"$uri","status":$status,"seconds":$request_time}';
  access_log ${r.accessLog} requests buffer=32k flush=100ms;

  # The project key, from the apikey header, else the apikey query parameter.
  map "$http_apikey:$arg_apikey" $apikey {
    "~^:$" missing;
    "~^(${keys}):" ok;
    "~^:(${keys})$" ok;
    default invalid;
  }

${upstream("auth", r.authPort)}
${upstream("storage", r.storagePort)}
${[...r.functions].map(([name, port]) => upstream(`fn_${name}`, port)).join("\n")}

  server {
    listen 127.0.0.1:${r.port};
    error_page 405 = @method_not_allowed;
    error_page 502 504 = @upstream_failed;
    # Methods no route uses (and TRACE, CONNECT): 405 in the envelope, like the function.
    if ($request_method !~ ^(${METHODS.join("|")})$) { return 405; }

    location @method_not_allowed {
      add_header Allow "${METHODS.join(", ")}" always;
      return 405 ${envelope("Method $request_method not allowed")};
    }
    location @upstream_failed {
      return 502 ${envelope("The upstream service did not answer.")};
    }

    location = /auth/v1 { ${apikeyChecks} ${proxy("auth", r.authPort, "/")} }
    location ^~ /auth/v1/ { ${apikeyChecks} ${proxy("auth", r.authPort, "/")} }
    location = /storage/v1 { ${proxy("storage", r.storagePort, "/")} }
    location ^~ /storage/v1/ { ${proxy("storage", r.storagePort, "/")} }
${fnLocations.join("\n")}
    location ~ "^/functions/v1/([A-Za-z0-9_-]+)" { return 404 ${envelope("Function not found: $1")}; }
${
    apiPort
      ? `    location = /api/v1 { ${proxy("fn_api", apiPort)} }\n    location ^~ /api/v1/ { ${
        proxy("fn_api", apiPort)
      } }`
      : ""
  }
    location = /rest/v1 { return 501 ${envelope(REST_MESSAGE)}; }
    location ^~ /rest/v1/ { return 501 ${envelope(REST_MESSAGE)}; }
${r.webRoot ? webLocations(r.webRoot) : `    location / { return 404 ${envelope("No route for this path")}; }`}
  }
}
`;
}

/**
 * The web client: its hashed assets cached for good (a missing one is a 404, not the page), the
 * page itself never cached, and any other path is the app's (index.html), as a static host does.
 */
function webLocations(root: string) {
  const types =
    "types { text/html html; text/javascript js mjs; text/css css; image/svg+xml svg; image/png png; application/json json; }";
  const common =
    `root ${root}; ${types} gzip on; gzip_types text/javascript text/css image/svg+xml application/json; gzip_vary on;`;
  return [
    `    location ^~ /assets/ { ${common} add_header Cache-Control "public, max-age=31536000, immutable"; try_files $uri =404; }`,
    `    location / { ${common} add_header Cache-Control "no-cache"; try_files $uri /index.html; }`,
  ].join("\n");
}

const REST_MESSAGE =
  "PostgREST (/rest/v1) is not part of the local stack; use /api/v1, or a hosted project or `supabase start` for direct table access.";

/** Writes the configuration and starts nginx in the foreground, as a service of the stack; its errors go to `errorLog`. */
export async function startGateway(routes: GatewayRoutes, errorLog: string) {
  await Deno.mkdir(routes.dir, { recursive: true });
  await Deno.writeTextFile(`${routes.dir}/nginx.conf`, gatewayConfig(routes));
  const child = await spawnLogged(
    NGINX,
    ["-p", routes.dir, "-c", `${routes.dir}/nginx.conf`, "-e", "stderr", "-g", "daemon off;"],
    {},
    errorLog,
  );
  await waitFor("the gateway (nginx)", () => portInUse(routes.port), 10_000, errorLog, child);
  return child;
}
