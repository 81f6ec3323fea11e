"use strict";
// The preview on the pool's page (PoolAdmin.page_preview) is a GET of the page itself.
// Fetched and swapped in, it leaves the settings form as it is, unsaved changes and all.
document.addEventListener("submit", async (event) => {
    const form = event.target.closest("[data-preview-form]");
    if (!form) {
        return;
    }
    event.preventDefault();
    const url = new URL(form.action);
    url.search = new URLSearchParams(new FormData(form)).toString();
    const response = await fetch(url, {credentials: "same-origin"});
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const answer = page.getElementById("pool-preview");
    if (!answer) {
        form.submit(); // not the pool's page (logged out, say): let the browser show it
        return;
    }
    document.getElementById("pool-preview").replaceWith(answer);
    history.replaceState(null, "", url);
});
