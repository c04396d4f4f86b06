import { useEffect, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { ApiError, api, call } from "../api/client";
import { ErrorMessage } from "./ErrorMessage";

/** Decodes a base64url string (the VAPID public key) into bytes, as
 * pushManager.subscribe takes its applicationServerKey. */
export function base64UrlToBytes(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** What turning notifications on needs from the browser: a service
 * worker with push, and notifications. */
function browserSupport(): boolean {
  return typeof navigator !== "undefined" && "serviceWorker" in navigator && typeof window !== "undefined" && "PushManager" in window && "Notification" in window;
}

/** Subscribes this browser with the server's key and registers it. The
 * push consent must be granted first (the server refuses otherwise). */
export async function subscribeThisBrowser(publicKey: string): Promise<void> {
  if ((await Notification.requestPermission()) !== "granted") {
    throw new ApiError(0, { detail: "Notifications are blocked for this site in the browser's settings." });
  }
  const reg = await navigator.serviceWorker.ready;
  const sub =
    (await reg.pushManager.getSubscription()) ??
    (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(publicKey) }));
  const j = sub.toJSON();
  await call(
    api.POST("/api/v1/me/push/subscriptions", {
      body: { endpoint: j.endpoint ?? "", expirationTime: j.expirationTime ?? null, keys: { p256dh: j.keys?.p256dh ?? "", auth: j.keys?.auth ?? "" } },
    }),
  );
}

/** The browser's own time zone, the default of the quiet hours'. */
const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/**
 * "Notifications" in the profile: a switch that grants the push consent and
 * registers this browser (or withdraws the consent, which removes every
 * device), and the quiet hours in the member's time zone.
 */
export function PushNotifications() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const settings = useQuery({ queryKey: ["push"], queryFn: () => call(api.GET("/api/v1/me/push")) });
  const s = settings.data;
  const [quiet, setQuiet] = useState(false);
  const [start, setStart] = useState("22:00");
  const [end, setEnd] = useState("07:00");
  const [zone, setZone] = useState(browserZone());
  useEffect(() => {
    if (!s) return;
    setQuiet(!!s.quiet_hours);
    if (s.quiet_hours) {
      setStart(s.quiet_hours.start);
      setEnd(s.quiet_hours.end);
    }
    if (s.time_zone) setZone(s.time_zone);
  }, [s]);

  const toggle = useMutation({
    mutationFn: async (on: boolean) => {
      await call(api.PUT("/api/v1/me/consents/{purpose}", { params: { path: { purpose: "push" } }, body: { granted: on } }));
      if (!on) {
        const reg = await navigator.serviceWorker?.getRegistration();
        await (await reg?.pushManager.getSubscription())?.unsubscribe();
        return;
      }
      await subscribeThisBrowser(s?.public_key ?? "");
    },
    onSettled: () => {
      qc.invalidateQueries({ queryKey: ["push"] });
      qc.invalidateQueries({ queryKey: ["consents"] });
    },
  });
  const save = useMutation({
    mutationFn: () =>
      call(api.PUT("/api/v1/me/push", { body: { time_zone: zone.trim(), quiet_hours: quiet ? { start, end } : null } })),
    onSuccess: (v) => qc.setQueryData(["push"], v),
  });

  const supported = browserSupport() && !!s?.public_key;
  const on = !!s?.consented && (s?.devices.length ?? 0) > 0;
  return (
    <section aria-labelledby="push-h">
      <h2 id="push-h">{t("Notifications")}</h2>
      <ErrorMessage error={settings.error} />
      <div className="consent">
        <label className="check">
          <input
            type="checkbox"
            role="switch"
            checked={toggle.isPending ? !!toggle.variables : on}
            disabled={!s || !supported || toggle.isPending}
            onChange={(e) => toggle.mutate(e.target.checked)}
          />
          {t("Tell me on this device when there is new content to share")}
        </label>
        <span className="hint">
          {" "}
          {supported
            ? t("Off until you turn it on; at most {{n}} a day. Turning it off here stops them on all your devices.", { n: s?.daily_cap ?? 3 })
            : t("This browser or server cannot show notifications.")}
        </span>
      </div>
      {s && s.devices.length > 0 && <p className="hint">{t("Devices: {{n}}", { n: s.devices.length })}</p>}
      <ErrorMessage error={toggle.error} />
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
        aria-label={t("Quiet hours")}
      >
        <label className="check">
          <input type="checkbox" checked={quiet} onChange={(e) => setQuiet(e.target.checked)} />
          {t("Quiet hours (no notifications, they are not sent later)")}
        </label>
        <label htmlFor="quiet-start">{t("From")}</label>
        <input id="quiet-start" type="time" required disabled={!quiet} value={start} onChange={(e) => setStart(e.target.value)} />
        <label htmlFor="quiet-end">{t("Until")}</label>
        <input id="quiet-end" type="time" required disabled={!quiet} value={end} onChange={(e) => setEnd(e.target.value)} />
        <label htmlFor="quiet-zone">{t("Time zone")}</label>
        <input id="quiet-zone" maxLength={64} value={zone} onChange={(e) => setZone(e.target.value)} />
        <button type="submit" disabled={save.isPending}>
          {t("Save quiet hours")}
        </button>
        <div role="status" aria-live="polite">
          {save.isSuccess && <p className="notice">{t("Saved.")}</p>}
        </div>
        <ErrorMessage error={save.error} />
      </form>
    </section>
  );
}
