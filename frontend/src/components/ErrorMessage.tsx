import { useTranslation } from "react-i18next";
import type { ApiError } from "../api/client";

/** "share_texts.x" → "share texts x", "emails[2]" → "emails 3". */
export function fieldName(field: string) {
  return field
    .replace(/\[(\d+)\]/g, (_, i: string) => ` ${Number(i) + 1}`)
    .replace(/[._]/g, " ")
    .trim();
}

/**
 * Shows an error's problem detail (as text). A validation problem shows its
 * per-field messages instead, once each: its detail only repeats them.
 */
export function ErrorMessage({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (!error) return null;
  const e = error as Partial<ApiError> & { message?: string };
  const fields = e.problem?.errors ?? [];
  if (fields.length === 1) {
    return (
      <div className="error" role="alert">
        <p>
          {fieldName(fields[0]!.field)}: {fields[0]!.message}
        </p>
      </div>
    );
  }
  return (
    <div className="error" role="alert">
      <p>{fields.length > 1 ? t("Please check these fields:") : e.message || t("Something went wrong. Try again.")}</p>
      {fields.length > 1 && (
        <ul>
          {fields.map((f, i) => (
            <li key={i}>
              {fieldName(f.field)}: {f.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
