// The default theme's progressive enhancements. Every page works without them.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Sort menus apply on change.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Product page: choosing options updates price, stock and the button in place.
  var form = document.querySelector("form.buy-form[data-variants]");
  if (form) {
    var variants = JSON.parse(form.getAttribute("data-variants"));
    var selects = form.querySelectorAll("select[name^='option']");
    var price = document.querySelector("[data-price]");
    var button = form.querySelector("button.button");
    var update = function () {
      var chosen = Array.prototype.map.call(selects, function (s) { return s.value; });
      var match = variants.find(function (v) {
        return chosen.every(function (value, i) { return v.options[i] === value; });
      });
      var stock = form.querySelector("[data-stock]");
      if (!stock) {
        stock = document.createElement("p");
        stock.className = "stock";
        stock.setAttribute("data-stock", "");
        button.parentNode.parentNode.insertBefore(stock, button.parentNode);
      }
      var quantity = form.querySelector("input[name=quantity]");
      if (!match) {
        price.textContent = "";
        stock.textContent = "This combination is unavailable.";
        button.disabled = true;
        button.textContent = "Unavailable";
        return;
      }
      price.textContent = match.price + (match.compare_at ? " (was " + match.compare_at + ")" : "");
      stock.textContent = match.stock_label + (match.sku ? " · SKU " + match.sku : "");
      button.disabled = !match.available;
      button.textContent = match.available ? "Add to cart" : "Sold out";
      quantity.max = match.max_quantity;
      if (history.replaceState) {
        history.replaceState(null, "", location.pathname + "?variant=" + match.id);
      }
    };
    selects.forEach(function (s) { s.addEventListener("change", update); });
  }

  // Product gallery: a thumbnail shows its image in place.
  document.querySelectorAll(".thumbs a[data-large]").forEach(function (a) {
    a.addEventListener("click", function (e) {
      var main = document.querySelector(".main-image");
      if (!main) { return; }
      e.preventDefault();
      main.src = a.getAttribute("data-large");
      main.alt = a.querySelector("img").alt;
    });
  });

  // Search box: suggestions as you type.
  var input = document.querySelector("input[data-suggest]");
  if (input && window.fetch) {
    var list = document.createElement("ul");
    list.className = "suggestions";
    list.id = "search-suggestions";
    list.hidden = true;
    list.setAttribute("role", "listbox");
    input.setAttribute("aria-controls", list.id);
    input.parentNode.appendChild(list);
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2) { list.hidden = true; return; }
      timer = setTimeout(function () {
        fetch(input.getAttribute("data-suggest") + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) {
            list.innerHTML = "";
            if (!data) { list.hidden = true; return; }
            var items = (data.products || []).concat(data.collections || []);
            items.forEach(function (item) {
              var li = document.createElement("li");
              var a = document.createElement("a");
              a.href = item.url;
              a.textContent = item.title;
              li.appendChild(a);
              list.appendChild(li);
            });
            list.hidden = items.length === 0;
          })
          .catch(function () { list.hidden = true; });
      }, 150);
    });
    input.addEventListener("keydown", function (e) { if (e.key === "Escape") { list.hidden = true; } });
  }
})();
