import { useTranslation } from "react-i18next";
import type { Topic } from "../api/client";

/** A group of checkboxes, one per topic. */
export function TopicPicker({
  legend,
  topics,
  value,
  onChange,
}: {
  legend: string;
  topics: Topic[];
  value: string[];
  onChange: (v: string[]) => void;
}) {
  const { t } = useTranslation();
  if (topics.length === 0) {
    return (
      <fieldset>
        <legend>{legend}</legend>
        <p className="hint">{t("No topics yet; admins add them under Admin.")}</p>
      </fieldset>
    );
  }
  return (
    <fieldset>
      <legend>{legend}</legend>
      <div className="checks">
        {topics.map((t) => (
          <label key={t.id} className="check">
            <input
              type="checkbox"
              checked={value.includes(t.id)}
              onChange={(e) => onChange(e.target.checked ? [...value, t.id] : value.filter((v) => v !== t.id))}
            />
            {t.name}
          </label>
        ))}
      </div>
    </fieldset>
  );
}
