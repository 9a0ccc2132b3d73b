/*
 * lockstep dashboard page. Owns: the WebSocket connection to /ws (reconnecting with backoff), the
 * latest snapshot / health / words the server pushed, a bounded client-side history of temporal
 * scores, and drawing all of it at most once per animation frame (uPlot charts are created once and
 * fed with setData). Must not compute scores: every number shown comes from the server's messages
 * (the Tmax-vs-depth line is a least-squares fit drawn for the eye; r, p and CI are the snapshot's).
 * Plain browser JS, no build step; uPlot is loaded as a global by index.html.
 */
'use strict';

(function lockstepDashboard() {
  const SNAPSHOT_SCHEMA = 'lockstep.snapshot/1';
  const PROTOCOL = 'lockstep.v1';
  const TOKEN_PROTOCOL_PREFIX = 'lockstep.token.';
  /** Connected but nothing received for this long: the banner says the server is stalled. */
  const STALL_MS = 10000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  /** Points of the emergence curve kept; beyond this every other point is dropped (the span is kept). */
  const HISTORY_MAX = 2000;
  const RECENT_WORDS_SHOWN = 30;
  const CHART_HEIGHT = 220;

  const AXIS_COLOUR = '#8a909c';
  const GRID_COLOUR = '#2a2e38';
  const SERIES_ROLLING = '#58a6ff';
  const SERIES_EXACT = '#f0883e';

  const $ = (id) => document.getElementById(id);

  /** What tests and the screenshot tool read. */
  const exposed = { lastSnapshotSeq: -1, lastTemporalScore: null, connected: false, drawCount: 0 };
  window.lockstep = exposed;

  const state = {
    snapshot: null,
    health: null,
    words: null,
    /** 'exact' | 'rolling': what the user asked for; exact falls back to rolling when absent. */
    mode: 'exact',
    /** 'connecting' (never connected yet) | 'connected' | 'disconnected' */
    conn: 'connecting',
    lastMessageAt: 0,
    reconnectAt: 0,
    attempt: 0,
    history: { x: [], rolling: [], exact: [] },
    schemaWarning: null,
  };
  const dirty = { banner: true, health: false, words: false, snapshot: false, history: false, layout: false };
  let rafPending = false;

  function schedule() {
    if (rafPending) return;
    rafPending = true;
    requestAnimationFrame(render);
  }

  // ---------------------------------------------------------------- colours

  function hexToRgb(h) {
    const n = parseInt(h.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  function ramp(stops) {
    const s = stops.map(([v, c]) => [v, hexToRgb(c)]);
    return (v) => {
      if (!Number.isFinite(v)) return [60, 60, 60];
      if (v <= s[0][0]) return s[0][1];
      for (let i = 1; i < s.length; i++) {
        if (v <= s[i][0]) {
          const [v0, c0] = s[i - 1];
          const [v1, c1] = s[i];
          const f = (v - v0) / (v1 - v0);
          return [0, 1, 2].map((k) => Math.round(c0[k] + f * (c1[k] - c0[k])));
        }
      }
      return s[s.length - 1][1];
    };
  }
  const viridisRgb = ramp([
    [0, '#440154'], [0.125, '#472d7b'], [0.25, '#3b528b'], [0.375, '#2c728e'], [0.5, '#21918c'],
    [0.625, '#28ae80'], [0.75, '#5ec962'], [0.875, '#addc30'], [1, '#fde725'],
  ]);
  /** Blue below zero, dark at zero, inferno-like above: R is mostly ≥ 0, its sign still readable. */
  const divergingRgb = ramp([
    [-1, '#9ecae1'], [-0.5, '#3182bd'], [0, '#1a1d24'], [0.25, '#420a68'], [0.5, '#932667'], [0.75, '#dd513a'], [1, '#fcffa4'],
  ]);
  const css = (rgb) => `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
  const depthColour = (d) => css(viridisRgb(Math.min(1, Math.max(0, d))));

  // ---------------------------------------------------------------- formatting

  const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
  const fmt = (x, digits) => (isNum(x) ? x.toFixed(digits) : '—');
  function fmtP(p) {
    if (!isNum(p)) return '—';
    return p < 1e-3 ? p.toExponential(1) : p.toFixed(3);
  }
  function fmtClock(sec) {
    if (!isNum(sec)) return '—';
    const sign = sec < 0 ? '−' : '';
    const a = Math.abs(sec);
    const m = Math.floor(a / 60);
    return `${sign}${m}:${(a - m * 60).toFixed(1).padStart(4, '0')}`;
  }
  function setDetails(dl, rows) {
    const nodes = [];
    for (const [k, v, cls] of rows) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      if (cls) dd.className = cls;
      nodes.push(dt, dd);
    }
    dl.replaceChildren(...nodes);
  }

  // ---------------------------------------------------------------- connection

  function wsTarget() {
    const token = new URLSearchParams(location.search).get('token');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    let url = `${scheme}://${location.host}/ws`;
    const protocols = [PROTOCOL];
    if (token) {
      // Subprotocol entries must be HTTP tokens; anything else rides in the query.
      if (/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(token)) protocols.push(TOKEN_PROTOCOL_PREFIX + token);
      else url += `?token=${encodeURIComponent(token)}`;
    }
    return { url, protocols };
  }

  let reconnectTimer = null;
  function connect() {
    reconnectTimer = null;
    const { url, protocols } = wsTarget();
    let ws;
    try {
      ws = new WebSocket(url, protocols);
    } catch (err) {
      state.schemaWarning = `cannot open ${url}: ${err && err.message}`;
      scheduleReconnect();
      return;
    }
    ws.onopen = () => {
      state.conn = 'connected';
      state.attempt = 0;
      state.lastMessageAt = Date.now();
      exposed.connected = true;
      dirty.banner = true;
      schedule();
    };
    ws.onmessage = (ev) => {
      state.lastMessageAt = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      receive(msg);
    };
    ws.onclose = () => {
      exposed.connected = false;
      if (state.conn === 'connected') state.conn = 'disconnected';
      scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }
  function scheduleReconnect() {
    if (reconnectTimer !== null) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** state.attempt);
    const delay = base * (0.75 + 0.5 * Math.random());
    state.attempt++;
    state.reconnectAt = Date.now() + delay;
    reconnectTimer = setTimeout(connect, delay);
    dirty.banner = true;
    schedule();
  }
  window.addEventListener('online', () => {
    if (reconnectTimer !== null) {
      clearTimeout(reconnectTimer);
      connect();
    }
  });

  function receive(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'snapshot') {
      const s = msg.snapshot;
      if (!s || s.schema !== SNAPSHOT_SCHEMA) {
        state.schemaWarning = `ignored a snapshot with schema '${s && s.schema}' (this page reads ${SNAPSHOT_SCHEMA})`;
        dirty.banner = true;
      } else {
        state.snapshot = s;
        addToHistory(s);
        dirty.snapshot = true;
      }
    } else if (msg.type === 'health') {
      state.health = msg.health;
      dirty.health = true;
      dirty.banner = true;
    } else if (msg.type === 'words') {
      state.words = msg.words;
      dirty.words = true;
    } else if (msg.type === 'history') {
      // The server's history of the recording so far (sent on connect): it replaces ours.
      const h = msg.history;
      state.history = { x: h.sourceTimeSec.map((t) => t / 60), rolling: h.rolling.slice(), exact: h.exact.slice() };
      dirty.history = true;
    }
    schedule();
  }

  function addToHistory(s) {
    if (!isNum(s.sourceTimeSec)) return;
    const h = state.history;
    const x = s.sourceTimeSec / 60;
    const last = h.x.length ? h.x[h.x.length - 1] : null;
    if (last !== null && x < last) {
      // Source time went back: a new recording or a restarted replay. Start a new curve.
      h.x = [];
      h.rolling = [];
      h.exact = [];
    } else if (last !== null && x === last) {
      h.x.pop();
      h.rolling.pop();
      h.exact.pop();
    }
    h.x.push(x);
    h.rolling.push(s.rolling && isNum(s.rolling.temporalScore) ? s.rolling.temporalScore : null);
    h.exact.push(s.exact && isNum(s.exact.temporalScore) ? s.exact.temporalScore : null);
    if (h.x.length > HISTORY_MAX) {
      const keep = (a) => a.filter((_, i) => i % 2 === 0 || i === a.length - 1);
      h.x = keep(h.x);
      h.rolling = keep(h.rolling);
      h.exact = keep(h.exact);
    }
    dirty.history = true;
  }

  // ---------------------------------------------------------------- charts

  function axis(label, extra) {
    return Object.assign(
      { label, stroke: AXIS_COLOUR, grid: { stroke: GRID_COLOUR, width: 1 }, ticks: { stroke: GRID_COLOUR, width: 1 }, labelSize: 18, font: '11px system-ui', labelFont: '12px system-ui' },
      extra || {},
    );
  }
  const widthOf = (el) => Math.max(200, Math.floor(el.clientWidth));

  /** Which scores the charts show for snapshot s: { kind: 'exact'|'rolling', sc } or null. */
  function shownScores(s) {
    if (state.mode === 'exact' && s.exact) return { kind: 'exact', sc: s.exact };
    if (s.rolling) return { kind: 'rolling', sc: s.rolling };
    if (s.exact) return { kind: 'exact', sc: s.exact };
    return null;
  }

  const charts = { curves: null, curvesKey: '', tmax: null, tmaxKey: '', emergence: null };
  /** What the draw hooks overlay: set before each setData. */
  const overlay = { times: [], depths: [], R: [], tmax: [] };

  function nearestIndex(times, t) {
    let best = 0;
    for (let i = 1; i < times.length; i++) if (Math.abs(times[i] - t) < Math.abs(times[best] - t)) best = i;
    return best;
  }

  function drawTmaxMarkers(u) {
    const { ctx } = u;
    const r = 4 * devicePixelRatio;
    ctx.save();
    for (let l = 0; l < overlay.tmax.length; l++) {
      const t = overlay.tmax[l];
      const row = overlay.R[l];
      if (!isNum(t) || !row) continue;
      const y = row[nearestIndex(overlay.times, t)];
      if (!isNum(y)) continue;
      const cx = u.valToPos(t, 'x', true);
      const cy = u.valToPos(y, 'y', true);
      ctx.beginPath();
      ctx.arc(cx, cy, r, 0, 2 * Math.PI);
      ctx.fillStyle = depthColour(overlay.depths[l]);
      ctx.fill();
      ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
    }
    ctx.restore();
  }

  function drawTmaxDots(u) {
    const { ctx } = u;
    const xs = u.data[0];
    const ys = u.data[1];
    const r = 5 * devicePixelRatio;
    ctx.save();
    for (let i = 0; i < xs.length; i++) {
      if (!isNum(ys[i])) continue;
      ctx.beginPath();
      ctx.arc(u.valToPos(xs[i], 'x', true), u.valToPos(ys[i], 'y', true), r, 0, 2 * Math.PI);
      ctx.fillStyle = depthColour(xs[i]);
      ctx.fill();
      ctx.lineWidth = 1 * devicePixelRatio;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
    }
    ctx.restore();
  }

  function ensureCurvesChart(s) {
    const el = $('chart-curves');
    const key = `${s.times.length}|${s.depths.join(',')}`;
    if (charts.curves && charts.curvesKey === key) return;
    if (charts.curves) charts.curves.destroy();
    charts.curvesKey = key;
    charts.curves = new uPlot(
      {
        width: widthOf(el),
        height: CHART_HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false } },
        axes: [axis('time relative to word onset (s)'), axis('R(t)', { size: 50 })],
        series: [{ label: 't (s)' }, ...s.depths.map((d) => ({ label: `depth ${d}`, stroke: depthColour(d), width: 1.5, points: { show: false } }))],
        hooks: { draw: [drawTmaxMarkers] },
      },
      [s.times, ...s.depths.map(() => s.times.map(() => null))],
      el,
    );
    $('depth-legend').replaceChildren(
      ...s.depths.map((d) => {
        const span = document.createElement('span');
        span.style.setProperty('--swatch', depthColour(d));
        span.textContent = `depth ${d}`;
        return span;
      }),
    );
  }

  function ensureTmaxChart(s) {
    const el = $('chart-tmax');
    const key = `${s.times[0]}|${s.times[s.times.length - 1]}`;
    if (charts.tmax && charts.tmaxKey === key) return;
    if (charts.tmax) charts.tmax.destroy();
    charts.tmaxKey = key;
    const t0 = s.times[0];
    const t1 = s.times[s.times.length - 1];
    charts.tmax = new uPlot(
      {
        width: widthOf(el),
        height: CHART_HEIGHT,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: false, range: (u, lo, hi) => [Math.min(0, isNum(lo) ? lo - 0.05 : 0), Math.max(1, isNum(hi) ? hi + 0.05 : 1)] }, y: { range: (u, lo, hi) => (isNum(lo) && isNum(hi) ? [Math.max(t0, lo - 0.25), Math.min(t1, hi + 0.25)] : [t0, t1]) } },
        axes: [axis('relative depth'), axis('Tmax (s)', { size: 50 })],
        series: [
          { label: 'depth' },
          { label: 'Tmax', paths: () => null, points: { show: false } },
          { label: 'fit', stroke: '#c9d1d9', width: 1.5, dash: [6, 4], points: { show: false } },
        ],
        hooks: { draw: [drawTmaxDots] },
      },
      [[], [], []],
      el,
    );
  }

  function ensureEmergenceChart() {
    if (charts.emergence) return;
    const el = $('chart-emergence');
    charts.emergence = new uPlot(
      {
        width: widthOf(el),
        height: CHART_HEIGHT,
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false }, y: { range: () => [-1, 1] } },
        axes: [axis('source time (min)'), axis('temporal score r', { size: 50 })],
        series: [
          { label: 'min' },
          { label: 'rolling (prequential)', stroke: SERIES_ROLLING, width: 2, spanGaps: true, points: { show: false } },
          { label: 'exact (K-fold)', stroke: SERIES_EXACT, width: 2, spanGaps: true, points: { show: true, size: 5, fill: SERIES_EXACT } },
        ],
      },
      [[], [], []],
      el,
    );
  }

  /** Least-squares line of tmax on depth, evaluated at the depths: drawn for the eye only. */
  function displayFit(xs, ys) {
    const pts = xs.map((x, i) => [x, ys[i]]).filter(([x, y]) => isNum(x) && isNum(y));
    if (pts.length < 2) return xs.map(() => null);
    const mx = pts.reduce((a, p) => a + p[0], 0) / pts.length;
    const my = pts.reduce((a, p) => a + p[1], 0) / pts.length;
    let sxy = 0;
    let sxx = 0;
    for (const [x, y] of pts) {
      sxy += (x - mx) * (y - my);
      sxx += (x - mx) ** 2;
    }
    const slope = sxx > 0 ? sxy / sxx : 0;
    return xs.map((x) => my + slope * (x - mx));
  }

  // ---------------------------------------------------------------- heatmap

  const heatOff = document.createElement('canvas');

  function drawHeatmap(s, shown) {
    const canvas = $('heatmap');
    const dpr = devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    if (!shown) return;
    const R = shown.sc.R;
    const L = R.length;
    const T = s.times.length;
    if (L === 0 || T === 0) return;
    const m = { left: 64, right: 90, top: 6, bottom: 38 };
    const pw = w - m.left - m.right;
    const ph = h - m.top - m.bottom;
    if (pw < 10 || ph < 10) return;

    // Rows top to bottom: deepest layer first.
    const order = s.depths.map((d, l) => [d, l]).sort((a, b) => b[0] - a[0]).map(([, l]) => l);
    let maxAbs = 0;
    for (const row of R) for (const v of row) if (isNum(v) && Math.abs(v) > maxAbs) maxAbs = Math.abs(v);
    if (maxAbs === 0) maxAbs = 1;
    heatOff.width = T;
    heatOff.height = L;
    const octx = heatOff.getContext('2d');
    const img = octx.createImageData(T, L);
    order.forEach((l, rowIdx) => {
      for (let t = 0; t < T; t++) {
        const c = divergingRgb(R[l][t] / maxAbs);
        const o = (rowIdx * T + t) * 4;
        img.data[o] = c[0];
        img.data[o + 1] = c[1];
        img.data[o + 2] = c[2];
        img.data[o + 3] = 255;
      }
    });
    octx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(heatOff, m.left, m.top, pw, ph);

    const t0 = s.times[0];
    const dt = T > 1 ? (s.times[T - 1] - t0) / (T - 1) : 1;
    const xOf = (t) => m.left + ((t - t0 + dt / 2) / (T * dt)) * pw;
    const rowH = ph / L;

    // Tmax ticks
    ctx.strokeStyle = '#ffffff';
    ctx.lineWidth = 2;
    order.forEach((l, rowIdx) => {
      const tm = shown.sc.tmax[l];
      if (!isNum(tm)) return;
      const x = xOf(tm);
      ctx.beginPath();
      ctx.moveTo(x, m.top + rowIdx * rowH + 1);
      ctx.lineTo(x, m.top + (rowIdx + 1) * rowH - 1);
      ctx.stroke();
    });

    // Axes
    ctx.fillStyle = AXIS_COLOUR;
    ctx.strokeStyle = AXIS_COLOUR;
    ctx.lineWidth = 1;
    ctx.font = '11px system-ui';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let t = Math.ceil(t0); t <= s.times[T - 1] + 1e-9; t++) {
      const x = xOf(t);
      ctx.beginPath();
      ctx.moveTo(x, m.top + ph);
      ctx.lineTo(x, m.top + ph + 4);
      ctx.stroke();
      ctx.fillText(`${t}`, x, m.top + ph + 6);
    }
    ctx.fillText('time relative to word onset (s)', m.left + pw / 2, m.top + ph + 22);
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const labelEvery = Math.max(1, Math.ceil(14 / rowH));
    order.forEach((l, rowIdx) => {
      if (rowIdx % labelEvery === 0) ctx.fillText(`${s.depths[l]}`, m.left - 6, m.top + (rowIdx + 0.5) * rowH);
    });
    ctx.save();
    ctx.translate(14, m.top + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillText('relative depth', 0, 0);
    ctx.restore();

    // Colour bar
    const bx = m.left + pw + 16;
    const bw = 14;
    for (let i = 0; i < ph; i++) {
      ctx.fillStyle = css(divergingRgb(1 - (2 * i) / ph));
      ctx.fillRect(bx, m.top + i, bw, 1.5);
    }
    ctx.fillStyle = AXIS_COLOUR;
    ctx.textAlign = 'left';
    ctx.fillText(`+${maxAbs.toFixed(3)}`, bx + bw + 4, m.top + 6);
    ctx.fillText('0', bx + bw + 4, m.top + ph / 2);
    ctx.fillText(`−${maxAbs.toFixed(3)}`, bx + bw + 4, m.top + ph - 6);
  }

  // ---------------------------------------------------------------- panels

  function renderSnapshot() {
    const s = state.snapshot;
    if (!s) return;
    const shown = shownScores(s);
    $('mode-exact').disabled = !s.exact;
    $('mode-rolling').disabled = !s.rolling;
    $('mode-exact').classList.toggle('active', !!shown && shown.kind === 'exact');
    $('mode-rolling').classList.toggle('active', !!shown && shown.kind === 'rolling');

    const score = shown && isNum(shown.sc.temporalScore) ? shown.sc.temporalScore : null;
    $('temporal-score').textContent = score === null ? '—' : score.toFixed(3);
    exposed.lastTemporalScore = score;

    const fmtAlpha = (a) => (a >= 1e-3 && a < 1e4 ? String(Number(a.toPrecision(3))) : a.toExponential(0));
    const alphaText = s.alphas && s.alphas.length ? `${s.alphaSelection} over ${s.alphas.length} α (${fmtAlpha(s.alphas[0])}…${fmtAlpha(s.alphas[s.alphas.length - 1])})` : s.alphaSelection;
    let method = 'no scores yet (waiting for enough words)';
    const rows = [];
    if (shown && shown.kind === 'exact') {
      const e = shown.sc;
      method = `exact K-fold CV · n = ${e.nWords} words · ${e.foldSizes.length} folds · backend ${s.backend}`;
      rows.push(['p', `${fmtP(e.p)} (t-test, ${s.depths.length - 2} df)`]);
      rows.push([`${Math.round((e.ci && e.ci.level) * 100)}% CI`, e.ci ? `[${fmt(e.ci.low, 3)}, ${fmt(e.ci.high, 3)}] (${e.ci.method})` : '—']);
      rows.push(['refit', `${fmt(e.computeSeconds, 2)} s`]);
    } else if (shown) {
      const r = shown.sc;
      method = `rolling prequential · ${r.nScored} words scored${r.halfLifeWords ? ` · half-life ${r.halfLifeWords} words` : ''} · backend ${s.backend}`;
      rows.push(['p', `${fmtP(r.p)} (t-test, ${s.depths.length - 2} df)`]);
      rows.push(['CI', 'only for exact K-fold scores']);
    }
    if (shown) {
      const sc = shown.sc;
      rows.push(['alignment', `peak R ${fmt(sc.alignmentScore, 3)} at depth ${s.depths[sc.bestLayer] ?? '—'}, t = ${fmt(sc.peakTimeSec, 2)} s`]);
    }
    rows.push(['words', `${s.nWords} accepted${skippedText(s.skipped)}`]);
    rows.push(['folds', s.folds]);
    rows.push(['α', alphaText]);
    rows.push(['snapshot', `#${s.seq}, source time ${fmtClock(s.sourceTimeSec)}`]);
    $('score-method').textContent = method;
    setDetails($('score-details'), rows);

    ensureCurvesChart(s);
    ensureTmaxChart(s);
    const R = shown ? shown.sc.R : s.depths.map(() => s.times.map(() => null));
    overlay.times = s.times;
    overlay.depths = s.depths;
    overlay.R = R;
    overlay.tmax = shown ? shown.sc.tmax : [];
    charts.curves.setData([s.times, ...R]);

    const byDepth = s.depths.map((d, l) => [d, shown ? shown.sc.tmax[l] : null]).sort((a, b) => a[0] - b[0]);
    const xs = byDepth.map((p) => p[0]);
    const ys = byDepth.map((p) => (isNum(p[1]) ? p[1] : null));
    charts.tmax.setData([xs, ys, displayFit(xs, ys)]);
    if (shown) {
      const ci = shown.kind === 'exact' && shown.sc.ci ? `, ${Math.round(shown.sc.ci.level * 100)}% CI [${fmt(shown.sc.ci.low, 3)}, ${fmt(shown.sc.ci.high, 3)}]` : '';
      $('tmax-stats').textContent = `r = ${fmt(shown.sc.temporalScore, 3)}, p = ${fmtP(shown.sc.p)}${ci} · ${shown.kind === 'exact' ? 'exact K-fold' : 'rolling prequential'}, ${s.depths.length} layers`;
    } else {
      $('tmax-stats').textContent = 'no scores yet';
    }

    drawHeatmap(s, shown);
    exposed.lastSnapshotSeq = s.seq;
  }

  function skippedText(skipped) {
    const parts = Object.entries(skipped || {}).filter(([, n]) => n > 0).map(([k, n]) => `${k}: ${n}`);
    return parts.length ? `, skipped ${parts.join(', ')}` : ', none skipped';
  }

  function renderHistory() {
    ensureEmergenceChart();
    const h = state.history;
    charts.emergence.setData([h.x.slice(), h.rolling.slice(), h.exact.slice()]);
  }

  function renderHealth() {
    const h = state.health;
    if (!h) return;
    const act = $('activations-label');
    act.textContent = `activations: ${h.activations}`;
    act.classList.toggle('synthetic', /synthetic|not a language model|random/i.test(h.activations || ''));
    const skippedTotal = Object.values(h.wordsSkipped || {}).reduce((a, n) => a + n, 0);
    const skippedParts = Object.entries(h.wordsSkipped || {}).filter(([, n]) => n > 0).map(([k, n]) => `${k}: ${n}`);
    setDetails($('health'), [
      ['state', h.state, `state-${h.state}`],
      ['source', h.source],
      ['input rate', isNum(h.inputRateHz) ? `${h.inputRateHz.toFixed(1)} samples/s` : '—'],
      ['speed', isNum(h.speed) ? `×${h.speed.toFixed(2)} real time` : '—'],
      ['source time', fmtClock(h.sourceTimeSec)],
      ['source-time lag', isNum(h.wallLagSec) ? `${h.wallLagSec.toFixed(2)} s behind wall clock` : '—'],
      ['words accepted', `${h.wordsAccepted}`],
      ['words skipped', skippedTotal ? `${skippedTotal} (${skippedParts.join(', ')})` : '0'],
      ['last refit', isNum(h.refitSeconds) ? `${h.refitSeconds.toFixed(2)} s` : '—'],
      ['backend', h.backend],
    ]);
  }

  function renderWords() {
    const w = state.words;
    if (!w) return;
    const cur = w.current;
    $('current-word').textContent = cur ? cur.word : '—';
    $('current-word-meta').textContent = cur
      ? `word #${cur.wordIndex} · onset ${fmtClock(cur.onsetSec)}${isNum(cur.durationSec) ? ` · ${cur.durationSec.toFixed(2)} s` : ''}${cur.isContent === true ? ' · content word' : cur.isContent === false ? ' · function word' : ''}`
      : '';
    const recent = (w.recent || []).slice(-RECENT_WORDS_SHOWN);
    $('recent-words').replaceChildren(
      ...recent.map((ev) => {
        const li = document.createElement('li');
        li.textContent = ev.word;
        li.title = `#${ev.wordIndex} at ${fmtClock(ev.onsetSec)}`;
        if (ev.isContent) li.className = 'content';
        return li;
      }),
    );
  }

  function bannerFor() {
    const now = Date.now();
    if (state.conn === 'connecting' && state.attempt === 0) return ['warn', 'Connecting to the lockstep server…'];
    if (state.conn === 'connecting') {
      const secs = Math.max(0, Math.ceil((state.reconnectAt - now) / 1000));
      return ['bad', `Cannot connect to the lockstep server: retrying in ${secs} s (attempt ${state.attempt}). If it was started with a token, open the URL it printed (with ?token=…).`];
    }
    if (state.conn === 'disconnected') {
      const secs = Math.max(0, Math.ceil((state.reconnectAt - now) / 1000));
      return ['bad', `Disconnected from the lockstep server: reconnecting in ${secs} s (attempt ${state.attempt}). The data below are from before the disconnection.`];
    }
    const silent = now - state.lastMessageAt;
    if (silent > STALL_MS) return ['bad', `Stalled: connected, but nothing from the server for ${Math.round(silent / 1000)} s.`];
    const h = state.health;
    if (h) {
      if (h.state === 'stalled') return ['bad', `Input stream stalled: no new MEG data since source time ${fmtClock(h.sourceTimeSec)}.`];
      if (h.state === 'disconnected') return ['bad', `Input source disconnected (${h.source}). Scores are frozen until it comes back.`];
      if (h.state === 'ended') return ['warn', 'Recording ended: the scores shown are final.'];
      if (h.state === 'starting') return ['info', 'Pipeline starting: waiting for data.'];
    }
    if (state.schemaWarning) return ['warn', state.schemaWarning];
    return null;
  }

  function renderBanner() {
    const el = $('banner');
    const b = bannerFor();
    if (b) {
      el.hidden = false;
      el.className = `banner banner-${b[0]}`;
      el.textContent = b[1];
    } else {
      el.hidden = true;
    }
    const silent = state.conn === 'connected' && Date.now() - state.lastMessageAt > STALL_MS;
    const pill = $('connection');
    const label = silent ? 'stalled' : state.conn;
    pill.textContent = label;
    pill.className = `pill pill-${label}`;
  }

  function resizeCharts() {
    const fit = (chart, id) => {
      if (!chart) return;
      const w = widthOf($(id));
      if (chart.width !== w) chart.setSize({ width: w, height: CHART_HEIGHT });
    };
    fit(charts.curves, 'chart-curves');
    fit(charts.tmax, 'chart-tmax');
    fit(charts.emergence, 'chart-emergence');
    if (state.snapshot) dirty.snapshot = true;
  }

  function render() {
    rafPending = false;
    if (dirty.layout) {
      dirty.layout = false;
      resizeCharts();
    }
    if (dirty.banner) {
      dirty.banner = false;
      renderBanner();
    }
    if (dirty.health) {
      dirty.health = false;
      renderHealth();
    }
    if (dirty.words) {
      dirty.words = false;
      renderWords();
    }
    if (dirty.snapshot) {
      dirty.snapshot = false;
      renderSnapshot();
    }
    if (dirty.history) {
      dirty.history = false;
      renderHistory();
    }
    exposed.drawCount++;
  }

  // ---------------------------------------------------------------- start

  if (typeof uPlot !== 'function') {
    const el = $('banner');
    el.className = 'banner banner-bad';
    el.textContent = 'uPlot failed to load (/vendor/uplot/uPlot.iife.min.js); charts cannot be drawn.';
    return;
  }
  for (const mode of ['exact', 'rolling']) {
    $(`mode-${mode}`).addEventListener('click', () => {
      state.mode = mode;
      dirty.snapshot = true;
      schedule();
    });
  }
  new ResizeObserver(() => {
    dirty.layout = true;
    schedule();
  }).observe(document.querySelector('main'));
  // Banner countdowns and the stall check.
  setInterval(() => {
    dirty.banner = true;
    schedule();
  }, 1000);
  $('footer').textContent = 'lockstep · every score shown is computed by the server; this page only draws them.';
  ensureEmergenceChart();
  connect();
  schedule();
})();
