import { useTranslation } from "react-i18next";
import { api, call, type Schemas } from "../../api/client";
import { when } from "../../lib/session";
import { useCursorList } from "../../lib/cursorList";
import { ErrorMessage } from "../../components/ErrorMessage";
import { DataTable } from "../../components/Wide";

type Entry = Schemas["AuditEntry"];

/** "member.role_changed" → "member role changed". */
export function actionText(action: string) {
  return action.replace(/[._]/g, " ");
}

/** Who acted: a member by address (an ID once they left), an operator, or Chorus. */
export function actorText(a: Entry["actor"], t: (s: string) => string): string {
  if (a.kind === "member") return a.email || (a.id ? t("a former member") + ` (${a.id})` : t("a member"));
  return a.kind === "operator" ? t("an operator") : t("Chorus");
}

/** The audit log, newest first, people named by address. */
export function Audit() {
  const { t } = useTranslation();
  const audit = useCursorList(["audit"], (page) => call(api.GET("/api/v1/audit", { params: { query: { limit: 50, ...page } } })));
  const items = audit.items;
  return (
    <section id="audit" aria-labelledby="audit-h" className="panel">
      <h2 id="audit-h">{t("Audit log")}</h2>
      <p>{t("People are named by address while they are members or invitees; an erased person shows as an ID.")}</p>
      <ErrorMessage error={audit.error} />
      {audit.isSuccess && items.length === 0 && <p className="empty">{t("Nothing recorded yet.")}</p>}
      {items.length > 0 && (
        <DataTable label={t("Audit log, newest first")} columns={[t("When"), t("Who"), t("Action"), t("Target"), t("Details")]}>
          {items.map((a) => (
            <tr key={a.id}>
              <td><time dateTime={a.at}>{when(a.at)}</time></td>
              <td className="break">{actorText(a.actor, t)}</td>
              <td title={a.action}>{actionText(a.action)}</td>
              <td className="break">{a.target_email || a.target}</td>
              <td className="break">
                {a.details && Object.entries(a.details).map(([k, v]) => `${k}: ${v}`).join("; ")}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {audit.hasNextPage && <button type="button" onClick={() => audit.fetchNextPage()}>{t("Load older entries")}</button>}
    </section>
  );
}
