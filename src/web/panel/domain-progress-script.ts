/**
 * The one client script of the panel, served as /progress.js (CSP `script-src 'self'`, never
 * inline): it polls a domain's progress.json and updates the propagation section in place.
 * Kept as a string in a module so that the build's bundle (scripts/build.mjs) carries it to
 * dist/ with no copy step. Without it the page works the same, with its "Refresh" link.
 *
 * Each poll costs the server a fresh observation (DNS queries to every authoritative server,
 * a probe of every endpoint), so it polls every 10 s while something is under way, every 60 s
 * at rest, and not at all while the tab is hidden.
 *
 * It writes text with textContent only (never innerHTML): record data and server names come
 * from DNS, which an attacker may control.
 */
export const PROGRESS_JS = `'use strict';
(function () {
  var section = document.querySelector('[data-progress-url]');
  if (!section || !window.fetch) return;
  var url = section.getAttribute('data-progress-url');
  var summary = document.getElementById('progress-summary');
  var rows = document.getElementById('progress-rows');
  // each poll is a fresh observation (every authoritative server asked, every endpoint
  // probed): 10 s while something is under way, 60 s at rest, nothing while the tab is hidden
  var busy = 10000, calm = 60000, timer = null, stopped = false;
  function text(id, value) {
    var el = document.getElementById(id);
    if (el && el.textContent !== value) el.textContent = value;
  }
  function cell(tr, value, code) {
    var td = document.createElement('td');
    if (code) {
      var c = document.createElement('code');
      c.textContent = value;
      td.appendChild(c);
    } else td.textContent = value;
    tr.appendChild(td);
  }
  function list(xs) { return xs && xs.length ? xs.join(', ') : '\\u2014'; }
  function render(p) {
    text('progress-phase', p.phase);
    text('progress-waiting', p.waitingFor || 'nothing');
    text('progress-until', p.until || '\\u2014');
    text('progress-next', p.next || '\\u2014');
    var body = document.createElement('tbody');
    body.id = 'progress-rows';
    if (!p.records.length) {
      var tr0 = document.createElement('tr');
      var td0 = document.createElement('td');
      td0.colSpan = 6;
      td0.textContent = 'No TLSA records.';
      tr0.appendChild(td0);
      body.appendChild(tr0);
    }
    p.records.forEach(function (r) {
      var tr = document.createElement('tr');
      cell(tr, r.owner, true);
      cell(tr, r.rdata, true);
      cell(tr, r.role);
      cell(tr, list(r.servedBy));
      cell(tr, list(r.notServedBy));
      cell(tr, r.confirmed || r.confirmedAt || 'not yet');
      body.appendChild(tr);
    });
    if (rows && rows.parentNode) {
      rows.parentNode.replaceChild(body, rows);
      rows = body;
    }
    // the badge and the timeline's steps (text only; the page's <time> elements give way)
    var badge = document.querySelector('#domain-badge .badge');
    if (badge && p.badge && badge.textContent !== p.badge.text) {
      badge.className = 'badge badge-' + p.badge.kind;
      badge.textContent = p.badge.text;
    }
    (p.steps || []).forEach(function (x) { text('step-' + x.id, x.at || x.note || 'not yet'); });
    // the live region: changed only when the sentence changes, so it is announced once
    if (summary && summary.textContent !== p.summary) summary.textContent = p.summary;
  }
  function stop(message) {
    stopped = true;
    if (summary) summary.textContent = message;
  }
  function poll() {
    fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' }, redirect: 'manual' })
      .then(function (res) {
        if (!res.ok) throw new Error('status ' + res.status);
        return res.json();
      })
      .then(function (p) {
        render(p);
        timer = document.hidden ? null : setTimeout(poll, p.phase === 'idle' ? calm : busy);
      })
      .catch(function () {
        stop('Live updates stopped: use the Refresh link or reload the page.');
      });
  }
  document.addEventListener('visibilitychange', function () {
    if (document.hidden) { clearTimeout(timer); timer = null; }
    else if (timer === null && !stopped) poll();
  });
  timer = setTimeout(poll, busy);
})();
`;
