// The Stellar dashboard: renders the cluster's picture that the node
// streams as server-sent events, and posts the operator's actions. No
// framework, no build step. Values from the cluster are written with
// textContent only, never as HTML.
'use strict';

(function () {
  const base = '/dashboard';
  let snap = null;          // the last picture
  let offset = 0;           // the node's clock minus this browser's
  const openStacks = new Set(); // failed tasks whose stack is unfolded

  // el builds an element: el('td', {class: 'n'}, 'text', child…)
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  const $ = (sel) => document.querySelector(sel);

  function now() { return Date.now() + offset; }

  function duration(ms) {
    if (!isFinite(ms)) return '—';
    const neg = ms < 0;
    ms = Math.abs(ms);
    const s = Math.floor(ms / 1000);
    let out;
    if (s < 60) out = (ms < 10000 ? (ms / 1000).toFixed(1) : s) + 's';
    else if (s < 3600) out = Math.floor(s / 60) + 'm ' + (s % 60) + 's';
    else if (s < 86400) out = Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
    else out = Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
    return neg ? '-' + out : out;
  }

  function since(t) { return t ? duration(now() - Date.parse(t)) : '—'; }
  function until(t) { return t ? duration(Date.parse(t) - now()) : '—'; }
  function ago(t) { return t ? since(t) + ' ago' : '—'; }
  function inFuture(t) {
    if (!t) return '—';
    const ms = Date.parse(t) - now();
    return ms <= 0 ? 'now' : 'in ' + duration(ms);
  }

  function bytes(n) {
    if (!n) return '—';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return n.toFixed(i ? 1 : 0) + ' ' + u[i];
  }

  function rate(x) { return x ? x.toFixed(x < 10 ? 2 : 0) : '0'; }

  function args(a) {
    if (a === undefined || a === null) return '';
    const s = JSON.stringify(a);
    return s.length > 80 ? s.slice(0, 79) + '…' : s;
  }

  // timed marks a cell whose text follows the clock: it is redrawn every second.
  function timed(fn, t) {
    return el('td', { class: 'timed', dataset: { fn: fn, t: t || '' } }, t ? fns[fn](t) : '—');
  }
  const fns = { since, until, ago, inFuture };

  function tick() {
    for (const td of document.querySelectorAll('td.timed')) {
      if (td.dataset.t) td.textContent = fns[td.dataset.fn](td.dataset.t);
    }
  }

  // fill sets a table's rows: row(item) makes the row (or rows) of an
  // item. The rows of an item that did not change are kept as they are,
  // so that a button does not go away under the pointer and an unfolded
  // stack stays open.
  function fill(tableId, items, row, empty, cols) {
    const tbody = $('#' + tableId + ' tbody');
    const old = new Map();
    for (const tr of tbody.children) {
      if (!tr.dataset.sig) continue;
      if (!old.has(tr.dataset.sig)) old.set(tr.dataset.sig, []);
      old.get(tr.dataset.sig).push(tr);
    }
    const rows = [];
    for (const it of items) {
      const sig = JSON.stringify(it);
      const kept = old.get(sig);
      if (kept) {
        old.delete(sig);
        rows.push(...kept);
        continue;
      }
      for (const tr of [row(it)].flat()) {
        tr.dataset.sig = sig;
        rows.push(tr);
      }
    }
    tbody.replaceChildren(...(rows.length ? rows : [el('tr', { class: 'empty' }, el('td', { colspan: cols }, empty))]));
  }

  function count(id, n, total) {
    const e = $('#' + id + '-count');
    if (e) e.textContent = total !== undefined && total > n ? n + ' of ' + total : String(n);
  }

  function card(label, value, cls) {
    return el('div', { class: 'card ' + (cls || '') }, el('div', { class: 'value' }, value), el('div', { class: 'label' }, label));
  }

  function render(s) {
    snap = s;
    offset = Date.parse(s.now) - Date.now();
    $('#served-by').textContent = 'served by ' + s.node;

    const errs = s.errors || [];
    const banner = $('#banner');
    banner.hidden = errs.length === 0;
    banner.textContent = errs.map(e => 'Could not read ' + e.part + ': ' + e.error).join(' · ');

    const queues = s.queues || [];
    const sum = (f) => queues.reduce((a, q) => a + (q[f] || 0), 0);
    const dropped = (s.dropped || []).reduce((a, d) => a + d.total, 0);
    const paused = (s.paused || []).length;
    $('#cards').replaceChildren(
      card('live nodes', (s.nodes || []).length),
      card('queues', queues.length + (paused ? ' (' + paused + ' paused)' : ''), paused ? 'warn' : ''),
      card('pending', sum('pending')),
      card('running', sum('running')),
      card('failed', sum('failed'), sum('failed') ? 'bad' : ''),
      card('dropped messages', dropped, dropped ? 'warn' : ''),
    );

    const nodes = s.nodes || [];
    count('nodes', nodes.length);
    fill('nodes', nodes, n => {
      const i = n.info || {};
      const conns = i.connections ? Object.entries(i.connections).map(([k, v]) => k + ' ' + v).join(', ') : (n.stats && n.stats.connections !== undefined ? String(n.stats.connections) : '—');
      const tasks = n.info ? i.tasksRunning + ' / ' + i.concurrency : (n.stats && n.stats.tasksRunning !== undefined ? String(n.stats.tasksRunning) : '—');
      return el('tr', { dataset: { node: n.id } },
        el('td', {}, el('strong', {}, n.id), n.self ? el('span', { class: 'tag' }, 'this node') : null),
        el('td', {}, el('div', {}, n.host + ' · pid ' + n.pid), i.httpAddr ? el('div', { class: 'dim' }, 'http ' + i.httpAddr + (i.tcpAddr ? ' · tcp ' + i.tcpAddr : '')) : null),
        el('td', {}, n.version || '—', i.framework ? el('div', { class: 'dim' }, 'stellar ' + i.framework) : null),
        timed('since', n.startedAt),
        el('td', {}, tasks),
        el('td', {}, conns),
        el('td', { class: 'n' }, n.info ? i.httpInFlight : '—'),
        el('td', { class: 'n' }, n.info ? i.goroutines : '—'),
        el('td', { class: 'n' }, n.info ? bytes(i.heapBytes) : '—'),
      );
    }, 'No live node answers.', 9);

    count('queues', queues.length);
    fill('queues', queues, q => el('tr', { dataset: { queue: q.queue }, class: q.paused ? 'paused' : '' },
      el('td', {}, el('strong', {}, q.queue)),
      el('td', { class: 'n' }, q.pending),
      el('td', { class: 'n' }, q.delayed),
      el('td', { class: 'n' }, q.running),
      el('td', { class: 'n' + (q.failed ? ' bad' : '') }, q.failed),
      el('td', { class: 'n' }, q.processed),
      el('td', { class: 'n' }, rate(q.processedPerSec)),
      el('td', { class: 'n' }, rate(q.failedPerSec)),
      el('td', {}, q.paused ? el('span', { class: 'tag warn' }, 'paused') : 'active'),
      el('td', { class: 'buttons' }, q.paused
        ? el('button', { type: 'button', dataset: { action: 'resume' }, onclick: () => act('queues/' + encodeURIComponent(q.queue) + '/resume') }, 'Resume')
        : el('button', { type: 'button', dataset: { action: 'pause' }, onclick: () => act('queues/' + encodeURIComponent(q.queue) + '/pause') }, 'Pause')),
    ), 'No queue holds tasks yet.', 10);

    const running = s.running || [];
    count('running', running.length);
    fill('running', running, t => el('tr', { dataset: { task: t.id } },
      el('td', {}, el('strong', {}, t.name)),
      el('td', {}, t.queue),
      el('td', { class: 'id' }, t.id),
      el('td', {}, t.worker || '—'),
      timed('since', t.startedAt),
      el('td', { class: 'n' }, t.attempt),
      el('td', { class: 'args' }, args(t.args)),
    ), 'Nothing runs.', 7);

    const failed = (s.failed && s.failed.tasks) || [];
    count('failed', failed.length, s.failed && s.failed.total);
    $('#retry-all').disabled = $('#remove-all').disabled = failed.length === 0;
    fill('failed', failed, t => {
      const f = t.failure || {};
      const det = el('details', { open: openStacks.has(t.id) },
        el('summary', {}, 'stack and arguments'),
        el('div', { class: 'dim' }, 'arguments: ' + args(t.args)),
        el('pre', { class: 'stack' }, f.stack || '(no stack)'));
      det.addEventListener('toggle', () => { det.open ? openStacks.add(t.id) : openStacks.delete(t.id); });
      return [el('tr', { class: 'failed', dataset: { task: t.id } },
        el('td', {}, el('strong', {}, t.name), el('div', { class: 'id' }, t.id)),
        el('td', {}, t.queue),
        el('td', { class: 'error' }, f.error || t.lastError || ''),
        el('td', { class: 'n' }, f.attempts || t.attempt),
        timed('ago', f.failedAt),
        el('td', {}, f.worker || '—'),
        el('td', { class: 'buttons' },
          el('button', { type: 'button', dataset: { action: 'retry' }, onclick: () => act('failed/' + encodeURIComponent(t.id) + '/retry') }, 'Retry'),
          el('button', { type: 'button', class: 'danger', dataset: { action: 'remove' }, onclick: () => act('failed/' + encodeURIComponent(t.id) + '/remove') }, 'Remove')),
      ), el('tr', { class: 'stack-row', dataset: { stackOf: t.id } }, el('td', { colspan: 7 }, det))];
    }, 'No failed task.', 7);

    const delayed = (s.delayed && s.delayed.tasks) || [];
    count('delayed', delayed.length, s.delayed && s.delayed.total);
    fill('delayed', delayed, t => el('tr', { dataset: { task: t.id } },
      el('td', {}, el('strong', {}, t.name)),
      el('td', {}, t.queue),
      el('td', { class: 'id' }, t.id),
      timed('inFuture', t.runAt),
      el('td', { class: 'args' }, args(t.args)),
    ), 'No delayed task.', 5);

    const periodic = s.periodic || [];
    count('periodic', periodic.length);
    fill('periodic', periodic, p => el('tr', { dataset: { task: p.name } },
      el('td', {}, el('strong', {}, p.name)),
      el('td', {}, p.queue),
      el('td', {}, duration(p.frequencyMs)),
      p.stopped ? el('td', {}, '—') : timed('inFuture', p.next),
      el('td', {}, p.stopped ? el('span', { class: 'tag warn' }, 'stopped') : 'scheduled'),
    ), 'No periodic task is registered on this node.', 5);

    const rooms = (s.rooms && s.rooms.rooms) || [];
    count('rooms', rooms.length, s.rooms && s.rooms.total);
    fill('rooms', rooms, r => el('tr', { dataset: { room: r.name } },
      el('td', {}, el('strong', {}, r.name)),
      el('td', { class: 'n' }, r.members),
      el('td', {}, Object.entries(r.byNode || {}).sort().map(([n, c]) => el('span', { class: 'tag' }, n + ': ' + c))),
    ), 'No chat room.', 3);

    const infos = Object.fromEntries(nodes.filter(n => n.info).map(n => [n.id, n.info]));
    const droppedRows = (s.dropped || []).map(d => Object.assign({ late: infos[d.node] ? infos[d.node].lateReplies : '—' }, d));
    fill('dropped', droppedRows, d => el('tr', { dataset: { node: d.node } },
      el('td', {}, el('strong', {}, d.node)),
      el('td', { class: 'n' + (d.total ? ' warn' : '') }, d.total),
      el('td', {}, Object.entries(d.reasons).filter(([, c]) => c > 0).sort().map(([r, c]) => el('span', { class: 'tag warn' }, r + ': ' + c))),
      el('td', { class: 'n' }, d.late),
    ), 'No node answered.', 4);

    const cl = s.cacheLocks || [];
    count('cache-locks', cl.length);
    fill('cache-locks', cl, l => el('tr', {},
      el('td', {}, el('strong', {}, l.key)), el('td', {}, l.owner), timed('inFuture', l.expireAt)), 'No cache lock is held.', 3);

    const tl = s.taskLocks || [];
    count('task-locks', tl.length);
    fill('task-locks', tl, l => el('tr', {},
      el('td', {}, el('strong', {}, l.key)), el('td', {}, l.queue), el('td', { class: 'id' }, l.taskId)), 'No unique lock is held.', 3);

    document.body.dataset.updated = s.now;
  }

  function toast(msg, bad) {
    const t = $('#toast');
    t.textContent = msg;
    t.className = 'toast' + (bad ? ' bad' : '');
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  // act posts an action. The session cookie goes with it (same origin
  // only); the node checks the Origin header.
  async function act(path) {
    try {
      const res = await fetch(base + '/api/' + path, { method: 'POST', credentials: 'same-origin' });
      const body = await res.json().catch(() => ({}));
      if (res.status === 401) { location.reload(); return; }
      if (!res.ok) { toast((body.error && body.error.message) || ('HTTP ' + res.status), true); return; }
      toast(path.replace(/\/[^/]*\//, ' ').replace(/-/g, ' ') + (body.count !== undefined ? ': ' + body.count : '') + ' — done');
    } catch (e) {
      toast(String(e), true);
    }
  }

  function live(state, text) {
    const l = $('#live');
    l.className = 'live ' + state;
    l.textContent = text;
  }

  // While a mouse button or finger is down the page does not change, so
  // that the press and the release land on the same button; the newest
  // picture is drawn as soon as it is up.
  let holding = false;
  let pending = null;
  let holdTimer = 0;
  function show(s) {
    if (holding) { pending = s; return; }
    render(s);
  }
  function hold() {
    holding = true;
    clearTimeout(holdTimer);
    holdTimer = setTimeout(letGo, 3000); // a release that never came
  }
  function letGo() {
    clearTimeout(holdTimer);
    // After the click that follows the release.
    setTimeout(() => {
      holding = false;
      if (pending) { const p = pending; pending = null; render(p); }
    }, 0);
  }
  document.addEventListener('pointerdown', hold, true);
  document.addEventListener('pointerup', letGo, true);
  document.addEventListener('pointercancel', letGo, true);

  function connect() {
    const es = new EventSource(base + '/api/events');
    es.addEventListener('open', () => live('on', 'live'));
    es.addEventListener('snapshot', (e) => { live('on', 'live'); show(JSON.parse(e.data)); });
    es.addEventListener('tick', (e) => { offset = Date.parse(JSON.parse(e.data).now) - Date.now(); });
    es.addEventListener('failure', (e) => {
      const b = $('#banner');
      b.hidden = false;
      b.textContent = 'The node cannot read the cluster: ' + JSON.parse(e.data);
    });
    es.addEventListener('error', async () => {
      live('off', 'reconnecting…');
      if (es.readyState === EventSource.CLOSED) {
        // Refused (the session ended) or the node is gone: find out which.
        const res = await fetch(base + '/api/nodes', { credentials: 'same-origin' }).catch(() => null);
        if (res && res.status === 401) { location.reload(); return; }
        setTimeout(connect, 2000);
      }
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('#retry-all').addEventListener('click', () => act('failed/retry-all'));
    $('#remove-all').addEventListener('click', () => {
      const n = snap && snap.failed ? snap.failed.total : 0;
      if (window.confirm('Remove all ' + n + ' failed tasks? They cannot be retried afterwards.')) act('failed/remove-all');
    });
    setInterval(tick, 1000);
    connect();
  });
})();
