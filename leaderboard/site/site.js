
(function(){
  function val(td, num){
    var v = td ? td.getAttribute('data-value') : null;
    if(!num){ return (v || '').toLowerCase(); }
    if(v === null || v === ''){ return null; }
    var x = parseFloat(v); return isNaN(x) ? null : x;
  }
  function sortBy(table, index, th){
    var num = th.getAttribute('data-type') === 'num';
    var current = th.getAttribute('aria-sort');
    var ascending;
    if(current){ ascending = current !== 'ascending'; }
    else if(num){ ascending = th.getAttribute('data-dir') !== 'up'; }
    else { ascending = true; }
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function(a, b){
      var x = val(a.cells[index], num), y = val(b.cells[index], num);
      if(x === null && y === null){ return 0; }
      if(x === null){ return 1; }
      if(y === null){ return -1; }
      var c = x < y ? -1 : (x > y ? 1 : 0);
      return ascending ? c : -c;
    });
    rows.forEach(function(r){ body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(h){ h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    table.setAttribute('data-sorted-by', th.getAttribute('data-col'));
    table.setAttribute('data-sort-order', ascending ? 'asc' : 'desc');
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.board'), function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(th, i){
      th.addEventListener('click', function(){ sortBy(table, i, th); });
    });
  });
  function applyFilters(){
    var kinds = {};
    Array.prototype.forEach.call(document.querySelectorAll('input[name=kind]'), function(box){ kinds[box.value] = box.checked; });
    var fam = document.getElementById('filter-family'), out = document.getElementById('filter-output');
    var family = fam ? fam.value : '', output = out ? out.value : '';
    Array.prototype.forEach.call(document.querySelectorAll('[data-kind]'), function(el){
      var show = kinds[el.getAttribute('data-kind')] !== false;
      if(family && el.getAttribute('data-family') !== family){ show = false; }
      if(output && el.getAttribute('data-output') !== output){ show = false; }
      if(show){ el.classList.remove('hidden'); } else { el.classList.add('hidden'); }
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('.filters input, .filters select'), function(el){
    el.addEventListener('change', applyFilters);
  });
  applyFilters();
  var params = new URLSearchParams(window.location.search);
  var hide = params.get('test-hide');
  if(hide){
    var box = document.querySelector('input[name=kind][value="' + hide + '"]');
    if(box){ box.checked = false; box.dispatchEvent(new Event('change')); }
  }
  var col = params.get('test-sort');
  if(col){
    var th = document.querySelector('table.board th[data-col="' + col + '"]');
    if(th){ th.click(); }
  }
  window.addEventListener('load', function(){
    var images = document.querySelectorAll('img'), loaded = 0;
    Array.prototype.forEach.call(images, function(im){ if(im.complete && im.naturalWidth > 0){ loaded++; } });
    document.body.setAttribute('data-images', images.length + '/' + loaded);
  });
  document.body.setAttribute('data-ready', '1');
})();
