import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { api } from "../api/client";
import { rememberReturn } from "../lib/returnTo";
import { SignIn, SignInConfirm } from "./SignIn";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  localStorage.clear();
});

function mockGET(loginPage: { status: number; data?: unknown }) {
  vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (path === "/api/v1/me") return Promise.resolve({ error: { code: "unauthenticated" }, response: new Response(null, { status: 401 }) });
    if (path === "/api/v1/auth/login-page")
      return Promise.resolve({ data: loginPage.data, response: new Response(null, { status: loginPage.status }) });
    throw new Error("unexpected " + path);
  }) as never);
}

function renderIt() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={qc}>
      <MemoryRouter>
        <SignIn />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("SignIn", () => {
  it("shows the company and its single sign-on on its login page", async () => {
    mockGET({ status: 200, data: { instance: { id: "i1", name: "Acme <Corp>" }, sso: true } });
    renderIt();
    await screen.findByRole("heading", { name: "Sign in to Acme <Corp>" });
    const sso = screen.getByRole("link", { name: /single sign-on/ });
    expect(sso.getAttribute("href")).toBe("/api/v1/auth/oidc/start?instance=i1");
  });
  it("is the generic page elsewhere, without single sign-on", async () => {
    mockGET({ status: 404 });
    renderIt();
    await screen.findByRole("heading", { name: "Sign in to Chorus" });
    expect(screen.queryByRole("link", { name: /single sign-on/ })).toBeNull();
    expect(screen.getByLabelText("Work email")).toBeTruthy();
  });
});

describe("SignIn with a page kept through sign-in", () => {
  const shared = "/suggest?url=https%3A%2F%2Fnews.example%2Fa&title=A";
  function Where() {
    const l = useLocation();
    return <p>at {l.pathname + l.search}</p>;
  }
  function renderAt(signedIn: boolean) {
    vi.spyOn(api, "GET").mockImplementation(((path: string) => {
      if (path === "/api/v1/me" && !signedIn)
        return Promise.resolve({ error: { code: "unauthenticated" }, response: new Response(null, { status: 401 }) });
      if (path === "/api/v1/me")
        return Promise.resolve({ data: { member: { id: "m1", email: "a@acme.example", role: "employee", topics: [] }, instance: {} }, response: new Response(null, { status: 200 }) });
      return Promise.resolve({ response: new Response(null, { status: 404 }) });
    }) as never);
    render(
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <MemoryRouter initialEntries={["/signin"]}>
          <Routes>
            <Route path="/signin" element={<SignIn />} />
            <Route path="*" element={<Where />} />
          </Routes>
        </MemoryRouter>
      </QueryClientProvider>,
    );
  }

  it("says that the shared page opens after sign-in", async () => {
    rememberReturn(shared);
    renderAt(false);
    const note = await screen.findByRole("note");
    expect(note.textContent).toBe("After you sign in, the page you shared opens in the suggestion form.");
  });

  it("goes on to the kept page once signed in (back from single sign-on)", async () => {
    rememberReturn(shared);
    renderAt(true);
    expect((await screen.findByText(/^at /)).textContent).toBe("at " + shared);
  });

  it("goes to the feed without one", async () => {
    renderAt(true);
    expect((await screen.findByText(/^at /)).textContent).toBe("at /feed");
  });
});

describe("SignInConfirm", () => {
  function renderConfirm(hash: string, me?: { email: string }) {
    window.history.replaceState(null, "", "/signin/confirm" + hash);
    vi.spyOn(api, "GET").mockImplementation(((path: string) => {
      if (path !== "/api/v1/me") throw new Error("unexpected " + path);
      if (!me) return Promise.resolve({ error: { code: "unauthenticated" }, response: new Response(null, { status: 401 }) });
      return Promise.resolve({ data: { member: { id: "m1", email: me.email, name: "Bob", role: "employee", topics: [] }, instance: {} }, response: new Response(null, { status: 200 }) });
    }) as never);
    const post = vi.spyOn(api, "POST").mockImplementation((() => Promise.resolve({ response: new Response(null, { status: 204 }) })) as never);
    const go = vi.fn();
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <QueryClientProvider client={qc}>
        <MemoryRouter>
          <SignInConfirm go={go} />
        </MemoryRouter>
      </QueryClientProvider>,
    );
    return { post, go };
  }

  it("names the address, signs in only on the click, then opens the app", async () => {
    const { post, go } = renderConfirm("#token=tok-1&email=alice%40acme.example");
    await screen.findByRole("heading", { name: "Sign in as alice@acme.example" });
    expect(window.location.hash).toBe(""); // the token leaves the address bar
    const button = await screen.findByRole("button", { name: "Sign in" });
    await waitFor(() => expect((button as HTMLButtonElement).disabled).toBe(false));
    expect(post).not.toHaveBeenCalled(); // opening the link alone signs nobody in
    expect(screen.queryByText(/ends that session/)).toBeNull();
    fireEvent.click(button);
    await waitFor(() => expect(go).toHaveBeenCalledWith("/feed"));
    expect(post).toHaveBeenCalledWith("/api/v1/auth/email/callback", { body: { token: "tok-1" } });
  });

  async function clickSignIn() {
    const button = await screen.findByRole("button", { name: "Sign in" });
    await waitFor(() => expect((button as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(button);
  }

  it("opens the page kept through sign-in, and only a safe one", async () => {
    rememberReturn("/suggest?url=https%3A%2F%2Fnews.example%2Fa");
    const first = renderConfirm("#token=tok-3&email=alice%40acme.example");
    await clickSignIn();
    await waitFor(() => expect(first.go).toHaveBeenCalledWith("/suggest?url=https%3A%2F%2Fnews.example%2Fa"));
    cleanup();
    vi.restoreAllMocks();
    localStorage.setItem("chorus.return-to", JSON.stringify({ path: "//evil.example/", at: Date.now() }));
    const second = renderConfirm("#token=tok-4&email=alice%40acme.example");
    await clickSignIn();
    await waitFor(() => expect(second.go).toHaveBeenCalledWith("/feed"));
  });

  it("says that the session open here ends", async () => {
    renderConfirm("#token=tok-2&email=alice%40acme.example", { email: "bob@acme.example" });
    const note = await screen.findByRole("note");
    expect(note.textContent).toBe("You are signed in as bob@acme.example here. Signing in as alice@acme.example ends that session.");
  });

  it("says when the link does not work", async () => {
    const { post } = renderConfirm("#error=invalid_token");
    await screen.findByRole("heading", { name: "This sign-in link does not work" });
    expect(screen.queryByRole("button", { name: "Sign in" })).toBeNull();
    expect(post).not.toHaveBeenCalled();
  });
});
