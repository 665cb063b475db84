// The Regions page: a React component for Airflow 3.3's UI (react_apps). Airflow imports this file
// and renders globalThis.AirflowPlugin; React comes from the host (globalThis.React), so there is
// no build step. It polls /multiregion/api/regions every 3 s (the page's data, behind the login).
(() => {
  const React = globalThis.React;
  const h = React.createElement;
  const { useEffect, useState, useCallback } = React;
  const API = "/multiregion/api/regions";
  const REFRESH_MS = 3000;
  const COLORS = {
    ok: "#2f855a", degraded: "#b7791f", drained: "#4a5568", maintenance: "#2b6cb0",
    down: "#c53030", unknown: "#718096",
  };

  const ago = (t) => {
    if (!t) return "never";
    const s = Math.max(0, Math.round(Date.now() / 1000 - t));
    return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
  };
  const mins = (s) => (s == null ? "?" : s < 90 ? `${Math.round(s)}s` : `${Math.round(s / 60)}m`);
  const pct = (x) => (x == null ? "–" : `${Math.round(x * 100)}%`);
  const money = (x) => (x == null ? "no data" : `$${x.toFixed(2)}`);

  const css = {
    page: { padding: "16px", fontFamily: "inherit" },
    grid: { display: "grid", gridTemplateColumns: "repeat(auto-fit, minmax(300px, 1fr))", gap: "16px" },
    tile: (status) => ({
      border: `3px solid ${COLORS[status] || COLORS.unknown}`, borderRadius: "8px", padding: "12px",
      background: "var(--chakra-colors-bg, transparent)",
    }),
    badge: (status) => ({
      background: COLORS[status] || COLORS.unknown, color: "white", borderRadius: "4px",
      padding: "2px 8px", fontSize: "12px", fontWeight: 700, textTransform: "uppercase",
    }),
    row: { display: "flex", justifyContent: "space-between", gap: "8px", fontSize: "13px", margin: "3px 0" },
    label: { opacity: 0.7 },
    head: { display: "flex", justifyContent: "space-between", alignItems: "center", marginBottom: "8px" },
    button: { marginTop: "8px", padding: "4px 10px", borderRadius: "4px", border: "1px solid currentColor",
      background: "transparent", cursor: "pointer", fontSize: "13px" },
    input: { width: "100%", margin: "3px 0", padding: "4px", fontSize: "13px", color: "inherit",
      background: "transparent", border: "1px solid #a0aec0", borderRadius: "4px" },
    table: { width: "100%", borderCollapse: "collapse", fontSize: "13px", marginTop: "8px" },
    cell: { borderBottom: "1px solid #a0aec055", padding: "4px 6px", textAlign: "left" },
    error: { color: COLORS.down, fontSize: "13px" },
  };

  const Row = (label, value, testid) =>
    h("div", { style: css.row, "data-testid": testid }, h("span", { style: css.label }, label), h("span", null, value));

  function MaintenanceForm({ region, inMaintenance, onDone }) {
    const [open, setOpen] = useState(false);
    const [reason, setReason] = useState("");
    const [confirm, setConfirm] = useState("");
    const [error, setError] = useState(null);
    if (!open) {
      return h("button", { style: css.button, onClick: () => setOpen(true), "data-testid": "maintenance-open" },
        inMaintenance ? "Bring back from maintenance" : "Drain for maintenance");
    }
    const submit = async () => {
      setError(null);
      const body = inMaintenance ? { reason } : { reason, confirm };
      const resp = await fetch(`${API}/${region}/maintenance`, {
        method: inMaintenance ? "DELETE" : "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const answer = await resp.json().catch(() => ({}));
      if (!resp.ok) {
        const detail = Array.isArray(answer.detail) ? answer.detail.map((d) => d.msg).join("; ") : answer.detail;
        setError(detail || `HTTP ${resp.status}`);
        return;
      }
      setOpen(false); setReason(""); setConfirm(""); onDone();
    };
    return h("div", { "data-testid": "maintenance-form" },
      h("input", { style: css.input, placeholder: "Reason (recorded in the audit)", value: reason,
        onChange: (e) => setReason(e.target.value), "aria-label": "Reason" }),
      inMaintenance ? null : h("input", { style: css.input, placeholder: `Type ${region} to confirm`, value: confirm,
        onChange: (e) => setConfirm(e.target.value), "aria-label": "Confirm region" }),
      h("button", { style: css.button, onClick: submit, "data-testid": "maintenance-submit",
        disabled: reason.trim().length < 3 || (!inMaintenance && confirm !== region) },
        inMaintenance ? "Bring back" : "Drain"),
      " ",
      h("button", { style: css.button, onClick: () => { setOpen(false); setError(null); } }, "Cancel"),
      error ? h("div", { style: css.error, role: "alert", "data-testid": "maintenance-error" }, error) : null);
  }

  function Tile({ r, canAct, refresh }) {
    const health = r.health || {};
    const lagRows = [...r.datasets.map((d) => [d.dataset, d]), ...r.model_replication.map((m) => [`model ${m.model}`, m])];
    return h("div", { style: css.tile(r.status), "data-testid": "region-tile", "data-region": r.name, "data-status": r.status },
      h("div", { style: css.head },
        h("strong", { style: { fontSize: "16px" } }, `${r.name} `, h("span", { style: css.label }, `${r.cloud}${r.primary ? " · primary" : ""}`)),
        h("span", { style: css.badge(r.status), "data-testid": "region-status" }, r.status)),
      Row("serving", r.serving_up == null ? "not scraped yet" : r.serving_up ? "answering" : "NOT answering"),
      Row("health", health.state ? `${health.state} · probed ${ago(health.last_probe_at)}` : "not judged (failover disarmed?)"),
      health.last_reason ? Row("last failure", health.last_reason) : null,
      Row("weight", `${r.weight ?? "?"} (${pct(r.weight_share)} of DNS answers)`),
      Row("requests", `${r.requests_per_s}/s (${pct(r.request_share)} observed)`),
      r.drained_for_s != null ? Row("drained for", mins(r.drained_for_s)) : null,
      r.maintenance ? Row("maintenance", `${r.maintenance.reason} · since ${ago(r.maintenance.since)}`) : null,
      Row("model", r.models.length ? r.models.map((m) => `${m.model} v${m.version}`).join(", ") : "none loaded"),
      ...lagRows.map(([name, d]) => Row(name, `lag ${mins(d.lag_seconds)} / SLO ${mins(d.slo_seconds)}${d.over_slo ? " ⚠ over" : ""} · ${ago(d.at)}`)),
      Row("replica integrity", r.integrity),
      Row("last drill", r.last_drill ? `${r.last_drill.summary} · ${mins(r.last_drill.ago_s)} ago` : "none yet"),
      Row("cost yesterday", money(r.cost_yesterday) + (r.cost_anomalies.length ? ` ⚠ ${r.cost_anomalies.length} anomaly` : "")),
      Row("replicas", r.replicas == null ? "no scaling change yet" : `${r.replicas} (schedule ${r.replicas_scheduled})`),
      ...r.alerts.map((a, i) => h("div", { key: i, style: { ...css.row, color: a.severity === "critical" ? COLORS.down : COLORS.degraded } },
        `⚑ ${a.name}: ${a.summary}`)),
      canAct ? h(MaintenanceForm, { region: r.name, inMaintenance: !!r.maintenance, onDone: refresh }) : null);
  }

  function Events({ events }) {
    if (!events.length) return h("p", null, "No traffic changes recorded yet.");
    const th = (t) => h("th", { style: css.cell }, t);
    return h("table", { style: css.table, "data-testid": "events" },
      h("thead", null, h("tr", null, th("when"), th("region"), th("action"), th("weight"), th("reason"), th("run"))),
      h("tbody", null, events.map((e) => h("tr", { key: e.id },
        h("td", { style: css.cell }, new Date(e.at * 1000).toLocaleString()),
        h("td", { style: css.cell }, e.region),
        h("td", { style: css.cell }, e.action),
        h("td", { style: css.cell }, `${e.old_weight} → ${e.new_weight}`),
        h("td", { style: css.cell }, e.reason),
        h("td", { style: css.cell }, e.link ? h("a", { href: new URL(e.link, document.baseURI).href, style: { textDecoration: "underline" } }, e.run_id) : e.run_id || "–")))));
  }

  function RegionsPage() {
    const [data, setData] = useState(null);
    const [error, setError] = useState(null);
    const refresh = useCallback(async () => {
      try {
        const resp = await fetch(API, { credentials: "same-origin" });
        if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
        setData(await resp.json()); setError(null);
      } catch (e) { setError(String(e)); }
    }, []);
    useEffect(() => {
      refresh();
      const timer = setInterval(refresh, REFRESH_MS);
      return () => clearInterval(timer);
    }, [refresh]);
    if (!data) return h("div", { style: css.page }, error ? h("p", { style: css.error }, error) : "Loading regions…");
    const failed = Object.entries(data.errors || {});
    return h("div", { style: css.page },
      h("h2", { style: { fontSize: "20px", fontWeight: 700, marginBottom: "4px" } }, "Regions"),
      h("p", { style: { ...css.label, fontSize: "13px", marginBottom: "12px" }, "data-testid": "updated" },
        `updated ${ago(data.generated_at)} · refreshes every ${REFRESH_MS / 1000}s`, error ? ` · ${error}` : ""),
      failed.length ? h("p", { style: css.error }, `unavailable: ${failed.map(([k, v]) => `${k} (${v})`).join("; ")}`) : null,
      h("div", { style: css.grid }, data.regions.map((r) => h(Tile, { key: r.name, r, canAct: data.can_act, refresh }))),
      h("h3", { style: { fontSize: "16px", fontWeight: 700, marginTop: "20px" } }, "Recent failover, restoration and maintenance events"),
      h(Events, { events: data.events }));
  }

  globalThis.AirflowPlugin = RegionsPage;
})();
