import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { api } from "../api/client";
import { PushNotifications, base64UrlToBytes } from "./PushNotifications";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const KEY = "BPcMbnWQL5GOYX_5mKh8bx-WoZLOhMiC_9o3D2UcyDj2HfLqWmyjJGnnq9VSn07QfCbO7RXvTmnHHYAgNcvVjBs";

/** A browser with a service worker and push: subscribe hands out sub. */
function fakeBrowser() {
  const sub = {
    toJSON: () => ({ endpoint: "https://push.example/abc", expirationTime: null, keys: { p256dh: "P", auth: "A" } }),
    unsubscribe: vi.fn(async () => true),
  };
  const pushManager = { getSubscription: vi.fn(async () => null), subscribe: vi.fn(async () => sub) };
  const reg = { pushManager };
  Object.defineProperty(navigator, "serviceWorker", {
    value: { ready: Promise.resolve(reg), getRegistration: async () => reg },
    configurable: true,
  });
  vi.stubGlobal("PushManager", function PushManager() {});
  vi.stubGlobal("Notification", { requestPermission: vi.fn(async () => "granted") });
  return { pushManager, sub };
}

function renderIt() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <PushNotifications />
    </QueryClientProvider>,
  );
}

const settings = (over: object = {}) => ({
  data: { public_key: KEY, consented: false, time_zone: "", quiet_hours: null, daily_cap: 3, devices: [], ...over },
  response: new Response(null, { status: 200 }),
});

// Rendering with React Query takes seconds on a loaded machine.
const SLOW = 20_000;

describe("PushNotifications", () => {
  it("turning it on grants the push consent, subscribes with the server's key and registers this browser", async () => {
    const { pushManager } = fakeBrowser();
    const get = vi.spyOn(api, "GET").mockResolvedValue(settings() as never);
    const put = vi.spyOn(api, "PUT").mockResolvedValue({ data: {}, response: new Response(null, { status: 200 }) } as never);
    const post = vi.spyOn(api, "POST").mockResolvedValue({ data: { id: "d1" }, response: new Response(null, { status: 201 }) } as never);
    renderIt();
    const sw = await screen.findByRole("switch", { name: /new content to share/ });
    await waitFor(() => expect((sw as HTMLInputElement).disabled).toBe(false));
    get.mockResolvedValue(settings({ consented: true, devices: [{ id: "d1", service: "push.example", created_at: "2026-12-07T06:00:00Z" }] }) as never);
    fireEvent.click(sw);
    await waitFor(() => expect(post).toHaveBeenCalled());
    expect(put).toHaveBeenCalledWith("/api/v1/me/consents/{purpose}", { params: { path: { purpose: "push" } }, body: { granted: true } });
    const opts = (pushManager.subscribe.mock.calls[0] as unknown[])[0] as PushSubscriptionOptionsInit;
    expect(opts.userVisibleOnly).toBe(true);
    expect(opts.applicationServerKey).toEqual(base64UrlToBytes(KEY));
    expect(post).toHaveBeenCalledWith("/api/v1/me/push/subscriptions", {
      body: { endpoint: "https://push.example/abc", expirationTime: null, keys: { p256dh: "P", auth: "A" } },
    });
    await waitFor(() => expect((sw as HTMLInputElement).checked).toBe(true));
  }, SLOW);

  it("turning it off withdraws the consent and unsubscribes this browser", async () => {
    const { pushManager, sub } = fakeBrowser();
    pushManager.getSubscription.mockResolvedValue(sub as never);
    vi.spyOn(api, "GET").mockResolvedValue(settings({ consented: true, devices: [{ id: "d1", service: "x", created_at: "" }] }) as never);
    const put = vi.spyOn(api, "PUT").mockResolvedValue({ data: {}, response: new Response(null, { status: 200 }) } as never);
    renderIt();
    const sw = await screen.findByRole("switch", { name: /new content to share/ });
    await waitFor(() => expect((sw as HTMLInputElement).checked).toBe(true));
    fireEvent.click(sw);
    await waitFor(() => expect(sub.unsubscribe).toHaveBeenCalled());
    expect(put).toHaveBeenCalledWith("/api/v1/me/consents/{purpose}", { params: { path: { purpose: "push" } }, body: { granted: false } });
  }, SLOW);

  it("saves quiet hours in the member's time zone, and null turns them off", async () => {
    fakeBrowser();
    vi.spyOn(api, "GET").mockResolvedValue(settings({ time_zone: "Europe/Paris" }) as never);
    const put = vi.spyOn(api, "PUT").mockResolvedValue(settings({ time_zone: "Europe/Paris" }) as never);
    renderIt();
    await waitFor(() => expect((screen.getByLabelText("Time zone") as HTMLInputElement).value).toBe("Europe/Paris"));
    fireEvent.click(screen.getByRole("button", { name: "Save quiet hours" }));
    await waitFor(() => expect(put).toHaveBeenCalledWith("/api/v1/me/push", { body: { time_zone: "Europe/Paris", quiet_hours: null } }));
    fireEvent.click(screen.getByRole("checkbox", { name: /Quiet hours/ }));
    fireEvent.change(screen.getByLabelText("From"), { target: { value: "21:30" } });
    fireEvent.click(screen.getByRole("button", { name: "Save quiet hours" }));
    await waitFor(() =>
      expect(put).toHaveBeenLastCalledWith("/api/v1/me/push", { body: { time_zone: "Europe/Paris", quiet_hours: { start: "21:30", end: "07:00" } } }),
    );
  }, SLOW);
});
