import { afterEach, describe, expect, it, vi } from "vitest";
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import { api } from "../api/client";
import { Suggest } from "./Suggest";
import { InstallHint } from "../components/InstallHint";
import { listenForInstallPrompt } from "../lib/pwa";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  localStorage.clear();
});

function setup(path: string) {
  vi.spyOn(api, "GET").mockImplementation((() =>
    Promise.resolve({ data: { items: [], settings: {} }, response: new Response(null, { status: 200 }) })) as never);
  const post = vi.spyOn(api, "POST").mockImplementation(((_p: string, init: { body: Record<string, unknown> }) =>
    Promise.resolve({
      data: { id: "s1", state: "pending", ...init.body },
      response: new Response(null, { status: 201 }),
    })) as never);
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[path]}>
        <Suggest />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return post;
}

describe("Suggest, the landing of shared pages", () => {
  it("prefills the form from the share target's parameters and suggests it", async () => {
    const post = setup("/suggest?title=Launch%20day&text=Read%20this&url=https%3A%2F%2Fexample.com%2Flaunch");
    expect((screen.getByLabelText("Link") as HTMLInputElement).value).toBe("https://example.com/launch");
    expect((screen.getByLabelText("Why it is worth sharing (optional)") as HTMLTextAreaElement).value).toBe("Launch day\n\nRead this");
    fireEvent.click(screen.getByRole("button", { name: "Suggest" }));
    await screen.findByText(/waiting for review/);
    expect(post).toHaveBeenCalledWith("/api/v1/suggestions", {
      body: { url: "https://example.com/launch", commentary: "Launch day\n\nRead this", topics: [] },
    });
  });

  it("refuses a shared javascript: link and does not send one typed in", async () => {
    const post = setup("/suggest?title=T&url=" + encodeURIComponent("javascript:alert(document.cookie)"));
    expect(screen.getByRole("alert").textContent).toMatch(/not a web address/);
    const link = screen.getByLabelText("Link") as HTMLInputElement;
    expect(link.value).toBe("");
    fireEvent.change(link, { target: { value: "javascript:alert(1)" } });
    fireEvent.click(screen.getByRole("button", { name: "Suggest" }));
    await screen.findByText("Enter a web address starting with https:// or http://.");
    expect(link.getAttribute("aria-invalid")).toBe("true");
    expect(post).not.toHaveBeenCalled();
  });

  it("offers a bookmarklet that opens this form", () => {
    setup("/suggest");
    const a = screen.getByText("Suggest to Chorus");
    const href = a.getAttribute("href") ?? "";
    expect(href.startsWith("javascript:")).toBe(true);
    expect(href).toContain(JSON.stringify(window.location.origin + "/suggest?url="));
    expect((screen.getByLabelText("Or make a bookmark with this address") as HTMLTextAreaElement).value).toBe(href);
  });
});

describe("InstallHint", () => {
  function offer() {
    const prompt = vi.fn(() => Promise.resolve());
    const e = Object.assign(new Event("beforeinstallprompt", { cancelable: true }), {
      prompt,
      userChoice: Promise.resolve({ outcome: "accepted" as const }),
    });
    act(() => {
      window.dispatchEvent(e);
    });
    return { prompt, e };
  }
  listenForInstallPrompt();

  it("shows nothing until the browser offers to install, then prompts once", async () => {
    render(<InstallHint />);
    expect(screen.queryByRole("button", { name: "Install" })).toBeNull();
    const { prompt, e } = offer();
    expect(e.defaultPrevented).toBe(true); // no mini-infobar: the app's own hint
    fireEvent.click(await screen.findByRole("button", { name: "Install" }));
    expect(prompt).toHaveBeenCalledTimes(1);
    await waitFor(() => expect(screen.queryByRole("button", { name: "Install" })).toBeNull());
  });

  it("stays hidden once the member said not now", async () => {
    const first = render(<InstallHint />);
    offer();
    fireEvent.click(await screen.findByRole("button", { name: "Not now" }));
    expect(screen.queryByRole("button", { name: "Install" })).toBeNull();
    first.unmount();
    render(<InstallHint />);
    offer();
    expect(screen.queryByRole("button", { name: "Install" })).toBeNull();
  });

  it("goes away when the app was installed", async () => {
    render(<InstallHint />);
    offer();
    await screen.findByRole("button", { name: "Install" });
    act(() => {
      window.dispatchEvent(new Event("appinstalled"));
    });
    expect(screen.queryByRole("button", { name: "Install" })).toBeNull();
  });
});
