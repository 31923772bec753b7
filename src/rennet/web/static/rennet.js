// Progressive enhancement only: every page works without it. Adds "Copy" buttons beside install commands.
document.querySelectorAll("[data-copy]").forEach(function (field) {
  var button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.textContent = "Copy";
  button.setAttribute("aria-label", "Copy: " + field.getAttribute("aria-label"));
  button.addEventListener("click", function () {
    var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 2000); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { field.select(); document.execCommand("copy"); done(); });
    } else {
      field.select(); document.execCommand("copy"); done();
    }
  });
  field.parentNode.appendChild(button);
});
