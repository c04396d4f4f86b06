import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { NETWORKS } from "../lib/counting";
import { ShareTextField } from "./ShareTextField";
import { ConfirmButton } from "./ConfirmButton";
import { ErrorMessage } from "./ErrorMessage";
import { PostCard } from "./PostCard";
import { ApiError } from "../api/client";
import { useState } from "react";

afterEach(cleanup);

function XField() {
  const [v, setV] = useState("");
  return <ShareTextField limit={NETWORKS[0]!} value={v} onChange={setV} />;
}

describe("ShareTextField", () => {
  it("labels the box and counts live, the link included", () => {
    render(<XField />);
    const box = screen.getByLabelText("X");
    expect(box.getAttribute("aria-describedby")).toBeTruthy();
    expect(screen.getByText(/23 \/ 280 weighted characters/)).toBeTruthy(); // the link alone
    fireEvent.change(box, { target: { value: "日本 https://example.com/x" } });
    expect(screen.getByText(/53 \/ 280/)).toBeTruthy(); // 4 + 1 + 23 + a blank line and the link, 25
    fireEvent.change(box, { target: { value: "a".repeat(260) } });
    expect(screen.getByText(/285 \/ 280.*5 too many/)).toBeTruthy();
    expect(box.getAttribute("aria-invalid")).toBe("true");
  });
});

describe("ConfirmButton", () => {
  it("asks before acting and can be cancelled", () => {
    const act = vi.fn();
    render(
      <ConfirmButton question="Delete it?" confirmLabel="Delete for good" onConfirm={act}>
        Delete
      </ConfirmButton>,
    );
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    expect(screen.getByText("Delete it?")).toBeTruthy();
    expect(document.activeElement?.textContent).toBe("Cancel");
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(act).not.toHaveBeenCalled();
    expect(screen.queryByText("Delete it?")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    fireEvent.click(screen.getByRole("button", { name: "Delete for good" }));
    expect(act).toHaveBeenCalledTimes(1);
  });
  it("hands focus to the page's heading when the action removed the button", async () => {
    function Item() {
      const [gone, setGone] = useState(false);
      return (
        <>
          <h1 tabIndex={-1}>Review</h1>
          {!gone && (
            <ConfirmButton question="Reject it?" confirmLabel="Reject" onConfirm={() => setGone(true)}>
              Reject suggestion
            </ConfirmButton>
          )}
        </>
      );
    }
    render(<Item />);
    fireEvent.click(screen.getByRole("button", { name: "Reject suggestion" }));
    fireEvent.click(screen.getByRole("button", { name: "Reject" }));
    await waitFor(() => expect(document.activeElement?.tagName).toBe("H1"));
  });
});

describe("ErrorMessage", () => {
  it("shows the problem detail as text, never HTML", () => {
    const e = new ApiError(409, { detail: "<img src=x onerror=alert(1)> is not allowed" });
    const { container } = render(<ErrorMessage error={e} />);
    expect(screen.getByRole("alert").textContent).toBe("<img src=x onerror=alert(1)> is not allowed");
    expect(container.querySelector("img")).toBeNull();
  });
  it("shows each field's message once, with the field named for people", () => {
    const one = new ApiError(400, {
      detail: "share_texts.x: <b>is</b> too long",
      errors: [{ field: "share_texts.x", message: "<b>is</b> too long" }],
    });
    const { container, unmount } = render(<ErrorMessage error={one} />);
    expect(screen.getByRole("alert").textContent).toBe("share texts x: <b>is</b> too long");
    expect(container.querySelector("b")).toBeNull();
    unmount();
    const two = new ApiError(400, {
      detail: "connections[0]: not yours; topics: unknown",
      errors: [
        { field: "connections[0]", message: "not yours" },
        { field: "topics", message: "unknown" },
      ],
    });
    render(<ErrorMessage error={two} />);
    expect(screen.getAllByRole("listitem").map((li) => li.textContent)).toEqual(["connections 1: not yours", "topics: unknown"]);
    expect(screen.getByRole("alert").textContent).not.toContain("connections[0]");
  });
});

describe("PostCard", () => {
  const post = {
    id: "p1",
    state: "published" as const,
    url: "https://example.com/a",
    title: "Launch",
    commentary: "If you share one thing this week, make it this one.",
    share_texts: {},
    topics: [],
    publish_at: "2026-11-23T10:00:00Z",
    preview: { description: "The page's own summary" },
    shared_to: [],
  };
  it("shows the commentary as a note to colleagues that is never posted", () => {
    render(<PostCard post={post} />);
    const note = screen.getByText("Note to colleagues (never posted)").closest("aside");
    expect(note?.textContent).toContain(post.commentary);
    expect(screen.queryByText("The page's own summary")).toBeNull();
  });
  it("shows the page's description, unlabelled, when there is no note", () => {
    render(<PostCard post={{ ...post, commentary: "" }} />);
    expect(screen.getByText("The page's own summary")).toBeTruthy();
    expect(screen.queryByText("Note to colleagues (never posted)")).toBeNull();
  });
});
