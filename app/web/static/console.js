// Cygnet console: small enhancements; every page works without this file.
(function () {
  "use strict";

  // Ask before a delete form is sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // An apply job: poll its JSON instead of reloading the whole page.
  var job = document.getElementById("job");
  if (!job || job.getAttribute("data-finished") === "yes") return;
  // Without script the page refreshes itself (a <noscript> meta refresh).
  var id = job.getAttribute("data-job");
  var bar = document.getElementById("job-bar");
  var count = document.getElementById("job-count");
  var steps = document.getElementById("job-steps");
  function poll() {
    fetch("/jobs/" + id + "/progress", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.total) bar.style.width = (100 * data.done / data.total) + "%";
        count.textContent = data.done + " of " + (data.total || "?");
        steps.innerHTML = "";
        data.steps.forEach(function (s) {
          var li = document.createElement("li");
          li.textContent = s;
          steps.appendChild(li);
        });
        if (data.finished) window.location.replace("/jobs/" + id);
        else setTimeout(poll, 300);
      })
      .catch(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
