# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The demo page: one HTML document with its style and script inline (no
external resources; it works offline). It posts the chosen or dropped file
as it is to ``predict?stage=N`` and shows the JSON answer: the prediction
and attention pictures (PNG ``data:`` URLs), the legend and the times, or
the ``error`` message in a red box. ``body[data-state]`` is ``idle``,
``running``, ``done`` or ``error``."""
import html
import json
from typing import Dict

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>van-mm demo: __TITLE__</title>
<style>
body{font:15px system-ui,sans-serif;margin:1.2em;color:#222}
h1{font-size:1.25em;margin:0 0 .2em}
.sub{color:#666;margin-bottom:1em}
#drop{border:2px dashed #999;border-radius:8px;padding:1.2em;
 text-align:center;background:#fafafa}
#drop.over{background:#e8f0ff;border-color:#36c}
.row{display:grid;gap:1em;align-items:start;
 grid-template-columns:minmax(0,1fr) minmax(0,1fr) 15em}
@media (max-width:800px){.row{grid-template-columns:minmax(0,1fr)}}
figure{margin:0}
figure img{width:100%;max-height:75vh;object-fit:contain;
 border:1px solid #ccc}
figcaption{color:#444;margin:.2em 0 .6em}
#error{background:#fde8e8;border:1px solid #d33;color:#900;padding:.7em;
 border-radius:6px;margin:1em 0}
#status{margin:1em 0;color:#333}
.sw{display:inline-block;width:1em;height:1em;vertical-align:middle;
 border:1px solid #555;margin-right:.4em}
#legend li{list-style:none;margin:.15em 0}#legend ul{padding:0}
#notes{color:#666}#warnings{color:#a50}
</style></head>
<body data-state="idle">
<h1>van-mm demo: __TITLE__</h1>
<div class="sub" id="about"></div>
<div class="sub" id="warnings"></div>
<div id="drop">Drop an image here, or
 <input type="file" id="file" accept="image/*">
 <label>attention map of stage <select id="stage"></select></label>
</div>
<div id="status" role="status"></div>
<div id="error" role="alert" hidden></div>
<div id="result" hidden>
 <div class="row">
  <figure><img id="prediction" alt="prediction">
   <figcaption id="pcap">Prediction</figcaption></figure>
  <figure><img id="attention" alt="attention map">
   <figcaption id="acap"></figcaption></figure>
  <div><div id="legend"></div><ul id="notes"></ul></div>
 </div>
</div>
<script>
const INFO = __INFO__;
const $ = id => document.getElementById(id);
const esc = s => String(s).replace(/[&<>"]/g,
  c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'})[c]);
$('about').textContent = (INFO.task === 'det' ? 'detector' : 'segmentor') +
  ' \\u00b7 ' + INFO.backend + ' \\u00b7 images up to ' +
  Math.round(INFO.max_bytes / 1048576) + ' MiB and ' + INFO.max_side +
  ' pixels a side';
$('warnings').textContent = INFO.warnings.join(' ');
if (INFO.stages) {
  for (let i = 0; i < INFO.stages; i++) $('stage').add(new Option(i, i));
  $('stage').value = INFO.stages - 1;
} else {
  $('stage').add(new Option('none (ONNX file alone)', ''));
  $('stage').disabled = true;
}
let last = null;
function state(s) { document.body.dataset.state = s; }
function fail(message) {
  $('result').hidden = true; $('status').textContent = '';
  $('error').textContent = message; $('error').hidden = false;
  state('error');
}
async function run(file) {
  last = file; $('error').hidden = true;
  if (file.size > INFO.max_bytes) {
    fail(file.name + ' is too large: ' + (file.size / 1048576).toFixed(1) +
         ' MiB, the demo takes up to ' +
         Math.round(INFO.max_bytes / 1048576) + ' MiB.');
    return;
  }
  state('running'); $('status').textContent = 'Running on ' + file.name +
    '\\u2026';
  let answer;
  try {
    const r = await fetch('predict?stage=' + $('stage').value,
      {method: 'POST', body: file,
       headers: {'Content-Type': 'application/octet-stream'}});
    answer = await r.json();
  } catch (e) {
    fail('No answer from the demo server (is it still running?): ' + e);
    return;
  }
  if (answer.error) { fail(file.name + ': ' + answer.error); return; }
  show(file.name, answer);
}
function show(name, a) {
  $('prediction').src = a.prediction;
  $('pcap').textContent = 'Prediction (' + a.backend + '): ' +
    a.inference_ms.toFixed(0) + ' ms';
  if (a.attention) {
    $('attention').src = a.attention; $('attention').hidden = false;
    $('acap').textContent = 'LKA attention, stage ' + a.stage + ' (blue ' +
      'low, red high; run at ' + a.attention_size.join('x') + '): ' +
      a.attention_ms.toFixed(0) + ' ms';
  } else {
    $('attention').hidden = true; $('attention').removeAttribute('src');
    $('acap').textContent = 'No attention map: it needs a PyTorch ' +
      'checkpoint (CONFIG CHECKPOINT --onnx FILE gives both).';
  }
  const L = a.legend;
  let h = '';
  if (L.kind === 'classes') {
    h = '<b>Classes predicted</b> (share of the image)<ul>' +
      L.items.map(i => '<li><span class="sw" style="background:' +
        i.colour + '"></span>' + esc(i.name) + ' ' +
        (100 * i.share).toFixed(1) + '%</li>').join('') + '</ul>';
  } else {
    h = '<b>' + L.total + ' detection' + (L.total === 1 ? '' : 's') +
      '</b> with score above ' + L.score_thr +
      (L.total > L.items.length ? ' (best ' + L.items.length + ' listed)' :
       '') + '<ul>' + L.items.map(i => '<li><span class="sw" ' +
        'style="background:' + i.colour + '"></span>' + esc(i.name) + ' ' +
        i.score.toFixed(3) + '</li>').join('') + '</ul>';
  }
  $('legend').innerHTML = h;
  $('notes').innerHTML = (a.notes || []).map(n => '<li>' + esc(n) +
    '</li>').join('');
  $('status').textContent = name + ': ' + a.size.join('x') + ' pixels, ' +
    (a.inference_ms + (a.attention_ms || 0)).toFixed(0) + ' ms in all.';
  $('result').hidden = false; state('done');
}
$('file').addEventListener('change', e => {
  if (e.target.files.length) run(e.target.files[0]);
});
$('stage').addEventListener('change', () => { if (last) run(last); });
const drop = $('drop');
drop.addEventListener('dragover', e => {
  e.preventDefault(); drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', e => {
  e.preventDefault(); drop.classList.remove('over');
  if (e.dataTransfer.files.length) run(e.dataTransfer.files[0]);
});
</script></body></html>
"""


def render_page(info: Dict) -> bytes:
    """The page, with the model's ``info`` (:meth:`DemoModel.info`) in
    it."""
    data = json.dumps(info).replace('<', '\\u003c')  # safe inside <script>
    return PAGE.replace('__TITLE__', html.escape(info['config'])).replace(
        '__INFO__', data).encode('utf-8')
