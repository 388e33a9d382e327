// Durablex console: live refresh, in-place navigation and confirmations. No dependencies.
// Every page works without this file; it only makes them smoother.
(function () {
  "use strict";
  var HEADER = "X-Durablex-Fragment";
  var timer = null;
  var busy = false;
  var last = null;

  function live() { return document.getElementById("live"); }

  function scrollState(root) {
    return Array.prototype.map.call(root.querySelectorAll(".svg-wrap, .table-wrap, .panel"), function (el) {
      return [el.scrollLeft, el.scrollTop];
    });
  }

  function restoreScroll(root, state) {
    Array.prototype.forEach.call(root.querySelectorAll(".svg-wrap, .table-wrap, .panel"), function (el, i) {
      if (state[i]) { el.scrollLeft = state[i][0]; el.scrollTop = state[i][1]; }
    });
  }

  function centerGraphs(root) {
    // A wide graph opens centred on its main line rather than on its left edge.
    Array.prototype.forEach.call(root.querySelectorAll(".svg-wrap"), function (wrap) {
      if (wrap.querySelector("svg.graph") && wrap.scrollWidth > wrap.clientWidth) {
        wrap.scrollLeft = (wrap.scrollWidth - wrap.clientWidth) / 2;
      }
    });
  }

  function viewName(root) {
    var view = root.querySelector(".view");
    return view ? view.className : "";
  }

  function swap(html) {
    var root = live();
    if (!root || html === last) { return; }
    var state = scrollState(root);
    var before = viewName(root);
    root.innerHTML = html;  // server-rendered and escaped: user data is text only
    last = html;
    if (before && viewName(root) === before) { restoreScroll(root, state); } else { centerGraphs(root); }
    schedule();
  }

  function fetchFragment(url) {
    return fetch(url, { headers: { [HEADER]: "1" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected || response.status >= 500 || response.status === 401) {
          throw new Error("reload");
        }
        return response.text();
      });
  }

  function alive() {
    var root = live();
    if (!root || !root.hasAttribute("data-poll")) { return false; }
    var run = root.querySelector("[data-alive]");
    return !run || run.getAttribute("data-alive") === "true";
  }

  function schedule() {
    if (timer) { clearTimeout(timer); timer = null; }
    if (!alive()) { return; }
    var every = parseInt(live().getAttribute("data-poll"), 10) || 2000;
    timer = setTimeout(refresh, every);
  }

  function refresh() {
    timer = null;
    if (document.hidden || busy) { schedule(); return; }
    busy = true;
    fetchFragment(location.href).then(function (html) { busy = false; swap(html); })
      .catch(function () { busy = false; schedule(); });
  }

  function navigate(href, push) {
    var url = new URL(href, location.href);
    busy = true;
    fetchFragment(url.href).then(function (html) {
      busy = false;
      if (push) { history.pushState({ swap: true }, "", url.href); }
      last = null;
      swap(html);
      if (url.hash) {
        var target = document.getElementById(url.hash.slice(1));
        if (target) { target.scrollIntoView({ block: "center" }); }
      }
    }).catch(function () { busy = false; location.href = url.href; });
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) { return; }
    var link = event.target.closest ? event.target.closest("a[data-swap]") : null;
    if (!link || !live() || !live().contains(link)) { return; }
    var href = link.getAttribute("href");
    if (!href) { return; }
    event.preventDefault();
    navigate(href, true);
  });

  window.addEventListener("popstate", function () { navigate(location.href, false); });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (!question) { return; }
    if (!window.confirm(question)) { event.preventDefault(); return; }
    if (!form.querySelector("input[name=confirmed]")) {
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = "confirmed";
      field.value = "1";
      form.appendChild(field);
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && alive() && !timer) { refresh(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var root = live();
    if (root) { last = root.innerHTML; centerGraphs(root); }
    schedule();
  });
})();
