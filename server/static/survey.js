// The web survey's only script: a live "12 of 280 characters" under a free-text answer. The page does without it
// (the count shown as the page loads, the limit kept by maxlength and checked by the server).
"use strict";
document.querySelectorAll("textarea[data-counter]").forEach(function (area) {
  var counter = document.getElementById(area.getAttribute("data-counter"));
  var template = counter.getAttribute("data-template");
  var update = function () {
    counter.textContent = template.replace("{count}", area.value.length).replace("{max}", area.maxLength);
  };
  area.addEventListener("input", update);
  update();
});
