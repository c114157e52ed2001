// The default theme's progressive enhancements. Every page works without them.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Sort menus apply with their button, not on change: a new page on every arrow key in
  // the menu would be a change of context a keyboard user never asked for (WCAG 3.2.2).

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
        stock.setAttribute("aria-live", "polite");
        button.parentNode.parentNode.insertBefore(stock, button.parentNode);
      }
      var quantity = form.querySelector("input[name=quantity]");
      // The server's word on the options the page came with is stale now; the stock line
      // speaks for the new choice.
      var said = form.querySelector("[data-selection]");
      if (said) { said.remove(); }
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

  // Search box: suggestions as you type, as a WAI-ARIA 1.2 combobox with a list popup
  // (https://www.w3.org/WAI/ARIA/apg/patterns/combobox/). Focus stays in the box: the
  // arrows move the active option (aria-activedescendant), Enter opens it, Escape closes
  // the list, and a click opens an option. Without a chosen option the form searches.
  var input = document.querySelector("input[data-suggest]");
  if (input && window.fetch) {
    var list = document.createElement("ul");
    list.className = "suggestions";
    list.id = input.id + "-suggestions";
    list.hidden = true;
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Suggestions");
    // Says how many suggestions came, for people who don't see the list appear.
    var status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    input.parentNode.appendChild(list);
    input.parentNode.appendChild(status);
    var options = [];
    var active = -1;
    var timer = null;
    var asked = 0;

    var activate = function (i) {
      if (active >= 0 && options[active]) { options[active].setAttribute("aria-selected", "false"); }
      active = i;
      if (i < 0) { input.removeAttribute("aria-activedescendant"); return; }
      options[i].setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", options[i].id);
      options[i].scrollIntoView({ block: "nearest" });
    };
    var open = function () {
      if (options.length === 0) { return false; }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      return true;
    };
    var close = function () {
      activate(-1);
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
    };
    var go = function (option) { window.location.assign(option.getAttribute("data-url")); };
    var show = function (items) {
      activate(-1);
      list.textContent = "";
      options = items.map(function (item, i) {
        var li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-url", item.url);
        li.textContent = item.title;
        if (item.kind) {
          var kind = document.createElement("span");
          kind.className = "suggestion-kind";
          kind.textContent = " · " + item.kind;
          li.appendChild(kind);
        }
        list.appendChild(li);
        return li;
      });
      status.textContent = items.length === 0 ? "" :
        items.length + (items.length === 1 ? " suggestion" : " suggestions") + ", use the arrow keys to choose";
      if (!open()) { close(); }
    };

    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      var ask = ++asked;
      if (q.length < 2) { show([]); return; }
      timer = setTimeout(function () {
        fetch(input.getAttribute("data-suggest") + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) {
            // An answer to an earlier question must not replace the latest one.
            if (ask !== asked) { return; }
            var products = (data && data.products) || [];
            var collections = ((data && data.collections) || []).map(function (c) {
              return { title: c.title, url: c.url, kind: "Collection" };
            });
            show(products.concat(collections));
          })
          .catch(function () { if (ask === asked) { show([]); } });
      }, 150);
    });
    input.addEventListener("keydown", function (e) {
      if (e.altKey || e.ctrlKey || e.metaKey) { return; }
      var n = options.length;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        if (n === 0) { return; }
        e.preventDefault();
        var down = e.key === "ArrowDown";
        if (list.hidden) {
          open();
          activate(down ? 0 : n - 1);
        } else if (active < 0) {
          activate(down ? 0 : n - 1);
        } else {
          activate((active + (down ? 1 : n - 1)) % n);
        }
      } else if (e.key === "Enter") {
        if (!list.hidden && active >= 0) {
          e.preventDefault();
          go(options[active]);
        }
      } else if (e.key === "Escape") {
        if (!list.hidden) {
          // Closing the list is all Escape does then: the browser would also clear the box.
          e.preventDefault();
          close();
        }
      }
    });
    // A press on an option must not take the focus out of the box (which closes the list).
    list.addEventListener("mousedown", function (e) { e.preventDefault(); });
    list.addEventListener("click", function (e) {
      var option = e.target.closest("[role=option]");
      if (option) { go(option); }
    });
    input.addEventListener("blur", close);
  }
})();
