// A small single-page app on Tessera's browser client: sign in, call an API protected by
// tessera-axum, list and revoke devices, sign out. The page, Tessera and the API share one
// origin behind a reverse proxy (docs/browser-client.md): /auth/* and /tessera.js go to
// Tessera, /api/* to the API.
import { createClient } from "/tessera.js";

const $ = (id) => document.getElementById(id);
const tessera = createClient(); // the cookie transport: nothing to store, nothing to configure

function render() {
  const session = tessera.session();
  $("signin").hidden = !!session;
  $("app").hidden = !session;
  $("status").textContent = session ? `Signed in as ${session.user.email}` : "Signed out";
  if (session) listDevices();
}

// Every change, from this tab or another one: sign-in, refresh, sign-out (and why).
tessera.onChange((event) => {
  if (event.type === "refreshed") return; // a new access token: nothing to draw
  render();
  if (event.type === "signedOut" && event.reason !== "user") {
    $("error").textContent = `Your session ended (${event.reason}). Please sign in again.`;
  }
});
tessera.ready.then(render);

$("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("error").textContent = "";
  try {
    await tessera.signIn({ email: $("email").value, password: $("password").value });
    $("password").value = "";
  } catch (e) {
    $("error").textContent = e.code === "invalid_credentials" ? "Wrong email or password." : e.message;
  }
});

$("call").addEventListener("click", async () => {
  // The client adds the access token, and refreshes and retries once if it has expired.
  const res = await tessera.fetch("/api/hello");
  $("answer").textContent = `${res.status} ${JSON.stringify(await res.json())}`;
});

async function listDevices() {
  const list = $("devices");
  const items = [];
  for (const s of await tessera.sessions()) {
    const li = document.createElement("li");
    li.textContent = `${s.user_agent ?? "Unknown device"}${s.current ? " (this one)" : ""} `;
    if (!s.current) {
      const revoke = document.createElement("button");
      revoke.textContent = "Revoke";
      revoke.addEventListener("click", () => tessera.revokeSession(s.id).then(listDevices));
      li.append(revoke);
    }
    items.push(li);
  }
  list.replaceChildren(...items);
}

$("signout").addEventListener("click", () => tessera.signOut());
