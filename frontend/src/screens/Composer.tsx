import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api, call, isApiError, type Post } from "../api/client";
import { usage } from "../lib/counting";
import {
  FINAL_SHARE_STATES,
  byNetwork,
  connectionStatusText,
  defaultText,
  limitFor,
  localNow,
  localToISO,
  networkLabel,
  timeZone,
  useConnections,
  useNetworks,
  type Connection,
  type Share,
} from "../lib/networks";
import { ErrorMessage } from "../components/ErrorMessage";
import { PassLinkOn } from "../components/PassLinkOn";
import { ConnectResult } from "../components/ConnectedAccounts";
import { PostCard } from "../components/PostCard";
import { ShareState } from "../components/ShareState";
import { ShareTextField } from "../components/ShareTextField";
import { useTopics } from "../lib/session";

/** The share composer of one content item, reachable at /share/:id. */
export function Composer() {
  const { id = "" } = useParams();
  const post = useQuery({
    queryKey: ["content", id],
    queryFn: () => call(api.GET("/api/v1/content/{id}", { params: { path: { id } } })),
  });
  const topics = useTopics();
  const [shares, setShares] = useState<Share[]>([]);
  const { t } = useTranslation();
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>{t("Share")}</h1>
      <ConnectResult />
      <ErrorMessage error={post.error} />
      {post.isPending && <p role="status">{t("Loading…")}</p>}
      {post.data && (
        <>
          <PostCard post={post.data} topics={topics.data?.items} />
          {shares.length === 0 ? (
            <ComposerForm post={post.data} onShared={setShares} />
          ) : (
            <ShareProgress shares={shares} onAgain={() => setShares([])} />
          )}
          <PassLinkOn post={post.data} />
        </>
      )}
    </section>
  );
}

export function ComposerForm({ post, onShared }: { post: Post; onShared: (s: Share[]) => void }) {
  const qc = useQueryClient();
  const networks = useNetworks();
  const conns = useConnections();
  const allowed = new Set((networks.data?.items ?? []).filter((n) => n.allowed).map((n) => n.name));
  const all = conns.data?.items ?? [];
  const usable = all.filter((c) => allowed.has(c.network) && c.status === "active");
  const unusable = all.filter((c) => !usable.includes(c));
  const [picked, setPicked] = useState<string[] | undefined>();
  const chosen = picked ?? usable.map((c) => c.id);
  const groups = byNetwork(chosen, usable);
  const [texts, setTexts] = useState<Record<string, string>>({});
  const textOf = (n: string) => texts[n] ?? defaultText(post, n);
  const [timing, setTiming] = useState<"now" | "later">("now");
  const [at, setAt] = useState("");
  const keys = useRef(new Map<string, string>());
  const whenId = useId();
  const { t } = useTranslation();

  const limitOfGroup = (n: string) => limitFor(n, usable.filter((c) => groups.get(n)?.includes(c.id)));
  const over = [...groups.keys()].filter((n) => {
    const l = limitOfGroup(n);
    return l ? usage(l, textOf(n)).over : false;
  });
  const empty = [...groups.keys()].filter((n) => textOf(n).trim() === "");
  const publishAt = timing === "later" ? localToISO(at) : undefined;
  const blocked = chosen.length === 0 || over.length > 0 || empty.length > 0 || (timing === "later" && !publishAt);

  const share = useMutation({
    mutationFn: async () => {
      const out: Share[] = [];
      for (const [network, connections] of groups) {
        const body = { connections, text: textOf(network).trim(), ...(publishAt ? { publish_at: publishAt } : {}) };
        // The same body retried (after an error) keeps its key: no double post.
        const sig = JSON.stringify([post.id, body]);
        let key = keys.current.get(sig);
        if (!key) {
          key = crypto.randomUUID();
          keys.current.set(sig, key);
        }
        const r = await call(
          api.POST("/api/v1/content/{id}/shares", {
            params: { path: { id: post.id }, header: { "Idempotency-Key": key } },
            body,
          }),
        );
        out.push(...(r.items ?? []));
      }
      return out;
    },
    onSuccess: (s) => {
      qc.invalidateQueries({ queryKey: ["shares"] });
      qc.invalidateQueries({ queryKey: ["feed"] });
      onShared(s);
    },
    onError: (e) => {
      // The admins stopped allowing a network or server since the lists
      // were loaded: reload them, so the account shows as not allowed.
      if (isApiError(e, 403) && (e.code === "network_not_allowed" || e.code === "instance_not_allowed")) {
        qc.invalidateQueries({ queryKey: ["networks"] });
        qc.invalidateQueries({ queryKey: ["connections"] });
      }
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!blocked) share.mutate();
  };

  if (networks.isPending || conns.isPending) return <p role="status">{t("Loading your accounts…")}</p>;
  if (usable.length === 0) {
    return (
      <div className="panel">
        <h2>{t("No account to share with")}</h2>
        <ErrorMessage error={networks.error ?? conns.error ?? share.error} />
        <p>
          {allowed.size === 0
            ? t("Your admins have not allowed any social network yet.")
            : t("Connect your {{networks}} account first.", { networks: [...allowed].map(networkLabel).join(", ") })}{" "}
          <Link to={`/profile?return_to=${encodeURIComponent(`/share/${post.id}`)}#accounts`}>{t("Connect an account and come back")}</Link>.
        </p>
        <Unusable list={unusable} allowed={allowed} />
      </div>
    );
  }
  return (
    <form onSubmit={submit} className="composer">
      <fieldset>
        <legend>{t("Share to")}</legend>
        <div className="checks">
          {usable.map((c) => (
            <label key={c.id} className="check">
              <input
                type="checkbox"
                checked={chosen.includes(c.id)}
                onChange={(e) =>
                  setPicked(e.target.checked ? [...chosen, c.id] : chosen.filter((x) => x !== c.id))
                }
              />
              {networkLabel(c.network)}: {c.handle}
            </label>
          ))}
        </div>
        <Unusable list={unusable} allowed={allowed} />
      </fieldset>
      {groups.size > 0 && (
        <fieldset>
          <legend>{t("Text per network")}</legend>
          <p className="hint">{t("Prefilled with your curators' suggestion; make it yours. The link is added for you.")}</p>
          {[...groups.keys()].map((n) => {
            const l = limitOfGroup(n);
            return l ? (
              <ShareTextField key={n} limit={l} value={textOf(n)} onChange={(v) => setTexts((t) => ({ ...t, [n]: v }))} />
            ) : null;
          })}
        </fieldset>
      )}
      <fieldset>
        <legend>{t("When")}</legend>
        <label className="check">
          <input type="radio" name="timing" checked={timing === "now"} onChange={() => setTiming("now")} />
          {t("Now")}
        </label>
        <label className="check">
          <input type="radio" name="timing" checked={timing === "later"} onChange={() => setTiming("later")} />
          {t("At a time")}
        </label>
        {timing === "later" && (
          <>
            <label htmlFor={whenId}>{t("Date and time ({{zone}})", { zone: timeZone() })}</label>
            <input id={whenId} type="datetime-local" required min={localNow()} value={at} onChange={(e) => setAt(e.target.value)} />
          </>
        )}
      </fieldset>
      {over.length > 0 && (
        <p className="error" role="alert">
          {t("Too long for {{networks}}.", { networks: over.map(networkLabel).join(", ") })}
        </p>
      )}
      {empty.length > 0 && (
        <p className="error" role="alert">
          {t("Write a text for {{networks}}.", { networks: empty.map(networkLabel).join(", ") })}
        </p>
      )}
      <button type="submit" disabled={blocked || share.isPending}>
        {share.isPending ? t("Sharing…") : timing === "later" ? t("Schedule") : t("Share now")}
      </button>
      <ErrorMessage error={share.error} />
    </form>
  );
}

function Unusable({ list, allowed }: { list: Connection[]; allowed: Set<string> }) {
  const { t } = useTranslation();
  if (list.length === 0) return null;
  return (
    <ul className="hint">
      {list.map((c) => (
        <li key={c.id}>
          {networkLabel(c.network)} {c.handle}:{" "}
          {allowed.has(c.network) ? t(connectionStatusText[c.status]) : t("not allowed by your admins")}
          {allowed.has(c.network) && c.status !== "active" && (
            <>
              {" "}
              (<Link to="/profile#accounts">{t("reconnect it")}</Link>)
            </>
          )}
        </li>
      ))}
    </ul>
  );
}

/** Each share's state, followed live until it settles. */
export function ShareProgress({ shares, onAgain }: { shares: Share[]; onAgain?: () => void }) {
  const conns = useConnections();
  const live = useQueries({
    queries: shares.map((s) => ({
      queryKey: ["share", s.id],
      queryFn: () => call(api.GET("/api/v1/shares/{id}", { params: { path: { id: s.id } } })),
      initialData: s,
      refetchInterval: (q: { state: { data?: Share } }) =>
        q.state.data && FINAL_SHARE_STATES.has(q.state.data.state) ? false : 1500,
    })),
  });
  const h = useRef<HTMLHeadingElement>(null);
  useEffect(() => h.current?.focus(), []);
  const { t } = useTranslation();
  // A failure may have changed an account's state (needs reconnecting):
  // read the connections again so the reconnect button shows.
  const qc = useQueryClient();
  const failed = live.filter((q) => q.data?.state === "failed").length;
  useEffect(() => {
    if (failed > 0) qc.invalidateQueries({ queryKey: ["connections"] });
  }, [failed, qc]);
  return (
    <section className="panel" aria-labelledby="progress-h">
      <h2 id="progress-h" ref={h} tabIndex={-1}>
        {t("Your shares")}
      </h2>
      <ul className="share-list" aria-live="polite">
        {live.map((q, i) => {
          const s = q.data ?? shares[i]!;
          const c = conns.data?.items?.find((x) => x.id === s.connection_id);
          return (
            <li key={s.id}>
              <strong>
                {networkLabel(s.network)}
                {c ? ` · ${c.handle}` : ""}
              </strong>
              <ShareState share={s} connection={c} />
              <ErrorMessage error={q.error} />
            </li>
          );
        })}
      </ul>
      <p>
        <Link to="/shares">{t("See all my shares")}</Link>
        {onAgain && (
          <>
            {" · "}
            <button type="button" className="link" onClick={onAgain}>
              {t("Share again")}
            </button>
          </>
        )}
      </p>
    </section>
  );
}
