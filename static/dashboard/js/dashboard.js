// The organization dashboard's charts (templates/dashboard/home.html), drawn with Chart.js 4
// (static/vendor/chart.umd.min.js). The data is embedded by the page with json_script, so no inline
// script is needed (the CSP forbids them); each canvas names its data element in data-source.
// Without JavaScript the page still has the numbers: a summary and a table next to each chart.
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") return;
  const Chart = window.Chart;

  const styles = getComputedStyle(document.documentElement);
  const cssVar = (name, fallback) => (styles.getPropertyValue(name) || "").trim() || fallback;
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  Chart.defaults.color = cssVar("--muted", "#5d6882");
  Chart.defaults.borderColor = cssVar("--border", "#dfe4ee");
  Chart.defaults.font.family = cssVar("--font", "system-ui, sans-serif");
  Chart.defaults.maintainAspectRatio = false;
  if (reducedMotion) Chart.defaults.animation = false;

  const number = new Intl.NumberFormat();
  const dayLabel = (iso) =>
    new Date(iso + "T00:00:00").toLocaleDateString(undefined, { month: "short", day: "numeric" });

  function readData(canvas) {
    const source = document.getElementById(canvas.dataset.source || "");
    if (!source) return null;
    try {
      return JSON.parse(source.textContent);
    } catch (error) {
      return null;
    }
  }

  const timeAxis = {
    grid: { display: false },
    ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 },
  };
  const countAxis = {
    beginAtZero: true,
    ticks: { precision: 0, callback: (value) => number.format(value) },
  };
  const tooltip = {
    mode: "index",
    intersect: false,
    callbacks: { label: (item) => ` ${item.dataset.label}: ${number.format(item.parsed.y)}` },
  };

  function resources(canvas, data) {
    const series = data.series[0] || { label: "Resources", values: [] };
    const line = cssVar("--chart-line", "#2753d8");
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels.map(dayLabel),
        datasets: [
          {
            label: series.label,
            data: series.values,
            borderColor: line,
            backgroundColor: cssVar("--chart-fill", "rgba(39, 83, 216, .12)"),
            fill: true,
            tension: 0.3,
            cubicInterpolationMode: "monotone", // a smooth line that never dips below its points
            borderWidth: 2,
            pointRadius: 0,
            pointHoverRadius: 4,
            pointHoverBackgroundColor: line,
          },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: false }, tooltip },
        // Room above and below the line, but never a negative count on the axis.
        scales: {
          x: timeAxis,
          y: { ...countAxis, beginAtZero: false, grace: "10%", min: Math.min(...series.values) === 0 ? 0 : undefined },
        },
      },
    });
  }

  function findings(canvas, data) {
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels.map(dayLabel),
        datasets: data.series.map((s) => ({
          label: s.label,
          data: s.values,
          backgroundColor: cssVar(`--sev-${s.key}`, "#8b95a7"),
          borderRadius: 2,
          barPercentage: 0.9,
          categoryPercentage: 0.9,
        })),
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 10, boxHeight: 10, usePointStyle: true } },
          tooltip,
        },
        scales: { x: { ...timeAxis, stacked: true }, y: { ...countAxis, stacked: true } },
      },
    });
  }

  function severity(canvas, data) {
    return new Chart(canvas, {
      type: "doughnut",
      data: {
        labels: data.labels,
        datasets: [
          {
            data: data.values,
            backgroundColor: data.keys.map((key) => cssVar(`--sev-${key}`, "#8b95a7")),
            borderColor: cssVar("--surface", "#ffffff"),
            borderWidth: 2,
          },
        ],
      },
      options: {
        cutout: "68%",
        plugins: {
          legend: { display: false }, // the list next to the chart is the legend, with links
          tooltip: { callbacks: { label: (item) => ` ${item.label}: ${number.format(item.parsed)}` } },
        },
      },
    });
  }

  const draw = { resources, findings, severity };

  function init() {
    document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const render = draw[canvas.dataset.chart];
      const data = readData(canvas);
      if (render && data) render(canvas, data);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
