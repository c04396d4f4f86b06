import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import { api } from "../api/client";
import { PasswordConnect, withScheme } from "./ConnectedAccounts";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

function renderForm() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter>
        <PasswordConnect network={{ name: "bluesky", allowed: true }} />
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
