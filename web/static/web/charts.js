/* Console charts with uPlot: each element [data-chart] names a json_script holding {x: [unix seconds], series: [[…], …]};
   the series' labels and colours come from the template (data-labels, data-colours, separated by "|").
   The data table beside each chart is the version without JavaScript. */
(function () {
  "use strict";
  if (!window.uPlot) return;
  document.querySelectorAll("[data-chart]").forEach(function (element) {
    var source = document.getElementById(element.dataset.chart);
    if (!source) return;
    var data = JSON.parse(source.textContent);
    if (!data.x || !data.x.length) return;
    var labels = (element.dataset.labels || "").split("|");
    var colours = (element.dataset.colours || "#1d6b2f|#a4161a").split("|");
    var series = [{ label: element.dataset.xLabel || "" }];
    // Counts that change at a moment (people in a shelter) are drawn as steps, not slopes.
    var stepped = element.dataset.stepped === "true" && uPlot.paths && uPlot.paths.stepped;
    data.series.forEach(function (values, index) {
      var line = {
        label: labels[index] || "",
        stroke: colours[index % colours.length],
        width: 2,
        spanGaps: true,
        points: { show: data.x.length < 60 }
      };
      if (stepped) line.paths = uPlot.paths.stepped({ align: 1 });
      series.push(line);
    });
    function width() { return Math.max(280, element.clientWidth || 600); }
    var chart = new uPlot(
      {
        width: width(),
        height: 320,
        series: series,
        scales: {
          x: {
            time: true,
            // A single moment still gets a readable minute either side instead of an axis of years.
            range: function (u, min, max) { return min === max ? [min - 60, max + 60] : [min, max]; }
          },
          y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } }
        },
        axes: [{}, { label: element.dataset.yLabel || "" }]
      },
      [data.x].concat(data.series),
      element
    );
    var resizing = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizing);
      resizing = setTimeout(function () { chart.setSize({ width: width(), height: 320 }); }, 150);
    });
  });
})();
