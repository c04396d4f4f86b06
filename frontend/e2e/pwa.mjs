// The installable app in the browser test (run.mjs calls pwaSteps): in a
// browser profile of its own, a member signs in; Chromium finds the manifest
// valid and the app installable, the service worker controls the page and
// keeps the shell and the member's first feed page; offline, a reload still
// shows the feed; a page shared to the app (the manifest's share target)
// lands in the suggestion form, prefilled, and becomes a suggestion; a
// javascript: link is refused by the form and by the API; new content
// reaches the member as a push notification (from the local Web Push
// endpoint, delivered to the service worker), which leads to the composer,
// where they share; signing out deletes the member's cached answers; a page
// shared while signed out opens in the form after sign-in. No CSP violation
// on the way.
import assert from "node:assert/strict";

/**
 * @param {object} t the test's helpers and state: profile (launches a
 *   persistent browser context with the given viewport), base, step,
 *   newPage, signIn, axe, shot, log, problems, and title (a post in the feed)
 */
export async function pwaSteps({ profile, base, step, newPage, signIn, axe, shot, log, problems, title, webpush }) {
  const ctx = await profile({ width: 412, height: 860 });
  // securitypolicyviolation events of every page and worker of this
  // profile, besides the console errors run.mjs already collects.
  const violations = [];
  await ctx.exposeFunction("__cspViolation", (v) => violations.push(v));
  await ctx.addInitScript(() => {
    self.addEventListener("securitypolicyviolation", (e) => self.__cspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
  });
  const page = await newPage(ctx, problems);
  page.setDefaultTimeout(20_000);
  const member = "alice@acme.example";

  await step("installable: a valid manifest, icons, the service worker in control", async () => {
    await signIn(page, base, member);
    await page.getByRole("article", { name: title }).waitFor();
    const cdp = await ctx.newCDPSession(page);
    const m = await cdp.send("Page.getAppManifest");
    assert.equal(m.url, `${base}/manifest.webmanifest`);
    assert.deepEqual(m.errors, [], "the manifest parses without errors");
    const manifest = JSON.parse(m.data);
    assert.equal(manifest.display, "standalone");
    assert.equal(manifest.start_url, "/feed");
    assert.equal(manifest.scope, "/");
    for (const size of [192, 512]) {
      for (const purpose of ["any", "maskable"]) {
        const icon = manifest.icons.find((i) => i.sizes === `${size}x${size}` && i.purpose === purpose);
        assert.ok(icon, `a ${purpose} icon of ${size} px`);
        const got = await page.evaluate(async (src) => {
          const r = await fetch(src);
          const img = new Image(); // from the URL: blob: is not an img-src of the CSP
          img.src = src;
          await img.decode();
          return { status: r.status, type: r.headers.get("content-type"), w: img.naturalWidth, h: img.naturalHeight };
        }, icon.src);
        assert.deepEqual(got, { status: 200, type: "image/png", w: size, h: size }, icon.src);
      }
    }
    assert.deepEqual(manifest.share_target, {
      action: "/suggest",
      method: "GET",
      enctype: "application/x-www-form-urlencoded",
      params: { title: "title", text: "text", url: "url" },
    });
    const served = await page.evaluate(async () => (await fetch("/manifest.webmanifest")).headers.get("content-type"));
    assert.equal(served, "application/manifest+json");

    const sw = await page.evaluate(async () => (await navigator.serviceWorker.ready).active?.scriptURL);
    assert.equal(sw, `${base}/sw.js`);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    const installable = await cdp.send("Page.getInstallabilityErrors");
    assert.deepEqual(installable.installabilityErrors, [], "Chromium finds the app installable");
    // Loaded again under the worker: /me and the first feed page are kept
    // for this member, the shell under its build's version.
    await page.reload();
    await page.getByRole("article", { name: title }).waitFor();
    const kept = await page.evaluate(async () => {
      const out = {};
      for (const name of await caches.keys()) {
        const c = await caches.open(name);
        out[name.replace(/^(chorus-shell-).*/, "$1*").replace(/^(chorus-data-).*/, "$1*")] = (await c.keys()).map((r) => new URL(r.url).pathname + new URL(r.url).search);
      }
      return out;
    });
    assert.ok(kept["chorus-data-*"]?.includes("/api/v1/me"), `kept: ${JSON.stringify(kept)}`);
    assert.ok(kept["chorus-data-*"]?.some((u) => u.startsWith("/api/v1/content?")), `the first feed page is kept: ${JSON.stringify(kept)}`);
    assert.ok(kept["chorus-shell-*"]?.includes("/index.html"), `the shell: ${JSON.stringify(kept)}`);
    assert.ok(kept["chorus-shell-*"]?.some((u) => u.startsWith("/assets/")), "the hashed assets are in the shell");
    const me = await page.evaluate(async () => (await (await fetch("/api/v1/me")).json()).member.id);
    assert.ok((await page.evaluate(() => caches.keys())).includes("chorus-data-" + encodeURIComponent(me)), "the data cache is this member's");
    log(`pwa: shell ${kept["chorus-shell-*"].length} files, member data ${kept["chorus-data-*"].length} answers`);
  });

  await step("the install hint", async () => {
    // Headless Chromium offers no install prompt of its own; the hint
    // listens for the event the browser fires when it does.
    await page.evaluate(() => {
      const e = new Event("beforeinstallprompt", { cancelable: true });
      e.prompt = async () => undefined;
      e.userChoice = Promise.resolve({ outcome: "dismissed" });
      window.dispatchEvent(e);
    });
    await page.getByRole("complementary", { name: "Install the app" }).waitFor();
    await axe(page, "feed with the install hint");
    await shot(page, "pwa-install-hint");
    await page.getByRole("button", { name: "Not now" }).click();
    await page.getByRole("complementary", { name: "Install the app" }).waitFor({ state: "detached" });
  });

  await step("offline: the shell and the first feed page", async () => {
    await ctx.setOffline(true);
    try {
      const reach = (p) => p.evaluate(() => fetch("/healthz", { cache: "no-store" }).then(() => "online", () => "offline"));
      assert.equal(await reach(page), "offline", "the page has no network");
      const [worker] = ctx.serviceWorkers();
      assert.ok(worker, "the service worker is running");
      assert.equal(await reach(worker), "offline", "the service worker has no network either");
      await page.reload();
      await page.getByRole("heading", { name: "Feed", level: 1 }).waitFor();
      await page.getByRole("article", { name: title }).waitFor();
      await page.getByText("You are offline").waitFor();
      await shot(page, "pwa-offline-feed");
    } finally {
      await ctx.setOffline(false);
    }
    await page.reload();
    await page.getByRole("article", { name: title }).waitFor();
    assert.equal(await page.getByText("You are offline").count(), 0);
  });

  if (webpush) {
    await step("push: new content notifies the member; the notification leads to the composer, where they share", async () => {
      await pushSteps({ ctx, page, base, webpush, axe, shot, log });
    });
  }

  await step("share target: a shared page lands in the suggestion form and becomes a suggestion", async () => {
    const shared = "https://example.org/shared-from-phone";
    const q = new URLSearchParams({ title: "Our CEO on the podcast", text: `Worth a listen ${shared}` });
    await page.goto(`${base}/suggest?${q}`);
    await page.getByRole("heading", { name: "Suggest content", level: 1 }).waitFor();
    assert.equal(await page.getByLabel("Link", { exact: true }).inputValue(), shared);
    assert.equal(await page.getByLabel("Why it is worth sharing (optional)").inputValue(), "Our CEO on the podcast\n\nWorth a listen");
    const bm = await page.getByText("Suggest to Chorus").getAttribute("href");
    assert.ok(bm.startsWith("javascript:") && bm.includes(`${base}/suggest?url=`), `the bookmarklet: ${bm}`);
    await page.getByText("Suggest to Chorus").click(); // does nothing here: no CSP violation either
    await axe(page, "suggest, shared");
    await shot(page, "pwa-share-target");
    await page.getByRole("button", { name: "Suggest", exact: true }).click();
    await page.getByText("Thank you: your suggestion").waitFor();
    const mine = await page.evaluate(async () => (await (await fetch("/api/v1/suggestions?limit=100")).json()).items);
    const s = mine.find((x) => x.url === shared);
    assert.ok(s, `the suggestion exists: ${JSON.stringify(mine.map((x) => x.url))}`);
    assert.equal(s.commentary, "Our CEO on the podcast\n\nWorth a listen");

    // The bookmarklet's form of it: url and title.
    const bookmarked = "https://example.org/read-on-desktop?a=1&b=2";
    await page.goto(`${base}/suggest?url=${encodeURIComponent(bookmarked)}&title=${encodeURIComponent("Desktop read")}`);
    assert.equal(await page.getByLabel("Link", { exact: true }).inputValue(), bookmarked);

    // A javascript: link: refused by the form, and by the API.
    const before = mine.length;
    await page.goto(`${base}/suggest?url=${encodeURIComponent("javascript:alert(document.cookie)")}&title=x`);
    await page.getByText("The shared link is not a web address (http or https), so it was left out.").waitFor();
    assert.equal(await page.getByLabel("Link", { exact: true }).inputValue(), "");
    await page.getByLabel("Link", { exact: true }).fill("javascript:alert(1)");
    await page.getByRole("button", { name: "Suggest", exact: true }).click();
    await page.getByText("Enter a web address starting with https:// or http://.").waitFor();
    const api = await page.evaluate(async () => {
      const r = await fetch("/api/v1/suggestions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ url: "javascript:alert(1)" }),
      });
      return { status: r.status, type: r.headers.get("content-type"), body: await r.json() };
    });
    assert.equal(api.status, 400, JSON.stringify(api));
    assert.equal(api.type, "application/problem+json");
    assert.equal(api.body.errors?.[0]?.field, "url", JSON.stringify(api.body));
    const after = await page.evaluate(async () => (await (await fetch("/api/v1/suggestions?limit=100")).json()).items.length);
    assert.equal(after, before, "no suggestion for a javascript: link");
  });

  await step("signing out deletes the member's kept answers; no CSP violation", async () => {
    await page.goto(`${base}/profile`);
    await page.getByRole("button", { name: "Sign out" }).first().click();
    await page.getByRole("heading", { name: "Sign in to Chorus" }).waitFor();
    const names = await page.evaluate(() => caches.keys());
    assert.deepEqual(names.filter((n) => n.startsWith("chorus-data-")), [], `caches left: ${names}`);
    assert.ok(names.some((n) => n.startsWith("chorus-shell-")), "the shell stays");
    assert.deepEqual(violations, [], "securitypolicyviolation events");
  });

  await step("signed out, a shared page is kept through sign-in and opens prefilled", async () => {
    const shared = "https://example.org/shared-while-signed-out";
    const q = new URLSearchParams({ url: shared, title: "Read while signed out" });
    await page.goto(`${base}/suggest?${q}`);
    await page.getByRole("heading", { name: "Sign in to Chorus" }).waitFor();
    await page.getByText("After you sign in, the page you shared opens in the suggestion form.").waitFor();
    await page.getByLabel("Work email").fill(member);
    await page.getByRole("button", { name: "Send me a sign-in link" }).click();
    await page.getByRole("link", { name: "open the sign-in link" }).click();
    await page.getByRole("heading", { name: "Sign in as " + member }).waitFor();
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "Suggest content", level: 1 }).waitFor();
    const at = new URL(page.url());
    assert.equal(at.origin + at.pathname, `${base}/suggest`);
    assert.equal(await page.getByLabel("Link", { exact: true }).inputValue(), shared);
    assert.equal(await page.getByLabel("Why it is worth sharing (optional)").inputValue(), "Read while signed out");
    await page.waitForFunction(() => localStorage.getItem("chorus.return-to") === null); // forgotten once used
    // A return path planted in storage that leaves the origin is ignored.
    await page.evaluate(() => localStorage.setItem("chorus.return-to", JSON.stringify({ path: "//evil.example/", at: Date.now() })));
    await page.goto(`${base}/`);
    await page.getByRole("heading", { name: "Feed", level: 1 }).waitFor();
    assert.equal(new URL(page.url()).origin, new URL(base).origin);
    assert.deepEqual(violations, [], "securitypolicyviolation events");
  });
  await ctx.close();
}

/** POSTs body as JSON to the local Web Push endpoint; its answer's data. */
async function endpoint(webpush, path, body) {
  const r = await fetch(webpush + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(j)}`);
  return j.data;
}

/**
 * Push, end to end but for the browser's push service (Chromium reaches no
 * FCM here): the member turns notifications on as the profile's switch
 * does, with a subscription of the local endpoint made for the server's
 * VAPID key; new content is published; the worker encrypts and signs the
 * message, the endpoint verifies and decrypts it; that payload goes to the
 * service worker through CDP (ServiceWorker.deliverPushMessage), which
 * shows the notification; its URL is the composer, where the member
 * shares the post (a tracked link of their own).
 */
async function pushSteps({ ctx, page, base, webpush, axe, shot, log }) {
  await ctx.grantPermissions(["notifications", "clipboard-read", "clipboard-write"], { origin: base });
  await page.goto(`${base}/profile`);
  await page.getByRole("heading", { name: "Notifications", level: 2 }).waitFor();
  const settings = await page.evaluate(async () => (await fetch("/api/v1/me/push")).json());
  assert.match(settings.public_key, /^[A-Za-z0-9_-]{87}$/, "the VAPID public key (65 bytes, base64url)");
  const sub = await endpoint(webpush, "/subscribe", { applicationServerKey: settings.public_key });
  const registered = await page.evaluate(async (sub) => {
    const put = await fetch("/api/v1/me/consents/push", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ granted: true }) });
    const post = await fetch("/api/v1/me/push/subscriptions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ endpoint: sub.endpoint, expirationTime: null, keys: sub.keys }),
    });
    return [put.status, post.status];
  }, sub);
  assert.deepEqual(registered, [200, 201]);
  await page.reload();
  const pushSwitch = page.getByRole("switch", { name: /new content to share/ });
  await pushSwitch.waitFor();
  // The switch is disabled (and off) until the member's push settings have
  // loaded: read it once they have.
  await page.waitForFunction((el) => !el.disabled, await pushSwitch.elementHandle(), { timeout: 15000 });
  assert.equal(await pushSwitch.isChecked(), true, "the switch shows notifications on");
  await axe(page, "profile, notifications on");
  await shot(page, "pwa-notifications");

  // New content: the member follows whatever topics they follow, so the
  // post carries them all.
  const headline = "Push: the new office opens on Monday";
  const post = await page.evaluate(async (title) => {
    const me = await (await fetch("/api/v1/me")).json();
    const r = await fetch("/api/v1/content", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: "https://example.com/new-office", title, topics: me.member.topics ?? [] }),
    });
    return r.json();
  }, headline);
  assert.ok(post.id, JSON.stringify(post));
  const published = Date.now();
  let payload;
  for (let until = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 100))) {
    const got = await endpoint(webpush, "/get-notifications", { clientHash: sub.clientHash });
    if (got.messages.length > 0) {
      assert.equal(got.messages.length, 1, "one message for one post");
      payload = got.messages[0];
      break;
    }
    assert.ok(Date.now() < until, "the endpoint received the push within 30 s");
  }
  log(`push: publish → endpoint (verified and decrypted) in ${Date.now() - published} ms`);
  const msg = JSON.parse(payload);
  assert.equal(msg.post_id, post.id);
  assert.equal(msg.title, headline);
  assert.equal(msg.url, `/share/${post.id}`);

  const cdp = await ctx.newCDPSession(page);
  const registration = new Promise((resolve) => {
    cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
      const r = registrations.find((r) => r.scopeURL === `${base}/` && !r.isDeleted);
      if (r) resolve(r.registrationId);
    });
  });
  await cdp.send("ServiceWorker.enable");
  const registrationId = await registration;
  // What the worker's push handler asks the browser to show, and whether
  // the browser did (headless Chromium may keep no list of notifications).
  const [worker] = ctx.serviceWorkers();
  assert.ok(worker, "the service worker runs");
  await worker.evaluate(() => {
    const reg = self.registration;
    const show = reg.showNotification.bind(reg);
    self.__shown = [];
    reg.showNotification = (title, opts) => {
      const rec = { title, body: opts?.body, tag: opts?.tag, url: opts?.data?.url, outcome: "pending" };
      self.__shown.push(rec);
      return show(title, opts).then(
        () => void (rec.outcome = "shown"),
        (e) => {
          rec.outcome = String(e);
          throw e;
        },
      );
    };
  });
  await cdp.send("ServiceWorker.deliverPushMessage", { origin: base, registrationId, data: payload });
  let asked;
  for (let until = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 100))) {
    asked = await worker.evaluate(() => self.__shown);
    if (asked.length > 0 && asked[0].outcome !== "pending") break;
    assert.ok(Date.now() < until, `the service worker shows the notification: ${JSON.stringify(asked)}`);
  }
  assert.deepEqual(asked, [{ title: headline, body: asked[0].body, tag: `post-${post.id}`, url: `/share/${post.id}`, outcome: "shown" }]);
  const listed = await page.evaluate(async () =>
    (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, tag: n.tag, url: n.data?.url })),
  );
  if (listed.length > 0) {
    assert.deepEqual(listed, [{ title: headline, tag: `post-${post.id}`, url: `/share/${post.id}` }], "registration.getNotifications()");
  } else {
    log("push: the notification was shown; this headless Chromium lists none in registration.getNotifications()");
  }
  const shown = asked;
  await cdp.send("ServiceWorker.disable");

  // The click opens the notification's URL (the service worker's
  // notificationclick, tested in pwa/sw.test.ts): the composer.
  await page.goto(base + shown[0].url);
  await page.getByRole("heading", { name: "Share", level: 1 }).waitFor();
  await page.getByText(headline).first().waitFor();
  await page.getByRole("button", { name: "Copy tracked link" }).click();
  await page.getByText("Copied.").waitFor();
  const shares = await page.evaluate(async () => (await (await fetch("/api/v1/shares?limit=100")).json()).items);
  assert.ok(shares.some((x) => x.content_id === post.id && x.network === "link"), "the member shared the pushed post");
  await shot(page, "pwa-push-composer");
}
