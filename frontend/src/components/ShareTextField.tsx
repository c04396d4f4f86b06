import { useId } from "react";
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
        {u.used.toLocaleString("en")} / {limit.max.toLocaleString("en")} {limit.unit}
        {limit.link > 0 && ` (${limit.link} kept for the link)`}
        {u.over && ` — ${(-u.remaining).toLocaleString("en")} too many`}
      </p>
    </div>
  );
}
