import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { T } from "../components/T";
import { api, call } from "../api/client";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorMessage } from "../components/ErrorMessage";
import { MoreOnScroll } from "../components/MoreOnScroll";
import { ShareState } from "../components/ShareState";
import { networkLabel, useConnections, type Share } from "../lib/networks";
import { when } from "../lib/session";
import { useCursorList } from "../lib/cursorList";

const moving: ReadonlySet<Share["state"]> = new Set(["queued", "publishing"]);

export function MyShares() {
  const qc = useQueryClient();
  const conns = useConnections();
  const shares = useCursorList(["shares"], (page) => call(api.GET("/api/v1/shares", { params: { query: { limit: 50, ...page } } })), {
    refetchInterval: (pages) => (pages.some((p) => p.items?.some((s) => moving.has(s.state))) ? 2000 : false),
  });
  const cancel = useMutation({
    mutationFn: (id: string) => call(api.POST("/api/v1/shares/{id}/cancel", { params: { path: { id } } })),
    onSettled: () => qc.invalidateQueries({ queryKey: ["shares"] }),
  });
  const items = shares.items;
  const { t } = useTranslation();
  return (
    <section>
      <h1 tabIndex={-1}>{t("My shares")}</h1>
      <ErrorMessage error={shares.error} />
      {shares.isPending && <p role="status">{t("Loading…")}</p>}
      {shares.isSuccess && items.length === 0 && (
        <p className="empty">
          <T k="You have not shared anything yet. Pick something in the <0>feed</0> and press Share." components={[<Link to="/feed" />]} />
        </p>
      )}
      <ul className="share-list">
        {items.map((s) => {
          const c = conns.data?.items?.find((x) => x.id === s.connection_id);
          return (
            <li key={s.id} className="panel">
              <p>
                <strong>
                  {networkLabel(s.network)}
                  {c ? ` · ${c.handle}` : ""}
                </strong>{" "}
                <span className="meta">
                  <time dateTime={s.created_at}>{when(s.created_at)}</time>
                </span>
              </p>
              {s.content_title && <p className="share-of">{t("Shared: {{title}}", { title: s.content_title })}</p>}
              {s.text && <p className="commentary">{s.text}</p>}
              <ShareState share={s} connection={c} />
              {s.state === "published" && (
                <p className="figures">
                  <span>
                    <strong>{s.clicks ?? 0}</strong> {t("clicks", { count: s.clicks ?? 0 })}
                  </span>{" "}
                  <span>
                    <strong>{s.reach ?? 0}</strong> {t("reach")}
                  </span>{" "}
                  {(s.engagement?.reactions ?? 0) > 0 && (
                    <span>
                      <strong>{s.engagement?.reactions}</strong> {t("reactions")}
                    </span>
                  )}
                </p>
              )}
              {(s.state === "queued" || s.state === "scheduled") && (
                <ConfirmButton
                  question={t("Cancel this share to {{network}}? It will not be posted.", { network: networkLabel(s.network) })}
                  confirmLabel={t("Cancel the share")}
                  aria-label={t("Cancel share to {{network}} of {{time}}", { network: networkLabel(s.network), time: when(s.created_at) })}
                  onConfirm={() => cancel.mutate(s.id)}
                >
                  {t("Cancel share")}
                </ConfirmButton>
              )}
            </li>
          );
        })}
      </ul>
      {shares.hasNextPage && <MoreOnScroll more={() => shares.fetchNextPage()} loading={shares.isFetchingNextPage} />}
      <ErrorMessage error={cancel.error} />
    </section>
  );
}
