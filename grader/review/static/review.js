// The review pages' behaviour: the TA's name, the class table's filters, and on a student's
// page saving as typed (a save names the version it was made on; a conflict is shown, never
// overwritten silently) and the keyboard: j / k next and previous, u the next to grade (with
// Alt from inside a field; Alt+arrows are the browser's), and Escape to leave a field. Errors are recorded on <body> for the tests.
(function () {
  'use strict';
  var errors = [];
  window.addEventListener('error', function (e) {
    errors.push(String(e.message));
    document.body.dataset.errors = errors.join(' | ');
  });
  var data = JSON.parse(document.getElementById('data').textContent);
  var ta = document.getElementById('ta');
  var state = document.getElementById('state');
  ta.value = localStorage.getItem('review-ta') || '';
  ta.addEventListener('input', function () { localStorage.setItem('review-ta', ta.value.trim()); });
  document.addEventListener('keydown', function (e) {  // Escape leaves a field, so j, k and u work
    if (e.key === 'Escape' && /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) { e.target.blur(); }
  });

  function say(text, kind) {
    state.textContent = text;
    state.className = kind || '';
  }

  if (data.page === 'class') {
    var search = document.getElementById('search'), show = document.getElementById('show');
    var section = document.getElementById('section');
    var rows = Array.prototype.slice.call(document.querySelectorAll('#class tbody tr'));
    var filter = function () {
      var words = search.value.trim().toLowerCase();
      rows.forEach(function (row) {
        var visible = (!words || row.textContent.toLowerCase().indexOf(words) >= 0) &&
          (!show.value || row.dataset.state === show.value) &&
          (!section.value || row.dataset.section === section.value);
        row.hidden = !visible;
      });
    };
    [search, show, section].forEach(function (el) { el.addEventListener('input', filter); });
    document.addEventListener('keydown', function (e) {
      if (e.key === 'u' && !/^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) { location.href = '/next'; }
    });
    return;
  }

  var version = data.version;
  var dirty = {points: {}, comments: {}};
  var timer = null, chain = Promise.resolve(), blocked = false;
  var pointInputs = Array.prototype.slice.call(document.querySelectorAll('input.points'));
  var comments = Array.prototype.slice.call(document.querySelectorAll('textarea.comment'));
  var conflict = document.getElementById('conflict');

  function reportTotal() {
    var sum = 0, all = true;
    pointInputs.forEach(function (input) {
      if (input.value === '') { all = false; } else { sum += Number(input.value); }
    });
    document.getElementById('report-total').textContent = all ? String(Math.round(sum * 1e4) / 1e4) : '(not graded yet)';
  }

  function valid(input) {
    var max = data.max[input.dataset.criterion], v = input.value;
    var ok = v === '' || (isFinite(Number(v)) && Number(v) >= 0 && Number(v) <= max);
    input.classList.toggle('invalid', !ok);
    return ok;
  }

  function pending() {
    return Object.keys(dirty.points).length + Object.keys(dirty.comments).length > 0;
  }

  function send() {
    if (!pending() || blocked) { return Promise.resolve(); }
    var sent = dirty;
    dirty = {points: {}, comments: {}};
    say('saving…');
    return fetch('/api/grades/' + encodeURIComponent(data.student), {
      method: 'PUT',
      headers: {'Content-Type': 'application/json', 'X-Review': '1'},
      body: JSON.stringify({version: version, ta: ta.value.trim(), points: sent.points, comments: sent.comments})
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.ok) {
          version = body.version;
          say('saved', 'saved');
          return;
        }
        // put back what was not saved, under what came since
        Object.keys(sent.points).forEach(function (k) { if (!(k in dirty.points)) { dirty.points[k] = sent.points[k]; } });
        Object.keys(sent.comments).forEach(function (k) { if (!(k in dirty.comments)) { dirty.comments[k] = sent.comments[k]; } });
        if (response.status === 409) {
          showConflict(body);
        } else {
          say('not saved: ' + body.error, 'error');
        }
      });
    }).catch(function () {
      say('not saved: the server does not answer', 'error');
    });
  }

  function showConflict(body) {
    blocked = true;
    say('conflict', 'conflict');
    var theirs = body.current;
    conflict.hidden = false;
    conflict.textContent = '';
    var p = document.createElement('p');
    p.textContent = body.error + '. Theirs: ' + JSON.stringify(theirs.points) + '. Yours (not saved): ' +
      JSON.stringify(dirty.points) + '.';
    var keep = document.createElement('button');
    keep.textContent = 'keep theirs';
    keep.addEventListener('click', function () { blocked = false; dirty = {points: {}, comments: {}}; location.reload(); });
    var mine = document.createElement('button');
    mine.textContent = 'save mine over theirs';
    mine.addEventListener('click', function () {
      blocked = false;
      version = theirs.version;
      conflict.hidden = true;
      flush();
    });
    conflict.appendChild(p);
    conflict.appendChild(keep);
    conflict.appendChild(mine);
  }

  function flush() {
    clearTimeout(timer);
    chain = chain.then(send);
    return chain;
  }

  function schedule() {
    clearTimeout(timer);
    say('editing…');
    timer = setTimeout(flush, 300);
  }

  pointInputs.forEach(function (input) {
    input.addEventListener('input', function () {
      reportTotal();
      if (!valid(input)) {
        say('not saved: ' + input.dataset.criterion + ' is 0 to ' + data.max[input.dataset.criterion], 'error');
        return;
      }
      dirty.points[input.dataset.criterion] = input.value === '' ? null : Number(input.value);
      schedule();
    });
  });
  comments.forEach(function (area) {
    area.addEventListener('input', function () {
      dirty.comments[area.dataset.criterion] = area.value;
      schedule();
    });
  });

  function go(link) {
    if (!link) { return; }
    flush().then(function () {
      if (!pending() && !blocked) { location.href = link.href; }
    });
  }

  var KEYS = {KeyJ: 'next', KeyK: 'prev', KeyU: 'next-ungraded'};  // by key position: Alt+J is ∆ on a Mac
  document.addEventListener('keydown', function (e) {
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
    if ((typing && !e.altKey) || e.ctrlKey || e.metaKey || !(e.code in KEYS)) { return; }
    e.preventDefault();
    go(document.getElementById(KEYS[e.code]));
  });
  window.addEventListener('beforeunload', function (e) {
    if (pending() || blocked) { e.preventDefault(); e.returnValue = ''; }
  });
  // Chromium's PDF viewer takes the focus when it loads: give it back to the field the TA was
  // in, unless the pointer is over the report (the TA clicked into it to scroll).
  var report = document.getElementById('report'), overReport = false, lastField = null;
  document.addEventListener('focusin', function (e) {
    if (/^(INPUT|TEXTAREA)$/.test(e.target.tagName) && e.target !== ta) { lastField = e.target; }
  });
  if (report) {
    report.addEventListener('mouseenter', function () { overReport = true; });
    report.addEventListener('mouseleave', function () { overReport = false; });
    window.addEventListener('blur', function () {
      if (!overReport && lastField && document.activeElement === report) {
        setTimeout(function () { lastField.focus(); }, 0);
      }
    });
  }
  var firstEmpty = pointInputs.filter(function (input) { return input.value === ''; })[0];
  if (firstEmpty) { firstEmpty.focus(); }
  reportTotal();
}());
