// Draw every <figure data-chart> from the Vega-Lite spec in its <script type="application/json">.
(function () {
  document.querySelectorAll("figure[data-chart]").forEach(function (figure) {
    var spec = JSON.parse(figure.querySelector("script[type='application/json']").textContent);
    var target = figure.querySelector(".chart");
    vegaEmbed(target, spec, { renderer: "svg", actions: false }).then(function () {
      target.setAttribute("data-drawn", "yes");
    });
  });
})();
