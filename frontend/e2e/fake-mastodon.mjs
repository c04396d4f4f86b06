// A contract fake of the Mastodon endpoints Chorus uses, on 127.0.0.1, for
// the browser test: app registration, the OAuth consent page (approved at
// once, as a member would), the token exchange, the account, statuses and
// token revocation. `revoked = true` makes it refuse the current token,
// as a server does when the member revoked the app; a new authorisation
// issues a new token.
import { createServer } from "node:http";

export async function startFakeMastodon() {
  const fake = { statuses: [], revoked: false, tokens: 0, url: "" };
  const token = () => `token-${fake.tokens}`;
  const codes = new Set();
  const server = createServer(async (req, res) => {
    const u = new URL(req.url, fake.url);
    let body = "";
    for await (const chunk of req) body += chunk;
    const form = new URLSearchParams(body);
    const json = (status, v) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(v));
    };
    const authed = () => req.headers.authorization === `Bearer ${token()}` && !fake.revoked;
    if (req.method === "POST" && u.pathname === "/api/v1/apps") {
      return json(200, { client_id: "fake-client", client_secret: "fake-secret", name: form.get("client_name") });
    }
    if (req.method === "GET" && u.pathname === "/oauth/authorize") {
      const redirect = new URL(u.searchParams.get("redirect_uri"));
      const code = `code-${codes.size + 1}`;
      codes.add(code);
      redirect.searchParams.set("code", code);
      redirect.searchParams.set("state", u.searchParams.get("state") ?? "");
      res.writeHead(302, { location: redirect.href });
      return res.end();
    }
    if (req.method === "POST" && u.pathname === "/oauth/token") {
      if (!codes.delete(form.get("code")) || form.get("client_secret") !== "fake-secret") {
        return json(400, { error: "invalid_grant" });
      }
      fake.tokens++;
      fake.revoked = false;
      return json(200, { access_token: token(), token_type: "Bearer", scope: "write:statuses", created_at: Math.floor(Date.now() / 1000) });
    }
    if (req.method === "GET" && u.pathname === "/api/v1/accounts/verify_credentials") {
      if (!authed()) return json(401, { error: "The access token is invalid" });
      return json(200, { id: "7", username: "carol", acct: "carol", display_name: "Carol", url: `${fake.url}/@carol`, followers_count: 42 });
    }
    if (req.method === "POST" && u.pathname === "/api/v1/statuses") {
      if (!authed()) return json(401, { error: "The access token is invalid" });
      const id = String(100 + fake.statuses.length);
      fake.statuses.push({ id, status: form.get("status"), visibility: form.get("visibility") });
      return json(200, { id, url: `${fake.url}/@carol/${id}`, uri: `${fake.url}/users/carol/statuses/${id}`, created_at: new Date().toISOString() });
    }
    if (req.method === "GET" && u.pathname.startsWith("/api/v1/statuses/")) {
      return json(200, { favourites_count: 3, replies_count: 1, reblogs_count: 2 });
    }
    if (req.method === "POST" && u.pathname === "/oauth/revoke") return json(200, {});
    json(404, { error: "Record not found" });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  fake.port = server.address().port;
  fake.url = `http://127.0.0.1:${fake.port}`;
  fake.close = () => new Promise((r) => server.close(r));
  return fake;
}
