import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import { api } from "../api/client";
import { SignIn } from "./SignIn";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
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
