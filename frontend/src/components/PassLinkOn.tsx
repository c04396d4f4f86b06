import { useId, useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api, call, type Post } from "../api/client";
import { defaultText } from "../lib/networks";
import { ErrorMessage } from "./ErrorMessage";

/** A mailto: link with the share's text and tracked link. */
export function mailtoHref(subject: string, text: string, url: string): string {
  return `mailto:?subject=${encodeURIComponent(subject)}&body=${encodeURIComponent(`${text}\n\n${url}`)}`;
}

/** WhatsApp's share link (wa.me) with the text and the tracked link. */
export function whatsappHref(text: string, url: string): string {
  return `https://wa.me/?text=${encodeURIComponent(`${text} ${url}`)}`;
}

/**
 * "Copy tracked link": the member's own tracked link of a content, to pass
 * on anywhere (chat, mail, a network Chorus does not post to). Getting it
 * counts as a share on the link channel, once per member and content.
 */
export function PassLinkOn({ post }: { post: Post }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const boxId = useId();
  const [copied, setCopied] = useState<boolean>();
  const link = useMutation({
    mutationFn: () => call(api.POST("/api/v1/content/{id}/link", { params: { path: { id: post.id } } })),
    onSuccess: async (share) => {
      qc.invalidateQueries({ queryKey: ["shares"] });
      qc.invalidateQueries({ queryKey: ["feed"] });
      try {
        await navigator.clipboard.writeText(share.tracked_url);
        setCopied(true);
      } catch {
        setCopied(false); // no clipboard access: the box below has it selected
      }
    },
  });
  const text = defaultText(post, "link");
  const url = link.data?.tracked_url;
  return (
    <section className="panel" aria-labelledby={`${boxId}-h`}>
      <h2 id={`${boxId}-h`}>{t("Pass the link on yourself")}</h2>
      <p className="hint">
        {t("For any network, a chat or a mail: your own tracked link, so its clicks count for you. It counts as a share.")}
      </p>
      <button type="button" onClick={() => link.mutate()} disabled={link.isPending}>
        {t("Copy tracked link")}
      </button>
      <ErrorMessage error={link.error} />
      {url && (
        <>
          <label htmlFor={boxId}>{t("Your tracked link")}</label>
          <input id={boxId} readOnly value={url} onFocus={(e) => e.currentTarget.select()} autoFocus={copied === false} />
          <div role="status" aria-live="polite">
            {copied === true && <p className="notice">{t("Copied.")}</p>}
            {copied === false && <p className="notice">{t("Copy it from the box.")}</p>}
          </div>
          <p>
            <a href={mailtoHref(post.title || post.url, text, url)}>{t("Send by email")}</a>
            {" · "}
            <a href={whatsappHref(text, url)} target="_blank" rel="noreferrer">
              {t("Share on WhatsApp")}
            </a>
          </p>
        </>
      )}
    </section>
  );
}
