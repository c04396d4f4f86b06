import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import type { ReactNode } from "react";
import { api, type Post } from "../api/client";
import { PostCard, domainOf } from "./PostCard";
import { Onboarding, nameSet } from "./Onboarding";
import { ConnectResult, OAuthConnect, returnPath } from "./ConnectedAccounts";
import { DataTable } from "./Wide";
import { MyShares } from "../screens/MyShares";
import { CuratorQueue } from "../screens/CuratorQueue";
import { ContentList } from "../screens/ContentAdmin";
import { Feed } from "../screens/Feed";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

function wrap(children: ReactNode) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter>{children}</MemoryRouter>
    </QueryClientProvider>,
  );
}

const post: Post = {
  id: "p1",
  state: "published",
  url: "https://www.example.com/blog/launch",
  title: "Our launch",
  commentary: "",
  share_texts: {},
  topics: ["product"],
  publish_at: "2026-11-23T10:00:00Z",
  preview: { title: "", description: "", image_url: "", canonical_url: "", site_name: "", status: "ok" },
  shared_to: [],
};

describe("PostCard", () => {
  it("says the source's domain and, without an image, shows a placeholder named after the topic", () => {
    wrap(<PostCard post={post} topics={[{ id: "product", name: "Product news" }] as never} />);
    expect(screen.getByText("example.com")).toBeTruthy();
    expect(document.querySelector("img")).toBeNull();
    const ph = document.querySelector(".placeholder") as HTMLElement;
    expect(ph.dataset.name).toBe("Product news");
    expect(ph.style.getPropertyValue("--hue")).not.toBe("");
  });
  it("hides an image that fails to load and shows the placeholder instead", () => {
    wrap(<PostCard post={{ ...post, preview: { ...post.preview, image_url: "https://img.example/broken.png" } }} />);
    const img = document.querySelector("img")!;
    expect(img.getAttribute("src")).toBe("https://img.example/broken.png");
    fireEvent.error(img);
    expect(document.querySelector("img")).toBeNull();
    expect(document.querySelector(".placeholder")).not.toBeNull();
  });
  it("reads domains without www", () => {
    expect(domainOf("https://www.acme.example/x")).toBe("acme.example");
    expect(domainOf("not a url")).toBe("");
  });
});

describe("returnPath", () => {
  it("takes paths of this app only", () => {
    expect(returnPath("/share/abc")).toBe("/share/abc");
    expect(returnPath("/share/abc?x=1")).toBe("/share/abc?x=1");
    for (const bad of ["//evil.example/share", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "share/abc", "", null]) {
      expect(returnPath(bad)).toBeUndefined();
    }
  });
  it("is sent with the start of an OAuth connection", async () => {
    const postCall = vi.spyOn(api, "POST").mockResolvedValue({
      data: { authorize_url: "javascript:void(0)" },
      response: new Response(null, { status: 200 }),
    } as never);
    wrap(<OAuthConnect network={{ name: "linkedin", state: "allowed", allowed: true }} returnTo="/share/p1" />);
    fireEvent.click(screen.getByRole("button", { name: "Connect LinkedIn" }));
    await waitFor(() =>
      expect(postCall).toHaveBeenCalledWith("/api/v1/connections/{network}/start", {
        params: { path: { network: "linkedin" } },
        body: { return_to: "/share/p1" },
      }),
    );
  });
});

function mockGets(routes: Record<string, unknown>) {
  return vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (!(path in routes)) throw new Error(`unexpected GET ${path}`);
    return Promise.resolve({ data: routes[path], response: new Response(null, { status: 200 }) });
  }) as never);
}

describe("ConnectResult", () => {
  it("tells the member back from connecting that it worked", () => {
    render(
      <MemoryRouter initialEntries={["/share/p1?connected=mastodon"]}>
        <ConnectResult />
      </MemoryRouter>,
    );
    expect(screen.getByRole("status").textContent).toBe("Your Mastodon account is connected.");
  });
});

describe("Onboarding", () => {
  const me = (over: Record<string, unknown>) => ({
    member: { id: "m1", email: "carol@acme.example", name: "carol", role: "employee", title: "", topics: [], onboarding: { dismissed: false }, ...over },
    instance: { id: "i1", name: "Acme", domains: ["acme.example"], verified: true },
  });
  it("ticks what is done from the member's data and remembers when it is hidden", async () => {
    mockGets({
      "/api/v1/me": me({ name: "Carol Diaz" }),
      "/api/v1/connections": { items: [] },
    });
    const patch = vi.spyOn(api, "PATCH").mockResolvedValue({ data: {}, response: new Response(null, { status: 200 }) } as never);
    wrap(<Onboarding />);
    expect(await screen.findByText("Get started: 2 of 3 left")).toBeTruthy();
    const items = Array.from(document.querySelectorAll(".steps li"));
    expect(items.map((li) => li.classList.contains("done"))).toEqual([true, false, false]);
    expect(screen.getByRole("link", { name: "Connect" }).getAttribute("href")).toBe("/profile#accounts");
    fireEvent.click(screen.getByRole("button", { name: "Hide this checklist" }));
    await waitFor(() => expect(patch).toHaveBeenCalledWith("/api/v1/members/me", { body: { onboarding_dismissed: true } }));
  });
  it("is not shown once dismissed", async () => {
    const get = mockGets({
      "/api/v1/me": me({ onboarding: { dismissed: true } }),
      "/api/v1/connections": { items: [] },
    });
    wrap(<Onboarding />);
    await waitFor(() => expect(get).toHaveBeenCalledTimes(2));
    expect(screen.queryByText(/Get started/)).toBeNull();
  });
  it("counts a name as set when it is not the address's local part", () => {
    expect(nameSet({ name: "carol", email: "carol@acme.example" })).toBe(false);
    expect(nameSet({ name: "Carol Diaz", email: "carol@acme.example" })).toBe(true);
  });
});

describe("DataTable", () => {
  it("labels each cell with its column, for the stacked layout of narrow screens", async () => {
    wrap(
      <DataTable label="People" columns={["Name", "Role"]}>
        <tr>
          <th scope="row">Carol</th>
          <td>Curator</td>
        </tr>
      </DataTable>,
    );
    expect(document.querySelector("table")!.classList.contains("stack")).toBe(true);
    expect(screen.getByText("Carol").getAttribute("data-label")).toBe("Name");
    expect(screen.getByText("Curator").getAttribute("data-label")).toBe("Role");
  });
});

describe("MyShares", () => {
  it("shows each published share's clicks and reach", async () => {
    mockGets({
      "/api/v1/connections": { items: [] },
      "/api/v1/shares": {
        items: [
          {
            id: "s1",
            content_id: "p1",
            connection_id: "c1",
            network: "mastodon",
            state: "published",
            tracked_url: "http://x/r/1",
            publish_at: "2026-11-23T10:00:00Z",
            created_at: "2026-11-23T10:00:00Z",
            clicks: 12,
            reach: 340,
          },
        ],
      },
    });
    wrap(<MyShares />);
    await waitFor(() => expect(document.querySelector(".figures")).not.toBeNull());
    expect(document.querySelector(".figures")!.textContent!.trim()).toBe("12 clicks 340 reach");
  });
});

describe("curators and the feed", () => {
  const me = {
    member: { id: "m1", email: "cur@acme.example", name: "Cur Ator", role: "curator", title: "", topics: ["product"], onboarding: { dismissed: true } },
    instance: { id: "i1", name: "Acme", domains: ["acme.example"], verified: true },
  };
  it("says who suggested each link waiting for review", async () => {
    mockGets({
      "/api/v1/topics": { items: [] },
      "/api/v1/content": { items: [{ ...post, state: "pending", suggested: true, author_id: "m2", author_name: "Dan Ortiz" }] },
    });
    wrap(<CuratorQueue />);
    expect(await screen.findByText("Suggested by Dan Ortiz")).toBeTruthy();
  });
  it("shows each content's shares and clicks", async () => {
    mockGets({
      "/api/v1/topics": { items: [] },
      "/api/v1/content": { items: [{ ...post, shares: 1, clicks: 7 }] },
    });
    wrap(<ContentList />);
    const figures = await screen.findByLabelText("Results of Our launch");
    expect(figures.textContent!.trim()).toBe("1 share 7 clicks");
  });
  it("says how many colleagues shared a post in the feed", async () => {
    mockGets({
      "/api/v1/me": me,
      "/api/v1/topics": { items: [] },
      "/api/v1/connections": { items: [] },
      "/api/v1/content": { items: [{ ...post, colleagues_shared: 3 }, { ...post, id: "p2", title: "Quiet one", colleagues_shared: 0 }] },
    });
    wrap(<Feed />);
    expect(await screen.findByText("3 colleagues shared this")).toBeTruthy();
    expect(document.querySelectorAll(".social-proof").length).toBe(1);
  });
});
