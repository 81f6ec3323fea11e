"use strict";
// The rows of the pool form (pools/forms.py RowsWidget). The form posts the cells in
// page order, so adding, removing and moving a row is moving its elements.

// The blank row is there to add one without this script; with it, "Add" does that, and
// a blank override row would read as an override of every destination.
document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-rows] tr[data-blank]").forEach((row) => row.remove());
});
document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-rows-action]");
    if (!button) {
        return;
    }
    const widget = button.closest("[data-rows]");
    const row = button.closest("tr");
    switch (button.dataset.rowsAction) {
    case "add":
        widget.querySelector("tbody").append(
            widget.querySelector("template").content.firstElementChild.cloneNode(true)
        );
        break;
    case "remove":
        row.remove();
        break;
    case "up":
        row.previousElementSibling?.before(row);
        break;
    case "down":
        row.nextElementSibling?.after(row);
        break;
    }
});
