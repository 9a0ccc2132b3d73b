/*
 * lockstep dashboard page. Owns: the WebSocket connection to /ws (reconnecting with backoff), the
 * latest snapshot / health / words (and, in closed-loop sessions, the closed-loop panel) the server pushed, the emergence history between the server's
 * history messages, and drawing all of it at most once per animation frame (uPlot charts are created
 * once and fed with setData). Must not compute scores: every number shown comes from the server's
 * messages (the Tmax-vs-depth line is a least-squares fit drawn for the eye; r, p and CI are the
 * snapshot's; the words needed for an exact score are the snapshot's `minWordsForExact`).
 * Plain browser JS, no build step: an ES module (index.html loads it with type="module"); uPlot is
 * a global from its own script tag. The history rules are the server's own module
 * (dashboard/emergenceHistory.ts, compiled by `npm run build`, served as /emergenceHistory.js).
 */
import { emptyHistory, recordHistory } from '/emergenceHistory.js';

(function lockstepDashboard() {
  const SNAPSHOT_SCHEMA = 'lockstep.snapshot/1';
  const PROTOCOL = 'lockstep.v1';
  const TOKEN_PROTOCOL_PREFIX = 'lockstep.token.';
  /** Connected but nothing received for this long: the banner says the server is stalled. */
  const STALL_MS = 10000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  const RECENT_WORDS_SHOWN = 30;
  const CHART_HEIGHT = 220;

  const AXIS_COLOUR = '#8a909c';
  const GRID_COLOUR = '#2a2e38';
  const SERIES_ROLLING = '#58a6ff';
  const SERIES_EXACT = '#f0883e';
  /** Planted latencies (simulated sources): hollow markers, neutral colour, distinct from the depth colours. */
  const SERIES_PLANTED = '#e6edf3';
  const CARD_COLOUR = '#1a1d24';
  /** Exclusion reason that is a design choice, not lost data: the paper decodes content words only. */
  const BY_DESIGN = 'function-word';
  /** Words for each exclusion reason (health.wordsSkipped keys; unknown keys are shown as they are). */
  const REASON_TEXT = {
    'outside-recording': 'outside the recording',
    'overlaps-data-gap': 'in data gaps',
    'no-activations': 'without activations',
    'nonfinite-epoch': 'with a non-finite MEG epoch',
    'nonfinite-activations': 'with non-finite activations',
  };

  const $ = (id) => document.getElementById(id);

  /** What tests and the screenshot tool read. */
  const exposed = { lastSnapshotSeq: -1, lastTemporalScore: null, connected: false, drawCount: 0, plantedPoints: 0, tickLabels: {}, closedLoopDecisions: 0, tmaxBars: 0, groupSubjects: 0 };
  window.lockstep = exposed;

  const state = {
    snapshot: null,
    health: null,
    words: null,
    /** The closed-loop panel (lockstep closed-loop only), or null: the card stays hidden. */
    closedLoop: null,
    /** Several subjects (replay --subject a,b|all): GroupUpdate, or null for one subject. */
    group: null,
    /** 'exact' | 'rolling': what the user asked for; exact falls back to rolling when absent. */
    mode: 'exact',
    /** 'connecting' (never connected yet) | 'connected' | 'disconnected' */
    conn: 'connecting',
    lastMessageAt: 0,
    reconnectAt: 0,
    attempt: 0,
    /** ScoreHistory (seconds), the same shape and rules as the server's. */
    history: emptyHistory(),
    /** JSON of the planted latencies last drawn: the Tmax chart is redrawn when they change. */
    plantedKey: 'none',
    schemaWarning: null,
  };
  const dirty = { banner: true, health: false, words: false, snapshot: false, history: false, layout: false, closedLoop: false, group: false };
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

  // Every number on the page goes through these: a value that rounds to zero shows as 0 (0.000),
  // never as a negative zero ("-0.000"), whatever its sign before rounding.
  const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
  const NEGATIVE_ZERO = /^[-\u2212](0(?:[.,]0*)?)$/;
  const noNegativeZero = (text) => {
    const m = NEGATIVE_ZERO.exec(text);
    return m ? m[1] : text;
  };
  const fmt = (x, digits) => (isNum(x) ? noNegativeZero(x.toFixed(digits)) : '—');
  const intFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  /** Whole counts with thousands separators: 2,037. */
  const count = (n) => (isNum(n) ? noNegativeZero(intFormat.format(n)) : '—');
  /** "1 word", "2,037 words". */
  const countOf = (n, singular, plural) => `${count(n)} ${n === 1 ? singular : plural || `${singular}s`}`;
  function fmtP(p) {
    if (!isNum(p)) return '—';
    return p < 1e-3 ? p.toExponential(1) : fmt(p, 3);
  }
  function fmtClock(sec) {
    if (!isNum(sec)) return '—';
    // Round first, then take the sign: −0.04 s is 0:00.0, not −0:00.0 (and 59.97 s is 1:00.0).
    const tenths = Math.round(Math.abs(sec) * 10);
    const sign = sec < 0 && tenths > 0 ? '−' : '';
    const m = Math.floor(tenths / 600);
    return `${sign}${m}:${((tenths - m * 600) / 10).toFixed(1).padStart(4, '0')}`;
  }
  /** uPlot's own tick format (the browser's locale), without negative zeros; the labels are kept for tests. */
  const tickFormat = new Intl.NumberFormat(navigator.language);
  const tickValues = (name) => (u, splits) => {
    const out = splits.map((v) => (v == null ? '' : noNegativeZero(tickFormat.format(v))));
    exposed.tickLabels[name] = out;
    return out;
  };
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
      const plantedKey = JSON.stringify(msg.health && msg.health.plantedLatenciesSec !== undefined ? msg.health.plantedLatenciesSec : 'none');
      if (plantedKey !== state.plantedKey) {
        state.plantedKey = plantedKey;
        dirty.snapshot = true;
      }
    } else if (msg.type === 'words') {
      state.words = msg.words;
      dirty.words = true;
    } else if (msg.type === 'closedLoop') {
      state.closedLoop = msg.closedLoop;
      dirty.closedLoop = true;
    } else if (msg.type === 'group') {
      state.group = msg.group;
      dirty.group = true;
    } else if (msg.type === 'history') {
      // The server's history of the recording so far (sent on connect): it replaces ours.
      const h = msg.history;
      state.history = { sourceTimeSec: h.sourceTimeSec.slice(), rolling: h.rolling.slice(), exact: h.exact.slice() };
      dirty.history = true;
    }
    schedule();
  }

  function addToHistory(s) {
    if (recordHistory(state.history, s)) dirty.history = true;
  }

  // ---------------------------------------------------------------- charts

  function axis(label, extra) {
    return Object.assign(
      { label, stroke: AXIS_COLOUR, grid: { stroke: GRID_COLOUR, width: 1 }, ticks: { stroke: GRID_COLOUR, width: 1 }, labelSize: 18, font: '11px system-ui', labelFont: '12px system-ui', values: tickValues(label) },
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

  const charts = { curves: null, curvesKey: '', tmax: null, tmaxKey: '', emergence: null, group: null, groupKey: '' };
  /**
   * What the draw hooks overlay: set before each setData. `tmaxBars`: [low, high] per point of the
   * Tmax chart (depth order), the exact scores' intervals, or null; `groupBars` the same for the
   * group chart's mean ± SEM.
   */
  const overlay = { times: [], depths: [], R: [], tmax: [], tmaxBars: null, groupBars: null };

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

  /** Vertical bars with caps at x from bars[i][0] to bars[i][1] (y values); returns how many were drawn. */
  function drawErrorBars(u, xs, bars, colour) {
    if (!bars) return 0;
    const { ctx } = u;
    const cap = 4 * devicePixelRatio;
    // Ends beyond the axis range are drawn at its edge (the bar then runs off the chart).
    const clampY = (v) => Math.min(u.scales.y.max, Math.max(u.scales.y.min, v));
    let n = 0;
    ctx.save();
    ctx.lineWidth = 1.5 * devicePixelRatio;
    for (let i = 0; i < xs.length; i++) {
      const b = bars[i];
      if (!b || !isNum(b[0]) || !isNum(b[1])) continue;
      const x = u.valToPos(xs[i], 'x', true);
      const y0 = u.valToPos(clampY(b[0]), 'y', true);
      const y1 = u.valToPos(clampY(b[1]), 'y', true);
      ctx.strokeStyle = colour(xs[i]);
      ctx.beginPath();
      ctx.moveTo(x, y0);
      ctx.lineTo(x, y1);
      ctx.moveTo(x - cap, y0);
      ctx.lineTo(x + cap, y0);
      ctx.moveTo(x - cap, y1);
      ctx.lineTo(x + cap, y1);
      ctx.stroke();
      n++;
    }
    ctx.restore();
    return n;
  }

  function drawTmaxDots(u) {
    const { ctx } = u;
    const xs = u.data[0];
    const ys = u.data[1];
    const r = 5 * devicePixelRatio;
    exposed.tmaxBars = drawErrorBars(u, xs, overlay.tmaxBars, depthColour);
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
          // The simulation's ground truth (health.plantedLatenciesSec): hollow markers on a dotted line.
          { label: 'planted', stroke: SERIES_PLANTED, width: 1, dash: [2, 3], points: { show: true, size: 13, width: 1.5, stroke: SERIES_PLANTED, fill: CARD_COLOUR } },
        ],
        hooks: { draw: [drawTmaxDots] },
      },
      [[], [], [], []],
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

  /** Subjects' series colours (cycled): distinct from the depth ramp, which colours layers. */
  const SUBJECT_COLOURS = ['#58a6ff', '#f0883e', '#a371f7', '#3fb950', '#d29922', '#f778ba', '#79c0ff', '#ffa657'];
  const SERIES_GROUP = '#ffffff';

  function ensureGroupChart(g) {
    const el = $('chart-group');
    const key = `${g.subjects.length}|${g.depths.join(',')}|${g.times[0]}|${g.times[g.times.length - 1]}`;
    if (charts.group && charts.groupKey === key) return;
    if (charts.group) charts.group.destroy();
    charts.groupKey = key;
    charts.group = new uPlot(
      {
        width: widthOf(el),
        height: CHART_HEIGHT,
        legend: { show: true, live: false },
        cursor: { show: false },
        scales: { x: { time: false, range: () => [0, 1] } },
        axes: [axis('relative depth'), axis('Tmax (s)', { size: 50 })],
        series: [
          { label: 'depth' },
          ...g.subjects.map((sub, i) => ({ label: `sub-${sub.subject}`, stroke: SUBJECT_COLOURS[i % SUBJECT_COLOURS.length], width: 1, points: { show: true, size: 4 } })),
          { label: 'group mean ± SEM', stroke: SERIES_GROUP, width: 3, points: { show: true, size: 7, fill: SERIES_GROUP } },
        ],
        hooks: { draw: [(u) => drawErrorBars(u, u.data[0], overlay.groupBars, () => SERIES_GROUP)] },
      },
      [[], ...g.subjects.map(() => []), []],
      el,
    );
  }

  /** Several subjects: each subject's Tmax against depth, the group's mean ± SEM, and their scores. */
  function renderGroup() {
    const g = state.group;
    $('group-card').hidden = !g;
    if (!g) return;
    ensureGroupChart(g);
    const order = g.depths.map((d, l) => [d, l]).sort((a, b) => a[0] - b[0]);
    const xs = order.map(([d]) => d);
    const perSubject = g.subjects.map((sub) => order.map(([, l]) => (sub.tmax && isNum(sub.tmax[l]) ? sub.tmax[l] : null)));
    const grp = g.group;
    const mean = order.map(([, l]) => (grp && isNum(grp.tmax.mean[l]) ? grp.tmax.mean[l] : null));
    overlay.groupBars = grp ? order.map(([, l]) => (isNum(grp.tmax.sem[l]) ? [grp.tmax.mean[l] - grp.tmax.sem[l], grp.tmax.mean[l] + grp.tmax.sem[l]] : null)) : null;
    charts.group.setData([xs, ...perSubject, mean]);
    exposed.groupSubjects = g.subjects.filter((sub) => sub.tmax).length;
    const pending = g.pending.length ? ` · still to come: ${g.pending.map((p) => `sub-${p}`).join(', ')}` : '';
    $('group-stats').textContent = grp
      ? `group of ${countOf(grp.nSubjects, 'subject')} (mean ± SEM): temporal score ${fmt(grp.temporalScore.mean, 3)} ± ${fmt(grp.temporalScore.sem, 3)}, across subjects p = ${fmtP(grp.test.p)} (${grp.test.method})${pending}`
      : `no subject with an exact score yet${pending}`;
    setDetails(
      $('group-subjects'),
      g.subjects.map((sub) => [
        `sub-${sub.subject}`,
        isNum(sub.temporalScore) ? `r = ${fmt(sub.temporalScore, 3)}, p = ${fmtP(sub.p)} (paper), fold test p = ${fmtP(sub.foldTestP)}` : sub.status || 'no exact score',
      ]),
    );
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
    // Two significant digits: a small but non-zero scale never reads as ±0.000.
    const scale = noNegativeZero(String(Number(maxAbs.toPrecision(2))));
    ctx.fillText(`+${scale}`, bx + bw + 4, m.top + 6);
    ctx.fillText('0', bx + bw + 4, m.top + ph / 2);
    ctx.fillText(`−${scale}`, bx + bw + 4, m.top + ph - 6);
  }

  // ---------------------------------------------------------------- panels

  /**
   * Why there is no exact score yet, from the snapshot's fold plan and the words decoded so far ('' once
   * there is one): e.g. "123 / 402 words before the first exact score".
   */
  function exactStatusText(s, counts) {
    if (!s) return '';
    if (s.exact) return '';
    const need = s.minWordsForExact;
    const plan = s.foldPlan;
    const have = counts ? counts.decoded : s.nWords;
    if (!isNum(need)) return plan ? `no exact score: ${plan.folds} folds leave a fold with fewer than 2 words` : 'no exact score yet';
    if (have >= need) return `${countOf(need, 'word')} reached: the first exact score comes with the next refit`;
    const why = plan
      ? ` (every one of the ${plan.folds} folds needs at least 2 words; ${plan.kind === 'blocks' ? `folds fill in blocks of ${countOf(plan.blockWords, 'word')}, dealt round-robin` : `contiguous folds over ${countOf(plan.totalWords, 'word')} fill one after the other`})`
      : '';
    return `${count(have)} / ${countOf(need, 'word')} before the first exact score${why}`;
  }

  /** Tmax per layer, deepest last: "0.300 0.333 … s". */
  function tmaxText(s, sc) {
    const order = s.depths.map((d, l) => [d, l]).sort((a, b) => a[0] - b[0]);
    return `${order.map(([, l]) => fmt(sc.tmax[l], 3)).join(' ')} s (depth ${order.map(([d]) => d).join(', ')})`;
  }

  /** Half-widths of the Tmax intervals, in the order of tmaxText: "±27 ±27 ±45 … ms (method)". */
  function tmaxCiText(s, ci) {
    const order = s.depths.map((d, l) => [d, l]).sort((a, b) => a[0] - b[0]);
    const half = order.map(([, l]) => (isNum(ci.low[l]) && isNum(ci.high[l]) ? `±${fmt(((ci.high[l] - ci.low[l]) / 2) * 1000, 0)}` : '—'));
    return `${half.join(' ')} ms (${ci.method})`;
  }

  /**
   * Word counts for both panels, from one source: the health record (decoded words and every
   * exclusion by reason, decoder and pipeline merged), or the snapshot before the first health.
   * Function words are excluded by design (content words only, the paper's default), not skipped data.
   */
  function wordCounts() {
    const h = state.health;
    const s = state.snapshot;
    return h ? { decoded: h.wordsAccepted, excluded: h.wordsSkipped || {} } : s ? { decoded: s.nWords, excluded: s.skipped || {} } : null;
  }

  function wordCountRows(src) {
    if (!src) return [];
    const byDesign = src.excluded[BY_DESIGN] || 0;
    const skipped = Object.entries(src.excluded).filter(([k, n]) => k !== BY_DESIGN && isNum(n) && n > 0);
    const skippedTotal = skipped.reduce((a, [, n]) => a + n, 0);
    return [
      ['words decoded', count(src.decoded)],
      ['excluded by design', byDesign > 0 ? `${countOf(byDesign, 'function word')} (content words only, paper default)` : 'none (every word decoded)'],
      ['words skipped', skippedTotal > 0 ? `${count(skippedTotal)}: ${skipped.map(([k, n]) => `${count(n)} ${REASON_TEXT[k] || k}`).join(', ')}` : 'none'],
    ];
  }

  /** The analysis machinery (backend and its libraries, refits, α grid, fold plan): health panel, not headline. */
  function computationRows() {
    const s = state.snapshot;
    const h = state.health;
    const backend = (s && s.backend) || (h && h.backend) || '—';
    const refitSec = h && isNum(h.refitSeconds) ? h.refitSeconds : s && s.exact ? s.exact.computeSeconds : null;
    const rows = [['backend', backend], ['last refit', isNum(refitSec) ? `${fmt(refitSec, 2)} s` : '—']];
    if (s) {
      const fmtAlpha = (a) => (a >= 1e-3 && a < 1e4 ? String(Number(a.toPrecision(3))) : a.toExponential(0));
      rows.push(['α', s.alphas && s.alphas.length ? `${s.alphaSelection} over ${s.alphas.length} α (${fmtAlpha(s.alphas[0])}…${fmtAlpha(s.alphas[s.alphas.length - 1])})` : s.alphaSelection]);
      rows.push(['folds', s.folds]);
      rows.push(['snapshot', `#${s.seq}, source time ${fmtClock(s.sourceTimeSec)}`]);
    }
    return rows;
  }

  /** Planted latencies in the snapshot's layer order, or null when the source is not simulated. */
  function plantedLatencies(s) {
    const p = state.health && state.health.plantedLatenciesSec;
    if (!Array.isArray(p) || p.length !== s.depths.length) return null;
    return p.map((v) => (isNum(v) ? v : null));
  }

  function renderSnapshot() {
    const s = state.snapshot;
    if (!s) return;
    const shown = shownScores(s);
    $('mode-exact').disabled = !s.exact;
    $('mode-rolling').disabled = !s.rolling;
    $('mode-exact').classList.toggle('active', !!shown && shown.kind === 'exact');
    $('mode-rolling').classList.toggle('active', !!shown && shown.kind === 'rolling');

    const score = shown && isNum(shown.sc.temporalScore) ? shown.sc.temporalScore : null;
    $('temporal-score').textContent = fmt(score, 3);
    exposed.lastTemporalScore = score;

    let method = 'no scores yet';
    const rows = [];
    if (shown && shown.kind === 'exact') {
      const e = shown.sc;
      method = `exact K-fold CV · ${countOf(e.nWords, 'word')} · ${e.foldSizes.length} folds`;
      rows.push(['p', `${fmtP(e.p)} (paper: t-test, ${s.depths.length - 2} df, layers taken as independent)`]);
      if (e.foldTest) rows.push(['fold test p', `${fmtP(e.foldTest.p)} (${e.foldTest.method})`]);
      rows.push([`${Math.round((e.ci && e.ci.level) * 100)}% CI`, e.ci ? `[${fmt(e.ci.low, 3)}, ${fmt(e.ci.high, 3)}] (${e.ci.method})` : '—']);
    } else if (shown) {
      const r = shown.sc;
      method = `rolling prequential · ${countOf(r.nScored, 'word')} scored${r.halfLifeWords ? ` · half-life ${countOf(r.halfLifeWords, 'word')}` : ''}`;
      rows.push(['p', `${fmtP(r.p)} (t-test, ${s.depths.length - 2} df)`]);
      rows.push(['CI', 'only for exact K-fold scores']);
    }
    if (shown) {
      const sc = shown.sc;
      rows.push(['Tmax', tmaxText(s, sc)]);
      if (shown.kind === 'exact' && sc.tmaxCI) rows.push([`Tmax ${Math.round(sc.tmaxCI.level * 100)}% CI`, tmaxCiText(s, sc.tmaxCI)]);
      rows.push(['alignment', `peak R ${fmt(sc.alignmentScore, 3)} at depth ${s.depths[sc.bestLayer] ?? '—'}, t = ${fmt(sc.peakTimeSec, 2)} s`]);
    }
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

    const planted = plantedLatencies(s);
    const byDepth = s.depths.map((d, l) => [d, shown ? shown.sc.tmax[l] : null, planted ? planted[l] : null]).sort((a, b) => a[0] - b[0]);
    const xs = byDepth.map((p) => p[0]);
    const ys = byDepth.map((p) => (isNum(p[1]) ? p[1] : null));
    const plantedYs = byDepth.map((p) => p[2]);
    const ci = shown && shown.kind === 'exact' ? shown.sc.tmaxCI : null;
    overlay.tmaxBars = ci
      ? s.depths
          .map((d, l) => [d, [ci.low[l], ci.high[l]]])
          .sort((a, b) => a[0] - b[0])
          .map((p) => p[1])
      : null;
    charts.tmax.setData([xs, ys, displayFit(xs, ys), plantedYs]);
    exposed.plantedPoints = plantedYs.filter(isNum).length;
    $('tmax-legend').textContent = !planted
      ? overlay.tmaxBars
        ? '● measured Tmax, bar = its 95% interval'
        : ''
      : exposed.plantedPoints > 0
        ? `● measured Tmax${overlay.tmaxBars ? ' with its 95% interval' : ''} · ○ planted latency: the simulation's ground truth`
        : '○ planted latency: none (the null control plants no response)';
    if (shown) {
      const ci = shown.kind === 'exact' && shown.sc.ci ? `, ${Math.round(shown.sc.ci.level * 100)}% CI [${fmt(shown.sc.ci.low, 3)}, ${fmt(shown.sc.ci.high, 3)}]` : '';
      $('tmax-stats').textContent = `r = ${fmt(shown.sc.temporalScore, 3)}, p = ${fmtP(shown.sc.p)}${ci} · ${shown.kind === 'exact' ? 'exact K-fold' : 'rolling prequential'}, ${s.depths.length} layers`;
    } else {
      $('tmax-stats').textContent = 'no scores yet';
    }

    drawHeatmap(s, shown);
    exposed.lastSnapshotSeq = s.seq;
  }

  /** The word counts, in the score panel and the health panel alike, and the words still needed for an exact score (one source). */
  function renderWordCounts() {
    const counts = wordCounts();
    const rows = wordCountRows(counts);
    setDetails($('score-words'), rows);
    setDetails($('health-words'), rows);
    $('exact-status').textContent = exactStatusText(state.snapshot, counts);
  }

  function renderHistory() {
    ensureEmergenceChart();
    const h = state.history;
    charts.emergence.setData([h.sourceTimeSec.map((t) => t / 60), h.rolling.slice(), h.exact.slice()]);
  }

  function renderHealth() {
    const h = state.health;
    if (h) {
      const act = $('activations-label');
      act.textContent = `activations: ${h.activations}`;
      act.classList.toggle('synthetic', /synthetic|not a language model|random/i.test(h.activations || ''));
      setDetails($('health'), [
        ['state', h.state, `state-${h.state}`],
        ['source', h.source],
        ['input rate', isNum(h.inputRateHz) ? `${fmt(h.inputRateHz, 1)} samples/s` : '—'],
        ['speed', isNum(h.speed) ? `×${fmt(h.speed, 2)} real time` : '—'],
        ['source time', fmtClock(h.sourceTimeSec)],
        ['source-time lag', isNum(h.wallLagSec) ? `${fmt(h.wallLagSec, 2)} s behind wall clock` : '—'],
      ]);
    }
    setDetails($('computation'), computationRows());
  }

  function renderWords() {
    const w = state.words;
    if (!w) return;
    const cur = w.current;
    $('current-word').textContent = cur ? cur.word : '—';
    $('current-word-meta').textContent = cur
      ? `word #${cur.wordIndex} · onset ${fmtClock(cur.onsetSec)}${isNum(cur.durationSec) ? ` · ${fmt(cur.durationSec, 2)} s` : ''}${cur.isContent === true ? ' · content word' : cur.isContent === false ? ' · function word' : ''}`
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
    fit(charts.group, 'chart-group');
    if (state.snapshot) dirty.snapshot = true;
    if (state.closedLoop) dirty.closedLoop = true;
    if (state.group) dirty.group = true;
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
    if (dirty.health || dirty.snapshot) {
      // Word counts and the computation rows read both messages.
      renderHealth();
      renderWordCounts();
    }
    dirty.health = false;
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
    if (dirty.closedLoop) {
      dirty.closedLoop = false;
      renderClosedLoop();
    }
    if (dirty.group) {
      dirty.group = false;
      renderGroup();
    }
    exposed.drawCount++;
  }

  // ---------------------------------------------------------------- closed loop

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function svgEl(name, attrs, text) {
    const el = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }
  /** A short, rounded rendering of a policy's state value (numbers to 3 decimals). */
  function stateText(v) {
    return JSON.stringify(v, (_k, x) => (isNum(x) && !Number.isInteger(x) ? Number(x.toFixed(3)) : x));
  }
  const decisionText = (d) => `${d.action === 'play' ? `play ${d.passage}${d.label ? ` (${d.label})` : ''}` : 'stop'} · ${d.reason}`;

  /** The decisions on the recording's time axis (0 … now), one mark each, its reason in the tooltip. */
  function drawTimeline(svg, p) {
    const width = svg.clientWidth || 600;
    const height = 64;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const end = Math.max(p.elapsedSec || 0, ...p.decisions.map((d) => d.atSec), 1);
    const x = (t) => 8 + ((width - 16) * t) / end;
    const y = 26;
    const nodes = [svgEl('line', { class: 'axis', x1: x(0), x2: x(end), y1: y, y2: y })];
    // Ticks at a round step giving about six labels.
    const step = [5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600].find((s) => end / s <= 6) || 7200;
    for (let t = 0; t <= end + 1e-9; t += step) {
      nodes.push(svgEl('line', { class: 'axis', x1: x(t), x2: x(t), y1: y + 4, y2: y + 8 }));
      nodes.push(svgEl('text', { x: x(t), y: y + 20, 'text-anchor': 'middle' }, fmtClock(t)));
    }
    for (const d of p.decisions) {
      const cx = x(d.atSec);
      const mark = d.action === 'stop' ? svgEl('rect', { class: 'stop', x: cx - 5, y: y - 14, width: 10, height: 10 }) : svgEl('path', { class: 'play', d: `M${cx - 5},${y - 4} L${cx + 5},${y - 4} L${cx},${y - 14} Z` });
      const latency = isNum(d.latencySec) ? ` · decided ${fmt(d.latencySec * 1000, 0)} ms after the passage's data` : '';
      mark.appendChild(svgEl('title', {}, `#${d.seq} at ${fmtClock(d.atSec)}: ${decisionText(d)} — ${d.detail}${latency}`));
      nodes.push(mark);
    }
    if (!p.stopped) nodes.push(svgEl('line', { class: 'now', x1: x(p.elapsedSec), x2: x(p.elapsedSec), y1: 4, y2: y + 4 }));
    svg.replaceChildren(...nodes);
  }

  function renderClosedLoop() {
    const p = state.closedLoop;
    if (!p) return;
    $('closed-loop-card').hidden = false;
    const params = Object.entries(p.policy.parameters || {}).map(([k, v]) => `${k} ${stateText(v)}`).join(', ');
    $('cl-policy').textContent = `policy ${p.policy.name}${params ? ` (${params})` : ''}`;
    const last = p.decisions[p.decisions.length - 1];
    const plays = p.decisions.filter((d) => d.action === 'play').length;
    $('cl-status').textContent = p.stopped
      ? `stopped at ${fmtClock(p.stopped.atSec)} (${p.stopped.reason}): ${p.stopped.detail} · ${countOf(plays, 'passage')} played`
      : `${countOf(plays, 'passage')} chosen so far${last && isNum(last.latencySec) ? ` · last decision ${fmt(last.latencySec * 1000, 0)} ms after its passage's data were complete` : ''}`;
    drawTimeline($('cl-timeline'), p);
    const items = p.decisions.slice(-8).reverse().map((d) => {
      const li = document.createElement('li');
      const when = document.createElement('span');
      when.className = 'when';
      when.textContent = fmtClock(d.atSec);
      const what = document.createElement('span');
      if (d.action === 'stop') what.className = 'stop';
      what.textContent = `${decisionText(d)} — ${d.detail}`;
      li.append(when, what);
      return li;
    });
    $('cl-decisions').replaceChildren(...items);
    const table = $('cl-conditions');
    if (p.conditions.length === 0) {
      table.replaceChildren();
      const row = table.insertRow();
      row.insertCell().textContent = 'this policy decodes all words together (no conditions)';
    } else {
      const head = document.createElement('tr');
      for (const h of ['condition', 'words', 'temporal score', 'interval', 'peak R']) {
        const th = document.createElement('th');
        th.textContent = h;
        head.appendChild(th);
      }
      const rows = p.conditions.map((c) => {
        const tr = document.createElement('tr');
        const cells = [c.condition, count(c.words), isNum(c.temporalScore) ? `${fmt(c.temporalScore, 3)} ${c.source === 'rolling' ? '(rolling)' : ''}` : '—', c.ci ? `${fmt(c.ci.low, 2)}…${fmt(c.ci.high, 2)}` : '—', fmt(c.alignmentScore, 3)];
        cells.forEach((text, i) => {
          const td = document.createElement('td');
          td.textContent = text;
          if (i === 2 && isNum(c.temporalScore) && c.temporalScore > 0) {
            const bar = document.createElement('span');
            bar.className = 'bar';
            bar.style.width = `${Math.round(40 * Math.min(1, c.temporalScore))}px`;
            td.appendChild(bar);
          }
          tr.appendChild(td);
        });
        return tr;
      });
      table.replaceChildren(head, ...rows);
    }
    setDetails($('cl-state'), Object.entries(p.state || {}).map(([k, v]) => [k, typeof v === 'string' ? v : stateText(v)]));
    exposed.closedLoopDecisions = p.decisions.length;
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
