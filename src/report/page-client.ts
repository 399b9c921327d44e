/**
 * The script of a report page, inlined into the HTML (plain browser JavaScript, no modules, no
 * network). It reads the JSON header and the gzipped base64 blob (src/report/page-data.ts), then
 * draws each run's features on a <canvas>: one panel for a run's report, one per loss for a gallery.
 *
 * Drawing mirrors the static figures (src/plot/scatter.ts): Tableau colours by predicted (or true)
 * class, the bold digit at each class mean, equal aspect, the unit circle and digits just outside it
 * in the unit view. Features of dimension 3 are drawn through an orthographic projection that the
 * mouse rotates (`project` below is the one place that knows the dimension).
 *
 * Kept free of backquotes and dollar-brace so it can live in this string.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
'use strict';
var UNIT_EXTENT = 1.3, UNIT_LABEL_RADIUS = 1.16, MARGIN = 0.05;
var header = JSON.parse(document.getElementById('fl-header').textContent);
var api = { ready: false, error: null, panels: [], state: null };
window.faceLossesReport = api;
var state = {
  split: 'valid',
  view: header.runs[0].view,
  colorBy: header.runs[0].colorBy,
  highlight: -1,
  pos: header.mode === 'run' ? header.runs[0].frames.length - 1 : 1000,
  playing: false
};
api.state = state;
var palette = header.palette;
function classColor(c, k) {
  if (k <= palette.length) return palette[c % palette.length];
  return 'hsl(' + Math.round(360 * c / k) + ', 65%, ' + (c % 2 === 0 ? 45 : 60) + '%)';
}
function el(tag, attrs, text) {
  var e = document.createElement(tag);
  if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function fail(msg) {
  api.error = msg;
  var box = document.getElementById('fl-status');
  box.textContent = msg;
  box.className = 'fl-error';
}

async function unpack() {
  var text = document.getElementById('fl-data').textContent.trim();
  var bin = atob(text);
  var u8 = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
  if (typeof DecompressionStream === 'undefined') throw new Error('this browser cannot decompress the embedded data (no DecompressionStream); open the page in a current Chromium, Firefox or Safari');
  var stream = new Blob([u8]).stream().pipeThrough(new DecompressionStream('gzip'));
  return await new Response(stream).arrayBuffer();
}
function view(buf, s) {
  if (!s) return null;
  if (s.t === 'f32') return new Float32Array(buf, s.o, s.n);
  if (s.t === 'i16') return new Int16Array(buf, s.o, s.n);
  if (s.t === 'i32') return new Int32Array(buf, s.o, s.n);
  return new Uint8Array(buf, s.o, s.n);
}

// ---- numbers for axes ----
function niceStep(range, target) {
  var raw = range / Math.max(1, target);
  var p = Math.pow(10, Math.floor(Math.log10(raw)));
  var m = raw / p;
  return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
}
function ticks(lo, hi, target) {
  if (!(hi > lo)) return [];
  var st = niceStep(hi - lo, target), out = [];
  for (var v = Math.ceil(lo / st) * st; v <= hi + st * 1e-9; v += st) out.push(Math.abs(v) < st * 1e-9 ? 0 : v);
  return out;
}
function fmtTick(v) {
  var a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(Math.round(v * 1e6) / 1e6);
}
function pct(v) { return v === null || v === undefined ? '-' : (100 * v).toFixed(2) + '%'; }

// ---- a rotation for 3-D features (orthographic projection) ----
function rotMul(a, b) {
  var o = new Array(9);
  for (var r = 0; r < 3; r++) for (var c = 0; c < 3; c++) o[3 * r + c] = a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c];
  return o;
}
function rotXY(ax, ay) {
  var cx = Math.cos(ax), sx = Math.sin(ax), cy = Math.cos(ay), sy = Math.sin(ay);
  var rx = [1, 0, 0, 0, cx, -sx, 0, sx, cx];
  var ry = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
  return rotMul(rx, ry);
}

// ---- panels ----
function Panel(run, index, width, height) {
  this.run = run;
  this.index = index;
  this.width = width;
  this.height = height;
  this.zoom = { s: 1, cx: 0, cy: 0 };
  this.rot = run.dim === 3 ? rotXY(-0.5, 0.6) : null;
  this.frameIndex = run.frames.length - 1;
  this.box = el('div', { 'class': 'fl-panel', 'data-run': run.name });
  this.canvas = el('canvas', { 'class': 'fl-scatter', 'data-run': run.name });
  var dpr = window.devicePixelRatio || 1;
  this.canvas.width = Math.round(width * dpr);
  this.canvas.height = Math.round(height * dpr);
  this.canvas.style.width = width + 'px';
  this.canvas.style.height = height + 'px';
  this.ctx = this.canvas.getContext('2d');
  this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  this.box.appendChild(this.canvas);
  this.caption = el('div', { 'class': 'fl-caption' });
  this.box.appendChild(this.caption);
  this.screen = null; // 2n screen coordinates of the last drawing (NaN: not drawn)
  this.drawn = null;  // what the last drawing showed
  var sc = Math.max(0.6, Math.min(width / 640, height / 480));
  this.sz = { title: Math.max(10, Math.round(15 * sc)), tick: Math.max(9, Math.round(12 * sc)), digit: Math.max(11, Math.round(16 * sc)), r: Math.max(1, 2 * sc) };
  this.ink = null;
  this.layer = null;
  this.bind();
}
/** The dot: a disc's antialiased coverage (4x4 samples a pixel), and each class's colour as RGB. */
Panel.prototype.makeInk = function () {
  var dpr = window.devicePixelRatio || 1, R = this.sz.r * dpr, k = this.run.numClasses;
  var h = Math.ceil(R + 1), dx = [], dy = [], cov = [];
  for (var y = -h; y <= h; y++) for (var x = -h; x <= h; x++) {
    var inside = 0;
    for (var sy = 0; sy < 4; sy++) for (var sx = 0; sx < 4; sx++) {
      var px = x + (sx + 0.5) / 4 - 0.5, py = y + (sy + 0.5) / 4 - 0.5;
      if (px * px + py * py <= R * R) inside++;
    }
    if (inside) { dx.push(x); dy.push(y); cov.push(inside / 16); }
  }
  var probe = document.createElement('canvas').getContext('2d');
  var rgb = function (color) {
    probe.fillStyle = '#000'; probe.fillStyle = color;
    var hex = probe.fillStyle;
    return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
  };
  var colors = [];
  for (var c = 0; c < k; c++) colors.push(rgb(classColor(c, k)));
  colors.push(rgb('#b0b0b0'));
  this.ink = { dx: dx, dy: dy, cov: cov, colors: colors, faded: [170, 170, 170], fadedAlpha: 0.35 };
};
/**
 * Blends the dots of points order[from..to) into the RGBA pixels px (non-premultiplied, width
 * w), within the rectangle [x0, x1) x [y0, y1). Direct pixel writes: 10,000 dots in a few ms.
 */
function blendDots(px, w, x0, y0, x1, y1, screen, order, from, to, dpr, ink, color, alpha) {
  var dx = ink.dx, dy = ink.dy, cov = ink.cov, m = dx.length, r = color[0], g = color[1], b = color[2];
  for (var j = from; j < to; j++) {
    var q = order[j];
    var cx = Math.round(screen[2 * q] * dpr), cy = Math.round(screen[2 * q + 1] * dpr);
    for (var t = 0; t < m; t++) {
      var x = cx + dx[t], y = cy + dy[t];
      if (x < x0 || x >= x1 || y < y0 || y >= y1) continue;
      var o = 4 * (y * w + x), sa = cov[t] * alpha, da = px[o + 3] / 255;
      if (da === 0) { px[o] = r; px[o + 1] = g; px[o + 2] = b; px[o + 3] = sa * 255 + 0.5; continue; }
      var oa = sa + da * (1 - sa), kd = da * (1 - sa);
      px[o] = (r * sa + px[o] * kd) / oa;
      px[o + 1] = (g * sa + px[o + 1] * kd) / oa;
      px[o + 2] = (b * sa + px[o + 2] * kd) / oa;
      px[o + 3] = oa * 255 + 0.5;
    }
  }
}
/** The current frame's points of the chosen split, or null. */
Panel.prototype.points = function () {
  var f = this.run.frames[this.frameIndex];
  var sp = f && f[state.split];
  if (!sp) return null;
  return { frame: f, sp: sp, set: header.pointSets[sp.set] };
};
/** 2-D coordinates of every point in data space (the unit view normalises; 3-D rotates and projects). */
Panel.prototype.project = function (p) {
  var dim = this.run.dim, n = p.sp.n, xy = p.sp.xyArr, s = p.sp.scale, unit = state.view === 'unit';
  var out = new Float32Array(2 * n), R = this.rot, maxNorm = 0;
  for (var i = 0; i < n; i++) {
    var bad = false, v = [0, 0, 0], norm = 0;
    for (var d = 0; d < dim && d < 3; d++) {
      var q = xy[i * dim + d];
      if (q === -32768) bad = true;
      v[d] = q * s;
      norm += v[d] * v[d];
    }
    norm = Math.sqrt(norm);
    if (bad || (unit && !(norm > 0))) { out[2 * i] = NaN; out[2 * i + 1] = NaN; continue; }
    if (norm > maxNorm) maxNorm = norm;
    if (unit) { v[0] /= norm; v[1] /= norm; v[2] /= norm; }
    if (R) {
      out[2 * i] = R[0] * v[0] + R[1] * v[1] + R[2] * v[2];
      out[2 * i + 1] = R[3] * v[0] + R[4] * v[1] + R[5] * v[2];
    } else { out[2 * i] = v[0]; out[2 * i + 1] = v[1]; }
  }
  // A rotated 3-D cloud keeps one scale: its bounds are the ball of its largest norm.
  this.ball = R ? maxNorm : 0;
  return out;
};
Panel.prototype.projectVec = function (v) {
  var R = this.rot;
  if (!R) return [v[0], v[1]];
  var z = v.length > 2 ? v[2] : 0;
  return [R[0] * v[0] + R[1] * v[1] + R[2] * z, R[3] * v[0] + R[4] * v[1] + R[5] * z];
};
Panel.prototype.area = function () {
  var top = 2 * this.sz.title + 14, left = this.sz.tick * 4 + 8;
  return { left: left, top: top, right: this.width - 12, bottom: this.height - this.sz.tick - 14 };
};
/** Axis limits: the frame's padded bounds (or the unit view's fixed square) at equal aspect, then the zoom. */
Panel.prototype.limits = function (pts, a) {
  var b;
  if (state.view === 'unit') b = { x0: -UNIT_EXTENT, x1: UNIT_EXTENT, y0: -UNIT_EXTENT, y1: UNIT_EXTENT };
  else if (this.ball > 0) b = { x0: -this.ball * 1.05, x1: this.ball * 1.05, y0: -this.ball * 1.05, y1: this.ball * 1.05 };
  else {
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (var i = 0; i < pts.length; i += 2) {
      var x = pts[i], y = pts[i + 1];
      if (x !== x || y !== y) continue;
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    if (!(x0 <= x1)) { x0 = -1; x1 = 1; y0 = -1; y1 = 1; }
    var dx = (x1 - x0) || 1, dy = (y1 - y0) || 1;
    b = { x0: x0 - MARGIN * dx, x1: x1 + MARGIN * dx, y0: y0 - MARGIN * dy, y1: y1 + MARGIN * dy };
  }
  var w = a.right - a.left, h = a.bottom - a.top;
  var cx = (b.x0 + b.x1) / 2, cy = (b.y0 + b.y1) / 2;
  var upp = Math.max((b.x1 - b.x0) / w, (b.y1 - b.y0) / h);
  var z = this.zoom;
  upp /= z.s;
  cx += z.cx * upp * w / 2 * z.s; cy += z.cy * upp * h / 2 * z.s;
  return { cx: cx, cy: cy, upp: upp, x0: cx - upp * w / 2, x1: cx + upp * w / 2, y0: cy - upp * h / 2, y1: cy + upp * h / 2 };
};
Panel.prototype.frameLabel = function (f) {
  if (Number.isInteger(f.epoch)) return 'epoch=' + f.epoch;
  return 'step=' + f.step + ' (epoch ' + f.epoch.toFixed(2) + ')';
};
Panel.prototype.titleLines = function (f) {
  var r = this.run;
  var head = [r.displayName, state.split === 'valid' ? 'valid (test images)' : 'train', 'coloured by ' + state.colorBy + ' class'];
  if (state.view === 'unit') head.push(r.dim === 3 ? 'on the unit sphere' : 'on the unit circle');
  if (r.schedule) head.push(r.schedule);
  var second = (r.params ? r.params + ', ' : '') + this.frameLabel(f);
  if (f.validAccuracy !== null && f.validAccuracy !== undefined) second += ', valid acc ' + pct(f.validAccuracy);
  return [head.join(', '), second];
};
Panel.prototype.draw = function () {
  var ctx = this.ctx, W = this.width, H = this.height, a = this.area(), sz = this.sz;
  if (!this.ink) this.makeInk();
  ctx.save();
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, W, H);
  var p = this.points();
  var font = 'DejaVu Sans, Helvetica, Arial, sans-serif';
  ctx.fillStyle = '#000';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.font = sz.title + 'px ' + font;
  if (!p) {
    ctx.fillText('no ' + state.split + ' points in this frame', W / 2, H / 2);
    ctx.restore();
    this.caption.textContent = '';
    this.screen = null;
    this.drawn = { n: 0 };
    return;
  }
  var lines = this.titleLines(p.frame);
  ctx.fillText(lines[0], W / 2, 4, W - 8);
  ctx.fillText(lines[1], W / 2, 6 + sz.title, W - 8);
  var pts = this.project(p);
  var L = this.limits(pts, a);
  var sx = function (x) { return a.left + (x - L.x0) / L.upp; };
  var sy = function (y) { return a.bottom - (y - L.y0) / L.upp; };
  // Ticks and their labels.
  ctx.font = sz.tick + 'px ' + font;
  ctx.strokeStyle = '#000'; ctx.lineWidth = 1;
  ctx.beginPath();
  var xt = ticks(L.x0, L.x1, Math.max(3, Math.round((a.right - a.left) / 90)));
  var yt = ticks(L.y0, L.y1, Math.max(3, Math.round((a.bottom - a.top) / 70)));
  ctx.textBaseline = 'top'; ctx.textAlign = 'center';
  for (var i = 0; i < xt.length; i++) {
    var X = Math.round(sx(xt[i])) + 0.5;
    ctx.moveTo(X, a.bottom); ctx.lineTo(X, a.bottom + 4);
    ctx.fillText(fmtTick(xt[i]), X, a.bottom + 6);
  }
  ctx.textBaseline = 'middle'; ctx.textAlign = 'right';
  for (i = 0; i < yt.length; i++) {
    var Y = Math.round(sy(yt[i])) + 0.5;
    ctx.moveTo(a.left - 4, Y); ctx.lineTo(a.left, Y);
    ctx.fillText(fmtTick(yt[i]), a.left - 6, Y);
  }
  ctx.stroke();
  // The plotting area, clipped.
  ctx.save();
  ctx.beginPath(); ctx.rect(a.left, a.top, a.right - a.left, a.bottom - a.top); ctx.clip();
  var ox = sx(0), oy = sy(0);
  if (state.view === 'unit') {
    ctx.strokeStyle = '#c8c8c8';
    ctx.beginPath(); ctx.arc(ox, oy, 1 / L.upp, 0, 2 * Math.PI); ctx.stroke();
  }
  // Class weight (or center) directions, where the run recorded them.
  var k = this.run.numClasses, dim = this.run.dim;
  var wts = p.frame.weightsArr;
  if (wts) {
    var reach = state.view === 'unit' ? 1 : 0;
    if (!reach) {
      var norms = [];
      for (i = 0; i < p.sp.n; i += 7) { var nx = pts[2 * i], ny = pts[2 * i + 1]; if (nx === nx) norms.push(Math.sqrt(nx * nx + ny * ny)); }
      norms.sort(function (u, v) { return u - v; });
      reach = norms.length ? norms[Math.floor(norms.length * 0.9)] : 1;
    }
    ctx.lineWidth = 1.5;
    for (var c = 0; c < k; c++) {
      var w = [], wn = 0;
      for (var d = 0; d < dim; d++) { w.push(wts[c * dim + d]); wn += wts[c * dim + d] * wts[c * dim + d]; }
      wn = Math.sqrt(wn);
      if (!(wn > 0)) continue;
      var e = this.projectVec(w.map(function (t) { return t / wn * reach; }));
      ctx.strokeStyle = classColor(c, k);
      ctx.globalAlpha = state.highlight >= 0 && state.highlight !== c ? 0.25 : 0.9;
      ctx.beginPath(); ctx.moveTo(ox, oy); ctx.lineTo(sx(e[0]), sy(e[1])); ctx.stroke();
    }
    ctx.globalAlpha = 1; ctx.lineWidth = 1;
  }
  // Points, one class after another (as the static figures draw them), each a small disc.
  var n = p.sp.n, cls = state.colorBy === 'true' ? p.set.labelsArr : p.sp.predArr;
  var screen = new Float32Array(2 * n);
  var counts = new Int32Array(k + 2);
  for (i = 0; i < n; i++) { var g = cls[i] < k ? cls[i] : k; counts[g + 1]++; }
  for (i = 1; i < k + 2; i++) counts[i] += counts[i - 1];
  var order = new Int32Array(n), fill = counts.slice();
  var mx = new Float64Array(k), my = new Float64Array(k), mc = new Float64Array(k);
  for (i = 0; i < n; i++) {
    var px = pts[2 * i], py = pts[2 * i + 1];
    if (px !== px) { screen[2 * i] = NaN; screen[2 * i + 1] = NaN; continue; }
    screen[2 * i] = sx(px); screen[2 * i + 1] = sy(py);
    var gi = cls[i] < k ? cls[i] : k;
    order[fill[gi]++] = i;
    if (gi < k) { mx[gi] += px; my[gi] += py; mc[gi]++; }
  }
  // The dots go into a pixel layer, composited onto the figure in one drawImage.
  var dpr = window.devicePixelRatio || 1, LW = this.canvas.width, LH = this.canvas.height;
  if (!this.layer || this.layer.canvas.width !== LW || this.layer.canvas.height !== LH) {
    var lc = document.createElement('canvas');
    lc.width = LW; lc.height = LH;
    var lctx = lc.getContext('2d');
    this.layer = { canvas: lc, ctx: lctx, img: lctx.createImageData(LW, LH) };
  }
  var layer = this.layer, pix = layer.img.data, hl = state.highlight, ink = this.ink;
  new Uint32Array(pix.buffer).fill(0);
  var bx0 = Math.ceil(a.left * dpr), by0 = Math.ceil(a.top * dpr), bx1 = Math.floor(a.right * dpr), by1 = Math.floor(a.bottom * dpr);
  for (c = 0; c <= k; c++) {
    if (hl >= 0 && c === hl) continue;
    if (hl >= 0) blendDots(pix, LW, bx0, by0, bx1, by1, screen, order, counts[c], fill[c], dpr, ink, ink.faded, ink.fadedAlpha);
    else blendDots(pix, LW, bx0, by0, bx1, by1, screen, order, counts[c], fill[c], dpr, ink, ink.colors[c], 1);
  }
  if (hl >= 0 && hl < k) blendDots(pix, LW, bx0, by0, bx1, by1, screen, order, counts[hl], fill[hl], dpr, ink, ink.colors[hl], 1);
  layer.ctx.putImageData(layer.img, 0, 0, bx0, by0, bx1 - bx0, by1 - by0);
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.drawImage(layer.canvas, bx0, by0, bx1 - bx0, by1 - by0, bx0, by0, bx1 - bx0, by1 - by0);
  ctx.restore();
  // The digit at each class mean (just outside the circle along the mean direction in the unit view).
  ctx.fillStyle = '#000'; ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
  ctx.font = 'bold ' + sz.digit + 'px ' + font;
  var labelPos = [];
  for (c = 0; c < k; c++) {
    if (!mc[c]) { labelPos.push(null); continue; }
    var lx = mx[c] / mc[c], ly = my[c] / mc[c];
    if (state.view === 'unit') { var lr = Math.sqrt(lx * lx + ly * ly); if (lr > 1e-9) { lx = lx / lr * UNIT_LABEL_RADIUS; ly = ly / lr * UNIT_LABEL_RADIUS; } }
    labelPos.push([sx(lx), sy(ly)]);
    ctx.globalAlpha = hl >= 0 && hl !== c ? 0.3 : 1;
    ctx.fillText(String(c), sx(lx), sy(ly));
  }
  ctx.globalAlpha = 1;
  ctx.restore();
  ctx.strokeStyle = '#000';
  ctx.strokeRect(Math.round(a.left) + 0.5, Math.round(a.top) + 0.5, Math.round(a.right - a.left), Math.round(a.bottom - a.top));
  ctx.restore();
  var sp = p.sp, fmt = function (v) { return v.toLocaleString('en-US'); };
  this.caption.textContent = sp.stride > 1 ? fmt(sp.n) + ' of the frame\'s ' + fmt(sp.total) + ' ' + state.split + ' points (one in ' + sp.stride + ')' : fmt(sp.n) + ' ' + state.split + ' points';
  this.screen = screen;
  this.drawn = { n: n, frame: p.frame, sp: p.sp, set: p.set, pts: pts, labelPos: labelPos, limits: L, area: a };
};
/** The point under (x, y) in canvas pixels, within a few pixels, or -1. */
Panel.prototype.hit = function (x, y) {
  var s = this.screen;
  if (!s) return -1;
  var best = -1, bd = 36, hl = state.highlight, cls = null;
  if (hl >= 0) cls = state.colorBy === 'true' ? this.drawn.set.labelsArr : this.drawn.sp.predArr;
  for (var i = 0; i < this.drawn.n; i++) {
    var dx = s[2 * i] - x, dy = s[2 * i + 1] - y, dd = dx * dx + dy * dy;
    if (dd < bd || (dd === bd && cls && cls[i] === hl)) { bd = dd; best = i; }
  }
  return best;
};
Panel.prototype.bind = function () {
  var self = this, cv = this.canvas, drag = null;
  var pos = function (ev) { var r = cv.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; };
  cv.addEventListener('mousemove', function (ev) {
    var m = pos(ev);
    if (drag) {
      var dx = m[0] - drag.x, dy = m[1] - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
      if (self.rot && !ev.shiftKey) self.rot = rotMul(rotXY(dy * 0.01, dx * 0.01), drag.rot);
      else {
        var a = self.area();
        self.zoom.cx = drag.cx - dx / ((a.right - a.left) / 2) / self.zoom.s;
        self.zoom.cy = drag.cy + dy / ((a.bottom - a.top) / 2) / self.zoom.s;
      }
      self.draw();
      hideTip();
      return;
    }
    var i = self.hit(m[0], m[1]);
    if (i < 0) hideTip(); else showTip(self, i, ev.clientX, ev.clientY);
  });
  cv.addEventListener('mouseleave', function () { hideTip(); drag = null; });
  cv.addEventListener('mousedown', function (ev) {
    var m = pos(ev);
    drag = { x: m[0], y: m[1], cx: self.zoom.cx, cy: self.zoom.cy, rot: self.rot, moved: false };
  });
  window.addEventListener('mouseup', function (ev) {
    if (!drag) return;
    var wasClick = !drag.moved;
    drag = null;
    if (!wasClick || ev.target !== cv) return;
    var m = pos(ev), i = self.hit(m[0], m[1]);
    var c = -1;
    if (i >= 0) c = (state.colorBy === 'true' ? self.drawn.set.labelsArr : self.drawn.sp.predArr)[i];
    else if (self.drawn && self.drawn.labelPos) {
      for (var j = 0; j < self.drawn.labelPos.length; j++) {
        var lp = self.drawn.labelPos[j];
        if (lp && Math.abs(lp[0] - m[0]) < 10 && Math.abs(lp[1] - m[1]) < 10) c = j;
      }
    }
    if (c >= 0 || state.highlight >= 0) setHighlight(c === state.highlight ? -1 : c);
  });
  cv.addEventListener('wheel', function (ev) {
    ev.preventDefault();
    var m = pos(ev), a = self.area(), z = self.zoom;
    var f = Math.exp(-ev.deltaY * 0.0015);
    var s2 = Math.min(200, Math.max(0.2, z.s * f));
    // Keep the data point under the cursor in place.
    var u = (m[0] - (a.left + a.right) / 2) / ((a.right - a.left) / 2);
    var v = -(m[1] - (a.top + a.bottom) / 2) / ((a.bottom - a.top) / 2);
    z.cx += u / z.s - u / s2; z.cy += v / z.s - v / s2;
    z.s = s2;
    self.draw();
  }, { passive: false });
  cv.addEventListener('dblclick', function () { self.resetView(); self.draw(); });
};
Panel.prototype.resetView = function () {
  this.zoom = { s: 1, cx: 0, cy: 0 };
  if (this.run.dim === 3) this.rot = rotXY(-0.5, 0.6);
};

// ---- tooltip ----
var tip, tipImg, tipText;
function hideTip() { if (tip) tip.style.display = 'none'; }
function showTip(panel, i, cx, cy) {
  var d = panel.drawn, run = panel.run, dim = run.dim;
  var t = d.set.labelsArr[i], pr = d.sp.predArr[i], slot = d.set.slotsArr[i];
  var xy = d.sp.xyArr, s = d.sp.scale, v = [], norm = 0;
  for (var j = 0; j < dim; j++) { v.push(xy[i * dim + j] * s); norm += v[j] * v[j]; }
  norm = Math.sqrt(norm);
  var dir;
  if (dim === 2) dir = 'angle ' + (Math.atan2(v[1], v[0]) * 180 / Math.PI).toFixed(1) + '\u00b0';
  else if (dim === 3) dir = 'azimuth ' + (Math.atan2(v[1], v[0]) * 180 / Math.PI).toFixed(1) + '\u00b0, elevation ' + (Math.asin(Math.max(-1, Math.min(1, v[2] / (norm || 1)))) * 180 / Math.PI).toFixed(1) + '\u00b0';
  else dir = '';
  var split = d.set.split;
  var img = images[split];
  var ictx = tipImg.getContext('2d');
  ictx.fillStyle = '#fff'; ictx.fillRect(0, 0, 28, 28);
  var hasImg = slot >= 0 && img && img.px;
  if (hasImg) {
    var id = ictx.createImageData(28, 28);
    for (var q = 0; q < 784; q++) {
      var g = 255 - img.px[slot * 784 + q];
      id.data[4 * q] = g; id.data[4 * q + 1] = g; id.data[4 * q + 2] = g; id.data[4 * q + 3] = 255;
    }
    ictx.putImageData(id, 0, 0);
  }
  tipImg.style.display = hasImg ? 'block' : 'none';
  var index = d.set.indexArr[i];
  var lines = [
    (split === 'valid' ? 'test' : 'train') + ' image' + (index >= 0 ? ' #' + index : '') + (hasImg ? '' : ' (no image in this page)'),
    'true ' + t + ', predicted ' + pr + (t === pr ? '' : '  \u2717'),
    'norm ' + norm.toPrecision(4) + (dir ? ', ' + dir : '')
  ];
  tipText.textContent = lines.join('\n');
  tip.setAttribute('data-true', String(t));
  tip.setAttribute('data-predicted', String(pr));
  tip.setAttribute('data-point', String(i));
  tip.setAttribute('data-slot', String(slot));
  tip.setAttribute('data-run', run.name);
  tip.style.display = 'block';
  var tw = tip.offsetWidth, th = tip.offsetHeight;
  var x = cx + 14, y = cy + 14;
  if (x + tw > window.innerWidth - 4) x = cx - tw - 14;
  if (y + th > window.innerHeight - 4) y = cy - th - 14;
  tip.style.left = (x + window.scrollX) + 'px';
  tip.style.top = (y + window.scrollY) + 'px';
}

// ---- curves (a run's page): loss and accuracy against the epoch, the frame's epoch marked ----
function drawCurves(canvas, run, epoch) {
  var W = parseFloat(canvas.style.width), H = parseFloat(canvas.style.height);
  var ctx = canvas.getContext('2d');
  var dpr = window.devicePixelRatio || 1;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, H);
  var m = run.metrics, font = 'DejaVu Sans, Helvetica, Arial, sans-serif';
  var xEnd = Math.max(run.epochs, m.length ? m[m.length - 1].epoch : 1), xMax = xEnd * 1.04;
  var charts = [
    { title: 'loss', keys: ['loss', 'validLoss'], names: ['train', 'valid'], fmt: function (v) { return fmtTick(v); } },
    { title: 'accuracy', keys: ['trainAccuracy', 'validAccuracy'], names: ['train', 'valid'], fmt: function (v) { return Math.round(v * 100) + '%'; } }
  ];
  var colors = ['#1f77b4', '#ff7f0e'];
  var ch = H / 2;
  charts.forEach(function (c, ci) {
    var a = { left: 52, right: W - 10, top: ci * ch + 24, bottom: ci * ch + ch - 28 };
    var lo = Infinity, hi = -Infinity;
    m.forEach(function (r) { c.keys.forEach(function (k) { var v = r[k]; if (v !== null && v !== undefined) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }); });
    if (!(lo <= hi)) { lo = 0; hi = 1; }
    if (hi === lo) { hi += 0.5; lo -= 0.5; }
    var pad = (hi - lo) * 0.08; lo -= pad; hi += pad;
    var X = function (e) { return a.left + (e / xMax) * (a.right - a.left); };
    var Y = function (v) { return a.bottom - (v - lo) / (hi - lo) * (a.bottom - a.top); };
    ctx.fillStyle = '#000'; ctx.font = '13px ' + font; ctx.textAlign = 'left'; ctx.textBaseline = 'alphabetic';
    ctx.fillText(c.title, a.left, a.top - 8);
    ctx.font = '11px ' + font;
    c.names.forEach(function (nm, k) {
      ctx.fillStyle = colors[k]; ctx.fillRect(a.right - 110 + k * 55, a.top - 16, 10, 3);
      ctx.fillStyle = '#000'; ctx.fillText(nm, a.right - 96 + k * 55, a.top - 10);
    });
    ctx.strokeStyle = '#000'; ctx.lineWidth = 1;
    ctx.strokeRect(a.left + 0.5, a.top + 0.5, a.right - a.left, a.bottom - a.top);
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    ticks(lo, hi, 4).forEach(function (v) { var y = Y(v); ctx.fillText(c.fmt(v), a.left - 4, y); ctx.beginPath(); ctx.moveTo(a.left - 3, y); ctx.lineTo(a.left, y); ctx.stroke(); });
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    ticks(0, xEnd, 5).forEach(function (v) { var x = X(v); ctx.fillText(fmtTick(v), x, a.bottom + 3); });
    ctx.fillText('epoch', (a.left + a.right) / 2, a.bottom + 15);
    c.keys.forEach(function (k, ki) {
      ctx.strokeStyle = colors[ki]; ctx.fillStyle = colors[ki]; ctx.lineWidth = 1.5;
      ctx.beginPath();
      var started = false;
      m.forEach(function (r) { var v = r[k]; if (v === null || v === undefined) return; var x = X(r.epoch), y = Y(v); if (!started) { ctx.moveTo(x, y); started = true; } else ctx.lineTo(x, y); });
      ctx.stroke();
      m.forEach(function (r) { var v = r[k]; if (v === null || v === undefined) return; ctx.beginPath(); ctx.arc(X(r.epoch), Y(v), 2, 0, 2 * Math.PI); ctx.fill(); });
    });
    // The current frame.
    ctx.strokeStyle = '#d62728'; ctx.lineWidth = 1; ctx.setLineDash([4, 3]);
    var ex = X(Math.min(epoch, xMax));
    ctx.beginPath(); ctx.moveTo(ex, a.top); ctx.lineTo(ex, a.bottom); ctx.stroke();
    ctx.setLineDash([]);
  });
}

// ---- the page ----
var images = {};
var panels = [];
var curves = null;
function setHighlight(c) {
  state.highlight = c;
  document.querySelectorAll('.fl-class').forEach(function (b) { b.classList.toggle('fl-on', Number(b.getAttribute('data-class')) === c); });
  redraw();
}
function frameFor(run) {
  if (header.mode === 'run') return Math.min(run.frames.length - 1, state.pos);
  // Gallery: what the run looked like at that fraction of its planned steps: the last frame taken
  // at or before it (the first frame before any).
  var total = Math.max(run.frames[run.frames.length - 1].step, run.epochs * run.stepsPerEpoch) || 1, f = state.pos / 1000, best = 0;
  for (var i = 0; i < run.frames.length; i++) if (run.frames[i].step / total <= f + 1e-9) best = i;
  return best;
}
function positionLabel() {
  if (header.mode === 'run') {
    var f = header.runs[0].frames[state.pos];
    return (Number.isInteger(f.epoch) ? 'epoch ' + f.epoch : 'epoch ' + f.epoch.toFixed(2)) + ' \u00b7 step ' + f.step + (f.validAccuracy !== null ? ' \u00b7 valid acc ' + pct(f.validAccuracy) : '') + ' \u00b7 frame ' + (state.pos + 1) + '/' + header.runs[0].frames.length;
  }
  return Math.round(state.pos / 10) + '% of each run';
}
function redraw() {
  panels.forEach(function (p) { if (p.box.style.display !== 'none') { p.frameIndex = frameFor(p.run); p.draw(); } });
  document.getElementById('fl-pos').textContent = positionLabel();
  document.getElementById('fl-slider').value = String(state.pos);
  if (curves) drawCurves(curves, header.runs[0], header.runs[0].frames[state.pos].epoch);
  hideTip();
}
function toggleGroup(id, options, key, labels) {
  var g = el('span', { 'class': 'fl-group', id: id });
  options.forEach(function (o, i) {
    var b = el('button', { type: 'button', id: id + '-' + o, 'data-value': o }, labels[i]);
    b.addEventListener('click', function () {
      state[key] = o;
      g.querySelectorAll('button').forEach(function (x) { x.classList.toggle('fl-on', x === b); });
      redraw();
    });
    if (state[key] === o) b.classList.add('fl-on');
    g.appendChild(b);
  });
  return g;
}
function setPlaying(on) {
  state.playing = on;
  var btn = document.getElementById('fl-play');
  btn.textContent = on ? 'pause' : 'play';
  if (on) {
    var max = Number(document.getElementById('fl-slider').max);
    if (state.pos >= max) { state.pos = 0; redraw(); }
    var tick = function () {
      if (!state.playing) return;
      var max2 = Number(document.getElementById('fl-slider').max);
      state.pos = Math.min(max2, state.pos + (header.mode === 'run' ? 1 : 10));
      redraw();
      if (state.pos >= max2) { setPlaying(false); return; }
      setTimeout(tick, header.mode === 'run' ? 700 : 120);
    };
    setTimeout(tick, header.mode === 'run' ? 700 : 120);
  }
}
function build() {
  var root = document.getElementById('fl-root');
  var bar = el('div', { 'class': 'fl-bar' });
  var play = el('button', { type: 'button', id: 'fl-play' }, 'play');
  play.addEventListener('click', function () { setPlaying(!state.playing); });
  var max = header.mode === 'run' ? header.runs[0].frames.length - 1 : 1000;
  var slider = el('input', { type: 'range', id: 'fl-slider', min: '0', max: String(max), step: '1', value: String(state.pos), 'aria-label': header.mode === 'run' ? 'frame' : 'fraction of each run' });
  slider.addEventListener('input', function () { state.pos = Number(slider.value); redraw(); });
  bar.appendChild(play);
  bar.appendChild(slider);
  bar.appendChild(el('span', { id: 'fl-pos' }));
  root.appendChild(bar);
  var bar2 = el('div', { 'class': 'fl-bar' });
  bar2.appendChild(toggleGroup('fl-split', ['valid', 'train'], 'split', ['valid', 'train']));
  bar2.appendChild(toggleGroup('fl-view', ['raw', 'unit'], 'view', ['raw', header.runs.some(function (r) { return r.dim === 3; }) ? 'unit sphere' : 'unit circle']));
  bar2.appendChild(toggleGroup('fl-color', ['predicted', 'true'], 'colorBy', ['predicted class', 'true class']));
  var classes = el('span', { 'class': 'fl-group', id: 'fl-classes' });
  var k = Math.max.apply(null, header.runs.map(function (r) { return r.numClasses; }));
  for (var c = 0; c < k; c++) {
    (function (c) {
      var b = el('button', { type: 'button', 'class': 'fl-class', 'data-class': String(c), title: 'highlight class ' + c }, String(c));
      b.style.borderColor = classColor(c, k);
      b.style.color = classColor(c, k);
      b.addEventListener('click', function () { setHighlight(state.highlight === c ? -1 : c); });
      classes.appendChild(b);
    })(c);
  }
  bar2.appendChild(classes);
  var reset = el('button', { type: 'button', id: 'fl-reset' }, 'reset zoom');
  reset.addEventListener('click', function () { panels.forEach(function (p) { p.resetView(); }); redraw(); });
  bar2.appendChild(reset);
  root.appendChild(bar2);
  if (header.mode === 'gallery') {
    var pick = el('div', { 'class': 'fl-bar', id: 'fl-runs' });
    header.runs.forEach(function (r, i) {
      var lab = el('label', {});
      var cb = el('input', { type: 'checkbox', 'data-run': r.name });
      cb.checked = true;
      cb.addEventListener('change', function () { panels[i].box.style.display = cb.checked ? '' : 'none'; redraw(); });
      lab.appendChild(cb);
      lab.appendChild(document.createTextNode(' ' + r.displayName + ' (' + r.name + ', ' + pct(r.finalValidAccuracy) + ')'));
      pick.appendChild(lab);
    });
    root.appendChild(pick);
  }
  var grid = el('div', { 'class': header.mode === 'run' ? 'fl-run' : 'fl-grid' });
  root.appendChild(grid);
  header.runs.forEach(function (r, i) {
    var p = header.mode === 'run' ? new Panel(r, i, 720, 560) : new Panel(r, i, 440, 360);
    panels.push(p);
    grid.appendChild(p.box);
  });
  if (header.mode === 'run') {
    curves = el('canvas', { id: 'fl-curves' });
    var dpr = window.devicePixelRatio || 1;
    curves.width = 380 * dpr; curves.height = 560 * dpr;
    curves.style.width = '380px'; curves.style.height = '560px';
    grid.appendChild(curves);
  }
  tip = el('div', { id: 'fl-tip' });
  tipImg = el('canvas', { width: '28', height: '28' });
  tipText = el('div', { 'class': 'fl-tip-text' });
  tip.appendChild(tipImg);
  tip.appendChild(tipText);
  document.body.appendChild(tip);
  api.panels = panels;
}

/** Draws every panel again (after a test changes the data). */
api.redraw = function () { redraw(); };
/** For tests and benchmarks: where point i of panel p is on screen, in client coordinates. */
api.pointOnScreen = function (p, i) {
  var panel = panels[p];
  if (!panel || !panel.screen || !(i < panel.drawn.n)) return null;
  var r = panel.canvas.getBoundingClientRect();
  var x = panel.screen[2 * i], y = panel.screen[2 * i + 1];
  if (x !== x) return null;
  return { x: r.left + x, y: r.top + y };
};
/** Milliseconds to draw panel p's current frame, reps times, each flushed to pixels. */
api.benchDraw = function (p, reps) {
  var panel = panels[p], times = [];
  for (var r = 0; r < reps; r++) {
    var t0 = performance.now();
    panel.draw();
    panel.ctx.getImageData(0, 0, 1, 1);
    times.push(performance.now() - t0);
  }
  return { points: panel.drawn.n, times: times };
};

unpack().then(function (buf) {
  header.pointSets.forEach(function (s) { s.labelsArr = view(buf, s.labels); s.slotsArr = view(buf, s.slots); s.indexArr = view(buf, s.indices); });
  header.runs.forEach(function (r) {
    r.frames.forEach(function (f) {
      ['valid', 'train'].forEach(function (k) { var sp = f[k]; if (sp) { sp.xyArr = view(buf, sp.xy); sp.predArr = view(buf, sp.pred); } });
      f.weightsArr = view(buf, f.weights);
    });
  });
  images.valid = { count: header.images.valid.count, px: view(buf, header.images.valid.px) };
  images.train = { count: header.images.train.count, px: view(buf, header.images.train.px) };
  if (!header.runs[0].frames.some(function (f) { return f.valid; })) state.split = 'train';
  build();
  redraw();
  var status = document.getElementById('fl-status');
  status.textContent = header.imageNote || '';
  api.ready = true;
}).catch(function (e) { fail('the report could not be shown: ' + (e && e.message ? e.message : String(e))); });
})();
`;
