import { useEffect } from "react";
import { useLocation } from "react-router";
import { useTranslation } from "react-i18next";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { api, call, type Schemas } from "../../api/client";
import { useInstance } from "../../lib/session";
import { fromMinor, toMinor } from "../../lib/analytics";
import { ErrorMessage } from "../../components/ErrorMessage";

/** The IANA time zones the browser knows, for the time-zone field. */
function zones(): string[] {
  const f = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf;
  return f ? f("timeZone") : [];
}

type Instance = Schemas["Instance"];

/** The settings form's fields, as typed (numbers as text until sent). */
export interface SettingsFields {
  name: string;
  message: string;
  retention: string;
  joinPolicy: "open" | "invite" | "sso";
  needApproval: boolean;
  zone: string;
  cpc: string;
  currency: string;
  minGroup: string;
  leaderboard: boolean;
  perShare: string;
  perClick: string;
  /** The weekly digest mail of new content to members; off for "off" only. */
  digest: boolean;
}

export function settingsFields(inst: Instance): SettingsFields {
  const s = inst.settings;
  return {
    name: inst.name,
    message: s.invitation_message ?? "",
    // The API answers the effective settings (defaults filled in).
    retention: String(s.retention_days ?? ""),
    joinPolicy: s.join_policy ?? "open",
    needApproval: s.suggestions_need_approval ?? true,
    zone: s.time_zone ?? "",
    cpc: fromMinor(s.cpc),
    currency: s.cpc?.currency ?? "",
    minGroup: String(s.min_group_size ?? ""),
    leaderboard: s.leaderboard_visible ?? false,
    perShare: String(s.points?.per_share ?? ""),
    perClick: String(s.points?.per_unique_click ?? ""),
    digest: s.digest !== "off",
  };
}

/** The PATCH body of the settings form; empty optional fields left as they are. */
export function settingsBody(f: SettingsFields) {
  const currency = f.currency.trim().toUpperCase();
  const cpc = currency && f.cpc.trim() ? toMinor(f.cpc, currency) : undefined;
  return {
    name: f.name.trim(),
    invitation_message: f.message,
    join_policy: f.joinPolicy,
    suggestions_need_approval: f.needApproval,
    leaderboard_visible: f.leaderboard,
    digest: f.digest ? ("weekly" as const) : ("off" as const),
    ...(f.retention ? { retention_days: Number(f.retention) } : {}),
    ...(f.zone.trim() ? { time_zone: f.zone.trim() } : {}),
    ...(cpc !== undefined ? { cpc: { amount: cpc, currency } } : {}),
    ...(f.minGroup ? { min_group_size: Number(f.minGroup) } : {}),
    ...(f.perShare && f.perClick ? { points: { per_share: Number(f.perShare), per_unique_click: Number(f.perClick) } } : {}),
  };
}

/** The company settings form (admins). */
export function Settings() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const inst = useInstance();
  // A cost per click once set can be changed, not removed.
  const hasCPC = Boolean(inst.data?.settings.cpc);
  const form = useForm<SettingsFields>({ values: inst.data ? settingsFields(inst.data) : undefined });
  // A link to one field (the analytics' "Set a cost per click") lands on it.
  const { hash } = useLocation();
  const loaded = Boolean(inst.data);
  useEffect(() => {
    if (!loaded || !hash) return;
    // After the route's own focus on the page heading.
    const timer = setTimeout(() => document.getElementById(hash.slice(1))?.focus(), 0);
    return () => clearTimeout(timer);
  }, [loaded, hash]);
  const { register } = form;
  const save = useMutation({
    mutationFn: (f: SettingsFields) => call(api.PATCH("/api/v1/instance/settings", { body: settingsBody(f) })),
    onSuccess: (data) => {
      qc.setQueryData(["instance"], data);
      qc.invalidateQueries({ queryKey: ["me"] });
    },
  });
  return (
    <section id="settings" aria-labelledby="settings-h" className="panel">
      <h2 id="settings-h">{t("Company settings")}</h2>
      <ErrorMessage error={inst.error} />
      {inst.data && (
        <p>
          {inst.data.verified ? t("The company's domain is verified.") : t("The company's domain is not verified yet: invitations wait for that.")}
        </p>
      )}
      <form onSubmit={form.handleSubmit((f) => save.mutate(f))}>
        <label htmlFor="set-name">{t("Company name")}</label>
        <input id="set-name" required maxLength={100} {...register("name", { required: true })} />
        <label htmlFor="set-message">{t("Invitation message")}</label>
        <textarea id="set-message" rows={3} maxLength={2000} {...register("message")} />
        <label htmlFor="set-retention">{t("Keep data for (days)")}</label>
        <input id="set-retention" type="number" min={30} max={3650} required {...register("retention")} />
        <label htmlFor="set-join">{t("Who may join")}</label>
        <select id="set-join" {...register("joinPolicy")}>
          <option value="open">{t("Anyone with a verified company address")}</option>
          <option value="invite">{t("Only invited people")}</option>
          <option value="sso">{t("Single sign-on")}</option>
        </select>
        <label className="check">
          <input type="checkbox" {...register("needApproval")} />
          {t("Suggestions need a curator's approval")}
        </label>
        <label className="check">
          <input type="checkbox" role="switch" aria-describedby="set-digest-hint" {...register("digest")} />
          {t("Weekly digest mail")}
        </label>
        <p id="set-digest-hint" className="hint">
          {t("Once a week, members get a plain-text mail with the newest content. Each member can still opt out in their profile.")}
        </p>
        <fieldset>
          <legend>{t("Analytics")}</legend>
          <label htmlFor="set-zone">{t("Time zone of the analytics days")}</label>
          <input id="set-zone" list="set-zones" placeholder="Europe/Helsinki" required {...register("zone")} />
          <datalist id="set-zones">
            {zones().map((z) => <option key={z} value={z} />)}
          </datalist>
          <div className="row2">
            <div>
              <label htmlFor="set-cpc">{t("Cost per click (prices the earned media value)")}</label>
              <input id="set-cpc" type="number" min={0} step="0.01" placeholder="0.45" required={hasCPC} {...register("cpc")} />
            </div>
            <div>
              <label htmlFor="set-currency">{t("Currency")}</label>
              <input id="set-currency" maxLength={3} placeholder="EUR" required={hasCPC} {...register("currency")} />
            </div>
          </div>
          <label htmlFor="set-min-group">{t("Smallest group shown member by member")}</label>
          <input id="set-min-group" type="number" min={1} max={1000} required {...register("minGroup")} />
          <label className="check">
            <input type="checkbox" {...register("leaderboard")} />
            {t("Members see their rank on the leaderboard")}
          </label>
          <div className="row2">
            <div>
              <label htmlFor="set-per-share">{t("Points per share")}</label>
              <input id="set-per-share" type="number" min={1} max={1000} required {...register("perShare")} />
            </div>
            <div>
              <label htmlFor="set-per-click">{t("Points per unique click")}</label>
              <input id="set-per-click" type="number" min={1} max={1000} required {...register("perClick")} />
            </div>
          </div>
        </fieldset>
        <button type="submit" disabled={save.isPending}>{t("Save settings")}</button>
        <div role="status" aria-live="polite">{save.isSuccess && <p className="notice">{t("Saved.")}</p>}</div>
        <ErrorMessage error={save.error} />
      </form>
    </section>
  );
}
