import { useId } from "react";
import { useTranslation } from "react-i18next";
import { usage, type NetworkLimit } from "../lib/counting";

/** A share-text box for one network with its live character count. */
export function ShareTextField({
  limit,
  value,
  onChange,
}: {
  limit: NetworkLimit;
  value: string;
  onChange: (v: string) => void;
}) {
  const id = useId();
  const { t } = useTranslation();
  const u = usage(limit, value);
  const countId = `${id}-count`;
  return (
    <div className="share-text">
      <label htmlFor={id}>{limit.label}</label>
      <textarea
        id={id}
        rows={limit.max > 500 ? 4 : 3}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby={countId}
        aria-invalid={u.over || undefined}
      />
      <p id={countId} className={u.over ? "count over" : "count"}>
        {t("{{used}} / {{max}} {{unit}}", { used: u.used.toLocaleString("en"), max: limit.max.toLocaleString("en"), unit: t(limit.unit) })}
        {limit.link > 0 && ` ${t("({{n}} kept for the link)", { n: limit.link })}`}
        {u.over && ` — ${t("{{n}} too many", { n: (-u.remaining).toLocaleString("en") })}`}
      </p>
    </div>
  );
}
