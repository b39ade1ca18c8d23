// Airflow shows these pages in a sandboxed frame that may neither open a tab nor leave itself
// (no allow-popups, no allow-top-navigation). A link marked data-leave-frame is therefore followed by
// Airflow's own page, which shares our origin and may: in the same tab (target="_top") or a new one.
(function () {
  function airflowPage() {
    if (window.top === window) return null;
    try {
      return window.top.document;
    } catch (notSameOrigin) {
      return null;
    }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-leave-frame]");
    if (!link) return;
    var scheme = new URL(link.href, document.baseURI).protocol;
    if (scheme !== "https:" && scheme !== "http:") {
      // A stored link (XPM's WebUrl) is data: only a web address is ever opened, never script.
      event.preventDefault();
      return;
    }
    var top = airflowPage();
    if (!top) return;
    event.preventDefault();
    var proxy = top.createElement("a");
    proxy.href = link.href;
    if (link.target === "_blank") {
      proxy.target = "_blank";
      proxy.rel = "noopener";
    }
    top.body.appendChild(proxy);
    proxy.click();
    proxy.remove();
  });
})();
