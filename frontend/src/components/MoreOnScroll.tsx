import { useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";

/**
 * "Load more" that also loads by itself when it scrolls into view
 * (infinite scroll); the button stays for keyboards and for browsers
 * without IntersectionObserver.
 */
export function MoreOnScroll({ more, loading, label }: { more: () => void; loading: boolean; label?: string }) {
  const { t } = useTranslation();
  const ref = useRef<HTMLButtonElement>(null);
  const latest = useRef({ more, loading });
  latest.current = { more, loading };
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof IntersectionObserver === "undefined") return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting) && !latest.current.loading) latest.current.more();
      },
      { rootMargin: "400px 0px" },
    );
    io.observe(el);
    return () => io.disconnect();
  }, []);
  return (
    <button type="button" ref={ref} className="secondary" onClick={more} disabled={loading}>
      {loading ? t("Loading…") : (label ?? t("Load more"))}
    </button>
  );
}
