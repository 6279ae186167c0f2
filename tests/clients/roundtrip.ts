// One round trip through openapi-fetch with the types openapi-typescript
// generated from the served description (./schema.d.ts, written by
// tests/tests/generated_clients.rs beside this file): create -> get -> patch
// -> list -> delete -> get (404), every answer with the RateLimit fields;
// then, with the key of an organization held to 1 request/s, lists until
// the API answers 429 `rate_limited` with `Retry-After`. Type-checked with
// tsc --strict, then run with Node 20.
//
// Usage: node roundtrip.js BASE_URL API_KEY LIMITED_KEY
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

// Node's `process`, declared here rather than installing @types/node.
declare const process: { argv: string[] };

const [baseUrl, key, limitedKey] = process.argv.slice(2);
const api = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${key}` },
});

function check(condition: boolean, what: string, detail: unknown): asserts condition {
  if (!condition) {
    throw new Error(`${what}: ${JSON.stringify(detail)}`);
  }
}

function limited(response: Response, what: string): void {
  const policy = response.headers.get("ratelimit-policy") ?? "";
  const left = response.headers.get("ratelimit") ?? "";
  check(policy.startsWith('"requests";q=') && left.startsWith('"requests";r='), `${what}: RateLimit fields`, [policy, left]);
}

const created = await api.POST("/clients", {
  body: { name: "Grace Hopper", phone: "+1 555-0100" },
});
check(created.response.status === 201 && created.data !== undefined, "create", created.error);
const id: string = created.data.data.id;
limited(created.response, "create");
check(created.data.data.status === "active", "create status", created.data);

const fetched = await api.GET("/clients/{id}", { params: { path: { id } } });
check(fetched.response.status === 200 && fetched.data?.data.name === "Grace Hopper", "get", fetched.error);

const patched = await api.PATCH("/clients/{id}", {
  params: { path: { id } },
  body: { status: "inactive", notes: "Generated client" },
});
check(
  patched.response.status === 200 && patched.data?.data.status === "inactive" && patched.data.data.notes === "Generated client",
  "patch",
  patched.error,
);

const listed = await api.GET("/clients", { params: { query: { query: "Hopper", limit: 10 } } });
check(listed.response.status === 200 && listed.data !== undefined, "list", listed.error);
check(listed.data.total === 1 && listed.data.data.map((c) => c.id).join() === id, "list contents", listed.data);
const relation: "eq" | "gte" = listed.data.totalRelation;
check(relation === "eq", "list totalRelation", listed.data);

const deleted = await api.DELETE("/clients/{id}", { params: { path: { id } } });
check(deleted.response.status === 200 && deleted.data?.success === true, "delete", deleted.error);

const missing = await api.GET("/clients/{id}", { params: { path: { id } } });
// The error union includes API Gateway's own 429 body ({message}), hence the narrowing.
const notFound = missing.error !== undefined && "error" in missing.error ? missing.error.error.code : undefined;
check(missing.response.status === 404 && notFound === "not_found", "404", missing.error);

limited(missing.response, "404");

// An organization held to 1 request/s: 20 lists at once meet a 429.
const tight = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${limitedKey}` },
});
let retryAfter = 0;
for (let i = 0; i < 20 && retryAfter === 0; i++) {
  const page = await tight.GET("/clients", { params: { query: { limit: 1 } } });
  if (page.response.status === 429) {
    // The 429 union: the API's own ThrottledError, or API Gateway's {message}.
    const code = page.error !== undefined && "error" in page.error ? page.error.error.code : undefined;
    check(code === "rate_limited", "429 code", page.error);
    retryAfter = Number(page.response.headers.get("retry-after"));
    check(retryAfter >= 1, "Retry-After", page.response.headers.get("retry-after"));
    limited(page.response, "429");
  } else {
    check(page.response.status === 200, "list before the limit", page.error);
  }
}
check(retryAfter >= 1, "a 429 within 20 requests at 1 request/s", retryAfter);

console.log(`typescript client: create, get, patch, list, delete, 404: ok; 429 rate_limited, Retry-After ${retryAfter}: ok`);
