/* Web ATM behaviour (CSP: script-src 'self', no inline code). The pages work without it.
   - Idle countdown: shows when the session will end and, near the end, offers "More time". The server
     ends the session by itself after ATM_SESSION_IDLE_SECONDS without a request; this script only tells
     the customer, asks the server for more time, and at zero opens a page so the server's ending shows.
   - Quick amounts: a tap fills the amount in and moves to the PIN instead of reloading the page. */
(function () {
  "use strict";

  var PROMPT_AT = 30;

  function clock(seconds) {
    var minutes = Math.floor(seconds / 60), rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function startTimer(timer) {
    var idle = parseInt(timer.getAttribute("data-idle-seconds"), 10);
    var prompt = document.querySelector(".idle-prompt");
    var deadline = Date.now() + idle * 1000;
    var shownLeft = timer.querySelector(".session-timer__left");
    var promptLeft = prompt && prompt.querySelector(".idle-prompt__left");
    var button = prompt && prompt.querySelector("[data-more-time]");
    var ticking = null;

    function tick() {
      var left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      shownLeft.textContent = clock(left);
      if (prompt) {
        promptLeft.textContent = left + (left === 1 ? " second" : " seconds");
        if (left <= Math.min(PROMPT_AT, idle / 2) && prompt.hidden) {
          prompt.hidden = false;
          button.focus();
        }
      }
      if (left === 0) {
        window.clearInterval(ticking);
        window.location.assign(timer.getAttribute("data-end-url"));  // the server says the session ended
      }
    }

    function moreTime() {
      var token = document.querySelector('input[name="csrfmiddlewaretoken"]');
      fetch(timer.getAttribute("data-more-time-url"), {
        method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": token ? token.value : "" }
      }).then(function (response) {
        if (response.redirected || !response.ok) { window.location.assign(timer.getAttribute("data-end-url")); return null; }
        return response.json();
      }).then(function (data) {
        if (!data) { return; }
        idle = data.idle_seconds;
        deadline = Date.now() + idle * 1000;
        prompt.hidden = true;
        tick();
      });
    }

    if (button) { button.addEventListener("click", moreTime); }
    timer.hidden = false;
    tick();
    ticking = window.setInterval(tick, 1000);
  }

  function quickAmounts() {
    var amount = document.getElementById("id_amount"), pin = document.getElementById("id_pin");
    document.querySelectorAll(".quick-amounts [data-amount]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!amount) { return; }
        event.preventDefault();
        amount.value = button.getAttribute("data-amount");
        (pin || amount).focus();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var timer = document.querySelector(".session-timer[data-idle-seconds]");
    if (timer) { startTimer(timer); }
    quickAmounts();
  });
}());
