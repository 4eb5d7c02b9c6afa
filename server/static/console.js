// The console's one script: the passkey ceremonies of the set-up and
// sign-in pages (everything else works without script). Each button names
// its begin and finish endpoints; options and answers travel as WebAuthn
// JSON, which the browser converts itself.
"use strict";

async function ceremony(button, create) {
  const status = document.getElementById("status");
  const say = (msg) => { status.textContent = msg; };
  button.disabled = true;
  try {
    const begin = await fetch(button.dataset.begin, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    const b = await begin.json();
    if (!begin.ok) { say(b.detail || "The passkey request failed."); return; }
    const cred = create
      ? await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(b.options.publicKey) })
      : await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(b.options.publicKey) });
    const finish = await fetch(button.dataset.finish, {
      method: "POST", headers: { "Content-Type": "application/json", "X-Ceremony": b.ceremony }, body: JSON.stringify(cred.toJSON()),
    });
    const f = await finish.json();
    if (!finish.ok) { say(f.detail || "The passkey was refused."); return; }
    say(create ? "Passkey registered." : "Signed in.");
    window.location.assign(f.redirect);
  } catch (e) {
    say("The passkey was not used: " + e.message);
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const reg = document.getElementById("register");
  if (reg) reg.addEventListener("click", () => ceremony(reg, true));
  const sig = document.getElementById("sign-in");
  if (sig) sig.addEventListener("click", () => ceremony(sig, false));
});

// The events page's live tail: new access and audit events arrive as
// server-sent events and are put at the top of the table (newest first,
// as the page lists them). Without script the page is the same list,
// reloaded by hand. The stream ends with the session; EventSource then
// reconnects, meets the sign-in redirect and stops.
function liveTail(status) {
  const body = document.querySelector("#events tbody");
  const src = new EventSource(status.dataset.stream);
  const cell = (label, text, cls) => {
    const td = document.createElement("td");
    td.dataset.label = label;
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  };
  src.onopen = () => { status.textContent = "Live: new events appear at the top."; };
  src.onmessage = (m) => {
    const e = JSON.parse(m.data);
    const tr = document.createElement("tr");
    tr.className = "live";
    tr.append(cell("When", e.occurred_at), cell("What", e.action + (e.reason ? " (" + e.reason + ")" : ""), "action"),
      cell("Who", (e.actor || "") + (e.user_id || "")), cell("Detail", e.detail || ""));
    const empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    body.prepend(tr);
  };
  src.addEventListener("end", () => { src.close(); status.textContent = "Live updates stopped: reload the page to resume."; });
  src.onerror = () => {
    if (src.readyState === EventSource.CLOSED) status.textContent = "Live updates stopped: reload the page to resume.";
  };
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (live && window.EventSource) liveTail(live);
});

// An import's page: the <progress> follows the job by polling its counts;
// when the job has finished the page is loaded again, with its summary
// and the refused rows next to their errors.
function importProgress(box) {
  const bar = document.getElementById("import-progress");
  const count = document.getElementById("import-count");
  const state = document.getElementById("import-state");
  const tick = async () => {
    try {
      const r = await fetch(box.dataset.progress, { headers: { Accept: "application/json" } });
      if (!r.ok) { state.textContent = "progress unavailable: reload the page"; return; }
      const p = await r.json();
      bar.max = p.total;
      bar.value = p.done + p.failed;
      bar.textContent = count.textContent = (p.done + p.failed) + " of " + p.total;
      state.textContent = p.status;
      if (p.finished) { window.location.reload(); return; }
    } catch (e) {
      state.textContent = "progress unavailable: reload the page";
      return;
    }
    setTimeout(tick, 1000);
  };
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("import");
  if (box && !box.dataset.finished) importProgress(box);
});
