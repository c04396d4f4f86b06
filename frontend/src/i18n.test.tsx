import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import i18n from "./i18n";
import { ShareState } from "./components/ShareState";
import { api } from "./api/client";
import { SSO } from "./screens/admin/SSO";

afterEach(async () => {
  cleanup();
  vi.restoreAllMocks();
  await i18n.changeLanguage("en");
});

const share = {
  id: "s1",
  content_id: "p1",
  connection_id: "c1",
  network: "mastodon",
  state: "queued" as const,
  tracked_url: "http://x/r/1",
  publish_at: "2026-11-23T10:00:00Z",
};

function renderIt() {
  render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter>
        <ShareState share={share} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("i18n", () => {
  it("speaks English by its keys, and another language through a catalog, markup kept and values escaped by React", async () => {
    renderIt();
    expect(screen.getByText("Queued").className).toContain("state-queued");
    expect(document.body.textContent).toContain("Queued: it goes to Mastodon in a moment.");
    cleanup();
    i18n.addResourceBundle("fi", "translation", {
      "<0>Queued</0>: it goes to {{network}} in a moment.": "<0>Jonossa</0>: {{network}} saa sen hetken päästä.",
    });
    await i18n.changeLanguage("fi");
    renderIt();
    expect(screen.getByText("Jonossa").className).toContain("state-queued");
    expect(document.body.textContent).toContain("Jonossa: Mastodon saa sen hetken päästä.");
  });

  it("counts with plurals from the English catalog", () => {
    expect(i18n.t("{{count}} followers", { count: 1 })).toBe("1 follower");
    expect(i18n.t("{{count}} followers", { count: 42 })).toBe("42 followers");
  });

  it("counts addresses with plurals", () => {
    expect(i18n.t("{{count}} addresses", { count: 1 })).toBe("1 address");
    expect(i18n.t("{{count}} addresses", { count: 3 })).toBe("3 addresses");
  });

  it("translates the single sign-on panel through the catalog", async () => {
    vi.spyOn(api, "GET").mockResolvedValue({
      data: { configured: true, issuer: "https://idp.example", client_id: "c", has_secret: true, redirect_uri: "http://x/cb", domains: [], updated_at: "2026-11-23T10:00:00Z" },
      response: new Response(null, { status: 200 }),
    } as never);
    i18n.addResourceBundle("fi", "translation", {
      "Single sign-on": "Kertakirjautuminen",
      "Issuer URL": "Myöntäjän osoite",
      "Remove the provider": "Poista palvelu",
      "— configured {{time}}, the client secret is stored (encrypted).": "— asetettu {{time}}, salaisuus on tallessa.",
    });
    await i18n.changeLanguage("fi");
    render(
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <SSO />
      </QueryClientProvider>,
    );
    expect(screen.getByRole("heading", { name: "Kertakirjautuminen" })).toBeTruthy();
    expect(screen.getByLabelText("Myöntäjän osoite")).toBeTruthy();
    expect(await screen.findByRole("button", { name: "Poista palvelu" })).toBeTruthy();
    expect(document.body.textContent).toContain("salaisuus on tallessa.");
  });
});
