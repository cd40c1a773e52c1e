// Progressive enhancement only: every page works without this script.
// Copy buttons: shown when the clipboard is available; they copy the text of their target.
document.addEventListener("DOMContentLoaded", () => {
  // Phones: the menu folds behind a button (without scripts it stays open).
  const toggle = document.querySelector(".menu-toggle");
  if (toggle) {
    const header = toggle.closest(".top");
    header.classList.add("folding");
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      header.classList.toggle("open", open);
    });
  }
  // Buttons that ask first: confirm() here; without scripts the server asks on a page.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        return;
      }
      const confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirmed";
      confirmed.value = "1";
      form.appendChild(confirmed);
    });
  }
  // Repeated rows (working hours, dates): "Add" copies the last row, empty; "Remove" drops
  // a row (the last one left is emptied instead). Without scripts one empty row is there.
  for (const add of document.querySelectorAll("[data-add-row]")) {
    const rows = add.parentElement.querySelector("[data-rows]");
    add.hidden = false;
    add.addEventListener("click", () => {
      const last = rows.querySelector("[data-row]:last-of-type");
      const copy = last.cloneNode(true);
      for (const input of copy.querySelectorAll("input")) input.value = "";
      rows.appendChild(copy);
      wireRemove(copy);
      copy.querySelector("input").focus();
    });
  }
  function wireRemove(row) {
    const remove = row.querySelector("[data-remove-row]");
    if (!remove) return;
    remove.hidden = false;
    remove.addEventListener("click", () => {
      const rows = row.parentElement;
      const next = row.nextElementSibling || row.previousElementSibling;
      if (rows.querySelectorAll("[data-row]").length > 1) {
        row.remove();
      } else {
        for (const input of row.querySelectorAll("input")) input.value = "";
      }
      const focus = (next && next.isConnected ? next : rows).querySelector("input");
      if (focus) focus.focus();
    });
  }
  for (const row of document.querySelectorAll("[data-row]")) wireRemove(row);
  // Working hours: "Always available" sets the hours aside (disabled: not sent).
  for (const form of document.querySelectorAll("form[data-hours-form]")) {
    const hours = form.querySelector("[data-hours]");
    const sync = () => {
      const always = form.querySelector("input[data-mode][value=always]").checked;
      hours.hidden = always;
      for (const field of hours.querySelectorAll("input, select, button")) field.disabled = always;
    };
    for (const radio of form.querySelectorAll("input[data-mode]")) {
      radio.addEventListener("change", sync);
    }
    sync();
  }
  // The time-zone picker's filter: typing keeps the matching zones (city, country or name).
  for (const picker of document.querySelectorAll("[data-zone-picker]")) {
    const filter = picker.querySelector("[data-zone-filter]");
    const select = picker.querySelector("select");
    filter.hidden = false;
    filter.addEventListener("input", () => {
      const words = filter.value.trim().toLowerCase();
      let first = null;
      for (const option of select.options) {
        const text = (option.textContent + " " + option.value).toLowerCase();
        option.hidden = words !== "" && !text.includes(words);
        if (!option.hidden && first === null) first = option;
      }
      for (const group of select.querySelectorAll("optgroup")) {
        group.hidden = ![...group.children].some((option) => !option.hidden);
      }
      if (words !== "" && first !== null) select.value = first.value;
    });
    filter.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "Enter") {
        event.preventDefault();
        select.focus();
      }
    });
  }
  // Email templates: the preview follows the typing (the server words it for a real booking).
  for (const form of document.querySelectorAll("form[data-email-preview]")) {
    const panel = document.querySelector("[data-preview-target]");
    let timer = null;
    const refresh = async () => {
      const response = await fetch(form.dataset.emailPreview, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
      });
      if (!response.ok) return;
      const found = await response.json();
      const subject = panel.querySelector("[data-preview-subject]");
      const body = panel.querySelector("[data-preview-body]");
      if (found.error) {
        if (body) body.textContent = found.error;
        return;
      }
      if (subject && found.subject !== undefined) subject.textContent = found.subject;
      if (body && found.body !== undefined) body.textContent = found.body;
    };
    form.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 300);
    });
  }
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    if (!navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const target = document.getElementById(button.dataset.copy);
      if (!target) return;
      const text = target.value !== undefined ? target.value : target.textContent;
      try {
        await navigator.clipboard.writeText(text.trim());
        const label = button.textContent;
        button.textContent = button.dataset.copied || label;
        setTimeout(() => { button.textContent = label; }, 2000);
      } catch (error) {
        if (target.select) target.select();
      }
    });
  }
});
