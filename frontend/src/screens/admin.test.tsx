import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import { api, type Schemas } from "../api/client";
import { Settings } from "./Admin";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

function instance(settings: Schemas["Instance"]["settings"]): Schemas["Instance"] {
  return { id: "i1", name: "Acme", domains: ["acme.example"], verified: true, settings };
}

function renderSettings(inst: Schemas["Instance"]) {
  vi.spyOn(api, "GET").mockResolvedValue({ data: inst, response: new Response(null, { status: 200 }) } as never);
  const patch = vi.spyOn(api, "PATCH").mockImplementation(((_p: string, init: { body: Record<string, unknown> }) =>
    Promise.resolve({
      data: { ...inst, settings: { ...inst.settings, ...init.body } },
      response: new Response(null, { status: 200 }),
    })) as never);
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <MemoryRouter>
        <Settings />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return patch;
}

function sentBody(patch: ReturnType<typeof renderSettings>, call = 0) {
  return (patch.mock.calls[call] as unknown as [string, { body: Record<string, unknown> }])[1].body;
}

describe("Settings: digest mail", () => {
  it("shows the digest on when the instance never set it, and turns it off", async () => {
    const patch = renderSettings(instance({}));
    const digest = (await screen.findByRole("switch", { name: "Weekly digest mail" })) as HTMLInputElement;
    await waitFor(() => expect(digest.checked).toBe(true));
    fireEvent.click(digest);
    expect(digest.checked).toBe(false);
    fireEvent.click(screen.getByRole("button", { name: "Save settings" }));
    await screen.findByText("Saved.");
    expect(patch.mock.calls[0]?.[0]).toBe("/api/v1/instance/settings");
    expect(sentBody(patch).digest).toBe("off");
  });

  it("shows a stored off as off, and turns it back to weekly", async () => {
    const patch = renderSettings(instance({ digest: "off" }));
    const digest = (await screen.findByRole("switch", { name: "Weekly digest mail" })) as HTMLInputElement;
    await waitFor(() => expect((screen.getByLabelText("Company name") as HTMLInputElement).value).toBe("Acme"));
    expect(digest.checked).toBe(false);
    fireEvent.click(digest);
    fireEvent.click(screen.getByRole("button", { name: "Save settings" }));
    await screen.findByText("Saved.");
    expect(sentBody(patch).digest).toBe("weekly");
  });
});
