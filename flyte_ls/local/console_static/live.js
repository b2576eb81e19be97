// flyte-ls local console: live updates of a running execution's page.
//
// The page of an unfinished execution loads this script (and only such a page). Every data-interval ms
// (1.5 s) it fetches the same page with ?part=live, which answers the page's <div id='live'> alone, and swaps
// it in place: the <details> the reader opened or closed stay so, and the focused link or control keeps the
// focus when it is still there. It stops once the new part says data-terminal='true' (the execution ended),
// when the page is gone (404), or after many failed fetches in a row. While the tab is hidden it does not
// fetch. Phase changes are announced to screen readers through the page's role=status element.
// First-party and self-contained: no library, no inline script, nothing fetched from elsewhere.
(function () {
  "use strict";

  var MAX_FAILURES = 40;
  var live = document.getElementById("live");
  if (!live || live.getAttribute("data-terminal") !== "false") {
    return;
  }
  var interval = parseInt(live.getAttribute("data-interval") || "1500", 10) || 1500;
  var target = new URL(window.location.href);
  target.hash = "";
  target.searchParams.set("part", "live");
  var failures = 0;
  var updates = 0;
  var lastText = null;
  var timer = null;
  var inFlight = false;
  var root = document.documentElement;
  root.setAttribute("data-live", "polling");

  // A key for an element that survives a swap: the id of its closest ancestor (or itself) that has one,
  // plus its position among the elements of the same kind under that ancestor.
  function anchorOf(el) {
    var node = el.parentElement;
    while (node && node !== live && !node.id) {
      node = node.parentElement;
    }
    return node || live;
  }

  function keyOf(el, selector) {
    if (el.id) {
      return "#" + el.id;
    }
    var anchor = anchorOf(el);
    var same = anchor.querySelectorAll(selector);
    return (anchor === live ? "" : anchor.id) + " " + selector + " " + Array.prototype.indexOf.call(same, el);
  }

  function detailsState(container) {
    var state = {};
    var all = container.querySelectorAll("details");
    for (var i = 0; i < all.length; i++) {
      state[keyOf(all[i], "details")] = all[i].open;
    }
    return state;
  }

  function focusKey() {
    var active = document.activeElement;
    if (!active || active === document.body || !live.contains(active)) {
      return null;
    }
    var tag = active.tagName.toLowerCase();
    return { key: keyOf(active, tag), tag: tag };
  }

  function findByKey(container, key, selector) {
    var all = container.querySelectorAll(selector);
    for (var i = 0; i < all.length; i++) {
      if (keyOf(all[i], selector) === key) {
        return all[i];
      }
    }
    return null;
  }

  function announce(text) {
    var status = document.getElementById("live-status");
    if (status) {
      status.textContent = text;
    }
  }

  function swap(fresh) {
    var opened = detailsState(live);
    var focus = focusKey();
    var oldPhase = live.getAttribute("data-phase");
    var old = live;
    old.replaceWith(fresh);
    live = fresh;
    // keys are computed against `live`, so restore once the new part is in the document
    var all = live.querySelectorAll("details");
    for (var i = 0; i < all.length; i++) {
      var key = keyOf(all[i], "details");
      if (Object.prototype.hasOwnProperty.call(opened, key)) {
        all[i].open = opened[key];
      }
    }
    if (focus) {
      var again = findByKey(live, focus.key, focus.tag);
      if (again && typeof again.focus === "function") {
        again.focus({ preventScroll: true });
      }
    }
    var title = live.getAttribute("data-title");
    if (title) {
      document.title = title + " \u00b7 flyte-ls local";
    }
    var phase = live.getAttribute("data-phase");
    if (phase && phase !== oldPhase) {
      announce("Execution " + (phase || "").toLowerCase().replace(/_/g, " "));
    }
    updates += 1;
    root.setAttribute("data-live-updates", String(updates));
  }

  function stop(why) {
    root.setAttribute("data-live", why);
    if (timer !== null) {
      window.clearTimeout(timer);
      timer = null;
    }
  }

  function schedule(ms) {
    timer = window.setTimeout(poll, ms);
  }

  function poll() {
    timer = null;
    if (document.hidden || inFlight) {
      return; // resumed by visibilitychange, or by the fetch under way
    }
    inFlight = true;
    fetch(target.toString(), { cache: "no-store", credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status === 404) {
          throw new Error("gone");
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (text) {
        inFlight = false;
        failures = 0;
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.getElementById("live");
        if (!fresh) {
          throw new Error("no live part");
        }
        if (text !== lastText) {
          lastText = text;
          swap(document.adoptNode(fresh));
        }
        if (fresh.getAttribute("data-terminal") === "true") {
          stop("done");
          announce("Execution ended: " + (fresh.getAttribute("data-phase") || "").toLowerCase());
          return;
        }
        schedule(interval);
      })
      .catch(function (err) {
        inFlight = false;
        failures += 1;
        if (String(err && err.message) === "gone" || failures >= MAX_FAILURES) {
          stop("stopped");
          announce("Live updates stopped; reload the page to try again.");
          return;
        }
        schedule(Math.min(interval * failures, 15000));
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && timer === null && !inFlight && root.getAttribute("data-live") === "polling") {
      poll();
    }
  });
  schedule(interval);
})();
