"use strict";
// cgraph page: a graph's forward and backward passes, one step at a time (the book's figures 5-16
// and 5-17). DATA comes from `cgraph page`: the graph, cgraph's own trace of both passes, and the
// layout. Where the page can, it runs both passes again when an input changes, in the order of
// cgraph's reference engine (core/reference.py): forward by position, backward from the output
// down, each node sending dout × its local derivative to its operands, in operand order.

const DATA = JSON.parse(document.getElementById("cgraph-data").textContent);

// --- the ops: each forward step and its local derivatives, as core/ops.py writes them ---------

class NoValue extends Error {}
const fail = (reason) => { throw new NoValue(reason); };
const step = (x) => (x > 0 ? 1 : 0);
const product = (xs) => xs.reduce((a, b) => a * b);
const sech = (x) => { const c = Math.cosh(x); return c === Infinity ? 0 : 1 / c; };
const sigmoid = (x) => { if (x >= 0) return 1 / (1 + Math.exp(-x)); const e = Math.exp(x); return e / (1 + e); };
const SQRT_TAU = Math.sqrt(2 * Math.PI);

function power(x, y) {
  if (x === 0 && y < 0) fail("zero to a negative power");
  if (x < 0 && !Number.isInteger(y)) fail("a negative base to a fractional power");
  if (Number.isInteger(x) && Number.isInteger(y) && y >= 0 && Math.abs(x) <= 2 ** 53) {
    if (y * Math.log2(Math.abs(x) || 1) > 1100) fail("result too large");
    return Number(BigInt(x) ** BigInt(y)); // Python's int ** int: exact, then rounded once
  }
  return Math.pow(x, y);
}
function xlogy(x, y) {
  if (y < 0) fail("ln of a negative number");
  if (x === 0) return x;
  if (y === 0) fail("ln 0 is not finite");
  return x * Math.log(y);
}
const mulpow = (a, x, b) => (a === 0 ? a : a * power(x, b));
function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
const others = (xs, i) => xs.filter((_, k) => k !== i);

// f: the value; d: d(out)/d(operand) for each operand; infix: written between the operands
const OPS = {
  add: { f: (...xs) => xs.reduce((a, b) => a + b), d: (out, ...xs) => xs.map(() => 1), infix: " + " },
  mul: {
    f: (...xs) => product(xs),
    d: (out, ...xs) => (xs.length === 2 ? [xs[1], xs[0]] : xs.map((_, i) => product(others(xs, i)))),
    infix: " × ",
  },
  sub: { f: (x, y) => x - y, d: () => [1, -1], infix: " − " },
  div: { f: (x, y) => (y === 0 ? fail("division by zero") : x / y), d: (out, x, y) => [1 / y, -out / y], infix: " ÷ " },
  neg: { f: (x) => -x, d: () => [-1] },
  pow: { f: power, d: (out, x, y) => [mulpow(y, x, y - 1), out * xlogy(step(x), x)], infix: " ^ " },
  exp: { f: Math.exp, d: (out) => [out] },
  log: { f: (x) => (x <= 0 ? fail("log of a non-positive number") : Math.log(x)), d: (out, x) => [1 / x] },
  sigmoid: { f: sigmoid, d: (out, x) => [out * sigmoid(-x)] },
  relu: { f: (x) => (x > 0 ? x : x - x), d: (out, x) => [step(x)], selects: true },
  tanh: { f: Math.tanh, d: (out, x) => { const s = sech(x); return [s * s]; } },
  sech: { f: sech, d: (out, x) => [-out * Math.tanh(x)] },
  step: { f: step, d: () => [0], selects: true },
  xlogy: { f: xlogy, d: (out, x, y) => [OPS.log.f(y), OPS.div.f(x, y)] },
  mulpow: { f: mulpow, d: (out, a, x, b) => [power(x, b), mulpow(a, x, b - 1) * b, out * xlogy(step(x), x)] },
  sqrt: { f: (x) => (x < 0 ? fail("square root of a negative number") : Math.sqrt(x)), d: (out) => [0.5 / out] },
  sin: { f: Math.sin, d: (out, x) => [Math.cos(x)] },
  cos: { f: Math.cos, d: (out, x) => [-Math.sin(x)] },
  abs: { f: Math.abs, d: (out, x) => [step(x) - step(-x)] },
  max: { f: (...xs) => xs.reduce((a, b) => (b > a ? b : a)), d: shareOfTheResult, selects: true }, // Python's max: the first of ties
  min: { f: (...xs) => xs.reduce((a, b) => (b < a ? b : a)), d: shareOfTheResult, selects: true },
  where: {
    f: (c, a, b) => (c !== 0 ? a : b),
    d: (out, c) => [0, c !== 0 ? 1 : 0, c !== 0 ? 0 : 1],
    uses: (c) => [true, c !== 0, c === 0],
    selects: true,
  },
  lt: { f: (x, y) => (x < y ? 1 : 0), d: () => [0, 0], infix: " < " },
  le: { f: (x, y) => (x <= y ? 1 : 0), d: () => [0, 0], infix: " <= " },
  gt: { f: (x, y) => (x > y ? 1 : 0), d: () => [0, 0], infix: " > " },
  ge: { f: (x, y) => (x >= y ? 1 : 0), d: () => [0, 0], infix: " >= " },
  eq: { f: (x, y) => (x === y ? 1 : 0), d: () => [0, 0], infix: " == " },
  normal_pdf: { f: (x) => Math.exp(-0.5 * x * x) / SQRT_TAU, d: (out, x) => [-x * out] },
  log1p: { f: (x) => (x <= -1 ? fail("log1p of a number at or below -1") : Math.log1p(x)), d: (out, x) => [1 / (1 + x)] },
  expm1: { f: Math.expm1, d: (out, x) => [Math.exp(x)] },
  softplus: { f: (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))), d: (out, x) => [sigmoid(x)] },
  floor: { f: Math.floor, d: () => [0] },
  ceil: { f: Math.ceil, d: () => [0] },
  round: { f: roundHalfEven, d: () => [0] },
  clip: {
    f: (x, lo, hi) => (lo > hi ? fail("clip needs lo ≤ hi") : x < lo ? lo : x > hi ? hi : x),
    d: (out, x, lo, hi) => [(x >= lo ? 1 : 0) * (x <= hi ? 1 : 0), x < lo ? 1 : 0, x > hi ? 1 : 0],
    selects: true,
  },
};
function shareOfTheResult(out, ...xs) {
  if (xs.length === 1) return [1];
  const hits = xs.map((x) => (x === out ? 1 : 0));
  const count = hits.reduce((a, b) => a + b);
  return hits.map((h) => h / count);
}

// --- both passes, as cgraph's reference engine runs them -----------------------------------------

function evaluate(values) {
  const { n, ops, args, of } = DATA;
  const v = values.concat(DATA.literals);
  const bad = new Array(n).fill(null); // why a node has no value
  for (let i = 0; i < n; i++) {
    if (ops[i] === null) continue;
    const op = OPS[ops[i]], xs = args[i].map((j) => v[j]);
    const used = op.uses ? op.uses(...xs) : xs.map(() => true);
    const missing = args[i].find((j, k) => used[k] && j < n && bad[j] !== null);
    if (missing !== undefined) { bad[i] = bad[missing]; v[i] = null; continue; }
    try {
      const out = op.f(...xs);
      if (!Number.isFinite(out)) fail("not a finite number (overflow)");
      v[i] = out;
    } catch (e) {
      if (!(e instanceof NoValue)) throw e;
      bad[i] = `${DATA.names[i]}: ${e.message}`; v[i] = null;
    }
  }
  const needed = new Array(n).fill(false);
  for (const i of [of, ...DATA.sinks]) needed[i] = true;
  for (let i = n - 1; i >= 0; i--) {
    if (!needed[i] || ops[i] === null) continue;
    const xs = args[i].map((j) => v[j]), op = OPS[ops[i]];
    const used = op.uses ? op.uses(...xs) : xs.map(() => true);
    args[i].forEach((j, k) => { if (used[k] && j < n) needed[j] = true; });
  }
  const failed = bad.findIndex((b, i) => b !== null && needed[i]);
  if (failed >= 0) return { error: bad[failed] };
  const fixed = new Set(DATA.fixed);
  const grads = new Array(n).fill(null), sends = {};
  grads[of] = 1;
  for (let i = of; i >= 0; i--) {
    if (ops[i] === null) continue;
    const d = grads[i];
    const xs = args[i].map((j) => v[j]), op = OPS[ops[i]];
    const takes = args[i].map((j) => j < n && !fixed.has(j));
    if (d === null) { sends[i] = args[i].map((j, k) => (takes[k] ? [null, 0] : null)); continue; }
    let locals;
    if (!needed[i]) locals = xs.map(() => null);
    else {
      try { locals = op.d(v[i], ...xs); } catch (e) { if (!(e instanceof NoValue)) throw e; locals = xs.map(() => NaN); }
    }
    sends[i] = args[i].map((j, k) => {
      if (!takes[k]) return null;
      const local = locals[k];
      let c = local === null ? d : d * local;
      if (!Number.isFinite(c)) {
        if (op.selects && local === 0) c = 0; // select, don't multiply
        else return { error: `the gradient ${DATA.names[i]} sends ${DATA.names[j]} is not a finite number` };
      }
      const g = grads[j] === null ? c : grads[j] + c;
      if (!Number.isFinite(g)) return { error: `the gradients arriving at ${DATA.names[j]} add up past the float range` };
      grads[j] = g;
      return [local, c];
    });
    const broken = sends[i].find((s) => s && s.error);
    if (broken) return { error: broken.error };
  }
  const reached = grads.map((g) => g !== null);
  for (let i = 0; i < n; i++) {
    if (fixed.has(i)) grads[i] = null;
    else if (grads[i] === null) grads[i] = 0; // (what the backward pass never reached)
  }
  return { values: v.slice(0, n).map((x, i) => (needed[i] || x !== null ? x : null)), grads, reached, sends };
}

// --- numbers as Python prints them ----------------------------------------------------------------

function repr(x) {
  if (x === null || x === undefined) return "—";
  if (Array.isArray(x)) return shapeText(x);
  if (typeof x !== "number") return String(x);
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return Object.is(x, -0) ? "-0" : String(x);
  const [mantissa, exponent] = x.toExponential().split("e"); // the shortest digits that read back
  const e = Number(exponent);
  if (e < -4 || e >= 16) return `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  return String(x);
}
function shape(x) { return Array.isArray(x) ? [x.length, ...shape(x[0])] : []; }
function shapeText(x) { return `(${shape(x).join(", ")}${shape(x).length === 1 ? "," : ""})`; }
const full = (x) => (Array.isArray(x) || x === null ? JSON.stringify(x) : repr(x)); // to the last digit; null: no value needed

// --- the steps: forward node by node, then backward from the output ------------------------------

let state = { trace: DATA.trace, at: 0, steps: [] };
const name = (j) => (j < DATA.n ? DATA.names[j] : repr(DATA.literals[j - DATA.n]));
const OF = () => DATA.names[DATA.of];

function forwardText(i, t) {
  const op = OPS[DATA.ops[i]], sym = DATA.symbols[DATA.ops[i]] || DATA.ops[i];
  const args = DATA.args[i], vals = args.map((j) => (j < DATA.n ? repr(t.values[j]) : name(j)));
  const names = args.map(name);
  const inline = (xs) => {
    if (op && op.infix && xs.length >= 2) return xs.join(op.infix);
    if (DATA.ops[i] === "neg") return `−(${xs[0]})`;
    if (DATA.ops[i] === "abs") return `|${xs[0]}|`;
    return `${sym}(${xs.join(", ")})`;
  };
  const value = t.values[i] === null ? "no value needed here" : repr(t.values[i]);
  return `${DATA.names[i]} = ${inline(names)} = ${inline(vals)} = ${value}`;
}

function backwardLines(i, t) {
  const lines = [], args = DATA.args[i], sends = t.sends[i] || [];
  const d = t.grads[i];
  lines.push(`dout = ∂${OF()}/∂${DATA.names[i]} = ${repr(d)}${arrivals(i, t)}`);
  args.forEach((j, k) => {
    const s = sends[k];
    if (!s) return;
    const local = s[0], got = s[1];
    if (local === null) lines.push(`${name(j)} receives ${repr(got)}`);
    else {
      lines.push(`∂${DATA.names[i]}/∂${name(j)} = ${localText(i, k, t)}${repr(local)}`);
      lines.push(`dout × ${repr(local)} = ${repr(d)} × ${repr(local)} = ${repr(got)} → ${name(j)}`);
    }
  });
  return lines;
}

// The local derivative written out, then with its numbers: ∂price/∂apple_price = tax = 1.1
function localText(i, k, t) {
  const op = DATA.ops[i], args = DATA.args[i], out = repr(t.values[i]);
  const nm = args.map(name), v = args.map((j) => (j < DATA.n ? repr(t.values[j]) : name(j)));
  const other = (xs) => xs.filter((_, m) => m !== k);
  switch (op) {
    case "mul": return args.length === 2 ? `${nm[1 - k]} = ` : `${other(nm).join(" × ")} = ${other(v).join(" × ")} = `;
    case "div": return k === 0 ? `1 / ${nm[1]} = 1 / ${v[1]} = ` : `−${DATA.names[i]} / ${nm[1]} = −${out} / ${v[1]} = `;
    case "pow": return k === 0 ? `${nm[1]} × ${nm[0]} ^ (${nm[1]} − 1) = ${v[1]} × ${v[0]} ^ (${v[1]} − 1) = ` : `${DATA.names[i]} × ln ${nm[0]} = ${out} × ln ${v[0]} = `;
    case "exp": return `e ^ ${nm[0]} = ${DATA.names[i]} = `;
    case "log": return `1 / ${nm[0]} = 1 / ${v[0]} = `;
    case "sqrt": return `1 / (2√${nm[0]}) = 0.5 / ${out} = `;
    case "sigmoid": return `σ(${nm[0]}) × (1 − σ(${nm[0]})) = `;
    case "tanh": return `1 − tanh² ${nm[0]} = `;
    case "sin": return `cos ${nm[0]} = cos ${v[0]} = `;
    case "cos": return `−sin ${nm[0]} = −sin ${v[0]} = `;
    case "relu": return `(1 if ${nm[0]} > 0, else 0) = `;
    default: return "";
  }
}

// Where a node feeds several others, what flows back adds up: 2.2 = 1.1 + 1.1
const CONSUMERS = DATA.names.map(() => []); // per node, (consumer, operand slot), as backward meets them
for (let i = DATA.n - 1; i >= 0; i--) (DATA.args[i] || []).forEach((j, k) => { if (j < DATA.n) CONSUMERS[j].push([i, k]); });
function arrivals(j, t) {
  const parts = CONSUMERS[j].filter(([i, k]) => t.reached[i] && t.sends[i][k]).map(([i, k]) => t.sends[i][k][1]);
  return parts.length > 1 ? ` = ${parts.map(repr).join(" + ")}` : "";
}

function buildSteps(t) {
  const steps = [{ kind: "start", text: `Inputs: ${DATA.names.filter((_, i) => DATA.ops[i] === null).join(", ")}. Press → to run the forward pass.` }];
  for (let i = 0; i < DATA.n; i++) if (DATA.ops[i] !== null) steps.push({ kind: "forward", node: i, text: forwardText(i, t) });
  steps.push({ kind: "seed", node: DATA.of, text: `Backward: ∂${OF()}/∂${OF()} = 1` });
  for (let i = DATA.of; i >= 0; i--) {
    if (!t.reached[i] || DATA.fixed.includes(i)) continue;
    if (DATA.ops[i] === null) {
      steps.push({ kind: "input", node: i, text: `∂${OF()}/∂${DATA.names[i]} = ${repr(t.grads[i])}${arrivals(i, t)}` });
      continue;
    }
    if (!DATA.args[i].some((j, k) => t.sends[i] && t.sends[i][k])) continue;
    const lines = backwardLines(i, t);
    steps.push({ kind: "backward", node: i, text: lines.join("\n") });
  }
  steps.push({ kind: "end", text: `Done: ${OF()} = ${repr(t.values[DATA.of])}, and every gradient is on its edge.` });
  return steps;
}

// What step k shows: which nodes have values, which edges carry their gradient.
function shown(k) {
  const valued = new Set(), graded = new Set();
  DATA.names.forEach((_, i) => { if (DATA.ops[i] === null) valued.add(i); });
  let seeded = false;
  state.steps.slice(0, k + 1).forEach((s) => {
    if (s.kind === "forward") valued.add(s.node);
    if (s.kind === "seed") seeded = true;
    if (s.kind === "backward" || s.kind === "input") graded.add(s.node);
    if (s.kind === "end") DATA.names.forEach((_, i) => graded.add(i)); // (0 where backward never went)
  });
  return { valued, graded, seeded };
}

// --- drawing ---------------------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg"; // (the SVG namespace's name, not a request)
const svg = document.getElementById("graph");
const el = (tag, attrs, parent) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
};

const DAGRE_LIMIT = 1500; // nodes in the picture: dagre's recursion overflows the stack at 5,000

function layout() {
  if (DATA.layout) return DATA.layout;
  if (DATA.scene.nodes.length > DAGRE_LIMIT) return columns();
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 25, ranksep: 70 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const [id, kind, nm] of DATA.scene.nodes) {
    const w = kind === "op" ? 40 : Math.max(30, 8 * nm.length);
    g.setNode(id, { width: w, height: kind === "op" ? 40 : 24 });
  }
  DATA.scene.edges.forEach(([s, t], k) => g.setEdge(s, t, { width: 90, height: 34, labelpos: "c" }, `e${k}`));
  dagre.layout(g);
  const nodes = {};
  g.nodes().forEach((id) => { const v = g.node(id); nodes[id] = [v.x, v.y, v.width, v.height]; });
  const edges = DATA.scene.edges.map(([s, t], k) => {
    const e = g.edge({ v: s, w: t, name: `e${k}` });
    return { points: e.points.map((p) => [p.x, p.y]), label: [e.x, e.y], polyline: true };
  });
  return { by: "dagre", width: g.graph().width, height: g.graph().height, nodes, edges };
}

// Too large for dagre: a column per depth (an input's is 0, a node's one more than its deepest
// operand's), the nodes of a column in evaluation order, straight edges. Linear in the graph.
function columns() {
  const depth = {};
  const ids = DATA.scene.nodes.map(([id]) => id);
  const into = {}, to = {};
  DATA.scene.edges.forEach(([s, t]) => { (into[t] = into[t] || []).push(s); to[s] = to[s] || t; });
  const order = ids.filter((id) => id.startsWith("n")).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  for (const id of order) depth[id] = Math.max(-1, ...(into[id] || []).filter((s) => s.startsWith("n")).map((s) => depth[s])) + 1;
  for (const id of ids) if (!(id in depth)) depth[id] = id.startsWith("c") ? depth[to[id]] - 1 : depth[into[id][0]] + 1;
  const rows = {}, nodes = {};
  for (const id of [...order, ...ids.filter((id) => !id.startsWith("n"))]) {
    const col = depth[id] + 1, row = (rows[col] = (rows[col] || 0) + 1) - 1;
    nodes[id] = [col * 170, row * 70, 40, 40];
  }
  const edges = DATA.scene.edges.map(([s, t]) => {
    const a = nodes[s], b = nodes[t];
    return { points: [[a[0] + 20, a[1]], [b[0] - 20, b[1]]], label: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2 - 8], polyline: true };
  });
  const all = Object.values(nodes), most = (k) => all.reduce((m, n) => Math.max(m, n[k]), 0);
  return { by: "columns", width: most(0) + 100, height: most(1) + 40, nodes, edges };
}

const LAYOUT = layout();
const labels = []; // per scene edge: its value text, its gradient text

function draw() {
  const pad = 30;
  svg.setAttribute("viewBox", `${-pad} ${-pad} ${LAYOUT.width + 2 * pad} ${LAYOUT.height + 2 * pad}`);
  svg.setAttribute("width", LAYOUT.width + 2 * pad); // its own size, narrowed to the window's
  svg.setAttribute("height", LAYOUT.height + 2 * pad);
  const defs = el("defs", {}, svg);
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" }, defs);
  el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }, marker);
  drawCalls();
  DATA.scene.edges.forEach(([s, t, j, i, slot], k) => {
    const route = LAYOUT.edges[k];
    if (!route) return;
    const g = el("g", { class: "edge", tabindex: 0, role: "button", "data-edge": k }, svg);
    const p = route.points;
    let d = `M ${p[0][0]} ${p[0][1]}`;
    if (route.polyline || LAYOUT.by === "dagre") for (const q of p.slice(1)) d += ` L ${q[0]} ${q[1]}`;
    else {
      for (let m = 1; m + 2 < p.length; m += 3) d += ` C ${p[m][0]} ${p[m][1]} ${p[m + 1][0]} ${p[m + 1][1]} ${p[m + 2][0]} ${p[m + 2][1]}`;
      const last = p[p.length - 1];
      d += ` L ${last[0]} ${last[1]}`;
    }
    el("path", { d, class: "wire", "marker-end": "url(#arrow)" }, g);
    const [lx, ly] = route.label;
    const value = el("text", { x: lx, y: ly - 3, class: "value", "text-anchor": "middle" }, g);
    const grad = el("text", { x: lx, y: ly + 13, class: "grad", "text-anchor": "middle" }, g);
    labels[k] = { value, grad, source: j, consumer: i, slot };
    g.addEventListener("click", () => explainEdge(k));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter") explainEdge(k); });
  });
  for (const [id, kind, nm, symbol] of DATA.scene.nodes) {
    const at = LAYOUT.nodes[id];
    if (!at) continue;
    const [x, y, w] = at;
    const i = id.startsWith("n") ? Number(id.slice(1)) : null;
    const g = el("g", { class: `node ${kind}`, "data-node": id, tabindex: i === null ? -1 : 0, role: "button" }, svg);
    if (kind === "op") {
      el("circle", { cx: x, cy: y, r: w / 2 }, g);
      el("text", { x, y: y + 6, "text-anchor": "middle", class: "symbol" }, g).textContent = symbol;
      el("text", { x, y: y - w / 2 - 5, "text-anchor": "middle", class: "name" }, g).textContent = nm;
    } else {
      const shaped = i !== null && DATA.shapes[i] ? ` (${DATA.shapes[i].join(", ")}${DATA.shapes[i].length === 1 ? "," : ""})` : "";
      el("text", { x, y: y + 5, "text-anchor": "middle", class: "label" }, g).textContent = nm + shaped;
    }
    if (i !== null) {
      g.addEventListener("click", () => explainNode(i));
      g.addEventListener("keydown", (e) => { if (e.key === "Enter") explainNode(i); });
    }
  }
}

// A function's call drawn as a box around the nodes it made; a click folds it away and back.
function drawCalls() {
  const boxes = {};
  for (const [pos, call] of Object.entries(DATA.calls)) (boxes[call] = boxes[call] || []).push(`n${pos}`);
  for (const [call, ids] of Object.entries(boxes)) {
    const at = ids.map((id) => LAYOUT.nodes[id]).filter(Boolean);
    if (!at.length) continue;
    const x0 = Math.min(...at.map(([x, , w]) => x - w / 2)) - 14, x1 = Math.max(...at.map(([x, , w]) => x + w / 2)) + 14;
    const y0 = Math.min(...at.map(([, y, , h]) => y - h / 2)) - 24, y1 = Math.max(...at.map(([, y, , h]) => y + h / 2)) + 10;
    const g = el("g", { class: "call", tabindex: 0, role: "button", "aria-expanded": "true" }, svg);
    el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, rx: 8 }, g);
    el("text", { x: x0 + 6, y: y0 + 14, class: "name" }, g).textContent = `${call} ▾`;
    const toggle = () => {
      const open = g.getAttribute("aria-expanded") !== "true";
      g.setAttribute("aria-expanded", String(open));
      g.classList.toggle("folded", !open);
      g.querySelector("text").textContent = `${call} ${open ? "▾" : "▸"}`;
      for (const id of ids) document.querySelector(`[data-node="${id}"]`)?.classList.toggle("hidden", !open);
    };
    g.addEventListener("click", toggle);
    g.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
  }
}

function render() {
  const t = state.trace, k = state.at, s = state.steps[k];
  const { valued, graded, seeded } = shown(k);
  labels.forEach((lab, e) => {
    if (!lab) return;
    const [src, , j, i, slot] = DATA.scene.edges[e];
    const value = j === null ? null : t.values[j];
    const has = j === null || valued.has(j);
    const named = Array.isArray(value) ? `${DATA.names[j]} ` : ""; // (an array's edge: X (2, 2), as the book's)
    lab.value.textContent = has && j !== null ? named + repr(value) : "";
    lab.value.setAttribute("data-value", has && j !== null ? full(value) : "");
    let grad = null;
    if (i !== null && graded.has(i) && t.sends[i] && t.sends[i][slot]) grad = t.sends[i][slot][1];
    if (i === null && seeded && j === DATA.of) grad = t.grads[DATA.of];
    lab.grad.textContent = grad === null ? "" : repr(grad);
    lab.grad.setAttribute("data-grad", grad === null ? "" : full(grad));
    lab.value.parentNode.classList.toggle("current", s.node !== undefined && (i === s.node || (s.kind === "forward" && j === s.node)));
  });
  document.querySelectorAll(".node").forEach((g) => g.classList.remove("current"));
  if (s.node !== undefined) document.querySelector(`[data-node="n${s.node}"]`)?.classList.add("current");
  document.getElementById("step-text").textContent = s.text;
  document.getElementById("step-count").textContent = `step ${k} of ${state.steps.length - 1}`;
  document.getElementById("slider").value = String(k);
  // The table of every node: what has been computed so far
  DATA.names.forEach((nm, i) => {
    const row = document.getElementById(`row-${i}`);
    const v = valued.has(i) ? t.values[i] : undefined, g = graded.has(i) || (seeded && i === DATA.of) ? t.grads[i] : undefined;
    row.cells[1].textContent = v === undefined ? "" : repr(v);
    row.cells[1].dataset.value = v === undefined ? "" : full(v);
    row.cells[2].textContent = g === undefined || g === null ? "" : repr(g);
    row.cells[2].dataset.grad = g === undefined || g === null ? "" : full(g);
  });
}

function go(k) {
  state.at = Math.max(0, Math.min(state.steps.length - 1, k));
  render();
}

// --- explain in place: the paths from the output back to a node, and their products ---------------

function explainNode(target) {
  const t = state.trace, out = [];
  const stack = [[DATA.of, [DATA.names[DATA.of]], [], 1]];
  let count = 0, total = 0;
  while (stack.length && count < 20) {
    const [i, path, locals, prod] = stack.pop();
    if (i === target) { count++; total += prod; out.push({ path, locals, prod }); continue; }
    if (DATA.ops[i] === null || !t.sends[i]) continue;
    const branches = [];
    DATA.args[i].forEach((j, k) => {
      const s = t.sends[i][k];
      if (s && j < DATA.n && s[0] !== null && reaches(j, target)) branches.push([j, path.concat(DATA.names[j]), locals.concat(s[0]), prod * s[0]]);
    });
    stack.push(...branches.reverse());
  }
  const nm = DATA.names[target];
  const lines = [`∂${OF()}/∂${nm} = ${repr(t.grads[target])} (backprop)`];
  if (DATA.shapes[target] || Array.isArray(t.values[target])) lines.push("On arrays each edge carries a matrix: see cgraph explain.");
  else if (target === DATA.of) lines.push("the output itself: 1");
  else {
    out.forEach((p, m) => lines.push(`path ${m + 1}: ${p.path.join(" ← ")}: ${p.locals.map(repr).join(" × ")} = ${repr(p.prod)}`));
    if (out.length > 1) lines.push(`sum of the paths = ${repr(total)}`);
    if (!out.length) lines.push(`${nm} does not lead to ${OF()}: its gradient is 0`);
  }
  show("explain", `${nm}${DATA.labels[target] ? ` (${DATA.labels[target]})` : ""}`, lines);
}

function reaches(j, target) {
  if (j === target) return true;
  const seen = new Set(), todo = [j];
  while (todo.length) {
    const i = todo.pop();
    if (i === target) return true;
    if (seen.has(i) || i >= DATA.n || DATA.ops[i] === null) continue;
    seen.add(i);
    todo.push(...DATA.args[i].filter((a) => a < DATA.n && a >= target));
  }
  return false;
}

function explainEdge(k) {
  const [, , j, i, slot] = DATA.scene.edges[k], t = state.trace;
  const from = j === null ? "a constant" : DATA.names[j], to = i === null ? "the output" : DATA.names[i];
  const lines = [`value ${j === null ? repr(DATA.literals[DATA.args[i][slot] - DATA.n]) : full(t.values[j])}`];
  if (i !== null && t.sends[i] && t.sends[i][slot]) lines.push(`gradient ${full(t.sends[i][slot][1])} (what ${to} sends back to ${from})`);
  if (i === null) lines.push(`gradient ${full(t.grads[DATA.of])}`);
  show("explain", `${from} → ${to}`, lines);
}

function show(id, title, lines) {
  const box = document.getElementById(id);
  box.replaceChildren();
  const h = document.createElement("h2");
  h.textContent = title;
  box.appendChild(h);
  for (const line of lines) { const p = document.createElement("p"); p.textContent = line; box.appendChild(p); }
}

// --- inputs you can change -------------------------------------------------------------------------

function parseInput(text) {
  const s = text.trim();
  const percent = s.endsWith("%");
  const x = Number(percent ? s.slice(0, -1) : s);
  if (s === "" || !Number.isFinite(x)) return null;
  return percent ? x / 100 : x;
}

function rerun() {
  const values = DATA.trace.values.slice();
  for (const field of document.querySelectorAll("#inputs input")) {
    const x = parseInput(field.value);
    if (x === null) { message(`${field.name}: '${field.value}' is not a number`); field.setAttribute("aria-invalid", "true"); return; }
    field.removeAttribute("aria-invalid");
    values[Number(field.dataset.position)] = x;
  }
  const t = evaluate(values);
  if (t.error) { message(`At these inputs: ${t.error}. The page keeps the last numbers it had.`); return; }
  message("");
  state.trace = t;
  state.steps = buildSteps(t);
  go(state.at);
}

function message(text) { document.getElementById("message").textContent = text; }

function setup() {
  document.title = `${DATA.name}: backprop, step by step`;
  document.getElementById("title").textContent = `${DATA.name}: ${OF()} = ${repr(DATA.trace.values[DATA.of])}`;
  const inputs = document.getElementById("inputs");
  DATA.names.forEach((nm, i) => {
    if (DATA.ops[i] !== null || DATA.shapes[i]) return;
    const label = document.createElement("label");
    label.textContent = `${nm} `;
    const field = document.createElement("input");
    Object.assign(field, { type: "text", name: nm, value: repr(DATA.trace.values[i]), inputMode: "decimal", disabled: DATA.live !== null });
    field.dataset.position = String(i);
    field.addEventListener("change", rerun);
    label.appendChild(field);
    inputs.appendChild(label);
  });
  if (DATA.live !== null) document.getElementById("live").textContent = `This page cannot run the graph again: ${DATA.live}.`;
  const table = document.getElementById("nodes");
  DATA.names.forEach((nm, i) => {
    const row = table.insertRow();
    row.id = `row-${i}`;
    row.insertCell().textContent = nm + (DATA.shapes[i] ? ` ${shapeText(DATA.trace.values[i])}` : "");
    row.insertCell();
    row.insertCell();
  });
  draw();
  state.steps = buildSteps(state.trace);
  const slider = document.getElementById("slider");
  slider.max = String(state.steps.length - 1);
  slider.addEventListener("input", () => go(Number(slider.value)));
  document.getElementById("prev").addEventListener("click", () => go(state.at - 1));
  document.getElementById("next").addEventListener("click", () => go(state.at + 1));
  document.getElementById("first").addEventListener("click", () => go(0));
  document.getElementById("last").addEventListener("click", () => go(state.steps.length - 1));
  document.getElementById("theme").addEventListener("click", () => {
    const dark = document.documentElement.dataset.theme !== "dark";
    document.documentElement.dataset.theme = dark ? "dark" : "light";
  });
  document.getElementById("large").addEventListener("click", (e) => {
    document.body.classList.toggle("large");
    e.target.setAttribute("aria-pressed", String(document.body.classList.contains("large")));
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" && e.target.type !== "range") return;
    if (e.key === "ArrowRight" || e.key === " ") { go(state.at + 1); e.preventDefault(); }
    else if (e.key === "ArrowLeft") { go(state.at - 1); e.preventDefault(); }
    else if (e.key === "Home") go(0);
    else if (e.key === "End") go(state.steps.length - 1);
  });
  go(0);
}

setup();
// For tests and for the curious: the page's state from the browser's console.
window.cgraphPage = { data: DATA, ops: Object.keys(OPS), go, evaluate, steps: () => state.steps, trace: () => state.trace, repr };
