/* Browser chat: append new lines every 2 s (following them only when the newest were in view, so
   the reader's place and a half-typed message stay), load earlier lines on demand, send the
   browser's location; the page works without it (all but the location). */
(function () {
  "use strict";
  var POLL_MS = 2000;
  var chat = document.getElementById("chat");
  if (!chat) {
    return;
  }

  function lastId() {
    var lines = chat.querySelectorAll("[data-id]");
    return lines.length ? lines[lines.length - 1].getAttribute("data-id") : "0";
  }

  function toBottom() {
    window.scrollTo(0, document.body.scrollHeight);
  }

  function atBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  }

  function append(html) {
    if (!html.trim()) {
      return;
    }
    var follow = atBottom();
    var empty = chat.querySelector(".chat-empty");
    if (empty) {
      empty.remove();
    }
    chat.insertAdjacentHTML("beforeend", html);
    if (follow) {
      toBottom();
    }
  }

  function loadEarlier(event) {
    var link = event.target.closest("[data-earlier]");
    if (!link) {
      return;
    }
    event.preventDefault();
    var before = link.getAttribute("data-earlier");
    fetch("/chat/messages?before=" + encodeURIComponent(before), {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (!html.trim()) {
          return;
        }
        var height = document.body.scrollHeight;
        link.closest(".chat-earlier").remove();
        chat.insertAdjacentHTML("afterbegin", html);
        window.scrollBy(0, document.body.scrollHeight - height);  // the read line stays put
      })
      .catch(function () { return null; });
  }

  function poll() {
    fetch("/chat/messages?after=" + encodeURIComponent(lastId()), {credentials: "same-origin"})
      .then(function (response) {
        if (response.redirected) {
          // The session ended: reloading shows the log-in page.
          window.location.reload();
          return "";
        }
        return response.ok ? response.text() : "";
      })
      .then(append)
      .catch(function () { return null; })
      .then(function () { window.setTimeout(poll, POLL_MS); });
  }

  function checkPhotoSize(event) {
    var form = event.target;
    var input = form.querySelector("input[type=file]");
    var limit = Number(form.getAttribute("data-max-bytes"));
    var tooLarge = input && input.files.length && limit && input.files[0].size > limit;
    form.querySelector(".chat-too-large").hidden = !tooLarge;
    if (tooLarge) {
      event.preventDefault();
    }
  }

  function shareLocation(event) {
    var form = event.target;
    if (form.elements.latitude.value) {
      return;  // filled in below: this is the real submit
    }
    event.preventDefault();
    var refused = form.querySelector(".chat-location-refused");
    navigator.geolocation.getCurrentPosition(function (position) {
      refused.hidden = true;
      form.elements.latitude.value = String(position.coords.latitude);
      form.elements.longitude.value = String(position.coords.longitude);
      form.submit();
    }, function () {
      refused.hidden = false;
    }, {enableHighAccuracy: true, timeout: 20000});
  }

  var locationForm = document.querySelector("form[data-location]");
  if (locationForm && navigator.geolocation) {
    locationForm.hidden = false;
    locationForm.addEventListener("submit", shareLocation);
  }
  var photoForm = document.querySelector("form[data-max-bytes]");
  if (photoForm) {
    photoForm.addEventListener("submit", checkPhotoSize);
  }
  chat.addEventListener("click", loadEarlier);
  toBottom();
  window.setTimeout(poll, POLL_MS);
})();
