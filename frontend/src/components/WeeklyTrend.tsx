import { useTranslation } from "react-i18next";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { DataTable } from "./Wide";

export type Week = { start: string; shares: number; clicks: number };

/** "2026-11-30" → "30 Nov" in the reader's locale. */
function short(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? day : d.toLocaleDateString(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
}

/**
 * My impact's trend: shares and clicks per week, as bars, with the same
 * figures in a table for screen readers and keyboard users.
 */
export function WeeklyTrend({ weeks }: { weeks: Week[] }) {
  const { t } = useTranslation();
  if (weeks.length < 2) return null;
  const data = weeks.map((w) => ({ ...w, label: short(w.start) }));
  return (
    <section aria-labelledby="trend-h">
      <h2 id="trend-h">{t("Week by week")}</h2>
      <div className="chart">
        <ResponsiveContainer width="100%" height={220}>
          <BarChart
            data={data}
            margin={{ top: 8, right: 8, bottom: 8, left: 0 }}
            title={t("My shares and clicks per week")}
            desc={t("The figures are also in the table below.")}
          >
            <CartesianGrid stroke="#c9cdd8" strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="label" tick={{ fontSize: 12, fill: "#4f5566" }} minTickGap={12} />
            <YAxis allowDecimals={false} tick={{ fontSize: 12, fill: "#4f5566" }} width={40} />
            <Tooltip />
            <Legend />
            <Bar dataKey="clicks" name={t("Clicks")} fill="#2f44c4" isAnimationActive={false} />
            <Bar dataKey="shares" name={t("Shares")} fill="#1d6b3a" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <details>
        <summary>{t("The figures as a table")}</summary>
        <DataTable label={t("My shares and clicks per week, table")} columns={[t("Week of"), t("Shares"), t("Clicks")]}>
          {weeks.map((w) => (
            <tr key={w.start}>
              <th scope="row">{w.start}</th>
              <td>{w.shares}</td>
              <td>{w.clicks}</td>
            </tr>
          ))}
        </DataTable>
      </details>
    </section>
  );
}
