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
