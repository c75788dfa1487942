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
    data.series.forEach(function (values, index) {
      series.push({
        label: labels[index] || "",
        stroke: colours[index % colours.length],
        width: 2,
        spanGaps: true,
        points: { show: data.x.length < 60 }
      });
    });
    function width() { return Math.max(280, element.clientWidth || 600); }
    var chart = new uPlot(
      {
        width: width(),
        height: 320,
        series: series,
        scales: { x: { time: true } },
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
