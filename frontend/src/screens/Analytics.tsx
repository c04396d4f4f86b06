import { useId, useState, type ReactNode } from "react";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { T } from "../components/T";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, call, type Schemas } from "../api/client";
import { WeeklyTrend } from "../components/WeeklyTrend";
import type { paths } from "../api/schema";
import { METRICS, count, csvHref, formatMoney, lastDays, todayIn, type Metric, type Row, type Summary } from "../lib/analytics";
import { networkLabel } from "../lib/networks";
import { isAdmin, useInstance, useMe } from "../lib/session";
import { ErrorMessage } from "../components/ErrorMessage";
import { Wide } from "../components/Wide";
import { CampaignProgress } from "../components/CampaignProgress";
import { useLiveCampaigns } from "../lib/campaigns";

// These paths also answer text/csv; the app reads their JSON.
type SeriesDoc = paths["/api/v1/analytics/timeseries"]["get"]["responses"]["200"]["content"]["application/json"];
type ListDoc = Schemas["AnalyticsList"];

/** The analysts' dashboard: a period, tiles, a daily chart, top lists. */
export function Analytics() {
  const [range, setRange] = usePeriod();
  const { from, to } = range;
  const query = { from, to };
  const { t } = useTranslation();
  const summary = useQuery({
    queryKey: ["analytics", "summary", range],
    queryFn: () => call(api.GET("/api/v1/analytics/summary", { params: { query } })),
    placeholderData: keepPreviousData,
  });
  return (
    <section>
      <h1 tabIndex={-1}>{t("Analytics")}</h1>
      <Period value={range} onChange={setRange} />
      <ErrorMessage error={summary.error} />
      {summary.data && <Tiles s={summary.data} />}
      <Series from={from} to={to} />
      <CampaignsProgress />
      <TopList
        list="content"
        title={t("Top content")}
        from={from}
        to={to}
        nameHeader={t("Content")}
        empty={t("Nothing was shared in this period.")}
      />
      <TopList
        list="members"
        title={t("Leaderboard")}
        from={from}
        to={to}
        nameHeader={t("Member")}
        empty={t("Nobody shared in this period.")}
      />
      <TopList
        list="networks"
        title={t("Networks")}
        from={from}
        to={to}
        nameHeader={t("Network")}
        empty={t("No shares in this period.")}
      />
      <ByGroup from={from} to={to} />
    </section>
  );
}

/** The live campaigns' progress against their goals (within each campaign's own window). */
function CampaignsProgress() {
  const { t } = useTranslation();
  const campaigns = useLiveCampaigns();
  const items = (campaigns.data?.items ?? []).filter((c) => c.status !== "scheduled");
  if (items.length === 0) return null;
  return (
    <section aria-labelledby="campaigns-progress">
      <h2 id="campaigns-progress">{t("Campaigns")}</h2>
      <ErrorMessage error={campaigns.error} />
      <ul className="rows" aria-label={t("Campaign progress")}>
        {items.map((c) => (
          <li key={c.id}>
            <strong>{c.name}</strong>{" "}
            <span className="muted">
              {t("until {{date}}", { date: new Date(c.end).toLocaleDateString() })}
            </span>
            <CampaignProgress id={c.id} label={c.name} />
          </li>
        ))}
      </ul>
    </section>
  );
}

/**
 * The period shown: the last 30 days up to today in the company's
 * analytics time zone (where the API counts days), until one is picked.
 */
function usePeriod(): [{ from: string; to: string }, (v: { from: string; to: string }) => void] {
  const inst = useInstance();
  const [picked, setPicked] = useState<{ from: string; to: string }>();
  return [picked ?? lastDays(30, todayIn(inst.data?.settings.time_zone)), setPicked];
}

export function Period({
  value,
  onChange,
}: {
  value: { from: string; to: string };
  onChange: (v: { from: string; to: string }) => void;
}) {
  const id = useId();
  const { t } = useTranslation();
  const inst = useInstance();
  const today = todayIn(inst.data?.settings.time_zone);
  return (
    <form className="filters" aria-label={t("Period")} onSubmit={(e) => e.preventDefault()}>
      <div>
        <label htmlFor={`${id}-from`}>{t("From")}</label>
        <input
          id={`${id}-from`}
          type="date"
          required
          max={value.to}
          value={value.from}
          onChange={(e) => e.target.value && onChange({ ...value, from: e.target.value })}
        />
      </div>
      <div>
        <label htmlFor={`${id}-to`}>{t("To (included)")}</label>
        <input
          id={`${id}-to`}
          type="date"
          required
          min={value.from}
          value={value.to}
          onChange={(e) => e.target.value && onChange({ ...value, to: e.target.value })}
        />
      </div>
      <div className="presets">
        {[7, 30, 90, 365].map((n) => (
          <button key={n} type="button" className="secondary" onClick={() => onChange(lastDays(n, today))}>
            {t("Last {{count}} days", { count: n })}
          </button>
        ))}
      </div>
    </form>
  );
}

/** The share of members who did something, as a whole percentage ("–" with no members). */
export function percentOf(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((part / whole) * 100)}%` : "–";
}

export function Tiles({ s }: { s: Summary }) {
  const { t } = useTranslation();
  const admin = isAdmin(useMe().data?.member.role);
  const cpcLink = (text: string) => (
    <Link to="/admin/settings#set-cpc">{text}</Link>
  );
  const tiles: [string, string, ReactNode?][] = [
    // Adoption comes first, as on the dashboards people compare with;
    // only the company-wide summary has it.
    ...(s.members !== undefined
      ? [
          [
            t("Adoption"),
            percentOf(s.members_sharing ?? 0, s.members),
            t("{{sharing}} of {{members}} members shared · {{connected}} connected an account", {
              sharing: count(s.members_sharing ?? 0),
              members: count(s.members),
              connected: count(s.members_connected ?? 0),
            }),
          ] as [string, string, ReactNode],
        ]
      : []),
    [t("Shares"), count(s.shares)],
    [t("Clicks"), count(s.clicks), t("{{count}} unique", { count: s.unique_clicks, formatted: count(s.unique_clicks) })],
    [t("Potential reach"), count(s.potential_reach), t("followers of the sharing accounts")],
    [
      t("Engagement"),
      count(s.engagement),
      t("{{reactions}} reactions · {{comments}} comments · {{reposts}} reposts", {
        reactions: count(s.reactions),
        comments: count(s.comments),
        reposts: count(s.reposts),
      }),
    ],
    [
      t("Earned media value"),
      formatMoney(s.earned_media_value),
      s.earned_media_value?.currency ? (
        <>
          {t("clicks priced at the cost per click")}
          {admin && <> · {cpcLink(t("change the cost per click"))}</>}
        </>
      ) : admin ? (
        cpcLink(t("Set a cost per click to price clicks"))
      ) : (
        t("no cost per click is set")
      ),
    ],
  ];
  return (
    <dl className="tiles">
      {tiles.map(([label, value, hint]) => (
        <div key={label} className="tile">
          <dt>{label}</dt>
          <dd className="figure">{value}</dd>
          {hint && <dd className="hint">{hint}</dd>}
        </div>
      ))}
    </dl>
  );
}

function Series({ from, to }: { from: string; to: string }) {
  const [metric, setMetric] = useState<Metric>("clicks");
  const id = useId();
  const { t } = useTranslation();
  const series = useQuery({
    queryKey: ["analytics", "timeseries", from, to, metric],
    queryFn: () => call(api.GET("/api/v1/analytics/timeseries", { params: { query: { from, to, metric } } })) as Promise<SeriesDoc>,
    placeholderData: keepPreviousData,
  });
  const label = t(METRICS.find((m) => m.metric === metric)?.label ?? metric);
  const money = metric === "emv" && series.data?.currency;
  const fmt = (v: number) => (money ? formatMoney({ amount: v, currency: series.data!.currency! }) : v.toLocaleString());
  const items = series.data?.items ?? [];
  return (
    <section className="panel" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{t("{{metric}} per day", { metric: label })}</h2>
      <div className="filters">
        <div>
          <label htmlFor={`${id}-metric`}>{t("Metric")}</label>
          <select id={`${id}-metric`} value={metric} onChange={(e) => setMetric(e.target.value as Metric)}>
            {METRICS.map((m) => (
              <option key={m.metric} value={m.metric}>
                {t(m.label)}
              </option>
            ))}
          </select>
        </div>
        <a className="button secondary" href={csvHref("timeseries", from, to, metric)} download>
          {t("Download CSV")}
          <span className="sr-only"> {t("of {{what}}", { what: t("{{metric}} per day", { metric: label }) })}</span>
        </a>
      </div>
      <ErrorMessage error={series.error} />
      {series.data && (
        <>
          <p className="hint">{t("Days in {{zone}}.", { zone: series.data.time_zone })}</p>
          <div className="chart">
            <ResponsiveContainer width="100%" height={260}>
              <LineChart
                data={items}
                margin={{ top: 8, right: 16, bottom: 8, left: 8 }}
                title={t("{{metric}} per day, {{from}} to {{to}}", { metric: label, from, to })}
                desc={t("The arrow keys move between days; the figures are also in the table below.")}
              >
                <CartesianGrid stroke="#c9cdd8" strokeDasharray="3 3" />
                <XAxis dataKey="day" tick={{ fontSize: 12, fill: "#4f5566" }} minTickGap={24} />
                <YAxis allowDecimals={false} tick={{ fontSize: 12, fill: "#4f5566" }} tickFormatter={fmt} width={72} />
                <Tooltip formatter={(v) => [fmt(Number(v)), label]} />
                <Line type="monotone" dataKey="value" name={label} stroke="#2f44c4" strokeWidth={2} dot={false} isAnimationActive={false} />
              </LineChart>
            </ResponsiveContainer>
          </div>
          <details>
            <summary>{t("The figures as a table")}</summary>
            <Wide label={t("{{metric}} per day, table", { metric: label })}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("Day")}</th>
                    <th scope="col">{label}</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((p) => (
                    <tr key={p.day}>
                      <th scope="row">{p.day}</th>
                      <td>{fmt(p.value)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Wide>
          </details>
        </>
      )}
    </section>
  );
}

function TopList({
  list,
  title,
  from,
  to,
  nameHeader,
  empty,
}: {
  list: "content" | "members" | "networks";
  title: string;
  from: string;
  to: string;
  nameHeader: string;
  empty: string;
}) {
  const id = useId();
  const { t } = useTranslation();
  const rows = useQuery({
    queryKey: ["analytics", list, from, to],
    queryFn: () => call(api.GET(`/api/v1/analytics/${list}`, { params: { query: { from, to, limit: 10 } } })) as Promise<ListDoc>,
    placeholderData: keepPreviousData,
  });
  const items = rows.data?.items ?? [];
  const nameOf = (r: Row) => (list === "networks" ? networkLabel(r.id) : r.name || r.id);
  return (
    <section className="panel" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{title}</h2>
      <a className="button secondary" href={csvHref(list, from, to)} download>
        {t("Download CSV")}
        <span className="sr-only"> {t("of {{what}}", { what: title.toLowerCase() })}</span>
      </a>
      <ErrorMessage error={rows.error} />
      {rows.data?.suppressed && (
        <p className="hint">{t("Too few members have figures in this period to show them one by one.")}</p>
      )}
      {rows.isSuccess && items.length === 0 && !rows.data.suppressed && <p className="empty">{empty}</p>}
      {items.length > 0 && (
        <Wide label={t("{{title}}, table", { title })}>
          <table>
            <thead>
              <tr>
                {list === "members" && <th scope="col">{t("Rank")}</th>}
                <th scope="col">{nameHeader}</th>
                {list === "members" && <th scope="col">{t("Points")}</th>}
                <FigureHeads />
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id}>
                  {list === "members" && <td>{r.rank ?? "—"}</td>}
                  <th scope="row" className={list === "content" ? "wrap" : undefined}>
                    {nameOf(r)}
                  </th>
                  {list === "members" && <td>{count(r.points)}</td>}
                  <FigureCells r={r} />
                </tr>
              ))}
            </tbody>
          </table>
        </Wide>
      )}
    </section>
  );
}

/** The figure columns of every analytics table, their headers and a row's cells. */
function FigureHeads() {
  const { t } = useTranslation();
  return (
    <>
      <th scope="col">{t("Shares")}</th>
      <th scope="col">{t("Clicks")}</th>
      <th scope="col">{t("Reach")}</th>
      <th scope="col">{t("Engagement")}</th>
      <th scope="col">{t("Earned media value")}</th>
    </>
  );
}

function FigureCells({ r }: { r: Row }) {
  const { t } = useTranslation();
  return (
    <>
      <td>{count(r.shares)}</td>
      <td>
        {count(r.clicks)} <span className="meta">{t("({{n}} unique)", { n: count(r.unique_clicks) })}</span>
      </td>
      <td>{count(r.potential_reach)}</td>
      <td>{count(r.engagement)}</td>
      <td>{formatMoney(r.earned_media_value)}</td>
    </>
  );
}

/**
 * The figures by group (Admin → Groups), most clicks first. Groups smaller
 * than the company's min_group_size are merged into "Other groups", or
 * not shown at all when even together they are too small.
 */
export function ByGroup({ from, to }: { from: string; to: string }) {
  const id = useId();
  const { t } = useTranslation();
  const rows = useQuery({
    queryKey: ["analytics", "groups", from, to],
    queryFn: () => call(api.GET("/api/v1/analytics/groups", { params: { query: { from, to } } })),
    placeholderData: keepPreviousData,
  });
  const d = rows.data;
  const items = d ? [...d.items, ...(d.other ? [{ ...d.other, name: t("Other groups") }] : [])] : [];
  return (
    <section className="panel" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{t("By group")}</h2>
      <ErrorMessage error={rows.error} />
      {d && d.merged > 0 && (
        <p className="hint">
          {d.other_hidden
            ? t("{{count}} groups have fewer than {{min}} members; together they are still too small to show.", { count: d.merged, min: d.min_group_size })
            : t("{{count}} groups have fewer than {{min}} members: they are shown together as Other groups.", { count: d.merged, min: d.min_group_size })}
        </p>
      )}
      {rows.isSuccess && items.length === 0 && d?.merged === 0 && <p className="empty">{t("No groups yet: admins add them under Admin → Groups.")}</p>}
      {items.length > 0 && (
        <Wide label={t("{{title}}, table", { title: t("By group") })}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("Group")}</th>
                <th scope="col">{t("Members")}</th>
                <FigureHeads />
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id}>
                  <th scope="row">{r.name}</th>
                  <td>{count(r.members)}</td>
                  <FigureCells r={r} />
                </tr>
              ))}
            </tbody>
          </table>
        </Wide>
      )}
    </section>
  );
}

/** A member's own impact (/analytics/me), with their rank when shown. */
export function MyImpact() {
  const [range, setRange] = usePeriod();
  const me = useQuery({
    queryKey: ["analytics", "me", range],
    queryFn: () => call(api.GET("/api/v1/analytics/me", { params: { query: range } })),
    placeholderData: keepPreviousData,
  });
  const { t } = useTranslation();
  return (
    <section>
      <h1 tabIndex={-1}>{t("My impact")}</h1>
      <Period value={range} onChange={setRange} />
      <ErrorMessage error={me.error} />
      {me.data && (
        <>
          {me.data.rank != null && (
            <p className="notice">
              {me.data.of
                ? t("You are number {{rank}} of {{of}} on the leaderboard with {{points}} points.", {
                    rank: me.data.rank,
                    of: me.data.of,
                    points: count(me.data.points),
                  })
                : t("You are number {{rank}} on the leaderboard with {{points}} points.", {
                    rank: me.data.rank,
                    points: count(me.data.points),
                  })}
            </p>
          )}
          {!me.data.attributed && (
            <p className="hint">
              {t("You objected to being named in analytics, so your shares count only in the company's totals.")}{" "}
              <Link to="/profile">{t("Change it in your profile")}</Link>.
            </p>
          )}
          <Tiles s={me.data} />
          <WeeklyTrend weeks={me.data.weeks ?? []} />
          {me.data.shares === 0 && (
            <p className="empty">
              <T k="No shares in this period yet. Pick something in the <0>feed</0> and press Share." components={[<Link to="/feed" />]} />
            </p>
          )}
        </>
      )}
    </section>
  );
}
