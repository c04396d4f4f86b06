import { useTranslation } from "react-i18next";

/**
 * The groups a post is aimed at: none ticked is everyone. Members outside
 * the groups ticked neither see the post nor can share it.
 */
export function AudiencePicker({
  groups,
  value,
  onChange,
}: {
  groups: { id: string; name: string }[];
  value: string[];
  onChange: (v: string[]) => void;
}) {
  const { t } = useTranslation();
  return (
    <fieldset>
      <legend>{t("Audience")}</legend>
      <p className="hint" role="status">
        {value.length === 0
          ? t("Everyone sees it. Tick groups to show it only to their members.")
          : t("Only members of the groups ticked see it (curators and admins see everything).")}
      </p>
      {groups.length === 0 ? (
        <p className="hint">{t("No groups yet; admins add them under Admin → Groups.")}</p>
      ) : (
        <div className="checks">
          {groups.map((g) => (
            <label key={g.id} className="check">
              <input
                type="checkbox"
                checked={value.includes(g.id)}
                onChange={(e) => onChange(e.target.checked ? [...value, g.id] : value.filter((v) => v !== g.id))}
              />
              {g.name}
            </label>
          ))}
        </div>
      )}
    </fieldset>
  );
}
