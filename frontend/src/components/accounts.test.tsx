import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import { api } from "../api/client";
import { OAuthConnect, PasswordConnect, isServer, withScheme } from "./ConnectedAccounts";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

function renderForm() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter>
        <PasswordConnect network={{ name: "bluesky", state: "allowed", allowed: true }} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("PasswordConnect", () => {
  it("sends handle, app password and server once, then forgets the password", async () => {
    const post = vi.spyOn(api, "POST").mockResolvedValue({
      data: { id: "c1", network: "bluesky", handle: "carol.test", status: "active", followers: 0 },
      response: new Response(null, { status: 201 }),
    } as never);
    renderForm();
    fireEvent.change(screen.getByLabelText("Bluesky handle"), { target: { value: "@carol.test" } });
    fireEvent.change(screen.getByLabelText("App password"), { target: { value: "abcd-efgh-ijkl-mnop" } });
    fireEvent.change(screen.getByLabelText(/^Server/), { target: { value: "http://127.0.0.1:2583" } });
    fireEvent.click(screen.getByRole("button", { name: "Connect Bluesky" }));
    await screen.findByText("Connected Bluesky as carol.test.");
    expect(post).toHaveBeenCalledWith("/api/v1/connections/{network}/password", {
      params: { path: { network: "bluesky" } },
      body: { identifier: "carol.test", app_password: "abcd-efgh-ijkl-mnop", instance_url: "http://127.0.0.1:2583" },
    });
    expect((screen.getByLabelText("App password") as HTMLInputElement).value).toBe("");
    expect((screen.getByLabelText("App password") as HTMLInputElement).type).toBe("password");
  });
  it("shows the API's problem detail on wrong credentials", async () => {
    vi.spyOn(api, "POST").mockResolvedValue({
      error: { code: "invalid_credentials", detail: "Wrong handle or app password." },
      response: new Response(null, { status: 400 }),
    } as never);
    renderForm();
    fireEvent.change(screen.getByLabelText("Bluesky handle"), { target: { value: "carol.test" } });
    fireEvent.change(screen.getByLabelText("App password"), { target: { value: "x" } });
    fireEvent.click(screen.getByRole("button", { name: "Connect Bluesky" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("Wrong handle or app password."));
  });
});

describe("withScheme", () => {
  it("adds https to a bare server name only", () => {
    expect(withScheme("mastodon.social")).toBe("https://mastodon.social");
    expect(withScheme("https://m.example")).toBe("https://m.example");
    expect(withScheme("")).toBe("");
  });
});

describe("OAuthConnect", () => {
  function renderOAuth(allowed_instances?: string[]) {
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
    render(
      <QueryClientProvider client={qc}>
        <OAuthConnect network={{ name: "mastodon", state: "allowed", allowed: true, federated: true, ...(allowed_instances ? { config: { allowed_instances } } : {}) }} />
      </QueryClientProvider>,
    );
  }
  function startWith(post: { mock: { calls: unknown[][] } }, call = 0) {
    return (post.mock.calls[call] as [string, { params: { path: { network: string } }; body: { instance_url?: string } }])[1];
  }

  it("asks for the server before leaving, and refuses what is not one", async () => {
    const post = vi.spyOn(api, "POST").mockResolvedValue({ data: { authorize_url: "" }, response: new Response(null, { status: 200 }) } as never);
    renderOAuth();
    const server = screen.getByLabelText("Your Mastodon server");
    fireEvent.click(screen.getByRole("button", { name: "Connect Mastodon" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Enter your Mastodon server, such as mastodon.social.");
    expect(server.getAttribute("aria-invalid")).toBe("true");
    fireEvent.change(server, { target: { value: "not a server" } });
    fireEvent.click(screen.getByRole("button", { name: "Connect Mastodon" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("That is not a server address."));
    expect(post).not.toHaveBeenCalled();
    fireEvent.change(server, { target: { value: " mastodon.example " } });
    fireEvent.click(screen.getByRole("button", { name: "Connect Mastodon" }));
    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    expect(startWith(post).params.path.network).toBe("mastodon");
    expect(startWith(post).body).toEqual({ instance_url: "https://mastodon.example" });
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("offers the allowed servers as a choice", async () => {
    const post = vi.spyOn(api, "POST").mockResolvedValue({ data: { authorize_url: "" }, response: new Response(null, { status: 200 }) } as never);
    renderOAuth(["https://a.example", "https://b.example"]);
    fireEvent.change(screen.getByLabelText("Your Mastodon server"), { target: { value: "https://b.example" } });
    fireEvent.click(screen.getByRole("button", { name: "Connect Mastodon" }));
    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    expect(startWith(post).body).toEqual({ instance_url: "https://b.example" });
  });
});

describe("isServer", () => {
  it("accepts host names and http(s) addresses only", () => {
    expect(isServer("mastodon.social")).toBe(true);
    expect(isServer("http://127.0.0.1:8080")).toBe(true);
    expect(isServer("not a server")).toBe(false);
    expect(isServer("ftp://x.example")).toBe(false);
  });
});
