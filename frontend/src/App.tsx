import { lazy, Suspense, useEffect, useRef, type ReactNode } from "react";
import { Navigate, NavLink, Route, Routes, useLocation } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import i18n from "./i18n";
import { api, call, isApiError } from "./api/client";
import { canAnalyse, canCurate, isAdmin, useMe, useSignOut } from "./lib/session";
import { ErrorMessage } from "./components/ErrorMessage";
import { forgetReturn, keptReturn, rememberReturn } from "./lib/returnTo";
import { SignIn, SignInConfirm } from "./screens/SignIn";
import { Feed } from "./screens/Feed";
import { Suggest } from "./screens/Suggest";
import { MySuggestions } from "./screens/MySuggestions";
import { CuratorQueue } from "./screens/CuratorQueue";
import { PostContent } from "./screens/PostContent";
import { Profile } from "./screens/Profile";
import { Admin } from "./screens/Admin";
import { Composer } from "./screens/Composer";
import { MyShares } from "./screens/MyShares";
import { ContentList, EditContent } from "./screens/ContentAdmin";
import { Sources } from "./screens/Sources";
import { CampaignPage, Campaigns } from "./screens/Campaigns";
// The charts library is loaded only by the analytics screens.
const Analytics = lazy(() => import("./screens/Analytics").then((m) => ({ default: m.Analytics })));
const MyImpact = lazy(() => import("./screens/Analytics").then((m) => ({ default: m.MyImpact })));

const titles: Record<string, string> = {
  "/signin": "Sign in",
  "/feed": "Feed",
  "/suggest": "Suggest content",
  "/suggestions": "My suggestions",
  "/queue": "Review suggestions",
  "/post": "Post content",
  "/profile": "Profile",
  "/admin": "Admin",
  "/shares": "My shares",
  "/content": "Content",
  "/sources": "Sources",
  "/campaigns": "Campaigns",
  "/share": "Share",
  "/analytics": "Analytics",
  "/impact": "My impact",
};

function titleOf(pathname: string): string {
  return titles[pathname] ?? titles["/" + (pathname.split("/")[1] ?? "")] ?? "Chorus";
}

/** Sets the document title and moves focus to the main heading on navigation. */
function useRouteAnnouncer(main: React.RefObject<HTMLElement | null>) {
  const { pathname } = useLocation();
  const first = useRef(true);
  useEffect(() => {
    document.title = `${i18n.t(titleOf(pathname))} · Chorus`;
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.querySelector("h1")?.focus();
  }, [pathname, main]);
}

export function App() {
  const main = useRef<HTMLElement>(null);
  useRouteAnnouncer(main);
  return (
    <>
      <a className="skip" href="#main">
        {i18n.t("Skip to content")}
      </a>
      <Header />
      <TabBar />
      <main id="main" ref={main} tabIndex={-1}>
        <Routes>
          <Route path="/signin" element={<SignIn />} />
          <Route path="/signin/confirm" element={<SignInConfirm />} />
          <Route path="/" element={<Home />} />
          <Route path="/share/:id" element={<Authed>{() => <Composer />}</Authed>} />
          <Route path="/shares" element={<Authed>{() => <MyShares />}</Authed>} />
          <Route path="/impact" element={<Authed>{() => <MyImpact />}</Authed>} />
          <Route path="/analytics" element={<Authed need="analyst">{() => <Analytics />}</Authed>} />
          <Route path="/content" element={<Authed need="curator">{() => <ContentList />}</Authed>} />
          <Route path="/sources" element={<Authed need="curator">{() => <Sources />}</Authed>} />
          <Route path="/campaigns" element={<Authed need="curator">{() => <Campaigns />}</Authed>} />
          <Route path="/campaigns/:id" element={<Authed need="curator">{() => <CampaignPage />}</Authed>} />
          <Route path="/content/:id/edit" element={<Authed need="curator">{() => <EditContent />}</Authed>} />
          <Route path="/feed" element={<Authed>{() => <Feed />}</Authed>} />
          <Route path="/suggest" element={<Authed>{() => <Suggest />}</Authed>} />
          <Route path="/suggestions" element={<Authed>{() => <MySuggestions />}</Authed>} />
          <Route path="/queue" element={<Authed need="curator">{() => <CuratorQueue />}</Authed>} />
          <Route path="/post" element={<Authed need="curator">{() => <PostContent />}</Authed>} />
          <Route path="/profile" element={<Authed>{() => <Profile />}</Authed>} />
          <Route path="/admin/*" element={<Authed need="admin">{() => <Admin />}</Authed>} />
          <Route
            path="*"
            element={
              <>
                <h1 tabIndex={-1}>{i18n.t("Page not found")}</h1>
                <p>
                  {i18n.t("There is nothing at this address.")} <NavLink to="/feed">{i18n.t("Go to the feed")}</NavLink>.
                </p>
              </>
            }
          />
        </Routes>
      </main>
    </>
  );
}

/**
 * The app's root: the feed, or the profile when a network's OAuth
 * redirect comes back with ?connected= or ?connect_error=.
 */
function Home() {
  const { search } = useLocation();
  const q = new URLSearchParams(search);
  if (q.has("connected") || q.has("connect_error")) return <Navigate to={`/profile${search}#accounts`} replace />;
  // Back from single sign-on: where the member was going, if anywhere.
  return <Navigate to={keptReturn() ?? "/feed"} replace />;
}

/** Renders its children for signed-in members with the needed role. */
function Authed({ children, need }: { children: () => ReactNode; need?: "curator" | "analyst" | "admin" }) {
  const me = useMe();
  const location = useLocation();
  // Signed in and on a page: a path kept through sign-in has served.
  const signedIn = me.data !== undefined;
  useEffect(() => {
    if (signedIn) forgetReturn();
  }, [signedIn]);
  if (me.isPending) return <p role="status">{i18n.t("Loading…")}</p>;
  if (me.error) {
    if (isApiError(me.error, 401)) {
      rememberReturn(location.pathname + location.search + location.hash);
      return <Navigate to="/signin" replace state={{ from: location.pathname }} />;
    }
    return <ErrorMessage error={me.error} />;
  }
  const role = me.data.member.role;
  if (
    (need === "curator" && !canCurate(role)) ||
    (need === "analyst" && !canAnalyse(role)) ||
    (need === "admin" && !isAdmin(role))
  ) {
    return (
      <>
        <h1 tabIndex={-1}>{i18n.t("Not for your role")}</h1>
        <p>
          {need === "admin"
            ? i18n.t("This page is for admins.")
            : need === "analyst"
              ? i18n.t("This page is for analysts and admins.")
              : i18n.t("This page is for curators and admins.")}
        </p>
      </>
    );
  }
  return <Suspense fallback={<p role="status">{i18n.t("Loading…")}</p>}>{children()}</Suspense>;
}

/** How many suggestions wait for review, for curators' "Review (N)". */
function useReviewCount(enabled: boolean) {
  return useQuery({
    queryKey: ["review-count"],
    queryFn: () => call(api.GET("/api/v1/content/review-count")),
    enabled,
    staleTime: 30_000,
    refetchInterval: 120_000,
  });
}

/** The pages every member uses; on a narrow screen they are the bottom tab bar. */
const MEMBER_PAGES = [
  { to: "/feed", label: "Feed", icon: "▤" },
  { to: "/shares", label: "My shares", icon: "↗" },
  { to: "/impact", label: "My impact", icon: "▲" },
  { to: "/suggest", label: "Suggest", icon: "+" },
  { to: "/profile", label: "Profile", icon: "●" },
];

/** A bottom tab bar of the member's pages, shown on narrow screens only (CSS). */
function TabBar() {
  const { t } = useTranslation();
  const me = useMe();
  if (!me.data) return null;
  return (
    <nav className="tabbar" aria-label={t("Tabs")}>
      <ul>
        {MEMBER_PAGES.map((p) => (
          <li key={p.to}>
            <NavLink to={p.to}>
              <span className="icon" aria-hidden="true">
                {p.icon}
              </span>
              {t(p.label)}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function Header() {
  const { t } = useTranslation();
  const me = useMe();
  const role = me.data?.member.role;
  const signOut = useSignOut();
  const review = useReviewCount(canCurate(role));
  const pending = review.data ? (review.data.more ? "99+" : String(review.data.pending)) : "";
  return (
    <header className="top">
      <span className="brand">Chorus</span>
      {me.data && (
        <>
          <nav aria-label={t("Main")}>
            <ul>
              {MEMBER_PAGES.slice(0, 4).map((p) => (
                <li key={p.to} className="member-page">
                  <NavLink to={p.to}>{t(p.label)}</NavLink>
                </li>
              ))}
              <li className="member-page">
                <NavLink to="/suggestions">{t("My suggestions")}</NavLink>
              </li>
              {canCurate(role) && (
                <>
                  <li>
                    <NavLink to="/queue">{t("Review")}</NavLink>
                    {/* Beside the link, so the link's name stays "Review". */}
                    {review.data && review.data.pending > 0 && (
                      <span className="badge">
                        {" "}
                        ({pending}
                        <span className="sr-only"> {t("waiting")}</span>)
                      </span>
                    )}
                  </li>
                  <li>
                    <NavLink to="/post">{t("Post content")}</NavLink>
                  </li>
                  <li>
                    <NavLink to="/content" end>{t("Content")}</NavLink>
                  </li>
                  <li>
                    <NavLink to="/sources">{t("Sources")}</NavLink>
                  </li>
                  <li>
                    <NavLink to="/campaigns">{t("Campaigns")}</NavLink>
                  </li>
                </>
              )}
              {canAnalyse(role) && (
                <li>
                  <NavLink to="/analytics">{t("Analytics")}</NavLink>
                </li>
              )}
              {isAdmin(role) && (
                <li>
                  <NavLink to="/admin">{t("Admin")}</NavLink>
                </li>
              )}
              <li className="member-page">
                <NavLink to="/profile">{t("Profile")}</NavLink>
              </li>
            </ul>
          </nav>
          <span className="who">
            {me.data.member.name} · {me.data.instance.name}
          </span>
          <button type="button" className="signout" onClick={signOut}>
            {t("Sign out")}
          </button>
        </>
      )}
    </header>
  );
}
