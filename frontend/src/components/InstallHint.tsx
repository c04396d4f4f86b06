import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { install, useInstallPrompt, useOfflineCopy } from "../lib/pwa";

const DISMISSED = "chorus.install-hint-dismissed";

/**
 * Offers to install the app, when the browser says it can be installed
 * (the beforeinstallprompt event) and the member has not said "Not now".
 * Browsers without that event (Safari) never show it; docs/app.md says how
 * to add the app to the home screen there.
 */
export function InstallHint() {
  const { t } = useTranslation();
  const prompt = useInstallPrompt();
  const [dismissed, setDismissed] = useState(() => {
    try {
      return localStorage.getItem(DISMISSED) === "1";
    } catch {
      return false;
    }
  });
  if (!prompt || dismissed) return null;
  const notNow = () => {
    setDismissed(true);
    try {
      localStorage.setItem(DISMISSED, "1");
    } catch {
      /* private mode: hidden for this visit only */
    }
  };
  return (
    <aside className="install-hint" aria-label={t("Install the app")}>
      <p>{t("Install Chorus on this device: it opens like an app and shows the feed even offline.")}</p>
      <button type="button" onClick={() => void install()}>
        {t("Install")}
      </button>{" "}
      <button type="button" className="secondary" onClick={notNow}>
        {t("Not now")}
      </button>
    </aside>
  );
}

/** Says so when the browser is offline or the worker answered with its kept
 * copies: what shows is the feed as last loaded. */
export function OfflineNotice() {
  const { t } = useTranslation();
  const copy = useOfflineCopy();
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const on = () => setOnline(true);
    const off = () => setOnline(false);
    window.addEventListener("online", on);
    window.addEventListener("offline", off);
    return () => {
      window.removeEventListener("online", on);
      window.removeEventListener("offline", off);
    };
  }, []);
  if (online && !copy) return null;
  return (
    <p className="offline" role="status">
      {t("You are offline: this is the feed as it was last loaded. Sharing and suggesting need a connection.")}
    </p>
  );
}
