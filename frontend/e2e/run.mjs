// The browser end-to-end test: builds the Go binary (with the web app in
// dist/ embedded), starts `chorus all` on a free 127.0.0.1 port with a fresh
// data directory and the development mailbox, and drives Debian's chromium
// (playwright-core, headless) through the main screens: sign-in through the
// dev mailbox link, the feed, an admin posting content, suggestions and their
// review, and a member of another company who sees none of it. Each main
// screen is checked with axe-core (no serious or critical violations) and
// photographed into test-results/.
//
// Without chromium it skips with a how-to, except under CI=true, where that
// is a failure. CHROMIUM_PATH overrides /usr/bin/chromium.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, createWriteStream } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

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
mkdirSync(results, { recursive: true });
let server;
let browser;
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

async function newPage(ctx, problems) {
  const page = await ctx.newPage();
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
  await page.getByRole("heading", { name: "Feed", level: 1 }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/feed");
}

async function nav(page, name, heading) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).click();
  await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
}

try {
  const bin = join(tmp, "chorus");
  await step("go build", async () => {
    execFileSync("go", ["build", "-tags", "ferretdb_no_postgresql", "-o", bin, "./cmd/chorus"], {
      cwd: repo,
      stdio: "inherit",
    });
  });

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
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout.pipe(out);
    server.stderr.pipe(out);
    await waitReady(base, 60_000);
  });

  browser = await chromium.launch({
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
  });
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

  await step("admin screen, adding a topic", async () => {
    await nav(page, "Admin", "Admin");
    await page.getByRole("heading", { name: "Domains" }).waitFor();
    await page.getByText("acme.example", { exact: true }).first().waitFor();
    await page.getByLabel("New topic").fill("Engineering");
    await page.getByRole("button", { name: "Add topic" }).click();
    await page.getByRole("button", { name: "Remove topic Engineering" }).waitFor();
    await page.getByRole("heading", { name: "Audit log" }).waitFor();
    await axe(page, "admin");
    await shot(page, "03-admin");
  });

  const title = "Chorus launch <b>day</b>";
  await step("the admin posts content with share texts", async () => {
    await nav(page, "Post content", "Post content");
    await page.getByLabel("Link", { exact: true }).fill("https://example.com/launch");
    await page.getByLabel("Title (optional: taken from the page)").fill(title);
    await page.getByLabel("Commentary for colleagues").fill("We launched! Please share.");
    await page.getByLabel("Engineering", { exact: true }).check();
    await page.getByLabel("X", { exact: true }).fill("We launched 🚀 日本");
    await page.getByText("43 / 280 weighted characters").waitFor(); // 12 + 2 (emoji) + 1 + 4 (CJK) + 24 (link)
    await page.getByLabel("Bluesky", { exact: true }).fill("a".repeat(301));
    await page.getByText(/301 \/ 300 graphemes.*1 too many/).waitFor();
    assert.equal(await page.getByRole("button", { name: "Publish" }).isDisabled(), true);
    await page.getByLabel("Bluesky", { exact: true }).fill("We launched.");
    await axe(page, "post content");
    await shot(page, "04-post-content");
    await page.getByRole("button", { name: "Publish" }).click();
    await page.getByText(`Published: ${title}`).waitFor({ timeout: 20_000 });
  });

  await step("the feed shows it, its title as text", async () => {
    await nav(page, "Feed", "Feed");
    const card = page.getByRole("article", { name: title });
    await card.waitFor();
    assert.equal(await page.locator("article b").count(), 0, "user text is never HTML");
    await card.getByText("Engineering").waitFor();
    await page.getByLabel("Topic", { exact: true }).selectOption("engineering");
    await card.waitFor();
    await axe(page, "feed");
    await shot(page, "05-feed");
  });

  await step("a suggestion, rejected with a reason", async () => {
    await nav(page, "Suggest", "Suggest content");
    await page.getByLabel("Link", { exact: true }).fill("https://example.org/idea");
    await page.getByLabel("Why it is worth sharing (optional)").fill("A good read");
    await axe(page, "suggest");
    await shot(page, "06-suggest");
    await page.getByRole("button", { name: "Suggest" }).click();
    await page.getByText("waiting for review").waitFor();

    await nav(page, "Review", "Review suggestions");
    await page.getByText("A good read").waitFor();
    await page.getByLabel("Reason for rejecting").fill("Off topic for us");
    await axe(page, "review queue");
    await shot(page, "07-review");
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

  await step("profile", async () => {
    await nav(page, "Profile", "Profile");
    await page.getByLabel("Job title").fill("Founder");
    await page.getByRole("button", { name: "Save profile" }).click();
    await page.getByText("Saved.").waitFor();
    const tracking = page.getByRole("switch", { name: "Track clicks on links I share" });
    await tracking.check();
    await page.waitForResponse((r) => r.url().includes("/api/v1/me/consents") && r.request().method() === "GET");
    assert.equal(await tracking.isChecked(), true, "tracking consent stays granted after the server answered");
    await axe(page, "profile");
    await shot(page, "10-profile");
  });

  await step("someone of another company sees none of it", async () => {
    const bobCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const bob = await newPage(bobCtx, problems);
    bob.setDefaultTimeout(15_000);
    await signIn(bob, base, "bob@globex.example");
    await bob.getByText("Nothing to share yet").waitFor();
    assert.equal(await bob.getByText(title).count(), 0);
    const feed = await bob.evaluate(async () => (await fetch("/api/v1/content")).json());
    assert.deepEqual(feed.items, []);
    await shot(bob, "11-other-company-feed");
    await bobCtx.close();
  });

  await step("no CSP violations or script errors", async () => {
    assert.deepEqual(problems, []);
  });
  await alice.close();
} catch (e) {
  if (failed === 0) {
    failed++;
    log("FAIL", e?.stack || e);
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
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`e2e took ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${results}`);
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
