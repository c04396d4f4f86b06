// The browser end-to-end test: builds the Go binary (with the web app in
// dist/ embedded), starts `chorus all` on a free 127.0.0.1 port with a fresh
// data directory and the development mailbox, and drives Debian's chromium
// (playwright-core, headless) through the main screens: sign-in through the
// dev mailbox link, the feed, an admin posting content, suggestions and their
// review and approval with edits, the content console (edit, archive,
// expire now), the admin console
// (networks whitelist, bulk invitations, roles, data-subject lookup), an
// analyst's dashboard with a CSV download, an employee
// who connects a Bluesky account on a real PDS (tools/pds, started here on
// loopback; chorus reaches it through CHORUS_DEV_NETWORK_PORTS), shares
// from the composer and sees the post published, a new employee on a
// phone (the first-sign-in checklist, the tab bar, connecting from the
// composer and back, clicks and reach per share, the weekly trend, Sign out
// in the profile) and the curator's counts, the main screens at a
// phone's width (375 px, none wider than the viewport), an admin who un-whitelists Bluesky, and a member
// of another company who sees none of it, and the installable app (e2e/pwa.mjs:
// manifest, service worker, offline feed, share target, bookmarklet). Each main screen is checked with
// axe-core (no serious or critical violations) and photographed into
// test-results/. Every answer of the API the browser sees is recorded in
// test-results/api-answers.jsonl and checked against openapi.yaml (status,
// content type, body) by cmd/chorus's TestRecordedResponses.
//
// CHORUS_E2E_README_SHOTS=1 also writes the README's screenshots (feed,
// composer, approval queue, analytics) to docs/screenshots/.
//
// Without chromium it skips with a how-to, except under CI=true, where that
// is a failure. CHROMIUM_PATH overrides /usr/bin/chromium.
import { spawn, execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, createWriteStream, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { startFakeMastodon } from "./fake-mastodon.mjs";
import { pwaSteps } from "./pwa.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const frontendDir = resolve(here, "..");
const repo = resolve(frontendDir, "..");
const results = join(frontendDir, "test-results");
const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ci = process.env.CI === "true" || process.env.CI === "1";
const t0 = Date.now();
const log = (...a) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

if (!existsSync(chromiumPath)) {
  const how = `chromium not found at ${chromiumPath}: install it with 'apt-get install -y chromium' (or .ci/ensure-deps), or set CHROMIUM_PATH`;
  if (ci) {
    console.error("e2e: FAIL: " + how);
    process.exit(1);
  }
  console.log("e2e: SKIP: " + how);
  console.log("e2e: 0 passed, 0 failed, 1 skipped");
  process.exit(0);
}
if (!existsSync(join(frontendDir, "dist", "index.html"))) {
  console.error("e2e: dist/index.html is missing: run 'npm run build' (or 'make build') first");
  process.exit(1);
}

const { chromium } = await import("playwright-core");
const axeSource = readFileSync(join(frontendDir, "node_modules", "axe-core", "axe.min.js"), "utf8");

const tmp = mkdtempSync(join(tmpdir(), "chorus-e2e-"));
// Run as root, the embedded store's PostgreSQL runs as the postgres user,
// which must be able to pass through the data dir's parents.
chmodSync(tmp, 0o711);
mkdirSync(results, { recursive: true });
let server;
let browser;
let pdsProc;
let webpushProc;
let masto;
const pdsDir = process.env.CHORUS_TEST_PDS_DIR || join(repo, "tools", "pds");
const webpushDir = join(repo, "tools", "webpush");
const operatorToken = randomBytes(18).toString("hex");
const readmeShots = process.env.CHORUS_E2E_README_SHOTS === "1";
let passed = 0;
let failed = 0;

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function waitReady(base, ms) {
  const until = Date.now() + ms;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`chorus exited with ${server.exitCode}`);
    try {
      const r = await fetch(base + "/readyz");
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > until) throw new Error("chorus was not ready in time");
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function step(name, fn) {
  const s = Date.now();
  try {
    await fn();
    passed++;
    log(`ok   ${name} (${Date.now() - s} ms)`);
  } catch (e) {
    failed++;
    log(`FAIL ${name}: ${e?.stack || e}`);
    throw e;
  }
}

/** Runs axe-core on the page; fails on serious or critical violations. */
async function axe(page, screen) {
  await page.evaluate(axeSource); // evaluate is not subject to the page's CSP
  const res = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  const bad = res.filter((v) => v.impact === "serious" || v.impact === "critical");
  const minor = res.filter((v) => !bad.includes(v));
  if (minor.length) log(`axe ${screen}: minor: ${minor.map((v) => `${v.id} (${v.impact})`).join(", ")}`);
  assert.deepEqual(bad, [], `axe on ${screen}: serious/critical violations`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(results, `${name}.png`), fullPage: true });
}

/** Copies a screenshot into docs/screenshots/ when asked for the README's. */
function readmeShot(name, as) {
  if (!readmeShots) return;
  const dir = join(repo, "docs", "screenshots");
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(results, `${name}.png`), join(dir, `${as}.png`));
}

/** Starts the real PDS of tools/pds on loopback; its JSON line says where. */
async function startPDS() {
  pdsProc = spawn(process.execPath, [join(pdsDir, "run.js")], { cwd: pdsDir, stdio: ["pipe", "pipe", "pipe"] });
  const errs = [];
  pdsProc.stderr.on("data", (b) => errs.push(String(b)));
  const lines = createInterface({ input: pdsProc.stdout });
  return await new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error("the PDS did not start in 60 s:\n" + errs.join("").slice(-2000))), 60_000);
    pdsProc.once("exit", (code) => rej(new Error(`the PDS exited with ${code}:\n` + errs.join("").slice(-2000))));
    lines.once("line", (l) => {
      clearTimeout(t);
      res(JSON.parse(l));
    });
  });
}

/** Starts the local Web Push endpoint (tools/webpush: web-push-testing,
 * which verifies the VAPID JWT and decrypts each message); resolves to its
 * URL. It stops when its stdin closes. */
async function startWebPush() {
  webpushProc = spawn(process.execPath, [join(webpushDir, "run.js")], { cwd: webpushDir, stdio: ["pipe", "pipe", "pipe"] });
  const errs = [];
  webpushProc.stderr.on("data", (b) => errs.push(String(b)));
  const lines = createInterface({ input: webpushProc.stdout });
  return await new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error("the Web Push endpoint did not start in 30 s:\n" + errs.join("").slice(-2000))), 30_000);
    webpushProc.once("exit", (code) => rej(new Error(`the Web Push endpoint exited with ${code}:\n` + errs.join("").slice(-2000))));
    lines.once("line", (l) => {
      clearTimeout(t);
      res(JSON.parse(l).url);
    });
  });
}

async function xrpc(pds, nsid, body, token, method = "POST") {
  const r = await fetch(`${pds.url}/xrpc/${nsid}`, {
    method,
    headers: { ...(body ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const j = await r.json();
  if (!r.ok) throw new Error(`${nsid}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

const openPages = [];

// Every answer of the API the browser sees (method, URL, status, content
// type, body), checked against openapi.yaml at the end
// (TestRecordedResponses in cmd/chorus).
const apiAnswers = [];
const apiPrefixes = ["/api/", "/ops/", "/r/", "/healthz", "/readyz"];

function recordAnswers(page) {
  page.on("response", (res) => {
    const u = new URL(res.url());
    if (!apiPrefixes.some((p) => u.pathname.startsWith(p))) return;
    const req = res.request();
    apiAnswers.push(
      res
        .text()
        .catch(() => undefined) // redirects have no body to read
        .then((body) => ({
          method: req.method(),
          url: res.url(),
          status: res.status(),
          content_type: res.headers()["content-type"] ?? "",
          body,
        })),
    );
  });
}

async function newPage(ctx, problems) {
  const page = await ctx.newPage();
  openPages.push(page);
  recordAnswers(page);
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  return page;
}

async function signIn(page, base, email) {
  await page.goto(base + "/");
  await page.getByRole("heading", { name: "Sign in to Chorus" }).waitFor();
  await page.getByLabel("Work email").fill(email);
  await page.getByRole("button", { name: "Send me a sign-in link" }).click();
  await page.getByText("Check your mail").waitFor();
  const link = page.getByRole("link", { name: "open the sign-in link" });
  await link.waitFor();
  await link.click();
  // The link leads to the confirmation page, which names the address;
  // only its button signs in.
  await page.getByRole("heading", { name: "Sign in as " + email }).waitFor();
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Feed", level: 1 }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/feed");
}

async function nav(page, name, heading) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).click();
  await page.getByRole("heading", { name: heading, exact: true, level: 1 }).waitFor();
}

/** Opens one page of the admin console through its own navigation. */
async function adminPage(page, name, heading) {
  if (!new URL(page.url()).pathname.startsWith("/admin")) await nav(page, "Admin", "Admin");
  await page.getByRole("navigation", { name: "Admin sections" }).getByRole("link", { name, exact: true }).click();
  await page.getByRole("heading", { name: heading, exact: true, level: 2 }).waitFor();
}

try {
  const bin = join(tmp, "chorus");
  await step("go build", async () => {
    execFileSync("go", ["build", "-tags", "ferretdb_no_postgresql", "-trimpath", "-o", bin, "./cmd/chorus"], {
      cwd: repo,
      stdio: "inherit",
    });
  });

  // The Bluesky PDS: without it the Bluesky steps are skipped (a failure
  // under CI=true).
  let pds;
  if (existsSync(join(pdsDir, "node_modules"))) {
    await step("start the Bluesky PDS", async () => {
      pds = await startPDS();
      const did = (await xrpc(pds, "com.atproto.server.createAccount", { handle: "carol.test", email: "carol@example.com", password: "carol-account-pw" })).did;
      const sess = await xrpc(pds, "com.atproto.server.createSession", { identifier: "carol.test", password: "carol-account-pw" });
      pds.did = did;
      pds.appPassword = (await xrpc(pds, "com.atproto.server.createAppPassword", { name: "chorus" }, sess.accessJwt)).password;
      pds.accessJwt = sess.accessJwt;
    });
  } else if (ci) {
    throw new Error(`no PDS at ${pdsDir}: run .ci/pds-install or set CHORUS_TEST_PDS_DIR`);
  } else {
    log(`SKIP the Bluesky steps: no ${join(pdsDir, "node_modules")} (run .ci/pds-install or set CHORUS_TEST_PDS_DIR)`);
  }

  // The local Web Push endpoint: without it the push step is skipped (a
  // failure under CI=true).
  let webpush;
  if (existsSync(join(webpushDir, "node_modules", "web-push-testing"))) {
    await step("start the local Web Push endpoint", async () => {
      webpush = await startWebPush();
    });
  } else if (ci) {
    throw new Error(`no web-push-testing in ${webpushDir}: run .ci/webpush-install`);
  } else {
    log(`SKIP the push step: no ${join(webpushDir, "node_modules")} (run .ci/webpush-install)`);
  }

  masto = await startFakeMastodon();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const serverLog = join(results, "chorus.log");
  await step("start chorus all", async () => {
    const out = createWriteStream(serverLog);
    server = spawn(bin, ["all"], {
      env: {
        ...process.env,
        CHORUS_ADDR: `127.0.0.1:${port}`,
        CHORUS_BASE_URL: base,
        CHORUS_DATA_DIR: join(tmp, "data"),
        CHORUS_DEV_MAILBOX: "1",
        CHORUS_LOG_FORMAT: "text",
        CHORUS_OPERATOR_TOKEN: operatorToken,
        CHORUS_DEV_NETWORK_PORTS: [masto.port, ...(pds ? [new URL(pds.url).port] : [])].join(","),
        // Push subscriptions of the local Web Push endpoint (http on loopback).
        CHORUS_DEV_PUSH_LOOPBACK: "1",
        // X is set up (nothing is posted to it here); LinkedIn and Facebook
        // are not, so the admin console shows them as not set up.
        CHORUS_X_CLIENT_ID: "e2e-x-client",
        CHORUS_X_CLIENT_SECRET: "e2e-x-secret",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout.pipe(out);
    server.stderr.pipe(out);
    await waitReady(base, 60_000);
  });

  const launchOptions = {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-dev-shm-usage",
    ],
  };
  browser = await chromium.launch(launchOptions);
  const problems = [];
  // A fresh context per person: its own cookies, like a fresh profile. The
  // page's CSP stays on (bypassCSP false): the app must run under it.
  const alice = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await newPage(alice, problems);
  page.setDefaultTimeout(15_000);

  await step("sign-in screen", async () => {
    await page.goto(base + "/");
    await page.getByRole("heading", { name: "Sign in to Chorus" }).waitFor();
    await axe(page, "sign-in");
    await shot(page, "01-signin");
  });

  await step("a freemail address shows the problem detail", async () => {
    await page.getByLabel("Work email").fill("someone@gmail.com");
    await page.getByRole("button", { name: "Send me a sign-in link" }).click();
    await page.getByRole("alert").waitFor();
    const text = await page.getByRole("alert").textContent();
    assert.ok(text && text.length > 10 && !/answered 422/.test(text), `problem detail shown: ${text}`);
  });

  await step("the admin-to-be signs in through the dev mailbox", async () => {
    await signIn(page, base, "alice@acme.example");
    await page.getByText("Nothing to share yet").waitFor();
    await axe(page, "feed (empty)");
    await shot(page, "02-feed-empty");
  });

  await step("an operator verifies acme.example (no DNS here)", async () => {
    const r = await fetch(base + "/ops/v1/domains/acme.example/verify", {
      method: "POST",
      headers: { authorization: `Bearer ${operatorToken}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "browser test" }),
    });
    assert.equal(r.status, 200, await r.text());
  });

  await step("admin screen, adding a topic", async () => {
    await nav(page, "Admin", "Admin");
    await page.getByRole("heading", { name: "Set-up checklist", level: 2 }).waitFor();
    await adminPage(page, "Domains", "Domains");
    await page.getByText("acme.example", { exact: true }).first().waitFor();
    await adminPage(page, "Topics", "Topics");
    await page.getByLabel("New topic").fill("Engineering");
    await page.getByRole("button", { name: "Add topic" }).click();
    await page.getByRole("button", { name: "Remove topic Engineering" }).waitFor();
    await adminPage(page, "Audit log", "Audit log");
    await page.getByRole("row", { name: /domain verified/ }).getByText("an operator").waitFor();
    await adminPage(page, "Single sign-on", "Single sign-on");
    await page.getByText("/api/v1/auth/oidc/callback").waitFor(); // the redirect URI to register
    await axe(page, "admin");
    await shot(page, "03-admin");
  });

  await step("the admin allows Bluesky", async () => {
    await adminPage(page, "Networks", "Social networks");
    const row = page.getByRole("row", { name: /^Bluesky/ });
    await row.getByText("Not allowed").waitFor();
    await page.getByRole("button", { name: "Allow Bluesky" }).click();
    await row.getByText("Allowed", { exact: true }).waitFor();
    await page.getByRole("button", { name: "Stop allowing Bluesky" }).waitFor();
    // X has app credentials here; LinkedIn and Facebook do not.
    await page.getByRole("button", { name: "Allow X" }).click();
    await page.getByRole("button", { name: "Stop allowing X" }).waitFor();
    await page.getByRole("row", { name: /^LinkedIn/ }).getByText("Not set up on this server").waitFor();
    await page.getByRole("link", { name: "How to set up a network" }).waitFor();
  });

  await step("bulk invitations with progress, refused addresses kept with the reason", async () => {
    await adminPage(page, "People", "Invitations");
    await page.getByLabel(/^Email addresses/).fill("dan@acme.example, erin@acme.example\nfrank@gmail.com\ngreta@acme.example");
    await page.getByText("4 addresses").waitFor();
    await page.getByRole("button", { name: "Invite", exact: true }).click();
    await page.getByText("Invited 3 of 4.").waitFor();
    await page.getByRole("alert").filter({ hasText: "frank@gmail.com" }).waitFor();
    assert.equal(await page.getByLabel(/^Email addresses/).inputValue(), "frank@gmail.com");
    await page.getByRole("row", { name: /greta@acme\.example/ }).waitFor();
    await page.getByLabel(/^Email addresses/).fill("");
  });

  // The README's pictures show realistic content; otherwise the title
  // carries markup, which must show as text.
  const title = readmeShots ? "Chorus 2.0 is out: share company news in one tap" : "Chorus launch <b>day</b>";
  const escRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const note = "We launched! Please share."; // the commentary: for colleagues, never posted
  await step("the admin posts content with share texts", async () => {
    await nav(page, "Post content", "Post content");
    await page.getByLabel("Link", { exact: true }).fill("https://example.com/launch");
    await page.getByLabel("Title (optional: taken from the page)").fill(title);
    await page.getByLabel("Note to colleagues (never posted)").fill(note);
    await page.getByLabel("Engineering", { exact: true }).check();
    await page.getByLabel("X", { exact: true }).fill("We launched 🚀 日本");
    await page.getByText("44 / 280 weighted characters").waitFor(); // 12 + 2 (emoji) + 1 + 4 (CJK) + 25 (a blank line and the link)
    await page.getByLabel("Bluesky", { exact: true }).fill("a".repeat(301));
    await page.getByText(/301 \/ 300 graphemes.*1 too many/).waitFor();
    assert.equal(await page.getByRole("button", { name: "Publish" }).isDisabled(), true);
    await page.getByLabel("Bluesky", { exact: true }).fill("We launched.");
    await axe(page, "post content");
    await shot(page, "04-post-content");
    await page.getByRole("button", { name: "Publish" }).click();
    await page.getByText(`Published: ${title}`).waitFor({ timeout: 20_000 });
  });

  await step("campaigns: the curator creates one with a goal and adds the launch post to it", async () => {
    await nav(page, "Campaigns", "Campaigns");
    await page.getByText("No campaigns yet.").waitFor();
    const [start, end] = await page.evaluate(() => {
      const p = (n) => String(n).padStart(2, "0");
      const local = (d) => `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
      return [local(new Date(Date.now() - 10 * 60_000)), local(new Date(Date.now() + 7 * 86400_000))];
    });
    await page.getByLabel("Name", { exact: true }).fill("Launch week");
    await page.getByLabel("What members should do").fill("Share the launch post with your network.");
    await page.getByLabel("Start", { exact: true }).fill(start);
    await page.getByLabel("End", { exact: true }).fill(start);
    await page.getByText("The end must be after the start.").waitFor();
    await page.getByLabel("End", { exact: true }).fill(end);
    await page.getByLabel("Count", { exact: true }).selectOption("shares");
    await page.getByLabel("Target", { exact: true }).fill("2");
    await page.getByRole("button", { name: "Create campaign" }).click();
    await page.getByText("Campaign created: Launch week.").waitFor();
    await page.getByText("0 of 2 shares (0%)").waitFor();
    await axe(page, "campaigns");
    await shot(page, "04b-campaigns");
    await page.getByRole("link", { name: "Open Launch week" }).click();
    await page.getByRole("heading", { name: "Launch week", level: 1 }).waitFor();
    await page.getByLabel("Add a post").selectOption({ label: title });
    await page.getByRole("button", { name: "Add to campaign" }).click();
    await page.getByRole("list", { name: "Posts of the campaign" }).getByText(title).waitFor();
    await axe(page, "a campaign");
  });

  if (readmeShots) {
    // The README's pictures: a feed of several posts and a curator with a name.
    await step("README pictures: more content, a real name", async () => {
      const statuses = await page.evaluate(async () => {
        const send = (method, url, body) =>
          fetch(url, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.status);
        return [
          await send("PATCH", "/api/v1/members/me", { name: "Alice Martin" }),
          await send("POST", "/api/v1/content", {
            url: "https://example.com/blog/hybrid-work-study",
            title: "What 1,200 engineers told us about hybrid work",
            commentary: "Our research team's survey, out today. Great for anyone hiring.",
            topics: ["engineering"],
          }),
          await send("POST", "/api/v1/content", {
            url: "https://example.com/careers/platform-team",
            title: "We are hiring: five roles in the platform team",
            topics: ["engineering"],
          }),
        ];
      });
      assert.deepEqual(statuses, [200, 201, 201]);
      await page.reload(); // the header and the checklist show the name
      await page.getByRole("heading", { name: "Post content", level: 1 }).waitFor();
    });
  }

  await step("the feed shows it, its title as text", async () => {
    await nav(page, "Feed", "Feed");
    const card = page.getByRole("article", { name: title });
    await card.waitFor();
    assert.equal(await page.locator("article b").count(), 0, "user text is never HTML");
    await card.getByText("Engineering").waitFor();
    const noted = card.locator("aside", { hasText: "Note to colleagues (never posted)" });
    assert.equal(await noted.getByText(note, { exact: true }).count(), 1, "the commentary shows as the note to colleagues");
    await page.getByLabel("Topic", { exact: true }).selectOption("engineering");
    await card.waitFor();
    await axe(page, "feed");
    await shot(page, "05-feed");
    readmeShot("05-feed", "feed");
  });

  // An emoji counts as one grapheme; the README's pictures have no emoji
  // font, so they get plain text.
  const shareText = readmeShots ? "Chorus 2.0 is out: sharing company news now takes one tap." : "We launched 🚀 today.";
  const idea = readmeShots ? "How Nordwind halved its onboarding time: a customer story our sales team keeps asking for" : "A good read";
  await step("a suggestion, rejected with a reason", async () => {
    await nav(page, "Suggest", "Suggest content");
    await page.getByLabel("Link", { exact: true }).fill(readmeShots ? "https://example.org/customers/nordwind-onboarding" : "https://example.org/idea");
    await page.getByLabel("Why it is worth sharing (optional)").fill(idea);
    await axe(page, "suggest");
    await shot(page, "06-suggest");
    await page.getByRole("button", { name: "Suggest" }).click();
    await page.getByText("waiting for review").waitFor();

    await nav(page, "Review", "Review suggestions");
    await page.getByText(idea).waitFor();
    await page.getByLabel("Reason for rejecting").fill("Off topic for us");
    await axe(page, "review queue");
    await shot(page, "07-review");
    readmeShot("07-review", "approval-queue");
    await page.getByRole("button", { name: /^Reject / }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    await shot(page, "08-confirm");
    await dialog.getByRole("button", { name: "Reject" }).click();
    await page.getByText("No suggestions are waiting for review.").waitFor();

    await nav(page, "My suggestions", "My suggestions");
    await page.getByText("Rejected", { exact: true }).waitFor();
    await page.getByText("Off topic for us").waitFor();
    await axe(page, "my suggestions");
    await shot(page, "09-my-suggestions");
  });

  const edited = "A great read, edited";
  await step("a suggestion approved with edits reaches the feed edited", async () => {
    await nav(page, "Suggest", "Suggest content");
    await page.getByLabel("Link", { exact: true }).fill("https://example.org/great");
    await page.getByLabel("Why it is worth sharing (optional)").fill("Worth it");
    await page.getByRole("button", { name: "Suggest" }).click();
    await page.getByText("waiting for review").waitFor();
    await nav(page, "Review", "Review suggestions");
    await page.getByRole("button", { name: /^Edit before approving/ }).click();
    await page.getByLabel("Title (optional: taken from the page)").fill(edited);
    await page.getByLabel("X", { exact: true }).fill("Read this");
    await axe(page, "approve with edits");
    await shot(page, "07b-approve-with-edits");
    await page.getByRole("button", { name: "Approve with edits" }).click();
    await page.getByText("No suggestions are waiting for review.").waitFor();
    await nav(page, "Feed", "Feed");
    await page.getByRole("article", { name: edited }).waitFor();
  });

  await step("content console: edit and archive", async () => {
    await nav(page, "Content", "Content");
    await page.getByRole("article", { name: edited }).waitFor();
    await axe(page, "content console");
    await shot(page, "07c-content");
    await page.getByRole("link", { name: `Edit ${edited}` }).click();
    await page.getByRole("heading", { name: "Edit content", level: 1 }).waitFor();
    await page.getByLabel("Note to colleagues (never posted)").fill("Edited commentary");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Saved (published).").waitFor();
    await axe(page, "edit content");
    await page.getByRole("button", { name: "Archive" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Archive" }).click();
    await page.waitForURL((u) => u.pathname === "/content" && u.searchParams.get("state") === "archived");
    await page.getByRole("heading", { name: "Content", exact: true, level: 1 }).waitFor();
    await page.getByRole("article", { name: edited }).waitFor();
    await nav(page, "Feed", "Feed");
    await page.getByRole("article", { name: title }).waitFor();
    await page.getByRole("article", { name: edited }).waitFor({ state: "detached" }); // archived: out of the feed
  });

  await step("content console: expire now", async () => {
    const old = "Old news";
    await nav(page, "Post content", "Post content");
    await page.getByLabel("Link", { exact: true }).fill("https://example.com/old-news");
    await page.getByLabel("Title (optional: taken from the page)").fill(old);
    await page.getByRole("button", { name: "Publish" }).click();
    await page.getByText(`Published: ${old}`).waitFor({ timeout: 20_000 });
    await nav(page, "Feed", "Feed");
    await page.getByRole("article", { name: old }).waitFor();
    await nav(page, "Content", "Content");
    await page.getByRole("button", { name: `Expire now: ${old}` }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Expire now" }).click();
    await page.getByText(`“${old}” expired: it is no longer in the feed.`).waitFor();
    await page.getByRole("article", { name: old }).waitFor({ state: "detached" });
    await page.getByLabel("Show", { exact: true }).selectOption("expired");
    await page.getByRole("article", { name: old }).waitFor();
    await axe(page, "content console, expired");
    // The feed's refetch is held back, so what shows first is the cached
    // feed: it must already be without the expired post.
    const slow = async (route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.continue();
    };
    const contentList = (u) => u.pathname === "/api/v1/content";
    // On the context: the service worker, which fetches the feed for the
    // page, is not seen by page.route.
    await alice.route(contentList, slow);
    await nav(page, "Feed", "Feed");
    await page.getByRole("article", { name: title }).waitFor();
    assert.equal(await page.getByRole("article", { name: old }).count(), 0, "an expired post is out of the feed");
    await alice.unrouteAll({ behavior: "wait" }); // lets the held-back requests finish
  });

  await step("profile", async () => {
    await nav(page, "Profile", "Profile");
    await page.getByLabel("Job title").fill("Founder");
    await page.getByRole("button", { name: "Save profile" }).click();
    await page.getByText("Saved.").waitFor();
    const tracking = page.getByRole("switch", { name: "Allow view pixels and non-essential cookies" });
    const settled = page.waitForResponse((r) => r.url().includes("/api/v1/me/consents") && r.request().method() === "GET");
    await tracking.check();
    await settled;
    assert.equal(await tracking.isChecked(), true, "tracking consent stays granted after the server answered");
    await axe(page, "profile");
    await shot(page, "10-profile");
  });

  await step("audiences: the admin makes a group, a curator aims a post at it; a member outside it does not see it, one inside does", async () => {
    // Two colleagues join: Ines (Sales) and Olaf (outside it).
    const ctxs = [];
    const member = async (email) => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      ctxs.push(ctx);
      const p = await newPage(ctx, problems);
      p.setDefaultTimeout(15_000);
      await signIn(p, base, email);
      return p;
    };
    const ines = await member("ines@acme.example");
    const olaf = await member("olaf@acme.example");
    await adminPage(page, "Groups", "Groups");
    await page.getByLabel("Group name").fill("Sales team");
    await page.getByLabel("Departments (comma-separated)").fill("Sales, Inside sales");
    await page.getByRole("button", { name: "Add group" }).click();
    await page.getByText("department: Sales, Inside sales").waitFor();
    // Ines's department comes by CSV; a bad row first writes nothing.
    await page.getByLabel("CSV", { exact: true }).fill("email,department\nines@acme.example,Sales\nnobody@acme.example,Sales\n");
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "no member of this company has this address" }).waitFor();
    await page.getByLabel("CSV", { exact: true }).fill("email,department\nines@acme.example,Sales\n");
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.getByText("Imported 1 rows; 1 members changed.").waitFor();
    await page.getByText(/^1 members?$/).click();
    await page.getByText(/ines@acme\.example.*by rules/).waitFor();
    await axe(page, "admin groups");
    await shot(page, "09-admin-groups");

    await nav(page, "Post content", "Post content");
    await page.getByLabel("Link", { exact: true }).fill("https://example.com/sales-kickoff");
    await page.getByLabel("Title (optional: taken from the page)").fill("Sales kickoff recap");
    await page.getByRole("group", { name: "Audience" }).getByLabel("Sales team").check();
    await page.getByText("Only members of the groups ticked see it").waitFor();
    await page.getByRole("button", { name: "Publish" }).click();
    await page.getByText("Published: Sales kickoff recap").waitFor({ timeout: 20_000 });

    for (const [p, sees] of [[ines, true], [olaf, false]]) {
      await p.reload();
      await p.getByRole("heading", { name: "Feed", level: 1 }).waitFor();
      await p.getByRole("article", { name: title }).waitFor(); // aimed at everyone
      assert.equal(await p.getByRole("article", { name: "Sales kickoff recap" }).count(), sees ? 1 : 0,
        sees ? "a member of the group sees the post aimed at it" : "a member outside the group does not see it");
    }
    for (const ctx of ctxs) await ctx.close();
  });

  let carolCtx;
  let carol;
  let shareId;
  let trackedUrl;
  if (pds) {
    await step("an employee connects Bluesky with an app password", async () => {
      carolCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      carol = await newPage(carolCtx, problems);
      carol.setDefaultTimeout(15_000);
      await signIn(carol, base, "carol@acme.example");
      await nav(carol, "Profile", "Profile");
      await carol.getByText("No accounts connected yet.").waitFor();
      await carol.getByLabel("Bluesky handle").fill("carol.test");
      await carol.getByLabel("App password").fill("wron-gpas-swor-dxxx");
      await carol.getByLabel(/^Server/).fill(pds.url);
      await carol.getByRole("button", { name: "Connect Bluesky" }).click();
      await carol.getByRole("alert").waitFor();
      await carol.getByLabel("App password").fill(pds.appPassword);
      await carol.getByRole("button", { name: "Connect Bluesky" }).click();
      await carol.getByText("Connected Bluesky as @carol.test.").waitFor({ timeout: 30_000 });
      await carol.getByRole("row", { name: /carol\.test/ }).getByText("Connected", { exact: true }).waitFor();
      await axe(carol, "profile with a connected account");
      await shot(carol, "12-profile-accounts");
    });

    await step("the employee shares from the composer and sees it published", async () => {
      await nav(carol, "Feed", "Feed");
      await carol.getByRole("link", { name: `Share ${title}` }).click();
      await carol.getByRole("heading", { name: "Share", level: 1 }).waitFor();
      const box = carol.getByLabel("Bluesky", { exact: true });
      assert.equal(await box.inputValue(), "We launched.");
      await carol.getByText("12 / 300 graphemes").waitFor();
      await box.fill(shareText);
      await carol.getByText(`${[...new Intl.Segmenter().segment(shareText)].length} / 300 graphemes`).waitFor();
      await axe(carol, "composer");
      await shot(carol, "13-composer");
      readmeShot("13-composer", "composer");
      await carol.getByRole("button", { name: "Share now" }).click();
      await carol.getByRole("heading", { name: "Your shares" }).waitFor();
      await carol.getByRole("link", { name: "View the post on Bluesky" }).waitFor({ timeout: 60_000 });
      await carol.getByText("Published", { exact: true }).waitFor();
      await axe(carol, "composer, published");
      await shot(carol, "14-shared");
      const mine = await carol.evaluate(async () => (await fetch("/api/v1/shares")).json());
      assert.equal(mine.items.length, 1);
      shareId = mine.items[0].id;
      trackedUrl = mine.items[0].tracked_url;
      assert.equal(mine.items[0].state, "published");
      const recs = await xrpc(pds, `com.atproto.repo.listRecords?repo=${encodeURIComponent(pds.did)}&collection=app.bsky.feed.post`, undefined, undefined, "GET");
      assert.equal(recs.records.length, 1, "exactly one post on the PDS");
      assert.ok(recs.records[0].value.text.startsWith(shareText), `the post's text: ${recs.records[0].value.text}`);
    });

    await step("campaigns: the member sees it above the feed, filters by it; the share moves its progress", async () => {
      await nav(carol, "Feed", "Feed");
      const strip = carol.getByRole("region", { name: "Running campaigns" });
      await strip.getByText("Launch week").waitFor();
      await strip.getByText("Share the launch post with your network.").waitFor();
      await strip.getByRole("button", { name: "See its posts (Launch week)" }).click();
      await carol.getByText("Showing the posts of the campaign Launch week.").waitFor();
      await carol.getByRole("article", { name: title }).waitFor();
      await axe(carol, "feed of a campaign");
      await shot(carol, "14b-feed-campaign");
      await nav(page, "Campaigns", "Campaigns");
      for (let until = Date.now() + 20_000; ; await page.reload()) {
        try {
          await page.getByText("1 of 2 shares (50%)").waitFor({ timeout: 2_000 });
          break;
        } catch (e) {
          if (Date.now() > until) throw e;
        }
      }
      await shot(page, "14c-campaign-progress");
    });

    await step("a share scheduled for later, then cancelled from my shares", async () => {
      await nav(carol, "Feed", "Feed");
      await carol.getByRole("link", { name: `Share ${title}` }).click();
      await carol.getByLabel("At a time").check();
      const later = new Date(Date.now() + 3 * 86400_000);
      const p2 = (n) => String(n).padStart(2, "0");
      await carol
        .getByLabel(/^Date and time/)
        .fill(`${later.getFullYear()}-${p2(later.getMonth() + 1)}-${p2(later.getDate())}T09:30`);
      await carol.getByRole("button", { name: "Schedule" }).click();
      await carol.getByText("Scheduled", { exact: true }).waitFor();
      await nav(carol, "My shares", "My shares");
      await carol.getByText("Published", { exact: true }).waitFor();
      await carol.getByText(shareText).waitFor();
      await carol.getByText("Scheduled", { exact: true }).waitFor();
      await axe(carol, "my shares");
      await shot(carol, "15-my-shares");
      await carol.getByRole("button", { name: /^Cancel share to Bluesky/ }).click();
      await carol.getByRole("dialog").getByRole("button", { name: "Cancel the share" }).click();
      await carol.getByText("Cancelled", { exact: true }).waitFor();
      assert.equal(await carol.getByRole("button", { name: /^Cancel share/ }).count(), 0);
      const recs = await xrpc(pds, `com.atproto.repo.listRecords?repo=${encodeURIComponent(pds.did)}&collection=app.bsky.feed.post`, undefined, undefined, "GET");
      assert.equal(recs.records.length, 1, "the cancelled share was not posted");
    });

    await step("export my data: progress, then the download", async () => {
      await nav(carol, "Profile", "Profile");
      await carol.getByRole("button", { name: "Export my data" }).click();
      const link = carol.getByRole("link", { name: "Download my data (JSON)" });
      await link.waitFor({ timeout: 30_000 });
      const [dl] = await Promise.all([carol.waitForEvent("download"), link.click()]);
      const doc = JSON.parse(readFileSync(await dl.path(), "utf8"));
      assert.ok(Array.isArray(doc.manifest) && doc.manifest.length > 0, "the export has its manifest");
    });

    await step("the admin allows Mastodon; the employee connects it through the OAuth redirect", async () => {
      await adminPage(page, "Networks", "Social networks");
      await page.getByRole("button", { name: "Allow Mastodon" }).click();
      await page.getByRole("button", { name: "Stop allowing Mastodon" }).waitFor();
      await carol.goto(base + "/profile");
      await carol.getByLabel("Your Mastodon server").fill(masto.url);
      await carol.getByRole("button", { name: "Connect Mastodon" }).click();
      await carol.getByText("Your Mastodon account is connected.").waitFor();
      assert.equal(new URL(carol.url()).pathname, "/profile");
      const handle = `@carol@127.0.0.1:${masto.port}`;
      await carol.getByRole("row", { name: new RegExp(`Carol \\(${handle}\\)`) }).getByText("Connected", { exact: true }).waitFor();
      await axe(carol, "profile after the OAuth return");
      await shot(carol, "15b-profile-mastodon");
    });

    await step("sharing to Mastodon; a revoked token asks to reconnect, and reconnecting works", async () => {
      await nav(carol, "Feed", "Feed");
      await carol.getByRole("link", { name: `Share ${title}` }).click();
      await carol.getByLabel("Bluesky: @carol.test").uncheck();
      // No Mastodon text from the curators: the title, never the note to colleagues.
      assert.equal(await carol.getByLabel("Mastodon", { exact: true }).inputValue(), title);
      await carol.getByText(new RegExp(`^${[...title].length + 25} / 500 characters`)).waitFor(); // the title + a blank line and the link, 25
      await carol.getByRole("button", { name: "Share now" }).click();
      await carol.getByRole("link", { name: "View the post on Mastodon" }).waitFor({ timeout: 60_000 });
      assert.equal(masto.statuses.length, 1);
      assert.ok(masto.statuses[0].status.startsWith(title) && masto.statuses[0].status.includes(`${base}/r/`),
        `the status carries the title and the tracked link: ${masto.statuses[0].status}`);
      assert.ok(!masto.statuses[0].status.includes(note), `the note to colleagues was posted: ${masto.statuses[0].status}`);

      masto.revoked = true; // the member revoked Chorus at their server
      await carol.getByRole("button", { name: "Share again" }).click();
      await carol.getByLabel("Bluesky: @carol.test").uncheck();
      await carol.getByRole("button", { name: "Share now" }).click();
      await carol.getByText(/^Failed/).waitFor({ timeout: 60_000 });
      const reconnect = carol.getByRole("button", { name: /^Reconnect Mastodon/ });
      await reconnect.waitFor();
      await axe(carol, "a share that needs reconnecting");
      await shot(carol, "15c-needs-reconnect");
      await reconnect.click();
      await carol.getByText("Your Mastodon account is connected.").waitFor();
      await carol.getByRole("row", { name: /Carol/ }).getByText("Connected", { exact: true }).waitFor();
      assert.equal(masto.tokens, 2, "a second authorisation");
      assert.equal(masto.statuses.length, 1, "nothing posted with the revoked token");
    });

    await step("the admin makes the employee an analyst, who downloads a CSV", async () => {
      await adminPage(page, "People", "Members and roles");
      await page.getByLabel("Role of carol").selectOption("analyst");
      await page.getByRole("button", { name: "Apply" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Change role" }).click();
      await page.getByRole("button", { name: "Apply" }).waitFor({ state: "detached" });
      await page.getByRole("button", { name: "Correct the name or title of carol" }).click();
      await page.getByRole("row", { name: /carol@acme\.example/ }).getByLabel("Job title").fill("Engineer");
      await page.getByRole("row", { name: /carol@acme\.example/ }).getByRole("button", { name: "Save" }).click();
      await page.getByRole("row", { name: /carol · Engineer/ }).waitFor();
      // A reader follows the link in the Bluesky post: a tracked redirect
      // to the content with UTM tags, and one click in the analytics.
      const click = await fetch(trackedUrl, {
        redirect: "manual",
        headers: { "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0 Safari/537.36" },
      });
      assert.equal(click.status, 302, `the tracked link ${trackedUrl} redirects`);
      assert.match(click.headers.get("location"), /^https:\/\/example\.com\/launch\?.*utm_source=bluesky/);
      const day = new Date().toISOString().slice(0, 10); // the instance's zone is UTC
      for (let until = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 250))) {
        const sum = await page.evaluate(async (d) => (await fetch(`/api/v1/analytics/summary?from=${d}&to=${d}`)).json(), day);
        if (sum.clicks === 1 && sum.unique_clicks === 1) break;
        assert.ok(Date.now() < until, `the click is counted: ${JSON.stringify(sum)}`);
      }
      await carol.reload();
      await nav(carol, "Analytics", "Analytics");
      await carol.getByRole("row", { name: new RegExp(`^${escRe(title)} 2 1 \\(1 unique\\)`) }).waitFor();
      await carol.getByRole("term").filter({ hasText: "Potential reach" }).waitFor();
      await carol.getByRole("heading", { name: "Top content" }).waitFor();
      await carol.getByRole("heading", { name: "Clicks per day" }).waitFor();
      await axe(carol, "analytics");
      await shot(carol, "18-analytics");
      readmeShot("18-analytics", "analytics");
      const [dl] = await Promise.all([
        carol.waitForEvent("download"),
        carol.getByRole("link", { name: "Download CSV of top content" }).click(),
      ]);
      const csv = readFileSync(await dl.path(), "utf8").trim().split(/\r?\n/);
      assert.match(csv[0], /^content_id,title,shares,clicks,unique_clicks,/, `the CSV header row: ${csv[0]}`);
      assert.equal(csv.length, 2, `one content row: ${csv.join(" | ")}`);
      assert.match(csv[1], new RegExp(`^"?[^,]*"?,"?${escRe(title)}"?,2,1,1,`), `the row counts 2 shares and the click: ${csv[1]}`);
      await nav(carol, "My impact", "My impact");
      await carol.getByRole("term").filter({ hasText: "Earned media value" }).waitFor();
      await axe(carol, "my impact");
      await shot(carol, "19-my-impact");
    });

    // ---- The weekly habit at a phone's width (issue 19: items 3 to 7) ----
    // A new employee, on a phone from the first sign-in: the checklist,
    // connecting from the composer and coming back to it, a share whose
    // clicks and reach come back, a trend, points; a suggestion the
    // curator sees counted and attributed. Every screen must fit 375 px.
    await step("phone: a new employee's checklist, tab bar, and connecting from the composer back to it", async () => {
      const danCtx = await browser.newContext({ viewport: { width: 375, height: 812 } });
      const dan = await newPage(danCtx, problems);
      dan.setDefaultTimeout(15_000);
      const fits = async (screen) => {
        const [wide, inner] = await dan.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
        assert.ok(wide <= inner, `${screen} is ${wide} px wide at a ${inner} px viewport`);
      };
      const tab = async (name, heading) => {
        await dan.getByRole("navigation", { name: "Tabs" }).getByRole("link", { name, exact: true }).click();
        await dan.getByRole("heading", { name: heading, exact: true, level: 1 }).waitFor();
      };
      await signIn(dan, base, "dan@acme.example");
      await dan.getByRole("heading", { name: "Get started: 3 of 3 left" }).waitFor();
      const card = dan.getByRole("article", { name: title });
      await card.getByText("1 colleague shared this").waitFor(); // carol
      await card.getByText("example.com", { exact: true }).waitFor(); // the source's domain
      assert.equal(await dan.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Feed", exact: true }).isVisible(), false,
        "the member's pages are in the tab bar, not the header");
      assert.equal(await dan.getByRole("button", { name: "Sign out" }).isVisible(), false, "Sign out is in the profile");
      const header = await dan.locator("header.top").boundingBox();
      assert.ok(header.height <= 0.1 * 812, `the header takes ${header.height} px of 812`);
      await axe(dan, "phone feed with the checklist");
      await fits("feed with the checklist");
      await shot(dan, "20-phone-checklist");

      await card.getByRole("link", { name: `Share ${title}` }).click();
      await dan.getByRole("heading", { name: "No account to share with" }).waitFor();
      await fits("composer without an account");
      const composer = new URL(dan.url()).pathname;
      await dan.getByRole("link", { name: "Connect an account and come back" }).click();
      await dan.getByText("After connecting you go back to your post.").waitFor();
      await fits("profile, connecting");
      await dan.getByLabel("Your Mastodon server").fill(masto.url);
      await dan.getByRole("button", { name: "Connect Mastodon" }).click();
      await dan.getByRole("heading", { name: "Share", level: 1 }).waitFor();
      assert.equal(new URL(dan.url()).pathname, composer, "back in the composer after connecting");
      await dan.getByText("Your Mastodon account is connected.").waitFor();
      const account = dan.getByLabel(/^Mastodon: /);
      await account.waitFor();
      await account.check();
      await axe(dan, "phone composer after connecting");
      await fits("composer after connecting");
      await dan.getByRole("button", { name: "Share now" }).click();
      await dan.getByRole("link", { name: "View the post on Mastodon" }).waitFor({ timeout: 60_000 });

      // A reader clicks Dan's link; My shares says so, with the reach.
      const mine = await dan.evaluate(async () => (await fetch("/api/v1/shares")).json());
      const click = await fetch(mine.items[0].tracked_url, {
        redirect: "manual",
        headers: { "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148" },
      });
      assert.equal(click.status, 302);
      for (let until = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 250))) {
        const sh = await dan.evaluate(async () => (await fetch("/api/v1/shares")).json());
        if (sh.items[0].clicks === 1) break;
        assert.ok(Date.now() < until, `the share's click is counted: ${JSON.stringify(sh.items[0])}`);
      }
      await tab("My shares", "My shares");
      const figures = dan.locator(".figures").first();
      await figures.waitFor();
      assert.equal((await figures.textContent()).trim(), "1 click 42 reach");
      await axe(dan, "phone my shares with clicks");
      await fits("my shares with clicks");
      await shot(dan, "21-phone-my-shares");

      // My impact: points (on by default for a new instance) and the trend.
      await tab("My impact", "My impact");
      await dan.getByText(/^You are number \d+ of \d+ on the leaderboard with \d+ points\.$/).waitFor();
      await dan.getByRole("heading", { name: "Week by week" }).waitFor();
      await dan.locator(".recharts-bar-rectangle").first().waitFor();
      await axe(dan, "phone my impact");
      await fits("my impact");
      await shot(dan, "22-phone-my-impact");

      // The name, the checklist ticked from it, and hidden for good.
      await tab("Profile", "Profile");
      await dan.getByLabel("Name", { exact: true }).fill("Dan Ortiz");
      await dan.getByRole("button", { name: "Save profile" }).click();
      await dan.getByText("Saved.").waitFor();
      await fits("profile");
      await tab("Feed", "Feed");
      await dan.getByRole("heading", { name: "Get started: 1 of 3 left" }).waitFor();
      await dan.getByRole("button", { name: "Hide this checklist" }).click();
      await dan.getByRole("heading", { name: /^Get started/ }).waitFor({ state: "detached" });
      await dan.reload();
      await card.waitFor();
      assert.equal(await dan.getByRole("heading", { name: /^Get started/ }).count(), 0, "the checklist stays hidden");

      // A suggestion from the phone.
      await tab("Suggest", "Suggest content");
      await dan.getByLabel("Link", { exact: true }).fill("https://example.net/customer-story");
      await dan.getByRole("button", { name: "Suggest", exact: true }).click();
      await dan.getByText("Thank you: your suggestion is waiting for review.").waitFor();
      await fits("suggest");
      await dan.getByRole("link", { name: "My suggestions" }).first().click();
      await dan.getByRole("heading", { name: "My suggestions", level: 1 }).waitFor();
      await fits("my suggestions");

      // Sign out is in the profile.
      await tab("Profile", "Profile");
      await dan.getByRole("button", { name: "Sign out" }).click();
      await dan.getByRole("heading", { name: "Sign in to Chorus" }).waitFor();
      await fits("sign-in");
      await danCtx.close();
    });

    await step("curators: Review (N), who suggested it, shares and clicks per content", async () => {
      await page.reload();
      const review = page.getByRole("navigation", { name: "Main" }).getByRole("listitem").filter({ hasText: /^Review/ });
      await review.getByText("waiting").waitFor({ state: "attached" });
      assert.equal((await review.textContent()).trim(), "Review (1 waiting)"); // "Review (1)" on screen
      await nav(page, "Review", "Review suggestions");
      await page.getByText("Suggested by Dan Ortiz").waitFor();
      await nav(page, "Content", "Content");
      const figures = page.getByRole("article", { name: title }).locator(".figures");
      await figures.waitFor();
      assert.match((await figures.textContent()).trim(), /^\d+ shares 2 clicks$/);
      await axe(page, "content console with figures");
      await shot(page, "23-content-figures");
    });
    // ---- end of the weekly habit ----

    await step("phone width (375 px): feed, composer, my shares, profile, admin", async () => {
      const phone = await browser.newContext({ viewport: { width: 375, height: 812 }, storageState: await carolCtx.storageState() });
      const p = await newPage(phone, problems);
      p.setDefaultTimeout(15_000);
      const fits = async (screen, pg = p) => {
        const wide = await pg.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(wide <= 375, `${screen} is ${wide} px wide at a 375 px viewport`);
      };
      await p.goto(base + "/feed");
      await p.getByRole("article", { name: title }).waitFor();
      await axe(p, "phone feed");
      await fits("feed");
      await shot(p, "phone-feed");
      await p.getByRole("link", { name: `Share ${title}` }).click();
      await p.getByLabel("Bluesky", { exact: true }).waitFor();
      await axe(p, "phone composer");
      await fits("composer");
      await shot(p, "phone-composer");
      await p.goto(base + "/shares");
      await p.getByText("Published", { exact: true }).first().waitFor();
      await axe(p, "phone my shares");
      await fits("my shares");
      await shot(p, "phone-my-shares");
      await p.goto(base + "/profile");
      await p.getByRole("heading", { name: "Connected accounts" }).waitFor();
      await axe(p, "phone profile");
      await fits("profile");
      await shot(p, "phone-profile");
      await phone.close();
      const admin = await browser.newContext({ viewport: { width: 375, height: 812 }, storageState: await alice.storageState() });
      const a = await newPage(admin, problems);
      a.setDefaultTimeout(15_000);
      await a.goto(base + "/queue");
      await a.getByRole("heading", { name: "Review suggestions", level: 1 }).waitFor();
      await axe(a, "phone review");
      await fits("review", a);
      await shot(a, "phone-review");
      await a.goto(base + "/analytics");
      await a.getByRole("heading", { name: "Top content" }).waitFor();
      await axe(a, "phone analytics");
      await fits("analytics", a);
      await shot(a, "phone-analytics");
      await a.goto(base + "/content");
      await a.getByRole("article", { name: title }).waitFor();
      await axe(a, "phone content console");
      await fits("content console", a);
      await shot(a, "phone-content");
      await a.goto(base + "/admin/networks");
      await a.getByRole("heading", { name: "Social networks" }).waitFor();
      await axe(a, "phone admin");
      await fits("admin", a);
      await shot(a, "phone-admin");
      await admin.close();
    });

    await step("the admin looks the employee up (data-subject request)", async () => {
      await adminPage(page, "Privacy and support", "Data-subject requests");
      await page.getByLabel("Email address", { exact: true }).fill("carol@acme.example");
      await page.getByRole("button", { name: "Look up" }).click();
      await page.getByRole("heading", { name: "What Chorus stores about carol@acme.example" }).waitFor();
      await page.getByRole("link", { name: "Download it (JSON)" }).waitFor();
      await page.getByRole("button", { name: "Erase this person: carol@acme.example" }).waitFor();
      await axe(page, "data-subject request");
      await shot(page, "16-admin-dsr");
    });

    await step("the admin stops allowing Bluesky; the employee's account is disabled", async () => {
      await adminPage(page, "Networks", "Social networks");
      await page.getByRole("button", { name: "Stop allowing Bluesky" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Stop allowing Bluesky" }).click();
      await page.getByRole("button", { name: "Allow Bluesky" }).waitFor();
      await page.getByRole("row", { name: /^Bluesky/ }).getByText("Not allowed").waitFor();
      await carol.goto(base + "/profile");
      await carol.getByRole("heading", { name: "Profile", level: 1 }).waitFor();
      await carol.getByText(/^Disabled/).waitFor();
      await carol.goto(base + "/feed");
      await carol.getByRole("link", { name: `Share ${title}` }).click();
      await carol.getByText("Bluesky @carol.test: not allowed by your admins").waitFor();
      await carol.getByLabel(/^Mastodon: /).waitFor();
      assert.equal(await carol.getByLabel(/^Bluesky: /).count(), 0, "no Bluesky account to pick");
      await shot(carol, "17-composer-bluesky-not-allowed");

      for (const n of ["X", "Mastodon"]) {
        await page.getByRole("button", { name: `Stop allowing ${n}` }).click();
        await page.getByRole("dialog").getByRole("button", { name: `Stop allowing ${n}` }).click();
        await page.getByRole("button", { name: `Allow ${n}` }).waitFor();
      }
      await carol.reload();
      await carol.getByRole("heading", { name: "No account to share with" }).waitFor();
      await carol.getByText("Your admins have not allowed any social network yet.").waitFor();
      await axe(carol, "composer without accounts");
      await shot(carol, "17b-composer-no-network");
    });

    // ---- Admin console and analytics: tracked links for any network,
    // admin pages and set-up checklist, data-subject counts, audit by
    // address, adoption figures. ----
    await step("with no network allowed, the employee copies a tracked link; it counts as a share", async () => {
      await carolCtx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
      await carol.getByRole("heading", { name: "Pass the link on yourself" }).waitFor(); // still on the composer of the launch post
      await carol.getByRole("button", { name: "Copy tracked link" }).click();
      await carol.getByText("Copied.").waitFor();
      const url = await carol.getByLabel("Your tracked link").inputValue();
      assert.ok(url.startsWith(`${base}/r/`) && url !== trackedUrl, `a tracked link of its own: ${url}`);
      assert.equal(await carol.evaluate(() => navigator.clipboard.readText()), url, "the link is on the clipboard");
      const mail = decodeURIComponent(await carol.getByRole("link", { name: "Send by email" }).getAttribute("href"));
      assert.ok(mail.startsWith("mailto:?subject=") && mail.includes(url) && !mail.includes(note), `the mail link: ${mail}`);
      const wa = await carol.getByRole("link", { name: "Share on WhatsApp" }).getAttribute("href");
      assert.ok(wa.startsWith("https://wa.me/?text=") && decodeURIComponent(wa).includes(url), `the WhatsApp link: ${wa}`);
      await axe(carol, "composer, tracked link");
      await shot(carol, "20-copy-link");
      const click = await fetch(url, {
        redirect: "manual",
        headers: { "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0 Safari/537.36" },
      });
      assert.equal(click.status, 302, `the tracked link ${url} redirects`);
      assert.match(click.headers.get("location"), /^https:\/\/example\.com\/launch\?.*utm_source=link/);
      // The same button again: the same link, not a second share.
      await carol.reload();
      await carol.getByRole("button", { name: "Copy tracked link" }).click();
      assert.equal(await carol.getByLabel("Your tracked link").inputValue(), url);
      await nav(carol, "My shares", "My shares");
      await carol.getByText("Tracked link", { exact: true }).waitFor();
      const mine = await carol.evaluate(async () => (await fetch("/api/v1/shares?limit=100")).json());
      const links = mine.items.filter((s) => s.network === "link");
      assert.equal(links.length, 1, "one link share");
      assert.equal(links[0].state, "published");
      const day = new Date().toISOString().slice(0, 10);
      for (let until = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 250))) {
        const nets = await carol.evaluate(async (d) => (await fetch(`/api/v1/analytics/networks?from=${d}&to=${d}`)).json(), day);
        const row = nets.items.find((r) => r.id === "link");
        if (row && row.shares === 1 && row.clicks === 1) break;
        assert.ok(Date.now() < until, `the link share and its click are counted: ${JSON.stringify(nets.items)}`);
      }
    });

    await step("the admin: adoption first on the dashboard, set-up checklist, audit log by address", async () => {
      await nav(page, "Analytics", "Analytics");
      const first = page.getByRole("term").first();
      assert.equal(await first.textContent(), "Adoption");
      await page.getByText(/^\d+ of \d+ members shared · \d+ connected an account$/).waitFor();
      const sum = await page.evaluate(async (d) => (await fetch(`/api/v1/analytics/summary?from=${d}&to=${d}`)).json(), new Date().toISOString().slice(0, 10));
      assert.ok(sum.members >= 2 && sum.members_sharing >= 1 && sum.members_sharing <= sum.members, `adoption figures: ${JSON.stringify(sum)}`);
      await page.getByRole("link", { name: "Set a cost per click to price clicks" }).click();
      await page.getByRole("heading", { name: "Company settings", level: 2 }).waitFor();
      assert.equal(await page.evaluate(() => document.activeElement?.id), "set-cpc", "the cost per click field has the focus");
      await adminPage(page, "Set-up", "Set-up checklist");
      await page.getByText("3 of 4 done.").waitFor(); // every network was just disallowed
      await page.getByRole("link", { name: "Allow a network" }).waitFor();
      await axe(page, "admin set-up checklist");
      await shot(page, "21-admin-setup");
      await adminPage(page, "Audit log", "Audit log");
      const viewed = page.getByRole("row", { name: /privacy subject viewed/ }).first();
      await viewed.getByText("alice@acme.example").waitFor();
      await viewed.getByText("carol@acme.example").waitFor();
      await adminPage(page, "Privacy and support", "Data-subject requests");
      await page.getByLabel("Email address", { exact: true }).fill("carol@acme.example");
      await page.getByRole("button", { name: "Look up" }).click();
      const shares = page.getByRole("row", { name: /^shares \d+$/ });
      await shares.waitFor();
      assert.ok(Number((await shares.textContent()).replace(/\D/g, "")) >= 3, "carol's shares are counted");
      await page.getByRole("row", { name: "profile 1" }).waitFor();
    });
  }

  // The installable app, offline reading and the share target (pwa.mjs).
  // A browser profile on disk: Chromium does not install apps from the
  // off-the-record contexts of browser.newContext().
  const profile = (viewport) => chromium.launchPersistentContext(join(tmp, "pwa-profile"), { ...launchOptions, viewport });
  await pwaSteps({ profile, base, step, newPage, signIn, axe, shot, log, problems, title, webpush });

  await step("someone of another company sees none of it", async () => {
    const bobCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const bob = await newPage(bobCtx, problems);
    bob.setDefaultTimeout(15_000);
    await signIn(bob, base, "bob@globex.example");
    await bob.getByText("Nothing to share yet").waitFor();
    assert.equal(await bob.getByText(title).count(), 0);
    const feed = await bob.evaluate(async () => (await fetch("/api/v1/content")).json());
    assert.deepEqual(feed.items, []);
    const seen = await bob.evaluate(async (id) => {
      const j = async (u) => (await fetch(u)).json();
      return {
        shares: (await j("/api/v1/shares")).items,
        connections: (await j("/api/v1/connections")).items,
        allowed: (await j("/api/v1/networks")).items.filter((n) => n.allowed).map((n) => n.name),
        share: id ? (await fetch(`/api/v1/shares/${id}`)).status : 404,
      };
    }, shareId);
    assert.deepEqual(seen, { shares: [], connections: [], allowed: [], share: 404 });
    await bob.goto(base + "/profile");
    await bob.getByText("Your admins have not allowed any social network yet.").waitFor();
    await shot(bob, "11-other-company-feed");
    await bobCtx.close();
  });

  await step("no CSP violations or script errors", async () => {
    assert.deepEqual(problems, []);
  });

  await step("the API's answers match openapi.yaml", async () => {
    const file = join(results, "api-answers.jsonl");
    const answers = await Promise.all(apiAnswers);
    writeFileSync(file, answers.map((a) => JSON.stringify(a)).join("\n") + "\n");
    log(`${answers.length} API answers recorded in ${file}`);
    // -trimpath as lint's and the smoke's builds: their compilation is shared.
    execFileSync(
      "go",
      ["test", "-tags", "ferretdb_no_postgresql", "-trimpath", "-count=1", "-run", "^TestRecordedResponses$", "./cmd/chorus"],
      { cwd: repo, stdio: "inherit", env: { ...process.env, CHORUS_RECORDED_RESPONSES: file } },
    );
  });
  await carolCtx?.close();
  await alice.close();
} catch (e) {
  if (failed === 0) {
    failed++;
    log("FAIL", e?.stack || e);
  }
  for (const [i, p] of openPages.entries()) {
    if (!p.isClosed()) await shot(p, `failure-${i}`).catch(() => undefined);
  }
  const logFile = join(results, "chorus.log");
  if (existsSync(logFile)) {
    const tail = readFileSync(logFile, "utf8").split("\n").slice(-40).join("\n");
    console.error("--- chorus log (last 40 lines) ---\n" + tail);
  }
} finally {
  await browser?.close().catch(() => undefined);
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await new Promise((r) => {
      const t = setTimeout(() => {
        server.kill("SIGKILL");
        r();
      }, 10_000);
      server.once("exit", () => {
        clearTimeout(t);
        r();
      });
    });
  }
  if (pdsProc && pdsProc.exitCode === null) {
    pdsProc.kill("SIGTERM");
    await new Promise((r) => {
      const t = setTimeout(() => {
        pdsProc.kill("SIGKILL");
        r();
      }, 10_000);
      pdsProc.once("exit", () => {
        clearTimeout(t);
        r();
      });
    });
  }
  webpushProc?.stdin?.end();
  if (webpushProc && webpushProc.exitCode === null) webpushProc.kill("SIGTERM");
  await masto?.close?.();
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`e2e took ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${results}`);
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
