// Small canvas charts for the tfqa page (no dependencies, no build step).
// LineChart draws time series (1 Hz curves or 25 Hz traces) on a shared time axis, with an
// optional second y axis and a cursor that follows the video.  Every chart records what it
// drew in data-* attributes (series, points, cursor) so tests and users can read it back.
(() => {
"use strict";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];

function niceRange(values, fallback) {
  const v = values.filter((x) => x !== null && Number.isFinite(x));
  if (!v.length) return fallback || [0, 1];
  let lo = Math.min(...v);
  let hi = Math.max(...v);
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}

function fmt(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "—";
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

class LineChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{series: {label: string, values: (number|null)[], hz: number, axis?: string,
   *          color?: string, range?: number[], normalise?: boolean}[], duration: number,
   *          yLabel?: string, y2Label?: string, onSeek?: (t: number) => void}} opts
   */
  constructor(canvas, opts) {
    this.canvas = canvas;
    this.opts = opts;
    this.cursor = null;
    this.series = opts.series
      .filter((s) => s.values && s.values.length)
      .map((s, i) => {
        let values = s.values.map((x) => (x === null || !Number.isFinite(x) ? null : x));
        if (s.normalise) {
          // Different units on one axis: scale each series to 0..1 (its own min..max).
          const [lo, hi] = niceRange(values);
          values = values.map((x) => (x === null ? null : (x - lo) / (hi - lo)));
        }
        return { color: PALETTE[i % PALETTE.length], axis: "left", ...s, values };
      });
    this.duration = opts.duration || Math.max(1, ...this.series.map((s) => s.values.length / s.hz));
    canvas.dataset.series = this.series.map((s) => s.label).join(",");
    canvas.dataset.points = String(
      this.series.reduce((n, s) => n + s.values.filter((x) => x !== null).length, 0));
    canvas.addEventListener("click", (ev) => {
      if (!opts.onSeek) return;
      const r = canvas.getBoundingClientRect();
      const t = this.xToTime(ev.clientX - r.left);
      if (t !== null) opts.onSeek(t);
    });
    // Redraw whenever the canvas's box changes (e.g. a comparison grid gaining columns
    // after this chart was first drawn), so the bitmap always matches its CSS size.
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(() => this.draw()).observe(canvas);
    }
    this.draw();
  }

  layout() {
    const w = this.canvas.clientWidth || this.canvas.width;
    const h = this.canvas.clientHeight || this.canvas.height;
    const hasRight = this.series.some((s) => s.axis === "right");
    return { w, h, l: 48, r: hasRight ? 48 : 12, t: 22, b: 22 };
  }

  xToTime(x) {
    const L = this.layout();
    const f = (x - L.l) / (L.w - L.l - L.r);
    return f < 0 || f > 1 ? null : f * this.duration;
  }

  setCursor(t) {
    this.cursor = t;
    this.canvas.dataset.cursor = t === null ? "" : t.toFixed(2);
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const L = this.layout();
    if (c.width !== Math.round(L.w * dpr) || c.height !== Math.round(L.h * dpr)) {
      c.width = Math.round(L.w * dpr);
      c.height = Math.round(L.h * dpr);
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, L.w, L.h);
    g.font = "11px system-ui, sans-serif";
    const pw = L.w - L.l - L.r;
    const ph = L.h - L.t - L.b;
    const X = (t) => L.l + (t / this.duration) * pw;
    const ranges = {};
    for (const axis of ["left", "right"]) {
      const ss = this.series.filter((s) => s.axis === axis);
      if (!ss.length) continue;
      const fixed = ss.find((s) => s.range);
      ranges[axis] = fixed ? fixed.range : niceRange([].concat(...ss.map((s) => s.values)));
    }
    const Y = (axis, v) => {
      const [lo, hi] = ranges[axis];
      return L.t + ph - ((v - lo) / (hi - lo)) * ph;
    };
    // grid and axes
    g.strokeStyle = "#e5e7eb";
    g.fillStyle = "#6b7280";
    g.lineWidth = 1;
    for (let k = 0; k <= 4; k++) {
      const y = L.t + (ph * k) / 4;
      g.beginPath(); g.moveTo(L.l, y); g.lineTo(L.l + pw, y); g.stroke();
      for (const axis of Object.keys(ranges)) {
        const [lo, hi] = ranges[axis];
        const v = hi - ((hi - lo) * k) / 4;
        g.textAlign = axis === "left" ? "right" : "left";
        g.fillText(fmt(v), axis === "left" ? L.l - 4 : L.l + pw + 4, y + 4);
      }
    }
    const step = this.duration > 20 ? 5 : this.duration > 8 ? 2 : 1;
    g.textAlign = "center";
    for (let t = 0; t <= this.duration + 1e-9; t += step) {
      g.fillText(`${t}s`, X(t), L.h - 6);
    }
    // series
    for (const s of this.series) {
      g.strokeStyle = s.color;
      g.lineWidth = 1.6;
      g.beginPath();
      let pen = false;
      // 1 Hz values describe a whole second: plot them at its middle.
      const offset = s.hz <= 1 ? 0.5 / s.hz : 0;
      s.values.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        const x = X(i / s.hz + offset);
        const y = Y(s.axis, v);
        if (pen) g.lineTo(x, y); else g.moveTo(x, y);
        pen = true;
      });
      g.stroke();
      if (s.values.filter((v) => v !== null).length === 1) {
        const i = s.values.findIndex((v) => v !== null);
        g.fillStyle = s.color;
        g.beginPath(); g.arc(X(i / s.hz + offset), Y(s.axis, s.values[i]), 3, 0, 7); g.fill();
      }
    }
    // legend
    let lx = L.l;
    g.textAlign = "left";
    for (const s of this.series) {
      g.fillStyle = s.color;
      g.fillRect(lx, 6, 10, 10);
      g.fillStyle = "#111827";
      const text = s.label + (s.axis === "right" ? " (right)" : "");
      g.fillText(text, lx + 14, 15);
      lx += g.measureText(text).width + 30;
    }
    if (!this.series.length) {
      g.fillStyle = "#9ca3af";
      g.textAlign = "center";
      g.fillText("no data for this clip", L.l + pw / 2, L.t + ph / 2);
    }
    // cursor
    if (this.cursor !== null && this.cursor >= 0) {
      const x = X(Math.min(this.cursor, this.duration));
      g.strokeStyle = "#111827";
      g.lineWidth = 1;
      g.setLineDash([4, 3]);
      g.beginPath(); g.moveTo(x, L.t); g.lineTo(x, L.t + ph); g.stroke();
      g.setLineDash([]);
    }
  }
}

window.TfqaCharts = { LineChart, fmt };
})();
