import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import type { ReactNode } from "react";
import { api } from "../api/client";
import { Groups, rulesOf, splitValues } from "./admin/Groups";
import { ByGroup } from "./Analytics";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const ok = (data: unknown, status = 200) => Promise.resolve({ data, response: new Response(null, { status }) });

function renderIt(node: ReactNode) {
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <MemoryRouter>{node}</MemoryRouter>
    </QueryClientProvider>,
  );
}

const sales = {
  id: "g1",
  name: "Sales",
  rules: [{ attribute: "department" as const, values: ["Sales", "Inside sales"] }],
  attributes: ["department", "location"],
};

function mockGET(answers: Record<string, unknown>) {
  return vi.spyOn(api, "GET").mockImplementation(((path: string) => ok(answers[path] ?? { items: [] })) as never);
}

describe("rules", () => {
  it("reads comma-separated values, one rule per attribute with values", () => {
    expect(splitValues(" Sales, ,Inside sales ")).toEqual(["Sales", "Inside sales"]);
    expect(rulesOf({ department: "Sales, Marketing", location: " " })).toEqual([{ attribute: "department", values: ["Sales", "Marketing"] }]);
  });
});

describe("Groups", () => {
  it("lists the groups with their rules and members, and adds one with its rules", async () => {
    mockGET({
      "/api/v1/groups": { items: [sales] },
      "/api/v1/groups/{id}/members": { items: [{ id: "m1", name: "Alice", email: "alice@acme.example", attributes: {}, by_hand: false, by_rules: true }], next_cursor: null },
      "/api/v1/instance": { id: "i1", name: "Acme", domains: [], verified: true, settings: { attribute_claims: { department: "dept" } } },
    });
    const post = vi.spyOn(api, "POST").mockImplementation((() => ok({ ...sales, id: "g2", name: "Paris office" }, 201)) as never);
    renderIt(<Groups />);
    // Generous waits: the whole suite shares a busy machine.
    const slow = { timeout: 10_000 };
    await screen.findByText("Sales", undefined, slow);
    expect(screen.getByText(/department: Sales, Inside sales/)).toBeTruthy();
    await screen.findByText(/Alice \(alice@acme.example\) — by rules/, undefined, slow);
    expect((await screen.findByLabelText<HTMLInputElement>("Claim giving the department", undefined, slow)).value).toBe("dept");
    fireEvent.change(screen.getByLabelText("Group name", { selector: "#new-group-name" }), { target: { value: " Paris office " } });
    fireEvent.change(screen.getByLabelText("Locations (comma-separated)", { selector: "#new-group-location" }), { target: { value: "Paris, Lyon" } });
    fireEvent.click(screen.getByRole("button", { name: "Add group" }));
    await waitFor(() => expect(post).toHaveBeenCalled(), slow);
    expect(post).toHaveBeenCalledWith("/api/v1/groups", { body: { name: "Paris office", rules: [{ attribute: "location", values: ["Paris", "Lyon"] }] } });
  });

  it("shows a member's attributes and groups, and saves the admin's change", async () => {
    mockGET({
      "/api/v1/members": { items: [{ id: "m1", name: "Alice", role: "employee", title: "", topics: [] }], next_cursor: null },
      "/api/v1/members/{id}/audience": { id: "m1", attributes: { department: "Sales" }, groups: [{ id: "g1", name: "Sales", by_hand: false, by_rules: true }] },
    });
    const put = vi.spyOn(api, "PUT").mockImplementation((() => ok({ id: "m1", attributes: { department: "Sales", location: "Paris" }, groups: [] })) as never);
    renderIt(<Groups />);
    await screen.findByRole("option", { name: "Alice" });
    fireEvent.change(screen.getByLabelText("Member", { selector: "#attrs-member" }), { target: { value: "m1" } });
    await screen.findByText("In: Sales");
    expect(screen.getByLabelText<HTMLInputElement>("Department").value).toBe("Sales");
    fireEvent.change(screen.getByLabelText("Location"), { target: { value: "Paris" } });
    fireEvent.click(screen.getByRole("button", { name: "Save attributes" }));
    await waitFor(() => expect(put).toHaveBeenCalled());
    expect(put).toHaveBeenCalledWith("/api/v1/members/{id}/attributes", { params: { path: { id: "m1" } }, body: { attributes: { department: "Sales", location: "Paris" } } });
  });

  it("imports a CSV and shows each bad row the server names", async () => {
    mockGET({ "/api/v1/groups": { items: [] } });
    const post = vi.spyOn(api, "POST").mockImplementation((() =>
      Promise.resolve({
        error: {
          code: "import_rows_invalid",
          status: 422,
          detail: "some rows cannot be imported; nothing was written",
          errors: [
            { field: "csv[row 3].email", message: "no member of this company has this address" },
            { field: "csv[row 4].group", message: 'no group is named "Nope": create it first' },
          ],
        },
        response: new Response(null, { status: 422 }),
      })) as never);
    renderIt(<Groups />);
    fireEvent.change(await screen.findByLabelText("CSV"), { target: { value: "email,group\nx@acme.example,Nope\n" } });
    fireEvent.click(screen.getByRole("button", { name: "Import" }));
    await screen.findByText(/no member of this company has this address/);
    expect(screen.getByText(/create it first/)).toBeTruthy();
    expect(post).toHaveBeenCalledWith("/api/v1/groups/import", { body: { csv: "email,group\nx@acme.example,Nope\n" } });
  });
});

const figures = (clicks: number) => ({
  shares: 2,
  clicks,
  unique_clicks: clicks,
  potential_reach: 100,
  engagement: 0,
  earned_media_value: { amount: 0, currency: "" },
});

describe("ByGroup", () => {
  it("shows each group and the merged small ones as Other groups", async () => {
    mockGET({
      "/api/v1/analytics/groups": {
        from: "2026-12-01",
        to: "2026-12-07",
        items: [{ id: "g1", name: "Sales", members: 12, ...figures(40) }],
        other: { id: "other", name: "Other groups", members: 5, ...figures(3) },
        merged: 2,
        other_hidden: false,
        min_group_size: 5,
      },
    });
    renderIt(<ByGroup from="2026-12-01" to="2026-12-07" />);
    await screen.findByRole("rowheader", { name: "Sales" });
    expect(screen.getByRole("rowheader", { name: "Other groups" })).toBeTruthy();
    expect(screen.getByText("2 groups have fewer than 5 members: they are shown together as Other groups.")).toBeTruthy();
  });

  it("says when the small groups are too small even together", async () => {
    mockGET({
      "/api/v1/analytics/groups": { from: "2026-12-01", to: "2026-12-07", items: [], other: null, merged: 1, other_hidden: true, min_group_size: 5 },
    });
    renderIt(<ByGroup from="2026-12-01" to="2026-12-07" />);
    await screen.findByText("1 group has fewer than 5 members: it is too small to show.");
    expect(screen.queryByRole("table")).toBeNull();
  });
});
