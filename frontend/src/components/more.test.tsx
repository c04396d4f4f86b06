import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { MoreOnScroll } from "./MoreOnScroll";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("MoreOnScroll", () => {
  it("loads the next page when it scrolls into view, and on a click", () => {
    let fire: (visible: boolean) => void = () => undefined;
    vi.stubGlobal(
      "IntersectionObserver",
      class {
        constructor(cb: (e: { isIntersecting: boolean }[]) => void) {
          fire = (v) => cb([{ isIntersecting: v }]);
        }
        observe() {}
        disconnect() {}
      },
    );
    const more = vi.fn();
    const { rerender } = render(<MoreOnScroll more={more} loading={false} />);
    fire(false);
    expect(more).not.toHaveBeenCalled();
    fire(true);
    expect(more).toHaveBeenCalledTimes(1);
    rerender(<MoreOnScroll more={more} loading={true} />);
    fire(true);
    expect(more).toHaveBeenCalledTimes(1); // not while a page is loading
    expect((screen.getByRole("button") as HTMLButtonElement).disabled).toBe(true);
    rerender(<MoreOnScroll more={more} loading={false} />);
    fireEvent.click(screen.getByRole("button", { name: "Load more" }));
    expect(more).toHaveBeenCalledTimes(2);
  });
});
