import { useTranslation } from "react-i18next";
import type { ApiError } from "../api/client";

/** Shows an error's problem detail (as text) and any per-field messages. */
export function ErrorMessage({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (!error) return null;
  const e = error as Partial<ApiError> & { message?: string };
  const fields = e.problem?.errors ?? [];
  return (
    <div className="error" role="alert">
      <p>{e.message || t("Something went wrong. Try again.")}</p>
      {fields.length > 0 && (
        <ul>
          {fields.map((f, i) => (
            <li key={i}>
              <code>{f.field}</code> {f.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
