import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import { api, type Schemas } from "../api/client";
import { Settings } from "./admin/Settings";
import { BulkInvite } from "./admin/People";
import { DataRequests, SupportGrants } from "./admin/Privacy";
import { DataRegion } from "./admin/Setup";
import type { ReactNode } from "react";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

/** An instance as GET /api/v1/instance answers it: settings with their defaults filled in. */
function instance(settings: Schemas["Instance"]["settings"]): Schemas["Instance"] {
  const defaults = { retention_days: 395, time_zone: "UTC", min_group_size: 1, points: { per_share: 10, per_unique_click: 1 } };
  return { id: "i1", name: "Acme", domains: ["acme.example"], verified: true, settings: { ...defaults, ...settings } };
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

function renderIt(node: ReactNode) {
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } })}>
      <MemoryRouter>{node}</MemoryRouter>
    </QueryClientProvider>,
  );
}

function bodyOf(spy: { mock: { calls: unknown[][] } }, call = 0) {
  return (spy.mock.calls[call] as [string, { body: Record<string, unknown> }])[1].body;
}

describe("DataRegion", () => {
  function renderRegion(inst: Schemas["Instance"]) {
    vi.spyOn(api, "GET").mockResolvedValue({ data: inst, response: new Response(null, { status: 200 }) } as never);
    const patch = vi.spyOn(api, "PATCH").mockImplementation(((_p: string, init: { body: Record<string, unknown> }) =>
      Promise.resolve({ data: { ...inst, ...init.body }, response: new Response(null, { status: 200 }) })) as never);
    render(
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <DataRegion />
      </QueryClientProvider>,
    );
    return patch;
  }

  it("lets a pending instance's admin pick the region, and says where the data is", async () => {
    const patch = renderRegion({ ...instance({}), verified: false, region: "us", regions: ["eu", "us"] });
    await screen.findByText("Your company's data is stored in the region us.");
    const save = screen.getByRole("button", { name: "Store the data there" }) as HTMLButtonElement;
    expect(save.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText("Region"), { target: { value: "eu" } });
    fireEvent.click(save);
    await screen.findByText("Your company's data is stored in the region eu.");
    expect(patch.mock.calls[0]?.[0]).toBe("/api/v1/instance/settings");
    expect((patch.mock.calls[0] as unknown as [string, { body: Record<string, unknown> }])[1].body).toEqual({ region: "eu" });
  });

  it("offers no choice once the domain is verified", async () => {
    renderRegion({ ...instance({}), verified: true, region: "eu", regions: ["eu", "us"] });
    await screen.findByText("Your company's data is stored in the region eu.");
    expect(screen.queryByLabelText("Region")).toBeNull();
    screen.getByText("To move it to another region, ask the operator of this deployment.");
  });
});

describe("SupportGrants form", () => {
  it("explains what is wrong, then grants and clears the reason", async () => {
    vi.spyOn(api, "GET").mockResolvedValue({ data: { items: [] }, response: new Response(null, { status: 200 }) } as never);
    const post = vi.spyOn(api, "POST").mockResolvedValue({
      data: { id: "g1", reason: "Ticket 42", expires_at: "2026-11-23T20:00:00Z" },
      response: new Response(null, { status: 201 }),
    } as never);
    renderIt(<SupportGrants />);
    fireEvent.change(screen.getByLabelText("Hours (1 to 72)"), { target: { value: "73" } });
    fireEvent.change(screen.getByLabelText("Reason"), { target: { value: "   " } });
    fireEvent.click(screen.getByRole("button", { name: "Grant access" }));
    expect(await screen.findByText("Give whole hours from 1 to 72.")).toBeTruthy();
    expect(screen.getByText("Say why support needs access: the reason is audited.")).toBeTruthy();
    expect(screen.getByLabelText("Reason").getAttribute("aria-invalid")).toBe("true");
    expect(post).not.toHaveBeenCalled();
    fireEvent.change(screen.getByLabelText("Hours (1 to 72)"), { target: { value: "8" } });
    fireEvent.change(screen.getByLabelText("Reason"), { target: { value: " Ticket 42 " } });
    fireEvent.click(screen.getByRole("button", { name: "Grant access" }));
    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    expect(post.mock.calls[0]?.[0]).toBe("/api/v1/instance/support-grants");
    expect(bodyOf(post)).toEqual({ hours: 8, reason: "Ticket 42" });
    await waitFor(() => expect((screen.getByLabelText("Reason") as HTMLInputElement).value).toBe(""));
    expect((screen.getByLabelText("Hours (1 to 72)") as HTMLInputElement).value).toBe("8");
    expect(screen.queryByText("Give whole hours from 1 to 72.")).toBeNull();
  });
});

describe("DataRequests lookup", () => {
  it("wants an email address, then looks the person up", async () => {
    const get = vi.spyOn(api, "GET").mockResolvedValue({
      data: {
        manifest: ["members", "shares", "rollups"],
        data: { profile: { id: "m1" }, shares: [{}, {}], analytics_rollups: [{}], digests: [] },
        counts: { profile: 1, shares: 2, analytics_rollups: 1, digests: 0 },
      },
      response: new Response(null, { status: 200 }),
    } as never);
    renderIt(<DataRequests />);
    const email = screen.getByLabelText("Email address");
    fireEvent.click(screen.getByRole("button", { name: "Look up" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Enter the person's email address.");
    fireEvent.change(email, { target: { value: "carol" } });
    fireEvent.click(screen.getByRole("button", { name: "Look up" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("That is not an email address."));
    expect(get).not.toHaveBeenCalled();
    fireEvent.change(email, { target: { value: " carol@acme.example " } });
    fireEvent.click(screen.getByRole("button", { name: "Look up" }));
    await screen.findByRole("heading", { name: "What Chorus stores about carol@acme.example" });
    expect(get).toHaveBeenCalledWith("/api/v1/privacy/subjects", { params: { query: { email: "carol@acme.example" } } });
    // The server's counts per part of the export, not the manifest's collection names.
    expect(screen.getByRole("row", { name: "shares 2" })).toBeTruthy();
    expect(screen.getByRole("row", { name: "analytics rollups 1" })).toBeTruthy();
    expect(screen.getByRole("row", { name: "profile 1" })).toBeTruthy();
    expect(screen.getByRole("row", { name: "digests 0" })).toBeTruthy();
    expect(screen.getByText("4 records in 3 parts; 3 collections searched.")).toBeTruthy();
  });
});

describe("BulkInvite form", () => {
  it("counts, refuses what is no address, sends the message and keeps the refused addresses", async () => {
    const post = vi.spyOn(api, "POST").mockImplementation(((_p: string, init: { body: { emails: string[] } }) =>
      init.body.emails.includes("frank@gmail.com")
        ? Promise.resolve({
            error: { status: 400, detail: "invalid", errors: [{ field: `emails[${init.body.emails.indexOf("frank@gmail.com")}]`, message: "not a company address" }] },
            response: new Response(null, { status: 400 }),
          })
        : Promise.resolve({ data: { items: [] }, response: new Response(null, { status: 201 }) })) as never);
    const onDone = vi.fn();
    renderIt(<BulkInvite onDone={onDone} />);
    const emails = screen.getByLabelText(/^Email addresses/);
    expect((screen.getByRole("button", { name: "Invite" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(emails, { target: { value: "dan@acme.example, erin\nfrank@gmail.com" } });
    expect(screen.getByText("3 addresses")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Invite" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Not email addresses: erin.");
    expect(post).not.toHaveBeenCalled();
    fireEvent.change(emails, { target: { value: "dan@acme.example\nfrank@gmail.com" } });
    fireEvent.change(screen.getByLabelText(/^Message/), { target: { value: "Join us" } });
    fireEvent.click(screen.getByRole("button", { name: "Invite" }));
    await screen.findByText("Invited 1 of 2.");
    expect(bodyOf(post, 0)).toEqual({ emails: ["dan@acme.example", "frank@gmail.com"], message: "Join us" });
    expect(bodyOf(post, 1)).toEqual({ emails: ["dan@acme.example"], message: "Join us" });
    expect((emails as HTMLTextAreaElement).value).toBe("frank@gmail.com");
    expect(screen.getByText("1 address")).toBeTruthy();
    expect(screen.getByText(/frank@gmail\.com: not a company address/)).toBeTruthy();
    expect(onDone).toHaveBeenCalled();
  });
});
