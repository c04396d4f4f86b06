import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useLocation } from "react-router";
import { useTranslation } from "react-i18next";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { useInstance, useTopics } from "../lib/session";
import { ErrorMessage } from "../components/ErrorMessage";
import { TopicPicker } from "../components/TopicPicker";
import { bookmarklet, sharedLink, webURL } from "../lib/pwa";

/**
 * The suggestion form. It is also where shared pages land: the manifest's
 * share target and the bookmarklet open /suggest?url=…&title=…&text=…,
 * which prefill the form; a shared link that is not http(s) is refused
 * here, and the server checks every link again.
 */
export function Suggest() {
  const topics = useTopics();
  const qc = useQueryClient();
  const { search } = useLocation();
  const [shared] = useState(() => sharedLink(new URLSearchParams(search)));
  const [url, setUrl] = useState(shared?.url ?? "");
  const [commentary, setCommentary] = useState(shared?.commentary ?? "");
  const [picked, setPicked] = useState<string[]>([]);
  const [badURL, setBadURL] = useState(false);
  const suggest = useMutation({
    mutationFn: () =>
      call(api.POST("/api/v1/suggestions", { body: { url: url.trim(), commentary, topics: picked } })),
    onSuccess: () => {
      setUrl("");
      setCommentary("");
      setPicked([]);
      qc.invalidateQueries({ queryKey: ["suggestions"] });
      qc.invalidateQueries({ queryKey: ["review-count"] }); // a curator's own suggestion waits too
      qc.invalidateQueries({ queryKey: ["feed"] }); // published at once where no review is needed
    },
  });
  const { t } = useTranslation();
  const inst = useInstance();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const ok = webURL(url) !== undefined;
    setBadURL(!ok);
    if (ok) suggest.mutate();
  };
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>{t("Suggest content")}</h1>
      <p>
        {inst.data?.settings.suggestions_need_approval === false
          ? t("Found something your colleagues should share? Suggest it; it reaches the feed at once.")
          : t("Found something your colleagues should share? Suggest it; a curator reviews it before it reaches the feed.")}{" "}
        <Link to="/suggestions">{t("My suggestions")}</Link>
      </p>
      {shared?.refused && (
        <p className="error" role="alert">
          {t("The shared link is not a web address (http or https), so it was left out.")}
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <label htmlFor="suggest-url">{t("Link")}</label>
        <input
          id="suggest-url"
          type="url"
          required
          value={url}
          onChange={(e) => {
            setUrl(e.target.value);
            setBadURL(false);
          }}
          placeholder="https://"
          {...(badURL ? { "aria-invalid": true as const, "aria-describedby": "suggest-url-error" } : {})}
        />
        {badURL && (
          <p id="suggest-url-error" className="field-error" role="alert">
            {t("Enter a web address starting with https:// or http://.")}
          </p>
        )}
        <label htmlFor="suggest-commentary">{t("Why it is worth sharing (optional)")}</label>
        <textarea id="suggest-commentary" rows={4} value={commentary} onChange={(e) => setCommentary(e.target.value)} />
        <TopicPicker legend={t("Topics")} topics={topics.data?.items ?? []} value={picked} onChange={setPicked} />
        <button type="submit" disabled={suggest.isPending}>
          {t("Suggest")}
        </button>
      </form>
      <div role="status" aria-live="polite">
        {suggest.isSuccess && (
          <p className="notice">
            {suggest.data.state === "pending"
              ? t("Thank you: your suggestion is waiting for review.")
              : t("Thank you: your suggestion is {{state}}.", { state: t(suggest.data.state) })}{" "}
            <Link to="/suggestions">{t("See my suggestions")}</Link>.
          </p>
        )}
      </div>
      <ErrorMessage error={suggest.error} />
      <Bookmarklet />
    </section>
  );
}

/**
 * The bookmarklet for desktop browsers: dragged to the bookmarks bar, it
 * opens this form for the page being read. Its javascript: address is set
 * outside React (which refuses such links), and a click here does nothing:
 * under this page's CSP it could not run anyway.
 */
function Bookmarklet() {
  const { t } = useTranslation();
  const link = useRef<HTMLAnchorElement>(null);
  const code = bookmarklet(window.location.origin);
  useEffect(() => {
    link.current?.setAttribute("href", code);
  }, [code]);
  return (
    <section aria-labelledby="bookmarklet-heading">
      <h2 id="bookmarklet-heading">{t("Suggest from any page")}</h2>
      <p>
        {t("On a computer, drag this button to your bookmarks bar. On any page, click the bookmark: this form opens with the page's link and title.")}
      </p>
      <p>
        <a ref={link} className="bookmarklet" onClick={(e) => e.preventDefault()} draggable>
          {t("Suggest to Chorus")}
        </a>
      </p>
      <label htmlFor="bookmarklet-code">{t("Or make a bookmark with this address")}</label>
      <textarea id="bookmarklet-code" readOnly rows={3} value={code} onFocus={(e) => e.currentTarget.select()} />
      <p className="hint">{t("On a phone, install the app and use your phone's Share button: Chorus is among the apps to share to.")}</p>
    </section>
  );
}
