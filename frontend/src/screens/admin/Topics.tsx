import { useTranslation } from "react-i18next";
import { useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { useTopics } from "../../lib/session";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorMessage } from "../../components/ErrorMessage";

/** The instance's topics, added and removed by admins. */
export function Topics() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const topics = useTopics();
  const [name, setName] = useState("");
  const add = useMutation({
    mutationFn: () => call(api.POST("/api/v1/topics", { body: { name: name.trim() } })),
    onSuccess: () => {
      setName("");
      qc.invalidateQueries({ queryKey: ["topics"] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/topics/{id}", { params: { path: { id } } })),
    onSuccess: () => {
      // Posts lose the tag and members stop following it.
      for (const key of ["topics", "me", "feed", "content-admin", "content"]) qc.invalidateQueries({ queryKey: [key] });
    },
  });
  return (
    <section id="topics" aria-labelledby="topics-h" className="panel">
      <h2 id="topics-h">{t("Topics")}</h2>
      <ErrorMessage error={topics.error} />
      <ul className="rows">
        {topics.data?.items.map((tp) => (
          <li key={tp.id}>
            {tp.name}{" "}
            <ConfirmButton
              question={t("Remove the topic “{{topic}}”? Posts lose this tag and members stop following it.", { topic: tp.name })}
              confirmLabel={t("Remove topic")}
              aria-label={t("Remove topic {{topic}}", { topic: tp.name })}
              onConfirm={() => remove.mutate(tp.id)}
            >
              {t("Remove")}
            </ConfirmButton>
          </li>
        ))}
      </ul>
      <ErrorMessage error={remove.error} />
      <form onSubmit={(e) => { e.preventDefault(); add.mutate(); }} className="inline">
        <label htmlFor="add-topic">{t("New topic")}</label>
        <input id="add-topic" required maxLength={60} value={name} onChange={(e) => setName(e.target.value)} />
        <button type="submit" disabled={add.isPending}>{t("Add topic")}</button>
      </form>
      <ErrorMessage error={add.error} />
    </section>
  );
}
