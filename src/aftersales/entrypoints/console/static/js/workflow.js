// Renders the state diagram (mermaid source from the transition table) once the page loads.
(function () {
  "use strict";
  if (typeof mermaid === "undefined") return;
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
  mermaid.run({ querySelector: ".mermaid" }).then(function () {
    document.body.dataset.diagramReady = "1";
  });
})();
