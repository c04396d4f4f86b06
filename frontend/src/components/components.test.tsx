import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { NETWORKS } from "../lib/counting";
import { ShareTextField } from "./ShareTextField";
import { ConfirmButton } from "./ConfirmButton";
import { ErrorMessage } from "./ErrorMessage";
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
    expect(screen.getByText(/24 \/ 280 weighted characters/)).toBeTruthy();
    fireEvent.change(box, { target: { value: "日本 https://example.com/x" } });
    expect(screen.getByText(/52 \/ 280/)).toBeTruthy(); // 4 + 1 + 23 + 24
    fireEvent.change(box, { target: { value: "a".repeat(260) } });
    expect(screen.getByText(/284 \/ 280.*4 too many/)).toBeTruthy();
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
});

describe("ErrorMessage", () => {
  it("shows the problem detail and field errors as text, never HTML", () => {
    const e = new ApiError(422, {
      detail: "<img src=x onerror=alert(1)> is not allowed",
      errors: [{ field: "share_texts.x", message: "is too long" }],
    });
    const { container } = render(<ErrorMessage error={e} />);
    expect(screen.getByRole("alert").textContent).toContain("<img src=x onerror=alert(1)> is not allowed");
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByText("share_texts.x")).toBeTruthy();
  });
});
