// Provider keys: add (the provider's verdict is shown as the API words it), select, delete, a
// monthly budget, and each key's usage as a chart (cost and tokens by day, by model).
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { api, ApiFailure, type Key, type KeyStatistics } from "./api.ts";
import { useT } from "./i18n.ts";

export function Keys() {
  const t = useT();
  const [keys, setKeys] = useState<Key[]>([]);
  const [name, setName] = useState("");
  const [secret, setSecret] = useState("");
  const [provider, setProvider] = useState<"openai" | "anthropic">("openai");
  const [status, setStatus] = useState<{ kind: "busy" | "ok" | "error"; text: string } | null>(null);
  const [shown, setShown] = useState<string | null>(null);

  const reload = useCallback(async () => {
    const list = await api<Key[]>("GET", "/keys");
    setKeys(list);
    setShown((s) => s ?? list.find((k) => k.is_selected)?.id ?? list[0]?.id ?? null);
  }, []);
  useEffect(() => {
    reload().catch(() => {});
  }, [reload]);

  async function add(e: FormEvent) {
    e.preventDefault();
    setStatus({ kind: "busy", text: t.checking });
    try {
      const key = await api<Key>("POST", "/keys", { name, api_key: secret, provider });
      setStatus({ kind: "ok", text: t.keyAdded });
      setName("");
      setSecret("");
      setShown(key.id);
      await reload();
    } catch (err) {
      setStatus({ kind: "error", text: err instanceof ApiFailure ? err.message : t.error });
    }
  }
  async function change(id: string, body: Record<string, unknown>) {
    try {
      await api("PATCH", `/keys/${id}`, body);
      await reload();
    } catch (err) {
      setStatus({ kind: "error", text: err instanceof ApiFailure ? err.message : t.error });
    }
  }
  async function remove(id: string) {
    if (!confirm(t.confirmDelete)) return;
    await api("DELETE", `/keys/${id}`);
    if (shown === id) setShown(null);
    await reload();
  }

  return (
    <section className="page-pad keys" aria-labelledby="keys-title">
      <h1 id="keys-title">{t.keys}</h1>
      <form className="card add-key" onSubmit={add} aria-label={t.addKey}>
        <h2>{t.addKey}</h2>
        <div className="row">
          <label>
            {t.keyName}
            <input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <label>
            {t.provider}
            <select value={provider} onChange={(e) => setProvider(e.target.value as "openai" | "anthropic")}>
              <option value="openai">OpenAI</option>
              <option value="anthropic">Anthropic</option>
            </select>
          </label>
          <label className="grow">
            {t.keySecret}
            <input
              required
              type="password"
              autoComplete="off"
              value={secret}
              onChange={(e) => setSecret(e.target.value)}
            />
          </label>
          <button type="submit" className="primary" disabled={status?.kind === "busy"}>{t.add}</button>
        </div>
        {status && (
          <p
            className={status.kind === "error" ? "error" : "muted"}
            role={status.kind === "error" ? "alert" : "status"}
          >
            {status.text}
          </p>
        )}
      </form>
      {keys.length === 0 ? <p className="muted">{t.noKeys}</p> : (
        <ul className="key-list">
          {keys.map((k) => (
            <li key={k.id} className={`card key${k.id === shown ? " shown" : ""}`} data-key-id={k.id}>
              <div className="key-head">
                <button
                  type="button"
                  className="key-name link"
                  aria-expanded={k.id === shown}
                  onClick={() => setShown(k.id === shown ? null : k.id)}
                >
                  {k.name}
                </button>
                <span className="muted small">{k.provider} ···{k.hint}</span>
                {k.is_selected && <span className="badge ok">{t.selected}</span>}
                {!k.is_valid && <span className="badge bad">{t.invalid}</span>}
                <span className="spacer" />
                {!k.is_selected && (
                  <button
                    type="button"
                    className="ghost"
                    onClick={() => change(k.id, { selected: true })}
                  >
                    {t.select}
                  </button>
                )}
                <button
                  type="button"
                  className="ghost danger"
                  aria-label={`${t.delete}: ${k.name}`}
                  onClick={() => remove(k.id)}
                >
                  {t.delete}
                </button>
              </div>
              <Budget keyRow={k} save={(v) => change(k.id, { monthly_budget_usd: v })} />
              {k.id === shown && <Usage keyId={k.id} />}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Budget({ keyRow, save }: { keyRow: Key; save: (v: number | null) => void }) {
  const t = useT();
  const [value, setValue] = useState(keyRow.monthly_budget_usd ?? "");
  useEffect(() => {
    setValue(keyRow.monthly_budget_usd ?? "");
  }, [keyRow.monthly_budget_usd]);
  return (
    <form
      className="budget"
      onSubmit={(e) => {
        e.preventDefault();
        save(value === "" ? null : Number(value));
      }}
    >
      <label>
        {t.budget}
        <input
          type="number"
          min="0"
          step="0.01"
          inputMode="decimal"
          placeholder={t.noBudget}
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
      </label>
      <button type="submit" className="ghost">{t.setBudget}</button>
    </form>
  );
}

const usd = (v: string | number) => `$${Number(v).toFixed(Number(v) !== 0 && Math.abs(Number(v)) < 0.01 ? 4 : 2)}`;

function Usage({ keyId }: { keyId: string }) {
  const t = useT();
  const [stats, setStats] = useState<KeyStatistics | null>(null);
  useEffect(() => {
    api<KeyStatistics>("GET", `/keys/${keyId}/statistics`).then(setStats).catch(() => {});
  }, [keyId]);
  if (!stats) return null;
  const m = stats.this_month;
  return (
    <div className="usage">
      <dl className="figures">
        <div>
          <dt>{t.requests}</dt>
          <dd>{stats.totals.requests.toLocaleString()}</dd>
        </div>
        <div>
          <dt>{t.tokens}</dt>
          <dd>{stats.totals.total_tokens.toLocaleString()}</dd>
        </div>
        <div>
          <dt>{t.cost}</dt>
          <dd>{usd(stats.totals.cost_usd)}</dd>
        </div>
        <div>
          <dt>{t.thisMonth}</dt>
          <dd>
            {usd(m.cost_usd)}
            {m.budget_remaining_usd != null && <small>· {usd(m.budget_remaining_usd)} {t.left}</small>}
          </dd>
        </div>
      </dl>
      {stats.totals.requests === 0 ? <p className="muted">{t.noUsage}</p> : (
        <>
          <h3>{t.byDay}</h3>
          <DayChart days={stats.by_day} />
          <h3>{t.byModel}</h3>
          <ModelBars models={stats.by_model} />
        </>
      )}
    </div>
  );
}

/** Cost per day as bars (tokens in each bar's title), the last 30 days, drawn as SVG. */
function DayChart({ days }: { days: KeyStatistics["by_day"] }) {
  const t = useT();
  const byDay = new Map(days.map((d) => [d.day, d]));
  const today = new Date();
  const series = Array.from({ length: 30 }, (_, i) => {
    const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - 29 + i));
    const day = d.toISOString().slice(0, 10);
    const row = byDay.get(day);
    return { day, cost: Number(row?.cost_usd ?? 0), tokens: row?.total_tokens ?? 0, requests: row?.requests ?? 0 };
  });
  const max = Math.max(...series.map((s) => s.cost), 1e-9);
  const H = 100;
  return (
    <figure className="chart">
      <div className="chart-max">{usd(max)}</div>
      <svg
        viewBox={`0 0 ${series.length * 10} ${H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${t.cost} · ${t.byDay}`}
      >
        <line x1="0" x2={series.length * 10} y1={H} y2={H} className="axis" />
        {series.map((s, i) => {
          const h = s.cost ? Math.max(2, (s.cost / max) * (H - 2)) : 0;
          return (
            <rect key={s.day} x={i * 10 + 1.5} y={H - h} width="7" height={h} className="bar">
              <title>
                {`${s.day}: ${usd(s.cost)}, ${s.tokens.toLocaleString()} ${t.tokens}, ${s.requests} ${t.requests}`}
              </title>
            </rect>
          );
        })}
      </svg>
      <figcaption className="chart-days">
        <span>{series[0].day.slice(5)}</span>
        <span>{series[29].day.slice(5)}</span>
      </figcaption>
    </figure>
  );
}

function ModelBars({ models }: { models: KeyStatistics["by_model"] }) {
  const t = useT();
  const max = Math.max(...models.map((m) => m.total_tokens), 1);
  return (
    <ul className="model-bars">
      {models.map((m) => (
        <li key={`${m.provider}/${m.model}`}>
          <span className="model">{m.model}</span>
          <span className="track" aria-hidden="true">
            <span style={{ width: `${(m.total_tokens / max) * 100}%` }} />
          </span>
          <span className="muted small">
            {m.total_tokens.toLocaleString()} {t.tokens.toLowerCase()} · {m.requests} {t.requests.toLowerCase()} ·{" "}
            {usd(m.cost_usd)}
          </span>
        </li>
      ))}
    </ul>
  );
}
