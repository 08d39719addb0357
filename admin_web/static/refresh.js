/* Pages that stay current (issue 16): every 20 s while the tab is visible, the bell asks for
   the unread count, and the parts of the page marked data-refresh (the review queue, the
   dashboard's figures) are replaced by those of a fresh copy of the same address. A part the
   user is working in (typing in it, a box ticked, a field changed) is left alone, so nothing
   half-filled is lost; the page is never reloaded. Short polling, not server-sent events:
   see admin_web/views/notifications.py. The page works without this script. */
(function () {
  "use strict";
  var POLL_MS = 20000;
  var bell = document.querySelector("[data-bell]");
  var title = document.title;
  var timer = null;  // the next tick, while one is scheduled
  var running = false;  // a tick is fetching
  var stopped = false;

  function showCount(unread) {
    var count = bell.querySelector("[data-bell-count]");
    count.textContent = String(unread);
    bell.classList.toggle("unread", unread > 0);
    document.title = unread > 0 ? "(" + unread + ") " + title : title;
  }

  function changed(control) {
    if (control.type === "checkbox" || control.type === "radio") {
      return control.checked !== control.defaultChecked;
    }
    if (control.tagName === "SELECT") {
      return Array.prototype.some.call(control.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
    }
    return control.type !== "hidden" && control.value !== control.defaultValue;
  }

  function typing(element) {
    return element.tagName === "TEXTAREA" || element.tagName === "SELECT"
      || (element.tagName === "INPUT" && !/^(checkbox|radio|button|submit|reset|hidden)$/.test(element.type));
  }

  function busy(part) {
    var focused = document.activeElement;
    return (focused && part.contains(focused) && typing(focused))
      || Array.prototype.some.call(part.querySelectorAll("input, select, textarea"), changed);
  }

  function replaceParts(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    document.querySelectorAll("[data-refresh]").forEach(function (part) {
      var key = part.getAttribute("data-refresh");
      var twin = fresh.querySelector('[data-refresh="' + key + '"]');
      if (twin && !busy(part)) {
        part.innerHTML = twin.innerHTML;
      }
    });
  }

  function fetchText(url) {
    return fetch(url, {credentials: "same-origin", cache: "no-store"}).then(function (response) {
      if (response.redirected || !response.ok) {
        stopped = true;  // the session ended: the next click shows the log-in page
        throw new Error("refresh stopped");
      }
      return response;
    });
  }

  function tick() {
    timer = null;
    if (stopped || document.hidden) {
      return;
    }
    running = true;
    var work = [];
    if (bell) {
      work.push(fetchText(bell.getAttribute("data-bell")).then(function (response) {
        return response.json();
      }).then(function (status) { showCount(status.unread); }));
    }
    if (document.querySelector("[data-refresh]")) {
      work.push(fetchText(window.location.href).then(function (response) {
        return response.text();
      }).then(replaceParts));
    }
    Promise.all(work).catch(function () { return null; }).then(function () {
      running = false;
      schedule();
    });
  }

  function schedule() {
    if (!stopped && !running && timer === null && !document.hidden) {
      timer = window.setTimeout(tick, POLL_MS);
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !running) {
      window.clearTimeout(timer);
      tick();  // back on the tab: catch up at once
    }
  });
  if (bell) {
    showCount(Number(bell.querySelector("[data-bell-count]").textContent) || 0);
  }
  schedule();
})();
