import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { api, type Post } from "../api/client";
import { PassLinkOn, mailtoHref, whatsappHref } from "./PassLinkOn";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const post: Post = {
  id: "p1",
  state: "published",
  url: "https://example.com/a",
  title: "Launch & more",
  commentary: "Internal: please share",
  share_texts: {},
  topics: [],
  publish_at: "2026-11-23T10:00:00Z",
  preview: {},
  shared_to: [],
};

const tracked = "https://chorus.example/r/abc123";

function setup(clipboard: (s: string) => Promise<void>) {
  Object.defineProperty(navigator, "clipboard", { value: { writeText: vi.fn(clipboard) }, configurable: true });
  const postCall = vi.spyOn(api, "POST").mockResolvedValue({
    data: { id: "s1", content_id: "p1", connection_id: "", network: "link", state: "published", tracked_url: tracked, publish_at: "2026-11-23T10:00:00Z" },
    response: new Response(null, { status: 201 }),
  } as never);
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { mutations: { retry: false } } })}>
      <PassLinkOn post={post} />
    </QueryClientProvider>,
  );
  return postCall;
}

describe("PassLinkOn", () => {
  it("gets the member's tracked link, copies it and offers mail and WhatsApp with it", async () => {
    const postCall = setup(() => Promise.resolve());
    expect(screen.queryByRole("link", { name: "Send by email" })).toBeNull(); // nothing counted before the click
    fireEvent.click(screen.getByRole("button", { name: "Copy tracked link" }));
    await screen.findByText("Copied.");
    expect(postCall).toHaveBeenCalledWith("/api/v1/content/{id}/link", { params: { path: { id: "p1" } } });
    expect(navigator.clipboard.writeText).toHaveBeenCalledWith(tracked);
    expect((screen.getByLabelText("Your tracked link") as HTMLInputElement).value).toBe(tracked);
    const mail = screen.getByRole("link", { name: "Send by email" }).getAttribute("href")!;
    expect(mail).toBe(mailtoHref("Launch & more", "Launch & more", tracked));
    expect(decodeURIComponent(mail)).toContain(tracked);
    expect(decodeURIComponent(mail)).not.toContain("Internal"); // never the note to colleagues
    expect(screen.getByRole("link", { name: "Share on WhatsApp" }).getAttribute("href")).toBe(whatsappHref("Launch & more", tracked));
  });

  it("shows the link to copy by hand when the clipboard is refused", async () => {
    setup(() => Promise.reject(new Error("denied")));
    fireEvent.click(screen.getByRole("button", { name: "Copy tracked link" }));
    await screen.findByText("Copy it from the box.");
    expect((screen.getByLabelText("Your tracked link") as HTMLInputElement).value).toBe(tracked);
  });
});

describe("share hrefs", () => {
  it("encode text and link", () => {
    expect(mailtoHref("A & B", "Read this", "https://x.example/r/1")).toBe(
      "mailto:?subject=A%20%26%20B&body=Read%20this%0A%0Ahttps%3A%2F%2Fx.example%2Fr%2F1",
    );
    expect(whatsappHref("Read this", "https://x.example/r/1")).toBe("https://wa.me/?text=Read%20this%20https%3A%2F%2Fx.example%2Fr%2F1");
  });
});
