// Render the formulas that pymdownx.arithmatex (generic mode) leaves in the page.
// Only elements with class "arithmatex" are touched, so a dollar sign in prose
// ("$5 and $10") is never mistaken for math. A formula KaTeX cannot parse is
// reported with console.error (the browser tests fail on it) and left as text.
(function () {
  "use strict";

  function strip(tex, display) {
    tex = tex.trim();
    var pairs = display ? [["\\[", "\\]"], ["$$", "$$"]] : [["\\(", "\\)"], ["$", "$"]];
    for (var i = 0; i < pairs.length; i++) {
      var open = pairs[i][0], close = pairs[i][1];
      if (tex.startsWith(open) && tex.endsWith(close)) {
        return tex.slice(open.length, tex.length - close.length);
      }
    }
    return tex;
  }

  function renderAll(root) {
    var nodes = (root || document).querySelectorAll(".arithmatex");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      if (el.dataset.katexDone) continue;
      var display = el.tagName === "DIV";
      var tex = strip(el.textContent, display);
      try {
        katex.render(tex, el, { displayMode: display, throwOnError: true, output: "htmlAndMathml" });
        el.dataset.katexDone = "1";
      } catch (err) {
        console.error("KaTeX could not render " + JSON.stringify(tex) + ": " + err.message);
      }
    }
  }

  if (typeof katex === "undefined") {
    console.error("KaTeX is not loaded: formulas stay as raw TeX");
    return;
  }
  // Material exposes document$ (an observable of page loads); fall back to
  // the plain DOM when it is absent.
  if (typeof document$ !== "undefined") {
    document$.subscribe(function () { renderAll(document); });
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { renderAll(document); });
  } else {
    renderAll(document);
  }
})();
