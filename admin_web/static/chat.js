/* Browser chat: append new lines every 2 s and keep the newest in view; the page works without it. */
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

  function append(html) {
    if (!html.trim()) {
      return;
    }
    var empty = chat.querySelector(".chat-empty");
    if (empty) {
      empty.remove();
    }
    chat.insertAdjacentHTML("beforeend", html);
    toBottom();
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

  var photoForm = document.querySelector("form[data-max-bytes]");
  if (photoForm) {
    photoForm.addEventListener("submit", checkPhotoSize);
  }
  toBottom();
  window.setTimeout(poll, POLL_MS);
})();
