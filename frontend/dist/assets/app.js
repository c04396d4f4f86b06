// The minimal web app: email sign-in and who you are. Text from the API is
// only ever set as textContent, never as HTML.
"use strict";

async function api(path, options) {
  const res = await fetch("/api/v1" + path, Object.assign({ credentials: "same-origin" }, options));
  const body = res.status === 204 ? null : await res.json().catch(() => null);
  return { status: res.status, body };
}

function show(id) {
  document.getElementById("signin").hidden = id !== "signin";
  document.getElementById("home").hidden = id !== "home";
}

async function start() {
  const me = await api("/me");
  if (me.status !== 200) {
    show("signin");
    return;
  }
  document.getElementById("me-name").textContent = me.body.member.name;
  document.getElementById("me-role").textContent = me.body.member.role;
  document.getElementById("instance-name").textContent = me.body.instance.name;
  document.getElementById("instance-state").textContent = me.body.instance.verified
    ? "Your company's domain is verified."
    : "Your company's domain is not verified yet: some admin features wait for that.";
  const members = await api("/members?limit=100");
  const list = document.getElementById("members");
  list.replaceChildren();
  for (const m of (members.body && members.body.items) || []) {
    const li = document.createElement("li");
    li.textContent = m.name + " — " + m.role;
    list.append(li);
  }
  show("home");
}

document.getElementById("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const status = document.getElementById("signin-status");
  const email = document.getElementById("email").value;
  const res = await api("/auth/email", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email }),
  });
  status.classList.toggle("error", res.status !== 202);
  status.textContent = res.status === 202
    ? "Check your mail for the sign-in link."
    : (res.body && res.body.detail) || "Something went wrong; try again.";
});

document.getElementById("signout").addEventListener("click", async () => {
  await api("/auth/logout", { method: "POST" });
  show("signin");
});

start();
