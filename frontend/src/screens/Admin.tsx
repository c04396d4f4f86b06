import { useTranslation } from "react-i18next";
import { NavLink, Route, Routes } from "react-router";
import { SSO } from "./admin/SSO";
import { Setup } from "./admin/Setup";
import { Settings } from "./admin/Settings";
import { Domains } from "./admin/Domains";
import { Networks } from "./admin/Networks";
import { Topics } from "./admin/Topics";
import { Groups } from "./admin/Groups";
import { Invitations, Members, PendingIdentities } from "./admin/People";
import { DataRequests, SupportGrants } from "./admin/Privacy";
import { Audit } from "./admin/Audit";

/** The admin console's pages, by topic: path under /admin and nav label. */
export const ADMIN_PAGES: { path: string; label: string }[] = [
  { path: "", label: "Set-up" },
  { path: "settings", label: "Settings" },
  { path: "domains", label: "Domains" },
  { path: "networks", label: "Networks" },
  { path: "people", label: "People" },
  { path: "topics", label: "Topics" },
  { path: "groups", label: "Groups" },
  { path: "sso", label: "Single sign-on" },
  { path: "privacy", label: "Privacy and support" },
  { path: "audit", label: "Audit log" },
];

/** The admin console: a page per topic under /admin, with its own navigation. */
export function Admin() {
  const { t } = useTranslation();
  return (
    <section>
      <h1 tabIndex={-1}>{t("Admin")}</h1>
      <nav aria-label={t("Admin sections")} className="subnav">
        <ul>
          {ADMIN_PAGES.map((p) => (
            <li key={p.path}>
              <NavLink to={p.path ? `/admin/${p.path}` : "/admin"} end>
                {t(p.label)}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <Routes>
        <Route index element={<Setup />} />
        <Route path="settings" element={<Settings />} />
        <Route path="domains" element={<Domains />} />
        <Route path="networks" element={<Networks />} />
        <Route
          path="people"
          element={
            <>
              <Invitations />
              <Members />
              <PendingIdentities />
            </>
          }
        />
        <Route path="topics" element={<Topics />} />
        <Route path="groups" element={<Groups />} />
        <Route path="sso" element={<SSO />} />
        <Route
          path="privacy"
          element={
            <>
              <DataRequests />
              <SupportGrants />
            </>
          }
        />
        <Route path="audit" element={<Audit />} />
        <Route path="*" element={<p>{t("There is nothing at this address.")}</p>} />
      </Routes>
    </section>
  );
}
