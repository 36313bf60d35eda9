// The trace viewer: a simulator trace (JSON lines, docs/protocol.md "Simulator traces") drawn
// as a message sequence chart on a canvas. Time runs left to right, one lane per server. Only
// what falls in the visible time window is drawn, so traces of many thousands of events stay
// usable. Message names it does not know (a Paxos run's, say) are drawn like any other.
"use strict";
(function () {
  // ---- the model: events, lanes, phase bands, arrows, marks --------------------------------

  const PHASES = {
    election: "#f6d58e", discovery: "#9cc3e6", synchronization: "#c5b3e6",
    broadcast: "#a5d6a7", down: "#d5d5d5",
  };
  const FAMILIES = {
    election: "#b7791f", discovery: "#1f6fb7", synchronization: "#6a3fb0",
    broadcast: "#2e7d32", heartbeat: "#9e9e9e",
  };
  const KNOWN = {
    VOTE: "election", CEPOCH: "discovery", NEWEPOCH: "discovery", "ACK-E": "discovery",
    DIFF: "synchronization", TRUNC: "synchronization", SNAP: "synchronization",
    NEWLEADER: "synchronization", "ACK-LD": "synchronization", "COMMIT-LD": "synchronization",
    PROPOSE: "broadcast", ACK: "broadcast", COMMIT: "broadcast",
    PING: "heartbeat", PINGACK: "heartbeat",
    // Paxos: phase 1 is Zab's discovery, phase 2 its broadcast.
    PREPARE: "discovery", PROMISE: "discovery", P1A: "discovery", P1B: "discovery",
    ACCEPT: "broadcast", ACCEPTED: "broadcast", P2A: "broadcast", P2B: "broadcast",
    NACK: "heartbeat",
  };
  const PARTITIONS = ["split", "one-way", "isolate-leader", "bridge", "isolate-follower", "partition"];

  function hashColour(name) {
    let h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return "hsl(" + (h % 360) + ",55%,42%)";
  }
  function messageColour(type) {
    const family = KNOWN[String(type).toUpperCase()];
    return family ? FAMILIES[family] : hashColour(String(type));
  }
  function phaseKind(name) {
    const p = String(name).toLowerCase();
    if (p.includes("look") || p.includes("elect")) return "election";
    if (p.includes("discover")) return "discovery";
    if (p.includes("sync")) return "synchronization";
    if (p.includes("broadcast")) return "broadcast";
    return null;
  }
  function phaseColour(name) {
    const kind = phaseKind(name);
    return kind ? PHASES[kind] : hashColour(String(name)).replace("55%,42%", "45%,82%");
  }

  function parse(text) {
    const events = [];
    const bad = [];
    text.split("\n").forEach(function (line, i) {
      line = line.trim();
      if (!line) return;
      try {
        const e = JSON.parse(line);
        if (typeof e !== "object" || e === null || typeof e.ev !== "string") throw new Error("no ev");
        e.t = Number(e.t) || 0;
        e.line = i + 1;
        events.push(e);
      } catch (err) {
        bad.push(i + 1);
      }
    });
    return { events: events, bad: bad };
  }

  function serverOf(v) {
    if (typeof v === "number") return v;
    if (typeof v === "string" && /^s?\d+$/.test(v)) return Number(v.replace("s", ""));
    return v === undefined || v === null ? null : String(v);
  }

  // A message's identity: every field but the time, the event name and a drop's reason. A
  // receive or a drop consumes the oldest unmatched send with the same identity.
  function messageKey(e) {
    const copy = {};
    Object.keys(e).forEach(function (k) {
      if (k !== "t" && k !== "ev" && k !== "reason" && k !== "line") copy[k] = e[k];
    });
    return JSON.stringify(copy);
  }

  function build(events) {
    const serverSet = new Map();
    const addServer = function (v) {
      const s = serverOf(v);
      if (s !== null && !serverSet.has(s)) serverSet.set(s, true);
    };
    events.forEach(function (e) {
      if ("from" in e) addServer(e.from);
      if ("to" in e) addServer(e.to);
      if ("server" in e) addServer(e.server);
    });
    const servers = Array.from(serverSet.keys()).sort(function (a, b) {
      return typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b));
    });
    const lane = new Map(servers.map(function (s, i) { return [s, i]; }));
    const laneOf = function (v) { return lane.get(serverOf(v)); };
    const tMin = events.length ? events[0].t : 0;
    const tMax = events.length ? Math.max(tMin + 1, events[events.length - 1].t) : 1;

    const arrows = [], marks = [], bands = [], partitions = [], violations = [];
    const open = servers.map(function () { return null; });
    const closeBand = function (i, t) {
      if (open[i] && t > open[i].t0) { open[i].t1 = t; bands.push(open[i]); }
      open[i] = null;
    };
    const pending = new Map(), lastSent = new Map(), openPartitions = new Map();
    events.forEach(function (e) {
      switch (e.ev) {
        case "send": {
          const key = messageKey(e);
          if (!pending.has(key)) pending.set(key, []);
          pending.get(key).push(e);
          lastSent.set(key, e);
          break;
        }
        case "recv":
        case "drop": {
          const key = messageKey(e);
          const queue = pending.get(key);
          let send = queue && queue.length ? queue.shift() : null;
          let kind = e.ev === "drop" ? "drop" : "ok";
          if (!send && lastSent.has(key)) { send = lastSent.get(key); if (kind === "ok") kind = "dup"; }
          arrows.push({
            from: laneOf(e.from), to: laneOf(e.to), t0: send ? send.t : e.t, t1: e.t,
            type: String(e.type === undefined ? "?" : e.type), kind: kind, send: send, end: e,
            colour: messageColour(e.type === undefined ? "?" : e.type),
            // Lost on the way (dropped when sent): the arrow stops short of the receiver.
            lost: e.ev === "drop" && (!send || send.t === e.t),
          });
          break;
        }
        case "phase": {
          const i = laneOf(e.server);
          closeBand(i, e.t);
          open[i] = { lane: i, t0: e.t, t1: null, name: String(e.phase), colour: phaseColour(e.phase), ev: e };
          break;
        }
        case "crash": {
          const i = laneOf(e.server);
          closeBand(i, e.t);
          open[i] = { lane: i, t0: e.t, t1: null, name: "down", colour: PHASES.down, ev: e, down: true };
          marks.push({ lane: i, t: e.t, shape: "cross", colour: "#c62828", label: "crash", ev: e });
          break;
        }
        case "restart": {
          const i = laneOf(e.server);
          closeBand(i, e.t);
          marks.push({ lane: i, t: e.t, shape: "triangle", colour: "#2e7d32", label: "restart", ev: e });
          break;
        }
        case "deliver":
          marks.push({ lane: laneOf(e.server), t: e.t, shape: "dot", colour: "#37474f", label: e.zxid || e.value || "", ev: e, deliver: true });
          break;
        case "established":
          marks.push({ lane: laneOf(e.server), t: e.t, shape: "star", colour: "#ef6c00", label: "established e" + e.epoch, ev: e });
          break;
        case "fault": {
          const kind = String(e.kind);
          const id = (String(e.detail || "").match(/#(\d+)/) || [])[1];
          if (kind === "heal") {
            const p = id !== undefined ? openPartitions.get(id) : null;
            if (p) { p.t1 = e.t; p.heal = e; openPartitions.delete(id); }
            else openPartitions.forEach(function (q) { if (q.t1 === null) { q.t1 = e.t; q.heal = e; } });
            if (!p) openPartitions.clear();
          } else if (PARTITIONS.indexOf(kind) >= 0) {
            const p = { t0: e.t, t1: null, kind: kind, ev: e, row: 0 };
            partitions.push(p);
            openPartitions.set(id !== undefined ? id : String(partitions.length), p);
          }
          break;
        }
        case "violation":
          violations.push(e);
          break;
        default:
          if ("server" in e && e.ev !== "append" && e.ev !== "durable" && e.ev !== "persist") {
            // An event the viewer does not know, on one server: a small generic mark.
            marks.push({ lane: laneOf(e.server), t: e.t, shape: "tick", colour: "#607d8b", label: e.ev, ev: e, minor: true });
          }
      }
    });
    open.forEach(function (b, i) { if (b) closeBand(i, tMax); });
    partitions.forEach(function (p) { if (p.t1 === null) p.t1 = tMax; });
    // Stack overlapping partitions in rows of the fault track.
    const rowEnd = [];
    partitions.forEach(function (p) {
      let r = 0;
      while (rowEnd[r] !== undefined && rowEnd[r] > p.t0) r++;
      p.row = r;
      rowEnd[r] = p.t1;
    });
    // Messages still in flight at the end: a stub to the end of the run.
    pending.forEach(function (queue) {
      queue.forEach(function (s) {
        arrows.push({ from: laneOf(s.from), to: laneOf(s.to), t0: s.t, t1: tMax, type: String(s.type), kind: "flight", send: s, end: null, colour: messageColour(s.type) });
      });
    });
    arrows.sort(function (a, b) { return a.t0 - b.t0; });
    marks.sort(function (a, b) { return a.t - b.t; });
    let longest = 0;
    arrows.forEach(function (a) { longest = Math.max(longest, a.t1 - a.t0); });
    return {
      servers: servers, arrows: arrows, marks: marks, bands: bands, partitions: partitions,
      faultRows: Math.max(1, rowEnd.length), violations: violations, tMin: tMin, tMax: tMax,
      longest: longest,
    };
  }

  // ---- drawing ------------------------------------------------------------------------------

  const LANE_LABEL = 86, AXIS = 24, FAULT_ROW = 14;
  const parsed = parse(document.getElementById("trace-data").textContent);
  const model = build(parsed.events);
  const canvas = document.getElementById("canvas");
  const overview = document.getElementById("overview");
  const ctx = canvas.getContext("2d");
  const view = { t0: model.tMin, t1: model.tMax, width: 0, height: 0, selected: null, hidden: new Set() };
  let hits = [];
  let drawnArrows = 0;

  function layout() {
    const top = AXIS + model.faultRows * FAULT_ROW + 6;
    const n = Math.max(1, model.servers.length);
    const laneH = Math.max(36, Math.min(260, (view.height - top - 8) / n));
    return { top: top, laneH: laneH };
  }
  function x(t) { return LANE_LABEL + (t - view.t0) / (view.t1 - view.t0) * (view.width - LANE_LABEL - 10); }
  function laneY(L, i) { return L.top + i * L.laneH + L.laneH / 2; }
  function ticks(t) { return (t / 10).toFixed((view.t1 - view.t0) < 100 ? 1 : 0); }

  // The index of the first element of sorted `items` whose key is >= t.
  function lowerBound(items, t, key) {
    let lo = 0, hi = items.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (key(items[mid]) < t) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function visibleArrows() {
    const out = [];
    const start = lowerBound(model.arrows, view.t0 - model.longest, function (a) { return a.t0; });
    for (let k = start; k < model.arrows.length; k++) {
      const a = model.arrows[k];
      if (a.t0 > view.t1) break;
      if (a.t1 < view.t0 || view.hidden.has(a.type.toUpperCase())) continue;
      out.push(a);
    }
    return out;
  }

  function drawArrow(L, a, labelled) {
    const x0 = x(a.t0), y0 = laneY(L, a.from);
    let x1 = x(a.t1), y1 = laneY(L, a.to);
    if (a.lost) { x1 = x0 + 0.6 * (x(a.t0 + 6) - x0) + 6; y1 = y0 + 0.6 * (y1 - y0); }
    const selected = view.selected === a;
    ctx.strokeStyle = selected ? "#000" : a.colour;
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = selected ? 2.5 : 1.2;
    ctx.setLineDash(a.kind === "drop" || a.kind === "flight" ? [4, 3] : a.kind === "dup" ? [1, 2] : []);
    ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
    ctx.setLineDash([]);
    const ang = Math.atan2(y1 - y0, x1 - x0);
    if (a.kind === "drop") {
      ctx.strokeStyle = "#c62828"; ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x1 - 4, y1 - 4); ctx.lineTo(x1 + 4, y1 + 4);
      ctx.moveTo(x1 + 4, y1 - 4); ctx.lineTo(x1 - 4, y1 + 4);
      ctx.stroke();
    } else if (a.kind !== "flight") {
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x1 - 8 * Math.cos(ang - 0.35), y1 - 8 * Math.sin(ang - 0.35));
      ctx.lineTo(x1 - 8 * Math.cos(ang + 0.35), y1 - 8 * Math.sin(ang + 0.35));
      ctx.closePath(); ctx.fill();
    }
    if (labelled) {
      let label = a.type;
      const z = (a.end || a.send || {}).zxid;
      if (z !== undefined && a.type !== "VOTE") label += " " + z;
      ctx.save();
      ctx.translate((x0 + x1) / 2, (y0 + y1) / 2);
      let r = ang;
      if (r > Math.PI / 2) r -= Math.PI; else if (r < -Math.PI / 2) r += Math.PI;
      ctx.rotate(r);
      ctx.fillStyle = a.colour; ctx.font = "10px system-ui, sans-serif"; ctx.textAlign = "center";
      ctx.fillText(label, 0, -3);
      ctx.restore();
    }
    hits.push({ kind: "arrow", item: a, x0: x0, y0: y0, x1: x1, y1: y1 });
  }

  function drawMark(L, m, labelled) {
    const cx = x(m.t), cy = laneY(L, m.lane);
    const selected = view.selected === m;
    ctx.fillStyle = ctx.strokeStyle = selected ? "#000" : m.colour;
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    if (m.shape === "cross") {
      ctx.moveTo(cx - 7, cy - 7); ctx.lineTo(cx + 7, cy + 7); ctx.moveTo(cx + 7, cy - 7); ctx.lineTo(cx - 7, cy + 7); ctx.stroke();
    } else if (m.shape === "triangle") {
      ctx.moveTo(cx - 6, cy + 6); ctx.lineTo(cx + 6, cy); ctx.lineTo(cx - 6, cy - 6); ctx.closePath(); ctx.fill();
    } else if (m.shape === "star") {
      for (let k = 0; k < 10; k++) {
        const r = k % 2 ? 3 : 7, a = -Math.PI / 2 + k * Math.PI / 5;
        ctx.lineTo(cx + r * Math.cos(a), cy + r * Math.sin(a));
      }
      ctx.closePath(); ctx.fill();
    } else if (m.shape === "tick") {
      ctx.lineWidth = 1; ctx.moveTo(cx, cy - 5); ctx.lineTo(cx, cy + 5); ctx.stroke();
    } else {
      ctx.arc(cx, cy, selected ? 4 : 2.5, 0, 2 * Math.PI); ctx.fill();
    }
    if (labelled && m.label && (!m.minor || labelled === "all")) {
      ctx.font = (m.deliver ? "9px" : "10px") + " system-ui, sans-serif";
      ctx.textAlign = "left";
      ctx.fillText(m.label, cx + 5, m.deliver ? cy + 12 : cy - 8);
    }
    hits.push({ kind: "mark", item: m, x0: cx, y0: cy });
  }

  function draw() {
    const started = performance.now();
    const dpr = window.devicePixelRatio || 1;
    view.width = canvas.clientWidth || 800;
    view.height = canvas.clientHeight || 400;
    canvas.width = Math.round(view.width * dpr);
    canvas.height = Math.round(view.height * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, view.width, view.height);
    hits = [];
    const L = layout();
    const right = view.width - 10;
    const clip = function () { ctx.save(); ctx.beginPath(); ctx.rect(LANE_LABEL, 0, right - LANE_LABEL, view.height); ctx.clip(); };

    // Axis, in ticks.
    ctx.font = "10px system-ui, sans-serif"; ctx.fillStyle = "#555"; ctx.textAlign = "center";
    const span = (view.t1 - view.t0) / 10;
    const step = Math.pow(10, Math.floor(Math.log10(span / 6 || 1)));
    const nice = [1, 2, 5, 10].map(function (m) { return m * step; }).find(function (s) { return span / s <= 10; }) || step * 10;
    clip();
    for (let tk = Math.ceil(view.t0 / 10 / nice) * nice; tk * 10 <= view.t1; tk += nice) {
      const px = x(tk * 10);
      ctx.strokeStyle = "#eee"; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(px, AXIS - 4); ctx.lineTo(px, view.height); ctx.stroke();
      ctx.fillText(String(Number(tk.toFixed(6))), px, 12);
    }
    ctx.restore();
    ctx.textAlign = "left"; ctx.fillText("tick", 4, 12);

    // Partitions, in the fault track and faintly over every lane.
    ctx.fillText("partitions", 4, AXIS + 10);
    clip();
    model.partitions.forEach(function (p) {
      if (p.t1 < view.t0 || p.t0 > view.t1) return;
      const x0 = x(p.t0), x1 = Math.max(x(p.t1), x0 + 2);
      ctx.fillStyle = "rgba(255,152,0,0.08)";
      ctx.fillRect(x0, L.top, x1 - x0, model.servers.length * L.laneH);
      ctx.fillStyle = view.selected === p ? "#e65100" : "#ffb74d";
      const y = AXIS + p.row * FAULT_ROW;
      ctx.fillRect(x0, y, x1 - x0, FAULT_ROW - 3);
      ctx.fillStyle = "#5d4037"; ctx.font = "10px system-ui, sans-serif";
      const text = p.kind + " " + (p.ev.detail || ""), tx = Math.max(x0, LANE_LABEL) + 3;
      if (ctx.measureText(text).width + 6 < Math.min(x1, right) - tx) ctx.fillText(text, tx, y + 9);
      else if (ctx.measureText(p.kind).width + 6 < Math.min(x1, right) - tx) ctx.fillText(p.kind, tx, y + 9);
      hits.push({ kind: "box", item: p, x0: x0, y0: y, x1: x1, y1: y + FAULT_ROW - 3 });
    });
    ctx.restore();

    // Lanes: labels, then phase bands.
    model.servers.forEach(function (s, i) {
      const y = L.top + i * L.laneH;
      ctx.fillStyle = i % 2 ? "#fafafa" : "#fff";
      ctx.fillRect(0, y, view.width, L.laneH);
      ctx.fillStyle = "#222"; ctx.font = "600 12px system-ui, sans-serif"; ctx.textAlign = "left";
      ctx.fillText("server " + s, 6, y + L.laneH / 2 + 4);
    });
    clip();
    const bandH = Math.min(16, L.laneH * 0.3);
    model.bands.forEach(function (b) {
      if (b.t1 < view.t0 || b.t0 > view.t1) return;
      const x0 = x(b.t0), x1 = x(b.t1), y = laneY(L, b.lane) - bandH / 2;
      ctx.fillStyle = b.colour;
      ctx.fillRect(x0, y, Math.max(1, x1 - x0), bandH);
      if (b.down) {
        ctx.strokeStyle = "#9e9e9e"; ctx.lineWidth = 1;
        ctx.beginPath();
        for (let hx = x0 - bandH; hx < x1; hx += 6) { ctx.moveTo(Math.max(hx, x0), y + bandH); ctx.lineTo(Math.min(hx + bandH, x1), y); }
        ctx.stroke();
      }
      ctx.font = "10px system-ui, sans-serif";
      const text = b.name + (b.ev.epoch !== undefined && !b.down ? " e" + b.ev.epoch : "");
      const tx = Math.max(x0, LANE_LABEL) + 3;
      if (ctx.measureText(text).width + 6 < Math.min(x1, right) - tx) {
        ctx.fillStyle = "#333";
        ctx.fillText(text, tx, y - 3);
      }
      hits.push({ kind: "box", item: b, x0: x0, y0: y, x1: x1, y1: y + bandH, band: true });
    });

    // Messages, then marks on top.
    const arrows = visibleArrows();
    drawnArrows = arrows.length;
    const labelArrows = arrows.length <= 250;
    arrows.forEach(function (a) { drawArrow(L, a, labelArrows); });
    const m0 = lowerBound(model.marks, view.t0, function (m) { return m.t; });
    const m1 = lowerBound(model.marks, view.t1 + 1e-9, function (m) { return m.t; });
    const labelMarks = m1 - m0 <= 300 ? (m1 - m0 <= 80 ? "all" : true) : false;
    for (let k = m0; k < m1; k++) drawMark(L, model.marks[k], labelMarks || !model.marks[k].deliver && !model.marks[k].minor);

    // Violations: a red line across every lane.
    model.violations.forEach(function (v) {
      if (v.t < view.t0 || v.t > view.t1) return;
      const px = x(v.t);
      ctx.strokeStyle = "#d50000"; ctx.lineWidth = 3;
      ctx.beginPath(); ctx.moveTo(px, AXIS - 4); ctx.lineTo(px, L.top + model.servers.length * L.laneH); ctx.stroke();
      ctx.fillStyle = "#d50000"; ctx.font = "600 11px system-ui, sans-serif";
      const text = "VIOLATION " + (v.invariant || "");
      const w = ctx.measureText(text).width;
      ctx.fillText(text, px + 4 + w > right ? px - 4 - w : px + 4, L.top - 2);
      hits.push({ kind: "line", item: v, x0: px });
    });
    ctx.restore();
    drawOverview();
    // For the browser test: how long the last frame took, and what it drew.
    const summary = document.getElementById("summary");
    summary.dataset.drawMs = String(Math.round(performance.now() - started));
    summary.dataset.drawn = String(drawnArrows);
    document.getElementById("stats").textContent =
      model.servers.length + " servers, " + parsed.events.length + " events, " + model.arrows.length +
      " messages; showing ticks " + ticks(view.t0) + "–" + ticks(view.t1) + " (" + drawnArrows + " arrows)";
  }

  function drawOverview() {
    const dpr = window.devicePixelRatio || 1;
    const w = overview.clientWidth || 800, h = overview.clientHeight || 46;
    overview.width = Math.round(w * dpr); overview.height = Math.round(h * dpr);
    const o = overview.getContext("2d");
    o.setTransform(dpr, 0, 0, dpr, 0, 0);
    o.fillStyle = "#f7f7f7"; o.fillRect(0, 0, w, h);
    const span = model.tMax - model.tMin;
    const bins = new Array(Math.max(1, Math.floor(w / 2))).fill(0);
    model.arrows.forEach(function (a) { bins[Math.min(bins.length - 1, Math.floor((a.t0 - model.tMin) / span * bins.length))]++; });
    const peak = Math.max(1, Math.max.apply(null, bins));
    o.fillStyle = "#90a4ae";
    bins.forEach(function (c, i) { const bh = c / peak * (h - 6); o.fillRect(i * 2, h - bh, 2, bh); });
    o.fillStyle = "#ffb74d";
    model.partitions.forEach(function (p) { o.fillRect((p.t0 - model.tMin) / span * w, 0, Math.max(1, (p.t1 - p.t0) / span * w), 4); });
    o.fillStyle = "#d50000";
    model.violations.forEach(function (v) { o.fillRect((v.t - model.tMin) / span * w - 1, 0, 3, h); });
    const vx0 = (view.t0 - model.tMin) / span * w, vx1 = (view.t1 - model.tMin) / span * w;
    o.fillStyle = "rgba(33,150,243,0.18)"; o.fillRect(vx0, 0, Math.max(2, vx1 - vx0), h);
    o.strokeStyle = "#1e88e5"; o.lineWidth = 1; o.strokeRect(vx0 + 0.5, 0.5, Math.max(2, vx1 - vx0) - 1, h - 1);
  }

  // ---- interaction --------------------------------------------------------------------------

  function setWindow(t0, t1) {
    const span = model.tMax - model.tMin;
    let w = Math.max(2, Math.min(span, t1 - t0));
    t0 = Math.max(model.tMin, Math.min(model.tMax - w, t0));
    view.t0 = t0; view.t1 = t0 + w;
    draw();
  }
  function zoom(factor, atT) {
    const c = atT === undefined ? (view.t0 + view.t1) / 2 : atT;
    setWindow(c - (c - view.t0) * factor, c + (view.t1 - c) * factor);
  }
  function timeAt(px) { return view.t0 + (px - LANE_LABEL) / (view.width - LANE_LABEL - 10) * (view.t1 - view.t0); }

  function distToSegment(px, py, h) {
    const dx = h.x1 - h.x0, dy = h.y1 - h.y0, len = dx * dx + dy * dy;
    let k = len ? ((px - h.x0) * dx + (py - h.y0) * dy) / len : 0;
    k = Math.max(0, Math.min(1, k));
    return Math.hypot(px - (h.x0 + k * dx), py - (h.y0 + k * dy));
  }
  function hitAt(px, py) {
    let best = null, bestD = 7;
    hits.forEach(function (h) {
      let d;
      if (h.kind === "arrow") d = distToSegment(px, py, h);
      else if (h.kind === "mark") d = Math.hypot(px - h.x0, py - h.y0) - 2;
      else if (h.kind === "line") d = Math.abs(px - h.x0) - 1;
      else d = px >= h.x0 && px <= h.x1 && py >= h.y0 && py <= h.y1 ? 6.5 : Infinity;
      if (d <= bestD) { best = h; bestD = d; }
    });
    return best;
  }

  function fieldTable(title, e, cls) {
    let html = "<div class='ev " + (cls || "") + "'>" + escapeHtml(title) + "</div><table>";
    Object.keys(e).forEach(function (k) {
      if (k === "line") return; // the viewer's own: it is in the title
      html += "<tr><td>" + escapeHtml(k) + "</td><td>" + escapeHtml(typeof e[k] === "object" ? JSON.stringify(e[k]) : String(e[k])) + "</td></tr>";
    });
    return html + "</table>";
  }
  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; });
  }
  function show(item) {
    view.selected = item;
    const f = document.getElementById("fields");
    if (!item) { f.innerHTML = ""; draw(); return; }
    let html = "";
    if (item.type !== undefined && "kind" in item && "from" in item) {
      html += "<p>" + escapeHtml(item.type) + " from server " + escapeHtml(model.servers[item.from]) + " to server " + escapeHtml(model.servers[item.to]) +
        ({ ok: ", delivered", drop: ", dropped", dup: ", a duplicate delivery", flight: ", still in flight at the end" })[item.kind] + "</p>";
      if (item.send) html += fieldTable("send (line " + item.send.line + ")", item.send);
      if (item.end) html += fieldTable(item.end.ev + " (line " + item.end.line + ")", item.end, item.kind === "drop" ? "violation" : "");
    } else if (item.ev && typeof item.ev === "object") {
      html += fieldTable(item.ev.ev + " (line " + item.ev.line + ")", item.ev);
      if (item.heal) html += fieldTable("heal (line " + item.heal.line + ")", item.heal);
    } else {
      html += fieldTable(item.ev + " (line " + item.line + ")", item, item.ev === "violation" ? "violation" : "");
    }
    f.innerHTML = html;
    // For the browser test: what is selected (a message's type, or the event's name).
    document.getElementById("summary").dataset.selected =
      item.type !== undefined && "from" in item ? item.type : typeof item.ev === "object" ? item.ev.ev : item.ev;
    draw();
  }

  function jumpToViolation() {
    const v = model.violations[0];
    if (!v) return;
    // Show the stretch of the run that led to it: the time of the 60 events before it.
    const idx = parsed.events.indexOf(v);
    const from = parsed.events[Math.max(0, idx - 60)].t;
    const span = Math.max(40, (v.t - from) * 1.25);
    setWindow(v.t - span * 0.85, v.t + span * 0.15);
    show(v);
  }

  let drag = null;
  canvas.addEventListener("mousedown", function (e) { drag = { x: e.offsetX, t0: view.t0, t1: view.t1, moved: false }; canvas.classList.add("dragging"); });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    const dx = e.clientX - canvas.getBoundingClientRect().left - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    if (drag.moved) {
      const dt = dx / (view.width - LANE_LABEL - 10) * (drag.t1 - drag.t0);
      setWindow(drag.t0 - dt, drag.t1 - dt);
    }
  });
  window.addEventListener("mouseup", function (e) {
    if (!drag) return;
    const wasClick = !drag.moved;
    drag = null; canvas.classList.remove("dragging");
    if (wasClick && e.target === canvas) {
      const h = hitAt(e.offsetX, e.offsetY);
      show(h ? h.item : null);
    }
  });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      const d = (e.shiftKey ? e.deltaY : e.deltaX) / (view.width - LANE_LABEL) * (view.t1 - view.t0);
      setWindow(view.t0 + d, view.t1 + d);
    } else {
      zoom(Math.exp(e.deltaY * 0.002), timeAt(e.offsetX));
    }
  }, { passive: false });
  function overviewMove(e) {
    const span = model.tMax - model.tMin, w = view.t1 - view.t0;
    const c = model.tMin + e.offsetX / overview.clientWidth * span;
    setWindow(c - w / 2, c + w / 2);
  }
  let overviewDrag = false;
  overview.addEventListener("mousedown", function (e) { overviewDrag = true; overviewMove(e); });
  overview.addEventListener("mousemove", function (e) { if (overviewDrag) overviewMove(e); });
  window.addEventListener("mouseup", function () { overviewDrag = false; });
  window.addEventListener("keydown", function (e) {
    if (e.target && e.target.tagName === "INPUT") return;
    const w = view.t1 - view.t0;
    if (e.key === "+" || e.key === "=") zoom(0.7);
    else if (e.key === "-") zoom(1 / 0.7);
    else if (e.key === "0") setWindow(model.tMin, model.tMax);
    else if (e.key === "ArrowRight") setWindow(view.t0 + w * 0.2, view.t1 + w * 0.2);
    else if (e.key === "ArrowLeft") setWindow(view.t0 - w * 0.2, view.t1 - w * 0.2);
    else if (e.key === "v") jumpToViolation();
    else if (e.key === "Escape") show(null);
  });
  document.getElementById("zoom-in").onclick = function () { zoom(0.7); };
  document.getElementById("zoom-out").onclick = function () { zoom(1 / 0.7); };
  document.getElementById("fit").onclick = function () { setWindow(model.tMin, model.tMax); };
  document.getElementById("jump").onclick = jumpToViolation;
  // The message types named in a comma-separated list, upper-cased.
  function typeSet(text) {
    return new Set(text.split(",").map(function (s) { return s.trim().toUpperCase(); }).filter(Boolean));
  }
  document.getElementById("hide").addEventListener("input", function (e) {
    view.hidden = typeSet(e.target.value);
    draw();
  });
  window.addEventListener("resize", draw);

  // ---- start --------------------------------------------------------------------------------

  const legend = document.getElementById("legend");
  let lh = "";
  Object.keys(PHASES).forEach(function (k) { lh += "<span><i style='background:" + PHASES[k] + "'></i>" + k + "</span>"; });
  const types = Array.from(new Set(model.arrows.map(function (a) { return a.type; })));
  types.forEach(function (tname) { lh += "<span><i style='background:" + messageColour(tname) + "'></i>" + escapeHtml(tname) + "</span>"; });
  lh += "<span>&#10005; at an arrow's end: dropped; dashed: lost or in flight; dotted: duplicate; red &#10005; on a lane: crash; green &#9654;: restart; &#9733;: leader established; dots: deliveries (zxid)</span>";
  legend.innerHTML = lh;

  if (model.violations.length) {
    const v = model.violations[0];
    const banner = document.getElementById("violation");
    banner.hidden = false;
    banner.textContent = "VIOLATION of " + (v.invariant || "?") + " at tick " + (v.t / 10) + ": " + (v.detail || "");
    document.getElementById("jump").hidden = false;
  }
  // The item drawing the event on trace line `n` (an arrow's send, receive or drop, a mark, a
  // band, a partition, a violation), or null.
  function itemAtLine(n) {
    const arrow = model.arrows.find(function (a) { return (a.send && a.send.line === n) || (a.end && a.end.line === n); });
    if (arrow) return arrow;
    const other = model.marks.concat(model.bands, model.partitions).find(function (m) { return m.ev.line === n || (m.heal && m.heal.line === n); });
    return other || model.violations.find(function (v) { return v.line === n; }) || null;
  }
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has("hide")) {
    const input = document.getElementById("hide");
    input.value = params.get("hide");
    view.hidden = typeSet(input.value);
  }
  if (params.has("violation")) jumpToViolation();
  else if (params.has("t0") && params.has("t1")) setWindow(Number(params.get("t0")), Number(params.get("t1")));
  else if (model.arrows.length > 200) {
    // A long run opens on its beginning (the first 200 messages); the strip below shows the rest.
    setWindow(model.tMin, Math.max(model.tMin + 20, model.arrows[199].t0));
  } else draw();
  if (params.has("line")) show(itemAtLine(Number(params.get("line"))));

  const summary = document.getElementById("summary");
  summary.dataset.lanes = String(model.servers.length);
  summary.dataset.arrows = String(model.arrows.length);
  summary.dataset.drops = String(model.arrows.filter(function (a) { return a.kind === "drop"; }).length);
  summary.dataset.marks = String(model.marks.length);
  summary.dataset.bands = String(model.bands.length);
  summary.dataset.events = String(parsed.events.length);
  summary.dataset.badLines = String(parsed.bad.length);
  summary.dataset.violations = String(model.violations.length);
  summary.dataset.types = types.join(",");
  summary.dataset.errors = String(window.viewerErrors ? window.viewerErrors.length : 0);
  summary.dataset.ready = "1";
})();
