import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { api } from "../api/client";
import { SingleSignOn, checkedValues } from "./AdminMore";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const ok = (data: unknown, status = 200) => Promise.resolve({ data, response: new Response(null, { status }) });

function renderIt(domains: string[], configured: object) {
  vi.spyOn(api, "GET").mockImplementation((() => ok(configured)) as never);
  const put = vi.spyOn(api, "PUT").mockImplementation(((_p: string, init: { body: object }) => ok({ configured: true, ...init.body })) as never);
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={qc}>
      <SingleSignOn domains={domains} />
    </QueryClientProvider>,
  );
  return put;
}

describe("SingleSignOn", () => {
  it("keeps the stored secret unless a new one is typed, and sends the ticked domains", async () => {
    const put = renderIt(["acme.example"], {
      configured: true,
      issuer: "https://login.acme.example",
      client_id: "chorus",
      has_secret: true,
      redirect_uri: "https://chorus.example/api/v1/auth/oidc/callback",
    });
    await screen.findByText("https://chorus.example/api/v1/auth/oidc/callback");
    await waitFor(() => expect((screen.getByLabelText("Issuer URL") as HTMLInputElement).value).toBe("https://login.acme.example"));
    expect(screen.getByLabelText(/leave empty to keep/)).toBeTruthy();
    fireEvent.click(screen.getByLabelText("acme.example"));
    fireEvent.click(screen.getByRole("button", { name: "Save single sign-on" }));
    await waitFor(() => expect(put).toHaveBeenCalled());
    expect((put.mock.calls[0] as unknown as [string, { body: object }])[1].body).toEqual({
      issuer: "https://login.acme.example",
      client_id: "chorus",
      domains: ["acme.example"],
    });
  });
  it("reads checkbox groups of one or many", () => {
    expect(checkedValues(["a", "b"])).toEqual(["a", "b"]);
    expect(checkedValues("a")).toEqual(["a"]);
    expect(checkedValues(false)).toEqual([]);
  });
});
